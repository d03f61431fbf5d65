"""Rendering of joint sequences: stick-figure GIF/MP4, and body-mesh MP4 (pyrender, offscreen)."""

from .stick import load_joints_for_viz, render_stick_figure

__all__ = ["load_joints_for_viz", "render_stick_figure", "render_motion_video"]


def render_motion_video(*args, **kwargs):
    """See :func:`motionlcm.render.mesh_video.render_motion_video` (imported lazily: pyrender/OpenGL)."""
    from .mesh_video import render_motion_video as _render

    return _render(*args, **kwargs)
