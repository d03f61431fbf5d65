"""Rendering of joint sequences (stick-figure GIF/MP4)."""

from .stick import load_joints_for_viz, render_stick_figure

__all__ = ["load_joints_for_viz", "render_stick_figure"]
