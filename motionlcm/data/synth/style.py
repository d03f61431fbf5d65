"""Per-motion style: the small personal differences that make no two samples alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Style:
    tempo: float  # > 1 moves faster (shorter step and gesture periods)
    stride: float  # step length factor
    arm_swing: float  # arm swing amplitude factor while walking or running
    amplitude: float  # size of gestures, squats, jumps
    lean: float  # forward lean of the trunk (rad)
    head_pitch: float  # head tilted down (rad)
    half_width: float  # half the distance between the ankles (m)
    toe_out: float  # each foot turned out (rad)
    arm_out: float  # arms held away from the body (rad)
    elbow_bend: float  # elbows bent at rest (rad)
    knee_soft: float  # standing pelvis drop from soft knees (m)
    bounce: float  # vertical bob factor
    slouch: float  # shoulders drawn forward/down (rad)


def sample_style(rng: np.random.Generator) -> Style:
    u = rng.uniform
    return Style(
        tempo=float(np.exp(rng.normal(0.0, 0.09))),
        stride=float(np.exp(rng.normal(0.0, 0.08))),
        arm_swing=float(u(0.5, 1.5)),
        amplitude=float(u(0.8, 1.2)),
        lean=float(u(-0.02, 0.12)),
        head_pitch=float(u(-0.08, 0.18)),
        half_width=float(u(0.07, 0.12)),
        toe_out=float(u(0.0, 0.25)),
        arm_out=float(u(0.06, 0.22)),
        elbow_bend=float(u(0.1, 0.45)),
        knee_soft=float(u(0.0, 0.03)),
        bounce=float(u(0.7, 1.3)),
        slouch=float(u(-0.03, 0.06)),
    )


__all__ = ["Style", "sample_style"]
