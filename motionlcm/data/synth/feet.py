"""Foot tracks: planted stances and swing arcs for one foot, frame by frame.

A planted foot never slides: during a stance the flat-foot ankle is fixed, and when the heel
lifts (toe-off, jump take-off) the foot rotates about the fixed toe; at heel strike it rotates
about the fixed ankle. Swings lift the foot first and only then move it horizontally, so a
foot close to the floor never moves fast (the foot-skating criterion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import FLAT_ANKLE_HEIGHT, L_ANKLE, REST_JOINTS, SIDE_SIGN, apply, foot_offset, rot_y
from .easing import angle_lerp, minimum_jerk, smoothstep

# Where a flat foot's ankle rests relative to the body's ground point: half the stance
# width to the side, slightly behind the pelvis as in the rest pose.
ANKLE_BEHIND_PELVIS = float(REST_JOINTS[L_ANKLE, 2])


@dataclass(frozen=True)
class FootPlant:
    """A flat foot on the floor: which foot, ankle position (3,) and the yaw its toes point to."""

    side: int
    ankle: np.ndarray
    yaw: float

    @property
    def toe(self) -> np.ndarray:
        return self.ankle + foot_offset(self.side, self.yaw, 0.0)


def home_plant(side: int, root_xz, yaw: float, half_width: float, toe_out: float) -> FootPlant:
    """Where a foot stands when the body at ``root_xz`` with ``yaw`` stands naturally."""
    sign = SIDE_SIGN[side]
    local = np.array([sign * half_width, 0.0, ANKLE_BEHIND_PELVIS])
    ankle = np.array([root_xz[0], 0.0, root_xz[1]]) + apply(rot_y(yaw), local)
    ankle[1] = FLAT_ANKLE_HEIGHT[side]
    return FootPlant(side, ankle, float(yaw + sign * toe_out))


class FootTrack:
    """Fills one foot's arrays over ``n`` frames, left to right, with stances and swings."""

    def __init__(self, n: int, plant: FootPlant):
        self.n = n
        self.ankle = np.zeros((n, 3))
        self.toe = np.zeros((n, 3))
        self.yaw = np.zeros(n)  # where the toes point
        self.planted = np.zeros(n, dtype=bool)
        self.plant = plant
        self.filled = 0
        # State at the last filled frame, where the next swing starts from.
        self._ankle = plant.ankle.copy()
        self._yaw = plant.yaw
        self._toe_down = 0.0

    def stand(
        self,
        until: int,
        strike: tuple[int, float] = (0, 0.0),
        lift: tuple[int, float] = (0, 0.0),
        pitch: np.ndarray | None = None,
    ) -> "FootTrack":
        """Stay on the current plant up to frame ``until`` (exclusive).

        ``strike`` = (frames, angle): the stance starts with the toes up by ``angle`` and lowers
        them (heel strike); a negative angle starts on the toes and lowers the heel (landing
        on the toes). ``lift`` = (frames, angle): it ends with the heel lifting by ``angle``
        about the toe (toe-off). Alternatively ``pitch`` gives the foot pitch of every frame
        (positive: heel up, pivoting about the toe; negative: toes up, about the ankle).
        """
        a, b = self.filled, min(until, self.n)
        m = b - a
        if m <= 0:
            return self
        if pitch is not None:
            pitch = np.asarray(pitch, dtype=np.float64)[:m]
        else:
            pitch = np.zeros(m)
            k = min(strike[0], m)
            if k > 0:
                pitch[:k] = -strike[1] * (1.0 - smoothstep(np.arange(k) / k))
            k = min(lift[0], m)
            if k > 0:
                pitch[m - k :] += lift[1] * smoothstep((np.arange(k) + 1) / k)
        plant = self.plant
        flat_toe = plant.toe
        on_toe = pitch > 0
        self.toe[a:b] = np.where(on_toe[:, None], flat_toe, plant.ankle + foot_offset(plant.side, plant.yaw, pitch))
        self.ankle[a:b] = np.where(on_toe[:, None], flat_toe - foot_offset(plant.side, plant.yaw, pitch), plant.ankle)
        self.planted[a:b] = True
        self.yaw[a:b] = plant.yaw
        self.filled = b
        self._ankle, self._yaw, self._toe_down = self.ankle[b - 1].copy(), plant.yaw, float(pitch[-1])
        return self

    def swing(
        self,
        until: int,
        plant: FootPlant,
        height: float,
        land_pitch: float = 0.0,
        delay: float = 0.15,
        land_delay: float | None = None,
        peak: float = 0.5,
        offset: np.ndarray | None = None,
        body_path: np.ndarray | None = None,
    ) -> "FootTrack":
        """Swing from the current state to ``plant``; frame ``until`` is the first frame on it.

        ``land_pitch`` is the foot pitch on arrival (negative: toes up, for a heel strike;
        positive: landing on the toes). ``delay`` (``land_delay``) is the fraction of the swing
        spent lifting (lowering) before (after) the horizontal travel; ``peak`` is when the
        lift is highest (early for a running heel kick). ``offset`` (frames, 3) adds an extra
        world-space path (kicks, a raised foot). With ``body_path`` (n, 2), the body's ground
        track, the foot picks up the body's speed early in the swing (as in running, where it
        would otherwise trail far behind the hip) and covers the rest of the way relative to
        the body.
        """
        a, b = self.filled, min(until, self.n)
        m = b - a
        if m <= 0:
            self.plant = plant
            return self
        s = (np.arange(m) + 1.0) / (until - a + 1.0)
        land_delay = delay if land_delay is None else land_delay
        travel = minimum_jerk(np.clip((s - delay) / max(1.0 - delay - land_delay, 1e-6), 0.0, 1.0))
        start = self._ankle
        end = plant.ankle.copy()
        if land_pitch > 0:  # landing on the toes: the ankle arrives raised
            end = plant.toe - foot_offset(plant.side, plant.yaw, land_pitch)
        if body_path is None:
            ankle = start + (end - start) * travel[:, None]
        else:
            track = body_path[np.minimum(np.arange(a - 1, until + 1), len(body_path) - 1).clip(0)]
            carry = np.zeros((len(track) - 1, 3))
            carry[:, [0, 2]] = track[1:] - track[0]  # body travel since lift-off, up to the landing frame
            remaining = end - start - carry[-1]
            ankle = start + carry[:m] * smoothstep(s / 0.35)[:, None] + remaining * travel[:, None]
        ankle[:, 1] += height * np.sin(np.pi * s ** (np.log(0.5) / np.log(peak)))
        if offset is not None:
            ankle += offset[:m]
        yaw = angle_lerp(self._yaw, plant.yaw, travel)
        pitch = self._toe_down + (land_pitch - self._toe_down) * smoothstep(s)
        toe = ankle + foot_offset(plant.side, yaw, pitch)
        # Never dip the toe (or ankle) below the floor while the foot is in the air.
        dip = np.maximum(0.0, -np.minimum(toe[:, 1], ankle[:, 1] - FLAT_ANKLE_HEIGHT[plant.side] * 0.5))
        ankle[:, 1] += dip
        toe[:, 1] += dip
        self.ankle[a:b], self.toe[a:b] = ankle, toe
        self.planted[a:b] = False
        self.yaw[a:b] = yaw
        self.filled = b
        self.plant = plant
        self._ankle, self._yaw, self._toe_down = ankle[-1].copy(), float(yaw[-1]), float(pitch[-1])
        return self

    def finish(self) -> "FootTrack":
        """Stand on the current plant until the end."""
        return self.stand(self.n)


__all__ = ["FootPlant", "FootTrack", "home_plant", "ANKLE_BEHIND_PELVIS"]
