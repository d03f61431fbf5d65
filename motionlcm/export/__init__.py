"""Motion exports (NPZ now; BVH, GLB and MP4 with the exports issue)."""
