"""Whole-body postures with the feet kept on the floor: squat, crouch, sit on the floor,
kneel, bow, and standing idle (optionally looking around)."""

from __future__ import annotations

import numpy as np

from .body import FPS, LEFT, RIGHT, SIDE_SIGN, STANDING_PELVIS_HEIGHT, Channels
from .easing import keyframes, smoothstep, window
from .feet import FootPlant, FootTrack
from .poses import BodyState, arm_from_dirs, blend_arm, frames, limb_dir, set_feet, standing, unit
from .spec import ActionSpec
from .style import Style


def _margins(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(2, 8)), int(rng.integers(4, 10))


# --------------------------------------------------------------------------- squat
def plan_squat(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    down = frames(rng.uniform(0.55, 0.9) / style.tempo)
    up = frames(rng.uniform(0.55, 0.9) / style.tempo)
    hold = int(rng.integers(0, 7))
    gap = int(rng.integers(0, 6))
    pre, post = _margins(rng)
    per = down + hold + up + gap
    count_max = (budget - pre - post + gap) // per
    if count_max < 1:
        return None
    count = int(rng.integers(1, min(count_max, 4) + 1))
    params = dict(
        count=count,
        down=down,
        up=up,
        hold=hold,
        gap=gap,
        pre=pre,
        post=post,
        depth=float(rng.uniform(0.28, 0.42) * style.amplitude),
        arms_forward=bool(rng.random() < 0.5),
    )
    return ActionSpec("squat", params, pre + count * per - gap + post)


def perform_squat(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    p = spec.params
    n = spec.frames
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    depth = np.zeros(n)
    per = p["down"] + p["hold"] + p["up"] + p["gap"]
    for k in range(p["count"]):
        t0 = p["pre"] + k * per
        keys = [t0, t0 + p["down"], t0 + p["down"] + p["hold"], t0 + p["down"] + p["hold"] + p["up"]]
        depth = np.maximum(depth, keyframes(t, keys, [0, 1, 1, 0]))
    _crouch_body(ch, depth, p["depth"])
    if p["arms_forward"]:
        for side in (LEFT, RIGHT):
            upper = limb_dir(np.full(n, 1.5), 0.1, side)
            blend_arm(ch, side, *arm_from_dirs(upper, upper, side), smoothstep(depth * 1.5))
    return ch, state


def _crouch_body(ch: Channels, amount: np.ndarray, depth: float) -> None:
    """Lower the pelvis by ``amount * depth`` (hips back, chest forward to stay balanced)."""
    drop = amount * depth
    ch.pelvis_offset[:, 1] -= drop
    ch.pelvis_offset[:, 2] -= 0.38 * drop
    ch.pelvis_rot[:, 1] += 0.55 * drop
    ch.trunk[:, 1] += 0.9 * drop
    ch.head[:, 0] -= 0.6 * drop


# --------------------------------------------------------------------------- crouch
def plan_crouch(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    down = frames(rng.uniform(0.6, 1.0) / style.tempo)
    up = frames(rng.uniform(0.6, 1.0) / style.tempo)
    pre, post = _margins(rng)
    hold_max = budget - pre - post - down - up
    if hold_max < 10:
        return None
    hold = int(rng.integers(10, min(hold_max, 50) + 1))
    params = dict(
        down=down, up=up, hold=hold, pre=pre, post=post, depth=float(rng.uniform(0.5, 0.6)), look=float(rng.uniform(-0.4, 0.4))
    )
    return ActionSpec("crouch", params, pre + down + hold + up + post)


def perform_crouch(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    p = spec.params
    n = spec.frames
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    t0 = p["pre"]
    keys = [t0, t0 + p["down"], t0 + p["down"] + p["hold"], t0 + p["down"] + p["hold"] + p["up"]]
    amount = keyframes(t, keys, [0, 1, 1, 0])
    _crouch_body(ch, amount, p["depth"])
    ch.head[:, 1] += p["look"] * window(n, keys[1], keys[2], 8)
    for side in (LEFT, RIGHT):  # hands low in front, near the knees
        target = np.tile([-SIDE_SIGN[side] * 0.08, -0.42, 0.3], (n, 1))
        pole = np.tile(unit(np.array([SIDE_SIGN[side], -0.4, -0.2])), (n, 1))
        blend_arm(ch, side, target, pole, smoothstep(amount * 1.3))
    return ch, state


# --------------------------------------------------------------------------- sit on the floor
SEATED_PELVIS_HEIGHT = 0.17


def plan_sit(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    down = frames(rng.uniform(1.3, 1.9) / style.tempo)
    up = frames(rng.uniform(1.4, 2.0) / style.tempo)
    pre, post = _margins(rng)
    hold_max = budget - pre - post - down - up
    if hold_max < 10:
        return None
    hold = int(rng.integers(10, min(hold_max, 60) + 1))
    params = dict(
        down=down, up=up, hold=hold, pre=pre, post=post, back=float(rng.uniform(0.42, 0.5)), lean=float(rng.uniform(0.05, 0.3))
    )
    return ActionSpec("sit", params, pre + down + hold + up + post)


def perform_sit(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    """Squat down, sit back onto the floor with the knees up, stay, then get back up."""
    p = spec.params
    n = spec.frames
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    t0 = p["pre"]
    t_sit = t0 + p["down"]
    t_rise = t_sit + p["hold"]
    t_up = t_rise + p["up"]
    seated_drop = STANDING_PELVIS_HEIGHT - SEATED_PELVIS_HEIGHT
    # Down through a squat, then back onto the floor; getting up retraces it.
    keys = [t0, t0 + 0.55 * p["down"], t_sit, t_rise, t_rise + 0.45 * p["up"], t_up]
    drop = keyframes(t, keys, [0.0, 0.5, seated_drop, seated_drop, 0.5, 0.0])
    back = keyframes(t, keys, [0.0, 0.2, p["back"], p["back"], 0.2, 0.0])
    lean = keyframes(t, keys, [0.0, 0.55, p["lean"], p["lean"], 0.6, 0.0])
    ch.pelvis_offset[:, 1] -= drop
    ch.pelvis_offset[:, 2] -= back
    ch.trunk[:, 1] += lean
    ch.pelvis_rot[:, 1] += keyframes(t, keys, [0.0, 0.3, -0.15, -0.15, 0.35, 0.0])
    ch.head[:, 0] -= 0.4 * lean
    seated = keyframes(t, keys, [0, 0.5, 1, 1, 0.5, 0])
    for side in (LEFT, RIGHT):  # forearms resting on the knees
        target = np.tile([-SIDE_SIGN[side] * 0.02, -0.28, 0.38], (n, 1))
        pole = np.tile(unit(np.array([SIDE_SIGN[side] * 0.6, -1.0, -0.2])), (n, 1))
        blend_arm(ch, side, target, pole, seated)
    return ch, state


# --------------------------------------------------------------------------- kneel
def plan_kneel(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    side = "left" if rng.random() < 0.5 else "right"
    step = frames(rng.uniform(0.5, 0.7) / style.tempo)
    down = frames(rng.uniform(0.7, 1.0) / style.tempo)
    up = frames(rng.uniform(0.8, 1.1) / style.tempo)
    pre, post = _margins(rng)
    hold_max = budget - pre - post - step - down - up - step
    if hold_max < 10:
        return None
    hold = int(rng.integers(10, min(hold_max, 50) + 1))
    params = dict(side=side, step=step, down=down, up=up, hold=hold, pre=pre, post=post, behind=float(rng.uniform(0.5, 0.6)))
    return ActionSpec("kneel", params, pre + step + down + hold + up + step + post)


def perform_kneel(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    """Step one foot back, lower that knee to the floor, stay, stand up and step back in."""
    p = spec.params
    n = spec.frames
    knee_side = LEFT if p["side"] == "left" else RIGHT
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    t_step = p["pre"]
    t_down = t_step + p["step"]
    t_low = t_down + p["down"]
    t_rise = t_low + p["hold"]
    t_up = t_rise + p["up"]
    t_back = t_up + p["step"]
    back_dir = -np.array([np.sin(state.yaw), 0.0, np.cos(state.yaw)])
    home = state.feet[knee_side]
    back_plant = FootPlant(home.side, home.ankle + back_dir * p["behind"], home.yaw)
    tracks = (FootTrack(n, state.feet[LEFT]), FootTrack(n, state.feet[RIGHT]))
    # The kneeling foot steps back; its heel comes up as the knee goes down (weight on the toes).
    heel = keyframes(np.arange(t_down, t_up), [t_down, t_low, t_rise, t_up], [0.0, 1.1, 1.1, 0.0])
    tracks[knee_side].stand(t_step).swing(t_down, back_plant, 0.06).stand(t_up, pitch=heel).swing(t_back, home, 0.06)
    for track in tracks:
        track.finish()
    set_feet(ch, tuple(tracks))
    amount = keyframes(t, [t_down, t_low, t_rise, t_up], [0, 1, 1, 0])
    shift = keyframes(t, [t_step, t_down, t_up, t_back], [0, 1, 1, 0])
    # The kneeling knee ends under the hip with the shin flat behind it on the floor.
    ch.pelvis_offset[:, 1] -= 0.47 * amount
    ch.pelvis_offset[:, 2] += (0.34 - p["behind"]) * (0.4 * shift + 0.6 * amount)
    ch.pelvis_offset[:, 0] += SIDE_SIGN[knee_side] * 0.02 * amount
    ch.trunk[:, 1] += 0.12 * amount - 0.05 * shift
    for side in (LEFT, RIGHT):  # the hand on the front knee, the other one relaxed
        if side != knee_side:
            target = np.tile([-SIDE_SIGN[side] * 0.02, -0.4, 0.3], (n, 1))
            pole = np.tile(unit(np.array([SIDE_SIGN[side], -0.3, -0.3])), (n, 1))
            blend_arm(ch, side, target, pole, smoothstep(amount * 1.2))
    return ch, state


# --------------------------------------------------------------------------- bow
def plan_bow(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    down = frames(rng.uniform(0.6, 1.0) / style.tempo)
    up = frames(rng.uniform(0.6, 1.0) / style.tempo)
    hold = int(rng.integers(4, 20))
    pre, post = _margins(rng)
    n = pre + down + hold + up + post
    if n > budget:
        return None
    params = dict(
        down=down,
        up=up,
        hold=hold,
        pre=pre,
        post=post,
        angle=float(rng.uniform(0.6, 1.1) * style.amplitude),
        hands_front=bool(rng.random() < 0.3),
    )
    return ActionSpec("bow", params, n)


def perform_bow(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    p = spec.params
    n = spec.frames
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    t0 = p["pre"]
    amount = keyframes(t, [t0, t0 + p["down"], t0 + p["down"] + p["hold"], t0 + p["down"] + p["hold"] + p["up"]], [0, 1, 1, 0])
    bend = amount * p["angle"]
    ch.pelvis_rot[:, 1] += 0.45 * bend  # hips flex
    ch.trunk[:, 1] += 0.55 * bend
    ch.pelvis_offset[:, 2] -= 0.12 * bend  # hips go back to keep the weight over the feet
    ch.head[:, 0] += 0.2 * bend
    for side in (LEFT, RIGHT):
        if p["hands_front"]:
            target = np.tile([-SIDE_SIGN[side] * 0.17, -0.45, 0.12], (n, 1))
            pole = np.tile(unit(np.array([SIDE_SIGN[side], 0.0, -0.5])), (n, 1))
            blend_arm(ch, side, target, pole, smoothstep(amount * 2))
    return ch, state


# --------------------------------------------------------------------------- idle
def plan_idle(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    if budget < 30:
        return None
    n = int(rng.integers(30, min(budget, 90) + 1))
    look = bool(rng.random() < 0.4) and n >= 40
    first = "left" if rng.random() < 0.5 else "right"
    params = dict(
        look=look,
        first=first,
        sway=float(rng.uniform(0.005, 0.02)),
        sway_period=float(rng.uniform(2.5, 4.5) * FPS),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )
    return ActionSpec("idle", params, n)


def perform_idle(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    """Stand with a slight weight shift and breathing; optionally look one way then the other."""
    p = spec.params
    n = spec.frames
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    fade = window(n, 0, n, 8)
    ch.pelvis_offset[:, 0] += fade * p["sway"] * np.sin(2 * np.pi * t / p["sway_period"] + p["phase"])
    ch.shrug += (0.02 * np.sin(2 * np.pi * t / (3.5 * FPS)))[:, None] * fade[:, None]
    if p["look"]:
        sign = 1.0 if p["first"] == "left" else -1.0  # looking left turns the head toward +X
        q = n / 4
        ch.head[:, 1] += sign * 0.8 * keyframes(t, [0.3 * q, 1.2 * q, 1.7 * q, 2.6 * q, 3.1 * q, 3.8 * q], [0, 1, 1, -1, -1, 0])
        ch.trunk[:, 0] += sign * 0.15 * keyframes(t, [0.3 * q, 1.2 * q, 1.7 * q, 2.6 * q, 3.1 * q, 3.8 * q], [0, 1, 1, -1, -1, 0])
    return ch, state


__all__ = [
    "plan_squat",
    "perform_squat",
    "plan_crouch",
    "perform_crouch",
    "plan_sit",
    "perform_sit",
    "plan_kneel",
    "perform_kneel",
    "plan_bow",
    "perform_bow",
    "plan_idle",
    "perform_idle",
]
