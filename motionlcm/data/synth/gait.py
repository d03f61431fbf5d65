"""Stepping: footstep plans that follow a root path, and the upper-body rhythm of a gait.

Steps alternate between the feet every half cycle; each foot swings for ``(1 - duty)`` of a
cycle and stands for ``duty``. A foot lands where it would stand naturally at the middle of
its coming stance (so the body passes over it), and the last step of each foot lands at the
final standing place, leaving the feet side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import LEFT, RIGHT, SIDE_SIGN, Channels
from .feet import FootPlant, FootTrack, home_plant
from .poses import BodyState, arm_from_dirs, swing_dir
from .style import Style


@dataclass(frozen=True)
class Gait:
    period: float  # frames per full cycle (two steps)
    duty: float  # fraction of the cycle each foot is on the floor
    lift: float  # ankle lift at mid-swing (m)
    strike: float = 0.0  # toes up at heel strike (rad)
    toe_off: float = 0.0  # heel lift before the foot leaves the floor (rad)
    toe_off_share: float = 0.35  # share of the stance spent lifting the heel
    half_width: float = 0.1
    toe_out: float = 0.1
    delay: float = 0.15  # share of the swing spent lifting before moving forward
    land_delay: float = 0.15  # share of the swing spent lowering after arriving above the plant
    peak: float = 0.5  # when in the swing the foot is highest
    carried: bool = False  # the swinging foot is carried along with the body (running)

    @property
    def swing_frames(self) -> float:
        return (1.0 - self.duty) * self.period

    def duration(self, steps: int) -> int:
        """Frames from the first lift-off to the last landing."""
        return int(np.ceil((steps - 1) * self.period / 2 + self.swing_frames)) + 1


def step_times(gait: Gait, steps: int, start: int) -> list[tuple[int, int]]:
    """(lift-off frame, landing frame) of each step; even steps are the leading foot's."""
    out = []
    for i in range(steps):
        t0 = start + i * gait.period / 2
        out.append((int(round(t0)), max(int(round(t0 + gait.swing_frames)), int(round(t0)) + 2)))
    return out


def plan_steps(
    n: int,
    state: BodyState,
    root_xz: np.ndarray,
    yaw: np.ndarray,
    gait: Gait,
    lead: int,
    steps: int,
    start: int,
) -> tuple[tuple[FootTrack, FootTrack], tuple[FootPlant, FootPlant]]:
    """Foot tracks for ``steps`` alternating steps following the root path (n, 2) and yaw (n,)."""
    tracks = (FootTrack(n, state.feet[LEFT]), FootTrack(n, state.feet[RIGHT]))
    times = step_times(gait, steps, start)
    final = min(times[-1][1], n - 1)

    def home(side: int, t: float) -> FootPlant:
        t = int(np.clip(round(t), 0, n - 1))
        return home_plant(side, root_xz[t], float(yaw[t]), gait.half_width, gait.toe_out)

    for i, (t0, t1) in enumerate(times):
        side = lead if i % 2 == 0 else 1 - lead
        track = tracks[side]
        last_of_foot = i + 2 >= steps
        stance_frames = t0 - track.filled
        lift = (int(round(gait.toe_off_share * stance_frames)), gait.toe_off) if gait.toe_off else (0, 0.0)
        track.stand(t0, strike=_strike(gait, stance_frames), lift=lift)
        if last_of_foot:
            plant = home(side, final)
        else:
            next_t0 = times[i + 2][0]
            plant = home(side, (t1 + next_t0) / 2)
        track.swing(
            t1,
            plant,
            gait.lift,
            land_pitch=-gait.strike,
            delay=gait.delay,
            land_delay=gait.land_delay,
            peak=gait.peak,
            body_path=root_xz if gait.carried else None,
        )
    for track in tracks:
        stance_frames = n - track.filled
        track.stand(n, strike=_strike(gait, stance_frames))
    return tracks, (tracks[LEFT].plant, tracks[RIGHT].plant)


def _strike(gait: Gait, stance_frames: int) -> tuple[int, float]:
    if not gait.strike:
        return (0, 0.0)
    return (max(2, int(round(0.2 * min(stance_frames, gait.period * gait.duty)))), gait.strike)


def gait_phase(n: int, start: int, period: float) -> np.ndarray:
    """Cycles elapsed since the first lift-off (negative before it)."""
    return (np.arange(n) - start) / period


def strike_phase(gait: Gait, foot_is_lead: bool) -> float:
    """Phase (mod 1) at which a foot lands."""
    return (0.0 if foot_is_lead else 0.5) + (1.0 - gait.duty)


def add_gait_rhythm(
    ch: Channels,
    gait: Gait,
    lead: int,
    start: int,
    active: np.ndarray,
    style: Style,
    bob: float,
    sway: float,
    twist: float,
    arm_swing: float,
    elbow: float,
    arm_sign: float = 1.0,
) -> None:
    """Pelvis bob, lateral sway, hip twist and arm swing in time with the steps.

    ``active`` (n,) in [0, 1] fades the rhythm in and out. ``bob`` > 0 puts the pelvis high
    at mid-stance (walking), < 0 low at mid-stance (running). Arms swing opposite to the
    legs; ``arm_sign`` = -1 reverses them (walking backward).
    """
    n = len(ch)
    phase = gait_phase(n, start, gait.period)
    sides = {lead: strike_phase(gait, True), 1 - lead: strike_phase(gait, False)}
    mid_stance_lead = sides[lead] + gait.duty / 2
    ch.pelvis_offset[:, 1] += active * bob * np.cos(2 * np.pi * 2 * (phase - mid_stance_lead))
    # Sway toward the foot in stance.
    ch.pelvis_offset[:, 0] += active * sway * SIDE_SIGN[lead] * np.cos(2 * np.pi * (phase - mid_stance_lead))
    # The pelvis turns so that the swinging leg's hip goes forward; the chest turns back.
    hip_forward = active * twist * np.cos(2 * np.pi * (phase - sides[lead]))  # lead hip forward at its landing
    ch.pelvis_rot[:, 0] += -SIDE_SIGN[lead] * hip_forward
    ch.trunk[:, 0] += SIDE_SIGN[lead] * hip_forward * 1.4
    for side in (LEFT, RIGHT):
        other = 1 - side
        # An arm is furthest forward when the opposite foot lands.
        angle = arm_sign * arm_swing * np.cos(2 * np.pi * (phase - sides[other]))
        angle = active * angle + 0.05
        upper = swing_dir(angle, style.arm_out, side)
        bend = style.elbow_bend * (1 - active) + active * (elbow + 0.35 * np.maximum(angle, 0.0))
        fore = swing_dir(angle + bend, style.arm_out * 0.5, side)
        wrist, pole = arm_from_dirs(upper, fore, side)
        ch.wrist[:, side] = wrist
        ch.elbow_pole[:, side] = pole


__all__ = ["Gait", "step_times", "plan_steps", "gait_phase", "strike_phase", "add_gait_rhythm"]
