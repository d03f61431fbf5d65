"""Actions that leave the floor or swing a leg: jump (both feet), hop on one leg, kick.

Flights are ballistic: a jump of pelvis height h lasts 2 sqrt(2 h / g); the feet leave the
floor on their toes (heels lifting about the fixed toes) and land on them.
"""

from __future__ import annotations

import numpy as np

from .body import FPS, LEFT, RIGHT, SIDE_SIGN, Channels, body_to_world
from .easing import keyframes, minimum_jerk, smoothstep, window
from .feet import FootPlant, FootTrack
from .poses import BodyState, arm_from_dirs, blend_arm, frames, set_feet, standing, swing_dir
from .spec import ActionSpec
from .style import Style

GRAVITY = 9.81
TAKE_OFF_RISE = 0.07  # the pelvis rises this much as the legs extend onto the toes


def flight_frames(height: float) -> int:
    return max(4, int(round(2.0 * np.sqrt(2.0 * height / GRAVITY) * FPS)))


def _moved(plant: FootPlant, shift: np.ndarray) -> FootPlant:
    return FootPlant(plant.side, plant.ankle + shift, plant.yaw)


# --------------------------------------------------------------------------- jump
def plan_jump(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    forward = bool(rng.random() < 0.45)
    height = float(rng.uniform(0.12, 0.3) * style.amplitude)
    crouch = frames(rng.uniform(0.3, 0.45) / style.tempo)
    push = frames(0.15)
    flight = flight_frames(height)
    land = frames(rng.uniform(0.25, 0.35))
    pause = int(rng.integers(0, 8))
    pre, post = int(rng.integers(2, 8)), int(rng.integers(6, 12))
    per = crouch + push + flight + land + pause
    count_max = (budget - pre - post + pause) // per
    if count_max < 1:
        return None
    count = int(rng.integers(1, min(count_max, 3) + 1))
    params = dict(
        forward=forward,
        distance=float(rng.uniform(0.3, 0.8)) if forward else 0.0,
        height=height,
        count=count,
        crouch=crouch,
        push=push,
        flight=flight,
        land=land,
        pause=pause,
        pre=pre,
        post=post,
        dip=float(rng.uniform(0.1, 0.2)),
    )
    return ActionSpec("jump", params, pre + count * per - pause + post)


def perform_jump(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    p = spec.params
    n = spec.frames
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    tracks = (FootTrack(n, state.feet[LEFT]), FootTrack(n, state.feet[RIGHT]))
    per = p["crouch"] + p["push"] + p["flight"] + p["land"] + p["pause"]
    shift = body_to_world(state.yaw, np.array([0.0, 0.0, p["distance"]]))
    height = np.zeros(n)
    arms = np.zeros(n)
    root = state.root_xz.copy()
    for k in range(p["count"]):
        t0 = p["pre"] + k * per
        t_push = t0 + p["crouch"]
        t_off = t_push + p["push"]
        t_land = t_off + p["flight"]
        t_end = t_land + p["land"]
        # Pelvis: dip, extend onto the toes, fly, absorb the landing, stand.
        fly = np.clip((t - t_off) / p["flight"], 0.0, 1.0)
        arc = np.where((t > t_off) & (t < t_land), 4.0 * p["height"] * fly * (1.0 - fly), 0.0)
        legs = keyframes(
            t,
            [t0, t_push, t_off, t_land, t_land + 0.4 * p["land"], t_end],
            [0.0, -p["dip"], TAKE_OFF_RISE, TAKE_OFF_RISE, -0.8 * p["dip"], 0.0],
        )
        inside = (t >= t0) & (t <= t_end)
        height = np.where(inside, legs + arc, height)
        arms = np.where(inside, keyframes(t, [t0, t_push, t_off + p["flight"] / 2, t_end], [0.0, -1.0, 1.0, 0.0]), arms)
        # Travel happens in the air (constant speed), eased at take-off and landing.
        travel = minimum_jerk((t - t_push) / (t_land + 2 - t_push))
        ch.root_xz += shift[[0, 2]] * travel[:, None]
        root = root + shift[[0, 2]]
        for side, track in enumerate(tracks):
            track.stand(t_push)
            track.stand(t_off, pitch=smoothstep((np.arange(t_push, t_off) - t_push + 1) / p["push"]) * 0.9)
            track.swing(t_land, _moved(track.plant, shift), p["height"], land_pitch=0.5, delay=0.05, land_delay=0.1)
            track.stand(t_end, strike=(max(2, p["land"] // 2), -0.5))
    for track in tracks:
        track.finish()
    set_feet(ch, tracks)
    ch.pelvis_offset[:, 1] += height
    ch.trunk[:, 1] += 0.25 * np.clip(-height / max(p["dip"], 1e-3), 0.0, 1.0)
    for side in (LEFT, RIGHT):  # arms swing back in the dip and forward-up on take-off
        angle = 0.05 + np.where(arms < 0, 0.6 * arms, 1.4 * arms)
        upper = swing_dir(angle, style.arm_out, side)
        fore = swing_dir(angle + 0.3, style.arm_out, side)
        blend_arm(ch, side, *arm_from_dirs(upper, fore, side), np.ones(n))
    return ch, BodyState(root, state.yaw, (tracks[LEFT].plant, tracks[RIGHT].plant))


# --------------------------------------------------------------------------- hop on one leg
def plan_hop(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    leg = "left" if rng.random() < 0.5 else "right"
    forward = bool(rng.random() < 0.4)
    height = float(rng.uniform(0.06, 0.12))
    flight = flight_frames(height)
    stance = frames(rng.uniform(0.22, 0.32) / style.tempo)
    lift, lower = frames(0.4), frames(0.4)
    pre, post = int(rng.integers(2, 8)), int(rng.integers(6, 12))
    per = stance + flight
    count_max = (budget - pre - post - lift - lower - stance) // per
    if count_max < 2:
        return None
    count = int(rng.integers(2, min(count_max, 6) + 1))
    params = dict(
        leg=leg,
        forward=forward,
        distance=float(rng.uniform(0.15, 0.3)) if forward else 0.0,
        height=height,
        count=count,
        flight=flight,
        stance=stance,
        lift=lift,
        lower=lower,
        pre=pre,
        post=post,
    )
    return ActionSpec("hop", params, pre + lift + count * per + stance + lower + post)


def perform_hop(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    """Shift onto one leg, raise the other foot behind, hop ``count`` times, put it down."""
    p = spec.params
    n = spec.frames
    leg = LEFT if p["leg"] == "left" else RIGHT
    free = 1 - leg
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    per = p["stance"] + p["flight"]
    t_first = p["pre"] + p["lift"]
    t_last = t_first + p["count"] * per + p["stance"]
    t_down = t_last + p["lower"]
    shift = body_to_world(state.yaw, np.array([0.0, 0.0, p["distance"]]))
    tracks = (FootTrack(n, state.feet[LEFT]), FootTrack(n, state.feet[RIGHT]))
    height = np.zeros(n)
    hopping = tracks[leg]
    for k in range(p["count"]):
        t_off = t_first + k * per + p["stance"]
        t_land = t_off + p["flight"]
        fly = np.clip((t - t_off) / p["flight"], 0.0, 1.0)
        height += np.where((t > t_off) & (t < t_land), 4.0 * p["height"] * fly * (1.0 - fly), 0.0)
        height += keyframes(
            t,
            [t_off - p["stance"], t_off - 2, t_off, t_land, t_land + 2, t_land + p["stance"]],
            [0.0, -0.05, 0.04, 0.04, -0.05, 0.0],
        ) * ((t >= t_off - p["stance"]) & (t <= t_land + p["stance"]))
        hopping.stand(t_off - 2)
        hopping.stand(t_off, pitch=np.array([0.4, 0.8]))
        hopping.swing(t_land, _moved(hopping.plant, shift), p["height"], land_pitch=0.4, delay=0.05, land_delay=0.1)
        hopping.stand(t_land + 2, strike=(2, -0.4))
        travel = minimum_jerk((t - t_off + 1) / (p["flight"] + 2))
        ch.root_xz += shift[[0, 2]] * travel[:, None]
    hopping.finish()
    # The free foot comes up behind (knee bent) for the whole hopping, then returns next to the other.
    free_track = tracks[free]
    landing = _moved(free_track.plant, shift * p["count"])
    span = np.arange(t_first - p["lift"] + 1, t_down + 1)
    raised = keyframes(span, [span[0], t_first, t_last, t_down], [0.0, 1.0, 1.0, 0.0])
    offset = body_to_world(state.yaw, np.array([0.0, 0.3, -0.12]))[None] * raised[:, None]
    free_track.stand(t_first - p["lift"]).swing(t_down, landing, 0.0, delay=0.2, offset=offset + height[span, None] * [0, 1, 0])
    free_track.finish()
    set_feet(ch, tracks)
    balance = window(n, p["pre"], t_down, p["lift"])
    ch.pelvis_offset[:, 0] += SIDE_SIGN[leg] * 0.06 * balance  # weight over the hopping foot
    ch.pelvis_offset[:, 1] += height
    for side in (LEFT, RIGHT):  # arms a little out for balance
        upper = swing_dir(np.full(n, 0.15), style.arm_out + 0.35, side)
        fore = swing_dir(np.full(n, 0.9), style.arm_out + 0.2, side)
        blend_arm(ch, side, *arm_from_dirs(upper, fore, side), balance)
    root = state.root_xz + shift[[0, 2]] * p["count"]
    return ch, BodyState(root, state.yaw, (tracks[LEFT].plant, tracks[RIGHT].plant))


# --------------------------------------------------------------------------- kick
def plan_kick(rng: np.random.Generator, style: Style, budget: int) -> ActionSpec | None:
    leg = "left" if rng.random() < 0.5 else "right"
    shift_f = frames(rng.uniform(0.3, 0.45))
    kick_f = frames(rng.uniform(0.7, 0.95) / style.tempo)
    pause = int(rng.integers(0, 6))
    pre, post = int(rng.integers(2, 8)), int(rng.integers(6, 12))
    per = kick_f + pause
    count_max = (budget - pre - post - 2 * shift_f + pause) // per
    if count_max < 1:
        return None
    count = int(rng.integers(1, min(count_max, 3) + 1))
    params = dict(
        leg=leg,
        count=count,
        shift=shift_f,
        kick=kick_f,
        pause=pause,
        pre=pre,
        post=post,
        height=float(rng.uniform(0.35, 0.75) * style.amplitude),
        reach=float(rng.uniform(0.55, 0.75)),
    )
    return ActionSpec("kick", params, pre + 2 * shift_f + count * per - pause + post)


def perform_kick(spec: ActionSpec, style: Style, state: BodyState) -> tuple[Channels, BodyState]:
    """Front kick: knee up, snap the foot forward and up, pull it back, put it down."""
    p = spec.params
    n = spec.frames
    leg = LEFT if p["leg"] == "left" else RIGHT
    ch = standing(n, state, style)
    t = np.arange(n, dtype=np.float64)
    tracks = (FootTrack(n, state.feet[LEFT]), FootTrack(n, state.feet[RIGHT]))
    kicking = tracks[leg]
    t_start = p["pre"] + p["shift"]
    per = p["kick"] + p["pause"]
    extension = np.zeros(n)
    for k in range(p["count"]):
        t0 = t_start + k * per
        t1 = t0 + p["kick"]
        span = np.arange(t0 + 1, t1 + 1)
        # chamber (knee up), extend, re-chamber, down; forward and up in the body frame
        s = (span - t0) / (t1 - t0)
        fwd = keyframes(s, [0.0, 0.35, 0.55, 0.75, 1.0], [0.0, 0.2, p["reach"], 0.2, 0.0])
        up = keyframes(s, [0.0, 0.35, 0.55, 0.75, 1.0], [0.0, 0.35, p["height"], 0.3, 0.0])
        offset = body_to_world(state.yaw, np.stack([np.zeros_like(fwd), up, fwd], -1))
        kicking.stand(t0).swing(t1, kicking.plant, 0.0, delay=0.1, offset=offset)
        extension = np.maximum(extension, keyframes(t, [t0, t0 + 0.35 * p["kick"], t0 + 0.55 * p["kick"], t1], [0, 0.5, 1, 0]))
    for track in tracks:
        track.finish()
    set_feet(ch, tracks)
    balance = window(n, p["pre"], t_start + p["count"] * per - p["pause"] + p["shift"], p["shift"])
    ch.pelvis_offset[:, 0] -= SIDE_SIGN[leg] * 0.07 * balance  # weight onto the standing leg
    ch.trunk[:, 1] -= 0.2 * extension  # lean back as the leg goes up
    ch.pelvis_rot[:, 1] -= 0.15 * extension
    for side in (LEFT, RIGHT):  # arms out for balance, fists up
        upper = swing_dir(np.full(n, 0.3), style.arm_out + 0.4, side)
        fore = swing_dir(np.full(n, 1.4), style.arm_out, side)
        blend_arm(ch, side, *arm_from_dirs(upper, fore, side), balance)
    return ch, state


__all__ = ["plan_jump", "perform_jump", "plan_hop", "perform_hop", "plan_kick", "perform_kick", "flight_frames"]
