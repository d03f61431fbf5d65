"""Stepping families: walk / jog / run, turning in place, spinning, marching, side-steps.

Directions are the person's own: ``left`` is +X when facing +Z. A curve or circle to the left
turns the heading toward the person's left, which is counter-clockwise seen from above.
"""

from __future__ import annotations

import numpy as np

from .body import FPS, LEFT, RIGHT, SIDE_SIGN, Channels, heading
from .easing import ramp, smoothstep, window
from .feet import FootTrack, home_plant
from .gait import Gait, add_gait_rhythm, plan_steps
from .poses import BodyState, arm_from_dirs, blend_arm, set_feet, standing, swing_dir
from .spec import ActionSpec
from .style import Style

# Direction of travel relative to the heading (rad): left is +X when facing +Z, i.e. +90 deg.
TRAVEL_ANGLE = {"forward": 0.0, "backward": np.pi, "left": np.pi / 2, "right": -np.pi / 2}

# (seconds per cycle, metres per cycle, duty, ankle lift) by (kind, direction, pace).
_GAIT_TABLE = {
    ("walk", "forward", "slow"): (1.25, 1.0, 0.66, 0.11),
    ("walk", "forward", "normal"): (1.08, 1.35, 0.62, 0.13),
    ("walk", "forward", "fast"): (0.95, 1.6, 0.6, 0.14),
    ("walk", "backward", "slow"): (1.3, 0.6, 0.66, 0.09),
    ("walk", "backward", "normal"): (1.15, 0.8, 0.64, 0.1),
    ("walk", "sideways", "slow"): (1.1, 0.26, 0.66, 0.08),
    ("walk", "sideways", "normal"): (0.95, 0.32, 0.64, 0.09),
    ("jog", "forward", "normal"): (0.74, 1.7, 0.42, 0.18),
    ("jog", "backward", "normal"): (0.72, 0.95, 0.46, 0.14),
    ("jog", "sideways", "normal"): (0.62, 0.36, 0.46, 0.13),
    ("run", "forward", "normal"): (0.66, 2.3, 0.36, 0.24),
    ("run", "forward", "fast"): (0.62, 2.6, 0.34, 0.26),
}


def _choose(rng: np.random.Generator, options: dict):
    keys = list(options)
    p = np.array([options[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _make_gait(kind: str, direction: str, pace: str, style: Style, jitter: np.ndarray) -> Gait:
    lateral = direction in ("left", "right")
    seconds, metres, duty, lift = _GAIT_TABLE[(kind, "sideways" if lateral else direction, pace)]
    forward = direction == "forward"
    return Gait(
        period=seconds * FPS / style.tempo * jitter[0],
        duty=duty,
        lift=lift * (0.9 + 0.2 * jitter[1]),
        strike=(0.3 if kind == "walk" else 0.08) if forward else 0.0,
        toe_off=(0.5 if kind == "walk" else 0.6) if forward else 0.0,
        toe_off_share=0.4 if kind == "walk" else 0.55,
        half_width=style.half_width + (0.05 if lateral else 0.0) - (0.02 if kind == "run" else 0.0),
        toe_out=style.toe_out * (0.4 if lateral else 1.0),
        delay=0.08 if kind == "walk" else 0.07,
        land_delay=0.1,
        peak=0.5 if kind == "walk" else 0.38,
        carried=kind != "walk" and not lateral,
    ), metres * (style.stride if not lateral else 1.0) * jitter[2]


def plan_locomotion(kind: str, rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    if kind == "walk":
        direction = _choose(rng, {"forward": 0.6, "backward": 0.2, "left": 0.1, "right": 0.1})
    elif kind == "jog":
        direction = _choose(rng, {"forward": 0.76, "backward": 0.12, "left": 0.06, "right": 0.06})
    else:
        direction = "forward"
    lateral = direction in ("left", "right")
    paces = {
        "walk": {"slow": 0.25, "normal": 0.55, "fast": 0.2},
        "jog": {"normal": 1.0},
        "run": {"normal": 0.7, "fast": 0.3},
    }[kind]
    if direction != "forward" and kind == "walk":
        paces = {"slow": 0.4, "normal": 0.6}
    pace = _choose(rng, paces)
    path = "straight"
    if direction == "forward":
        path = _choose(rng, {"straight": 0.45, "curve_left": 0.14, "curve_right": 0.14, "circle_ccw": 0.135, "circle_cw": 0.135})
    jitter = rng.uniform(0.92, 1.08, size=3)
    gait, metres_per_cycle = _make_gait(kind, direction, pace, style, jitter)
    speed = metres_per_cycle / (gait.period / FPS)
    pre = int(rng.integers(2, 8))
    post = int(rng.integers(6, 12))
    fixed = pre + post
    max_steps = _max_steps(gait, budget - fixed)
    if max_steps < 3:
        return None
    turn = 0.0
    if path.startswith("circle"):
        radius = rng.uniform(0.9, 1.8) * (1.0 if kind == "walk" else 1.6)
        steps = _steps_for_distance(gait, speed, 2 * np.pi * radius)
        if steps > max_steps:
            return None
        turn = 2 * np.pi
    else:
        steps = int(rng.integers(3, min(max_steps, 16 if kind == "walk" else 14) + 1))
        if path.startswith("curve"):
            turn = float(rng.uniform(np.radians(50), np.radians(130)))
    if path.endswith(("_right", "_cw")):
        turn = -turn  # clockwise seen from above = turning right
    params = dict(
        kind=kind,
        direction=direction,
        pace=pace,
        path=path,
        turn=turn,
        speed=float(speed),
        steps=steps,
        pre=pre,
        post=post,
        period=gait.period,
        duty=gait.duty,
        lift=gait.lift,
        strike=gait.strike,
        toe_off=gait.toe_off,
        toe_off_share=gait.toe_off_share,
        half_width=gait.half_width,
        toe_out=gait.toe_out,
        delay=gait.delay,
        land_delay=gait.land_delay,
        peak=gait.peak,
        carried=gait.carried,
        lateral=lateral,
        lead=int(rng.integers(0, 2)),
    )
    return ActionSpec(kind, params, pre + gait.duration(steps) + post)


def _max_steps(gait: Gait, budget: int) -> int:
    steps = 0
    while gait.duration(steps + 1) <= budget:
        steps += 1
    return steps


def _steps_for_distance(gait: Gait, speed: float, distance: float) -> int:
    """Steps whose moving time (ramps counted half) covers ``distance`` at ``speed``."""
    move_frames = distance / speed * FPS + 0.7 * gait.period
    return max(3, int(np.ceil((move_frames - gait.swing_frames) * 2 / gait.period)) + 1)


def _gait_of(p: dict) -> Gait:
    return Gait(
        p["period"],
        p["duty"],
        p["lift"],
        p["strike"],
        p["toe_off"],
        p["toe_off_share"],
        p["half_width"],
        p["toe_out"],
        p["delay"],
        p["land_delay"],
        p["peak"],
        p["carried"],
    )


def _speed_profile(n: int, start: int, end: int, period: float) -> np.ndarray:
    """0..1 speed over the moving frames: accelerate over the first step, brake into the last."""
    up = ramp(n, start, int(0.7 * period))
    down = 1.0 - ramp(n, end - int(0.9 * period), int(0.9 * period))
    return up * down


def perform_locomotion(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    p = spec.params
    gait = _gait_of(p)
    n = spec.frames
    start = p["pre"]
    end = start + gait.duration(p["steps"]) - 1
    ch = standing(n, state, style)
    profile = _speed_profile(n, start, end, gait.period)
    distance = np.concatenate([[0.0], np.cumsum(profile[:-1])]) * p["speed"] / FPS
    total = distance[-1]
    # Constant curvature: heading changes in proportion to the distance walked.
    yaw = state.yaw + p["turn"] * distance / max(total, 1e-9)
    travel = TRAVEL_ANGLE[p["direction"]]
    velocity = np.concatenate([[0.0], profile[:-1]]) * p["speed"] / FPS
    step = heading(yaw + travel)[:, [0, 2]] * velocity[:, None]
    ch.root_xz = state.root_xz + np.cumsum(step, axis=0)
    ch.yaw = yaw
    if p["path"].startswith("circle"):  # close the loop exactly despite the discrete sum
        drift = ch.root_xz[-1] - state.root_xz
        ch.root_xz -= drift * (distance / total)[:, None]

    lead = LEFT if p["direction"] == "left" else RIGHT if p["direction"] == "right" else p["lead"]
    tracks, feet = plan_steps(n, state, ch.root_xz, ch.yaw, gait, lead, p["steps"], start)
    set_feet(ch, tracks)

    active = window(n, start, end, int(0.6 * gait.period))
    kind = p["kind"]
    fast = kind != "walk"
    lateral = p["lateral"]
    backward = p["direction"] == "backward"
    if lateral:
        arm, elbow, twist = 0.05, style.elbow_bend, 0.0
    elif fast:
        arm, elbow, twist = 0.5 * style.arm_swing**0.5, 1.45, 0.12
    else:
        arm, elbow, twist = (0.22 + 0.1 * (p["pace"] == "fast")) * style.arm_swing, style.elbow_bend + 0.15, 0.08
    add_gait_rhythm(
        ch,
        gait,
        lead,
        start,
        active,
        style,
        bob=(-0.035 if fast else 0.012) * style.bounce,
        sway=0.0 if lateral else (0.012 if fast else 0.025),
        twist=twist * (0.5 if backward else 1.0),
        arm_swing=arm * (0.6 if backward else 1.0),
        elbow=elbow,
        arm_sign=-1.0 if backward else 1.0,
    )
    lean = {"walk": 0.03, "jog": 0.1, "run": 0.17}[kind] * (-0.6 if backward else 0.3 if lateral else 1.0)
    ch.trunk[:, 1] += active * lean
    ch.pelvis_rot[:, 1] += active * lean * 0.5
    # Lean into curves (toward the centre); roll > 0 leans right.
    yaw_rate = np.gradient(yaw) * FPS
    ch.trunk[:, 2] -= np.clip(0.08 * yaw_rate * p["speed"], -0.2, 0.2) * active
    end_state = BodyState(ch.root_xz[-1].copy(), float(ch.yaw[-1]), feet)
    return ch, end_state


# --------------------------------------------------------------------------- turning in place
def plan_turn(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    direction = "left" if rng.random() < 0.5 else "right"
    degrees = float(rng.choice([45, 90, 90, 135, 180, 180]))
    angle = np.radians(degrees + rng.uniform(-8, 8))
    steps = 2 + int(np.ceil(degrees / 70))
    period = rng.uniform(0.8, 1.05) * FPS / style.tempo
    gait = Gait(period, 0.6, rng.uniform(0.05, 0.09), half_width=style.half_width, toe_out=style.toe_out)
    pre, post = int(rng.integers(2, 8)), int(rng.integers(6, 12))
    n = pre + gait.duration(steps) + post
    if n > budget:
        return None
    params = dict(
        direction=direction,
        degrees=degrees,
        angle=float(angle if direction == "left" else -angle),
        steps=steps,
        period=period,
        lift=gait.lift,
        pre=pre,
        post=post,
        spin=False,
    )
    return ActionSpec("turn", params, n)


def plan_spin(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    direction = "left" if rng.random() < 0.5 else "right"
    turns = 1 if rng.random() < 0.8 else 2
    steps = 6 * turns + int(rng.integers(0, 3))
    period = rng.uniform(0.38, 0.5) * FPS / style.tempo
    gait = Gait(period, 0.5, rng.uniform(0.05, 0.08), half_width=style.half_width, toe_out=style.toe_out)
    pre, post = int(rng.integers(2, 8)), int(rng.integers(6, 12))
    n = pre + gait.duration(steps) + post
    if n > budget:
        return None
    angle = 2 * np.pi * turns * (1 if direction == "left" else -1)
    params = dict(
        direction=direction,
        turns=turns,
        angle=float(angle),
        steps=steps,
        period=period,
        lift=gait.lift,
        pre=pre,
        post=post,
        spin=True,
    )
    return ActionSpec("spin", params, n)


def perform_turn(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    """Turn in place (or spin) by stepping around; turning left is counter-clockwise from above."""
    p = spec.params
    n = spec.frames
    duty = 0.5 if p["spin"] else 0.6
    gait = Gait(p["period"], duty, p["lift"], half_width=style.half_width, toe_out=style.toe_out)
    start = p["pre"]
    end = start + gait.duration(p["steps"]) - 1
    ch = standing(n, state, style)
    ch.yaw = state.yaw + p["angle"] * smoothstep((np.arange(n) - start) / max(end - start - 2, 1))
    lead = LEFT if p["angle"] > 0 else RIGHT  # open the turn with the foot on the turning side
    tracks, feet = plan_steps(n, state, ch.root_xz, ch.yaw, gait, lead, p["steps"], start)
    set_feet(ch, tracks)
    active = window(n, start, end, 4)
    sign = np.sign(p["angle"])
    # Head and chest lead the turn.
    ch.head[:, 1] += sign * 0.25 * active
    ch.trunk[:, 0] += sign * 0.1 * active
    if p["spin"]:
        for side in (LEFT, RIGHT):  # arms float out from the body while spinning
            upper = swing_dir(0.2, style.arm_out + 0.5, side)
            fore = swing_dir(0.7, style.arm_out + 0.3, side)
            blend_arm(ch, side, *arm_from_dirs(upper[None].repeat(n, 0), fore[None].repeat(n, 0), side), active)
    return ch, BodyState(ch.root_xz[-1].copy(), float(ch.yaw[-1]), feet)


# --------------------------------------------------------------------------- marching in place
def plan_march(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    period = rng.uniform(0.95, 1.3) * FPS / style.tempo
    gait = Gait(
        period, 0.55, rng.uniform(0.18, 0.3) * style.amplitude, half_width=style.half_width, toe_out=style.toe_out, delay=0.0
    )
    pre, post = int(rng.integers(2, 8)), int(rng.integers(6, 12))
    max_steps = _max_steps(gait, budget - pre - post)
    if max_steps < 4:
        return None
    steps = int(rng.integers(4, min(max_steps, 14) + 1))
    params = dict(
        steps=steps,
        period=period,
        lift=gait.lift,
        pre=pre,
        post=post,
        lead=int(rng.integers(0, 2)),
        arm=float(rng.uniform(0.5, 0.8)),
    )
    return ActionSpec("march", params, pre + gait.duration(steps) + post)


def perform_march(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    p = spec.params
    n = spec.frames
    gait = Gait(p["period"], 0.55, p["lift"], half_width=style.half_width, toe_out=style.toe_out, delay=0.0)
    start = p["pre"]
    end = start + gait.duration(p["steps"]) - 1
    ch = standing(n, state, style)
    # Feet go back to where they were: march on the spot.
    tracks, feet = plan_steps(n, state, ch.root_xz, ch.yaw, gait, p["lead"], p["steps"], start)
    set_feet(ch, tracks)
    active = window(n, start, end, int(0.5 * gait.period))
    add_gait_rhythm(ch, gait, p["lead"], start, active, style, bob=0.0, sway=0.02, twist=0.0, arm_swing=p["arm"], elbow=1.3)
    ch.trunk[:, 1] -= 0.04 * active  # upright chest
    return ch, BodyState(state.root_xz.copy(), state.yaw, feet)


# --------------------------------------------------------------------------- side-steps
def plan_side_step(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    direction = "left" if rng.random() < 0.5 else "right"
    step_frames = int(round(rng.uniform(0.55, 0.8) * FPS / style.tempo))
    pause = int(rng.integers(0, 8))
    pre, post = int(rng.integers(2, 8)), int(rng.integers(6, 12))
    per_step = 2 * step_frames + pause
    count_max = (budget - pre - post) // per_step
    if count_max < 1:
        return None
    count = int(rng.integers(1, min(count_max, 4) + 1))
    params = dict(
        direction=direction,
        count=count,
        step_frames=step_frames,
        pause=pause,
        pre=pre,
        post=post,
        width=float(rng.uniform(0.28, 0.45)),
    )
    return ActionSpec("side_step", params, pre + count * per_step + post)


def perform_side_step(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    """Step out with the foot on the travelling side, then bring the other foot next to it."""
    p = spec.params
    n = spec.frames
    lead = LEFT if p["direction"] == "left" else RIGHT
    trail = 1 - lead
    across = heading(state.yaw + np.pi / 2)[[0, 2]] * SIDE_SIGN[lead]
    ch = standing(n, state, style)
    tracks = (FootTrack(n, state.feet[LEFT]), FootTrack(n, state.feet[RIGHT]))
    sf = p["step_frames"]
    root = state.root_xz.copy()
    t = p["pre"]
    for _ in range(p["count"]):
        new_root = root + across * p["width"]
        lead_plant = home_plant(lead, new_root, state.yaw, style.half_width + 0.04, style.toe_out)
        trail_plant = home_plant(trail, new_root, state.yaw, style.half_width, style.toe_out)
        tracks[lead].stand(t).swing(t + sf, lead_plant, 0.07, delay=0.2)
        tracks[trail].stand(t + sf - 2).swing(t + 2 * sf - 2, trail_plant, 0.06, delay=0.2)
        # The body shifts over while the lead foot is out, settling as the other closes in.
        w = smoothstep((np.arange(n) - t - sf * 0.3) / (1.4 * sf))
        ch.root_xz += (new_root - root)[None] * w[:, None]
        root = new_root
        t += 2 * sf + p["pause"]
    for track in tracks:
        track.finish()
    set_feet(ch, tracks)
    return ch, BodyState(root, state.yaw, (tracks[LEFT].plant, tracks[RIGHT].plant))


__all__ = [
    "TRAVEL_ANGLE",
    "plan_locomotion",
    "perform_locomotion",
    "plan_turn",
    "plan_spin",
    "perform_turn",
    "plan_march",
    "perform_march",
    "plan_side_step",
    "perform_side_step",
]
