"""File writers only: one generated sample -> NPZ (``npz``), BVH (``bvh``), GLB (``glb``), and all of
those plus MP4 through ``files.write_motion_files``, the one writer for the CLI, batch mode and app.
Running the model over a prompts file lives in :mod:`motionlcm.batch`."""
