"""Building blocks shared by the actions: body state, the neutral standing pose, arm poses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import ARM_REACH, FOREARM, FPS, LEFT, RIGHT, SIDE_SIGN, UPPER_ARM, Channels, rot_x
from .feet import FootPlant, FootTrack, home_plant
from .style import Style


@dataclass(frozen=True)
class BodyState:
    """Where the body is between two actions: ground point, heading, both feet on the floor."""

    root_xz: np.ndarray
    yaw: float
    feet: tuple[FootPlant, FootPlant]

    @classmethod
    def initial(cls, style: Style) -> "BodyState":
        root = np.zeros(2)
        feet = tuple(home_plant(side, root, 0.0, style.half_width, style.toe_out) for side in (LEFT, RIGHT))
        return cls(root, 0.0, feet)


def frames(seconds: float) -> int:
    return max(1, int(round(seconds * FPS)))


def unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def swing_dir(angle, abduct, side: int) -> np.ndarray:
    """Limb direction (n, 3), chest frame: hanging down, moved out to the side by ``abduct``,
    then swung forward by ``angle`` (negative swings it back)."""
    angle, abduct = np.broadcast_arrays(np.asarray(angle, dtype=np.float64), np.asarray(abduct, dtype=np.float64))
    hang = np.stack([SIDE_SIGN[side] * np.sin(abduct), -np.cos(abduct), np.zeros_like(abduct)], -1)
    return np.einsum("...ij,...j->...i", rot_x(-angle), hang)


def limb_dir(elevation, azimuth, side: int) -> np.ndarray:
    """Limb direction (n, 3), chest frame, by elevation from straight down (0 down, pi/2
    horizontal, pi up) and azimuth (0 forward, pi/2 out to its own side)."""
    e, a = np.broadcast_arrays(np.asarray(elevation, dtype=np.float64), np.asarray(azimuth, dtype=np.float64))
    return np.stack([SIDE_SIGN[side] * np.sin(e) * np.sin(a), -np.cos(e), np.sin(e) * np.cos(a)], -1)


def arm_from_dirs(upper: np.ndarray, fore: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Wrist target and elbow pole for given upper-arm and forearm directions (n, 3)."""
    return UPPER_ARM[side] * unit(upper) + FOREARM[side] * unit(fore), unit(upper)


def neutral_arm_dirs(style: Style, side: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    upper = swing_dir(np.full(n, 0.04), style.arm_out, side)
    fore = swing_dir(np.full(n, style.elbow_bend), style.arm_out * 0.6, side)
    return upper, fore


def neutral_wrist(style: Style, side: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return arm_from_dirs(*neutral_arm_dirs(style, side, n), side)


def guard_wrist(side: int, n: int, height: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Fists up in front of the chin (boxing guard); target relative to the shoulder."""
    target = np.tile([-SIDE_SIGN[side] * 0.08, -0.08 + height, 0.24], (n, 1))
    pole = np.tile(unit(np.array([SIDE_SIGN[side] * 0.5, -1.0, -0.2])), (n, 1))
    return target, pole


def reach_target(direction: np.ndarray, fraction) -> np.ndarray:
    """A wrist target along ``direction`` (n, 3) at a fraction of the arm's full reach."""
    return unit(direction) * (np.asarray(fraction, dtype=np.float64)[..., None] * ARM_REACH.mean())


def standing(n: int, state: BodyState, style: Style) -> Channels:
    """Channels of the body standing still in its natural pose at ``state`` for n frames."""
    wrist = np.zeros((n, 2, 3))
    pole = np.zeros((n, 2, 3))
    for side in (LEFT, RIGHT):
        wrist[:, side], pole[:, side] = neutral_wrist(style, side, n)
    ankle = np.zeros((n, 2, 3))
    toe = np.zeros((n, 2, 3))
    planted = np.zeros((n, 2), dtype=bool)
    foot_yaw = np.zeros((n, 2))
    for side in (LEFT, RIGHT):
        track = FootTrack(n, state.feet[side]).finish()
        ankle[:, side], toe[:, side], planted[:, side], foot_yaw[:, side] = track.ankle, track.toe, track.planted, track.yaw
    return Channels(
        root_xz=np.tile(state.root_xz, (n, 1)),
        yaw=np.full(n, state.yaw),
        pelvis_offset=np.tile([0.0, -style.knee_soft, 0.0], (n, 1)),
        pelvis_rot=np.zeros((n, 3)),
        trunk=np.tile([0.0, style.lean, 0.0], (n, 1)),
        head=np.tile([style.head_pitch - style.lean, 0.0], (n, 1)),
        shrug=np.full((n, 2), -style.slouch),
        wrist=wrist,
        elbow_pole=pole,
        ankle=ankle,
        toe=toe,
        foot_yaw=foot_yaw,
        planted=planted,
    )


def set_feet(ch: Channels, tracks: tuple[FootTrack, FootTrack]) -> None:
    for side, track in enumerate(tracks):
        ch.ankle[:, side], ch.toe[:, side], ch.planted[:, side] = track.ankle, track.toe, track.planted
        ch.foot_yaw[:, side] = track.yaw


def blend_arm(ch: Channels, side: int, wrist: np.ndarray, pole: np.ndarray, weight: np.ndarray) -> None:
    """Mix an arm pose into the channels with per-frame weight (n,) in [0, 1]."""
    w = np.asarray(weight, dtype=np.float64)[:, None]
    ch.wrist[:, side] = ch.wrist[:, side] * (1.0 - w) + wrist * w
    ch.elbow_pole[:, side] = unit(ch.elbow_pole[:, side] * (1.0 - w) + pole * w + 1e-6)


__all__ = [
    "BodyState",
    "frames",
    "unit",
    "swing_dir",
    "limb_dir",
    "arm_from_dirs",
    "neutral_arm_dirs",
    "neutral_wrist",
    "guard_wrist",
    "reach_target",
    "standing",
    "set_feet",
    "blend_arm",
]
