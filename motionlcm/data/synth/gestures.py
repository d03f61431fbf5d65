"""Arm gestures done while standing: wave, raise arms, clap, punch.

Arm directions are in the chest frame (x toward the person's left, y up, z forward); ``side``
0 is the person's LEFT arm (joints 16, 18, 20), 1 the right.
"""

from __future__ import annotations

import numpy as np

from .body import FPS, LEFT, RIGHT, SIDE_SIGN, Channels
from .easing import keyframes, window
from .poses import BodyState, arm_from_dirs, blend_arm, frames, guard_wrist, limb_dir, standing, unit
from .spec import ActionSpec
from .style import Style

HANDS = {"left": (LEFT,), "right": (RIGHT,), "both": (LEFT, RIGHT)}


def _pick_hands(rng: np.random.Generator, both: float = 0.25) -> str:
    u = rng.random()
    return "both" if u < both else "left" if u < both + (1 - both) / 2 else "right"


def _margins(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(2, 8)), int(rng.integers(4, 10))


# --------------------------------------------------------------------------- wave
def plan_wave(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    hands = _pick_hands(rng, both=0.2)
    overhead = bool(rng.random() < 0.35) or hands == "both"
    period = rng.uniform(0.45, 0.7) / style.tempo * FPS  # one side-to-side oscillation
    raise_f, lower_f = frames(rng.uniform(0.4, 0.6)), frames(rng.uniform(0.4, 0.6))
    pre, post = _margins(rng)
    fixed = pre + raise_f + lower_f + post
    count_max = int((budget - fixed) // period)
    if count_max < 2:
        return None
    count = int(rng.integers(2, min(count_max, 6) + 1))
    params = dict(
        hands=hands,
        overhead=overhead,
        count=count,
        period=float(period),
        raise_frames=raise_f,
        lower_frames=lower_f,
        pre=pre,
        post=post,
        swing=float(rng.uniform(0.3, 0.5) * style.amplitude),
    )
    return ActionSpec("wave", params, fixed + int(np.ceil(count * period)))


def perform_wave(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    p = spec.params
    n = spec.frames
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    start = p["pre"] + p["raise_frames"]
    stop = start + int(np.ceil(p["count"] * p["period"]))
    up = window(n, p["pre"], stop + p["lower_frames"], p["raise_frames"])
    waving = window(n, start - 2, stop + 2, 3)
    # Forearm swings side to side about the elbow, in the plane facing forward.
    angle = 0.15 + p["swing"] * np.sin(2 * np.pi * (t - start) / p["period"]) * waving
    for side in HANDS[p["hands"]]:
        if p["overhead"]:
            upper = limb_dir(np.full(n, 2.55), 1.25, side)
        else:
            upper = limb_dir(np.full(n, 1.35), 1.3, side)
        fore = unit(np.stack([SIDE_SIGN[side] * np.sin(angle), np.cos(angle), np.full(n, 0.15)], -1))
        blend_arm(ch, side, *arm_from_dirs(upper, fore, side), up)
    return ch, state


# --------------------------------------------------------------------------- raise arms
RAISE_DIRECTIONS = ("forward", "sideways", "up")


def plan_raise(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    hands = _pick_hands(rng, both=0.45)
    direction = RAISE_DIRECTIONS[int(rng.integers(0, 3))]
    raise_f, lower_f = frames(rng.uniform(0.5, 0.9) / style.tempo), frames(rng.uniform(0.5, 0.9) / style.tempo)
    pre, post = _margins(rng)
    hold_max = budget - pre - post - raise_f - lower_f
    if hold_max < 8:
        return None
    hold = int(rng.integers(8, min(hold_max, 50) + 1))
    params = dict(
        hands=hands,
        direction=direction,
        raise_frames=raise_f,
        lower_frames=lower_f,
        hold=hold,
        pre=pre,
        post=post,
        spread=float(rng.uniform(-0.1, 0.1)),
    )
    return ActionSpec("raise_arms", params, pre + raise_f + hold + lower_f + post)


def perform_raise(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    p = spec.params
    n = spec.frames
    ch = standing(n, state, style)
    top = p["pre"] + p["raise_frames"] + p["hold"]
    weight = window(n, p["pre"], top + p["lower_frames"], p["raise_frames"])
    elevation, azimuth = {"forward": (1.55, 0.12), "sideways": (1.55, 1.5), "up": (2.85, 0.6)}[p["direction"]]
    for side in HANDS[p["hands"]]:
        d = limb_dir(np.full(n, elevation + p["spread"]), azimuth, side)
        fore = limb_dir(np.full(n, elevation + p["spread"] + 0.12), azimuth, side)  # nearly straight elbow
        blend_arm(ch, side, *arm_from_dirs(d, fore, side), weight)
    if p["direction"] == "up":
        ch.shrug[:] += 0.12 * weight[:, None]
    return ch, state


# --------------------------------------------------------------------------- clap
def plan_clap(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    period = rng.uniform(0.35, 0.55) / style.tempo * FPS
    raise_f, lower_f = frames(rng.uniform(0.35, 0.5)), frames(rng.uniform(0.35, 0.5))
    pre, post = _margins(rng)
    fixed = pre + raise_f + lower_f + post
    count_max = int((budget - fixed) // period)
    if count_max < 2:
        return None
    count = int(rng.integers(2, min(count_max, 8) + 1))
    params = dict(
        count=count,
        period=float(period),
        raise_frames=raise_f,
        lower_frames=lower_f,
        pre=pre,
        post=post,
        height=float(rng.uniform(-0.25, -0.08)),
        reach=float(rng.uniform(0.28, 0.38)),
    )
    return ActionSpec("clap", params, fixed + int(np.ceil(count * period)))


def perform_clap(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    """Hands meet in front of the chest ``count`` times."""
    p = spec.params
    n = spec.frames
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    start = p["pre"] + p["raise_frames"]
    stop = start + int(np.ceil(p["count"] * p["period"]))
    up = window(n, p["pre"], stop + p["lower_frames"], p["raise_frames"])
    # Half-open at the start, closed at each whole period: (1 - cos) / 2 is 0 when hands meet.
    phase = np.clip((t - start) / p["period"], 0.0, p["count"])
    openness = np.where(t < start, 0.5, (1.0 - np.cos(2 * np.pi * (phase + 0.5))) / 2)
    openness = np.where(t >= stop, 0.5, openness)
    for side in (LEFT, RIGHT):
        shoulder_x = SIDE_SIGN[side] * 0.19  # shoulder's distance from the midline
        hand_x = SIDE_SIGN[side] * (0.035 + 0.2 * openness)
        target = np.stack([hand_x - shoulder_x, np.full(n, p["height"]), np.full(n, p["reach"])], -1)
        pole = np.tile(unit(np.array([SIDE_SIGN[side] * 1.0, -0.8, -0.3])), (n, 1))
        blend_arm(ch, side, target, pole, up)
    return ch, state


# --------------------------------------------------------------------------- punch
def plan_punch(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    hands = _pick_hands(rng, both=0.3)  # "both": alternating left and right, starting with `first`
    first = "left" if rng.random() < 0.5 else "right"
    strike = frames(rng.uniform(0.12, 0.18) / style.tempo)
    back = frames(rng.uniform(0.18, 0.28) / style.tempo)
    gap = int(rng.integers(1, 6))
    guard_up, guard_down = frames(0.4), frames(0.4)
    pre, post = _margins(rng)
    per = strike + back + gap
    fixed = pre + guard_up + guard_down + post
    count_max = (budget - fixed) // per
    if count_max < 1:
        return None
    count = int(rng.integers(1, min(count_max, 6) + 1))
    if hands == "both":
        count = max(count, 2)
        if fixed + count * per > budget:
            return None
    params = dict(
        hands=hands,
        first=first,
        count=count,
        strike=strike,
        back=back,
        gap=gap,
        guard_up=guard_up,
        guard_down=guard_down,
        pre=pre,
        post=post,
        height=float(rng.uniform(-0.05, 0.08)),
    )
    return ActionSpec("punch", params, fixed + count * per)


def punch_sides(params: dict) -> list[int]:
    """The arm (LEFT or RIGHT) throwing each punch."""
    if params["hands"] == "both":
        first = LEFT if params["first"] == "left" else RIGHT
        return [first if k % 2 == 0 else 1 - first for k in range(params["count"])]
    return [LEFT if params["hands"] == "left" else RIGHT] * params["count"]


def perform_punch(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    p = spec.params
    n = spec.frames
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    start = p["pre"] + p["guard_up"]
    per = p["strike"] + p["back"] + p["gap"]
    stop = start + p["count"] * per
    guard = window(n, p["pre"], stop + p["guard_down"], p["guard_up"])
    extension = np.zeros((n, 2))
    for k, side in enumerate(punch_sides(p)):
        t0 = start + k * per
        extension[:, side] = np.maximum(
            extension[:, side], keyframes(t, [t0, t0 + p["strike"], t0 + p["strike"] + 1, t0 + per - p["gap"]], [0, 1, 1, 0])
        )
    for side in (LEFT, RIGHT):
        target, pole = guard_wrist(side, n, p["height"])
        aim = np.array([-SIDE_SIGN[side] * 0.14, p["height"] - 0.02, 0.6])  # straight ahead, toward the midline
        e = extension[:, side][:, None]
        target = target * (1 - e) + aim * e
        blend_arm(ch, side, target, pole, guard)
    # The punching shoulder drives forward: the chest turns away from the punching side.
    ch.trunk[:, 0] += 0.3 * (extension[:, RIGHT] - extension[:, LEFT])
    ch.trunk[:, 1] += 0.06 * guard
    ch.head[:, 0] -= 0.05 * guard
    return ch, state


__all__ = [
    "plan_wave",
    "perform_wave",
    "plan_raise",
    "perform_raise",
    "plan_clap",
    "perform_clap",
    "plan_punch",
    "perform_punch",
    "punch_sides",
    "HANDS",
    "RAISE_DIRECTIONS",
]
