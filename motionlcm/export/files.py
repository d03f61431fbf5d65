"""The one writer from a generated sample (:class:`~motionlcm.pipeline.MotionOutput`) to files,
used by the CLI, the batch mode and the app."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..motion import FPS

FORMATS = ("npz", "bvh", "glb", "mp4")


def write_motion_files(result, index: int, stem: str | Path, formats: tuple[str, ...], model_id: str = "",
                       title: str = "", video: Callable | None = None) -> dict[str, Path]:
    """Write sample ``index`` of ``result`` as ``stem.<format>`` for each format; returns {format: path}.

    NPZ, BVH and GLB all pose the package's one export rig (:func:`motionlcm.body.smpl_pose.fit_rig`);
    MP4 is a stick figure unless ``video(path, joints, title)`` renders it (e.g. a body mesh).
    Every file is written atomically.
    """
    from .bvh import save_bvh
    from .glb import save_glb
    from .npz import save_motion_npz

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown output format(s) {unknown}; use {', '.join(FORMATS)}")
    from ..body.smpl_pose import fit_rig

    _, joints = result.motion(index)
    rig = fit_rig(joints) if set(formats) & {"npz", "bvh", "glb"} else None  # fitted once for all three
    stem = Path(stem)
    written: dict[str, Path] = {}
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        if fmt == "npz":
            save_motion_npz(path, result, index, model_id=model_id, rig=rig)
        elif fmt == "bvh":
            save_bvh(path, joints, fps=FPS, rig=rig)
        elif fmt == "glb":
            save_glb(path, joints, fps=FPS, rig=rig)
        elif video is None:
            from ..render.stick import render_stick_figure

            render_stick_figure(joints, path, fps=FPS, title=title)
        else:
            video(path, joints, title)
        written[fmt] = path
    return written


__all__ = ["FORMATS", "write_motion_files"]
