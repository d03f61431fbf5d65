"""Exact hints by construction: a motion-space correction after the few-step sampler.

The ControlNet and latent tuning bring a motion *near* its hints; this step makes it *meet*
them, the classic way of animators' tools (motion warping + limb IK), and keeps the rest of the
motion as it was:

0. **Ground alignment** (pelvis hints, else all hinted points): the motion is first turned about the vertical axis and
   shifted on the ground to fit the pelvis hints best (least squares), which changes nothing
   of how natural it is.
1. **Displacement fields.** For each hinted joint the miss at its hinted frames, ``r_k``, is
   spread over the clip as the smoothest field ``D`` (least second differences, a light pull
   towards zero away from hints) that equals ``r_k`` exactly at the hinted frames
   (:func:`displacement_field`). The correction therefore fades in and out over about
   ``decay_frames`` frames: no jump and no acceleration spike at a hinted frame.
2. **Pelvis**: the whole body moves by the pelvis field. Without pelvis hints the body is
   *carried* towards far hints of the other joints (:func:`carry_body`: what the limb cannot
   reach, the body walks, rises or crouches for), the same way. Feet that were planted (low and slow
   in the generated motion) are put back where they were by leg IK, so a corrected trajectory
   does not make the feet skate.
3. **Head**: the spine chain (pelvis to head) bends to put the head on its target (FABRIK with
   the pelvis fixed); collars and arms move rigidly with the upper spine.
4. **Wrists and feet**: two-bone IK of the arm (shoulder-elbow-wrist) or leg (hip-knee-ankle,
   the foot keeping its orientation), the elbow in its current bend plane, the knee of a hinted
   foot bending over its toes. Where the
   stretched limb falls short, the chain grows: the upper body leans about the pelvis towards a
   wrist target, and the body shifts towards a foot target (where the pelvis has no hint of its
   own), each as a smooth field again, then the limb reaches. Where the pelvis is hinted too, a
   foot points (turns away from the hip) to reach further; where the head is hinted too (so the
   spine cannot lean), the shoulder girdle turns about the spine. The knee's or elbow's bend
   plane is smoothed over time, so a nearly straight limb does not swing about its axis.
5. **Floor**: a foot without a hint of its own that ends below the floor (the sampler's motion
   crouched for a low hint) is lifted onto it by leg IK (:func:`keep_feet_above_floor`).

Bone lengths never change (translations, rotations of rigid parts and IK that keeps lengths).
A hint the limb cannot reach (a wrist 3 m from the shoulder) is met as closely as the
stretched limb allows; :class:`ExactHintsReport` gives the remaining error, never NaN.

Hand-written (numpy, a few ms per clip): the IK needed here is four closed-form or
few-iteration solvers on a fixed 22-joint tree; no maintained library offers them for it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MotionLCMError
from ..motion.rotations import axis_angle_to_matrix, qbetween, quat_to_matrix

PELVIS, HEAD = 0, 15
# (upper joint, middle joint, end joint) of the limbs an end-effector hint moves.
ARMS = {20: (16, 18, 20), 21: (17, 19, 21)}
LEGS = {10: (1, 4, 7), 11: (2, 5, 8)}  # toe hint -> hip, knee, ankle (the toe rides on the ankle)
SPINE_TO_HEAD = (0, 3, 6, 9, 12, 15)
# Joints that move rigidly with the spine3 -> neck segment when the spine bends.
UPPER_BODY = (13, 14, 16, 17, 18, 19, 20, 21)
LOWER_BODY = (0, 1, 2, 4, 5, 7, 8, 10, 11)  # what a lean of the upper body leaves in place
LEANING = tuple(j for j in range(22) if j not in LOWER_BODY)  # what it turns about the pelvis
FOOT_JOINTS = ((7, 10), (8, 11))  # (ankle, toe) per side
SUPPORTED = (PELVIS, 10, 11, HEAD, 20, 21)
UNREACHED = 1e-4  # metres: a hinted point missed by more than this is counted as unreachable
CARRY_SLACK = 0.10  # metres of a non-pelvis hint's horizontal miss left to the limbs (see carry_body)
LEG_SHIFT_ROUNDS = 8  # at most this many body-shift solves for one foot hint (fixture cases need 2-4)
DENSE_GAP = 6  # frames: hinted frames at most this far apart describe a path to follow between them
_EPS = 1e-9


@dataclass
class ExactHintsReport:
    """Hint errors (metres) before and after the correction, over all hinted points."""

    mean_before: float
    max_before: float
    mean_after: float
    max_after: float
    unreachable: int  # hinted points left more than UNREACHED away (a stretched chain fell short)


def displacement_field(residual: np.ndarray, hinted: np.ndarray, decay_frames: float = 10.0,
                       smooth_frames: float | None = None) -> np.ndarray:
    """The smoothest (T, C) field equal to ``residual`` at the ``hinted`` frames (T,) bool.

    Minimises ``sum ||D[t+1] - 2 D[t] + D[t-1]||^2 + lam * sum ||D[t]||^2`` over the free frames
    with ``D`` fixed at the hinted ones; ``lam = decay_frames ** -4`` makes the field fade to zero
    within about three times that many frames from the hints (no hints: zeros).

    ``smooth_frames``: the hinted frames pull the field towards ``residual`` (weight
    ``smooth_frames ** -4`` against the second differences) instead of fixing it, so what changes
    faster than about that many frames is left out: a smooth path through noisy targets (an
    isolated hint is then met to about 80 % at decay 10, smooth 3).
    """
    residual = np.asarray(residual, dtype=np.float64)
    hinted = np.asarray(hinted, dtype=bool)
    frames = len(hinted)
    field = np.zeros_like(residual)
    if not hinted.any():
        return field
    lam = float(decay_frames) ** -4
    if smooth_frames is not None:
        if frames < 3:
            return np.where(hinted[:, None], residual, 0.0)
        gram = _second_differences(frames)
        weight = float(smooth_frames) ** -4 * hinted
        lhs = gram.T @ gram + lam * np.eye(frames) + np.diag(weight)
        return np.linalg.solve(lhs, weight[:, None] * np.where(hinted[:, None], residual, 0.0))
    field[hinted] = residual[hinted]
    free = ~hinted
    if not free.any():
        return field
    second = _second_differences(frames)
    a_free, a_fixed = second[:, free], second[:, hinted]
    lhs = a_free.T @ a_free + lam * np.eye(int(free.sum()))
    rhs = -a_free.T @ (a_fixed @ residual[hinted])
    field[free] = np.linalg.solve(lhs, rhs)
    return field


def _second_differences(frames: int) -> np.ndarray:
    """(frames - 2, frames): rows (1, -2, 1), the second differences of a sequence."""
    return np.diff(np.eye(frames), 2, axis=0)


def densify_hints(hints: np.ndarray, mask: np.ndarray, joints: np.ndarray, max_gap: int = DENSE_GAP
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Hints (T, 22, 3) / mask (T, 22) with each joint's short gaps filled: between two hinted frames
    at most ``max_gap`` apart, the target is ``joints`` (T, 22, 3) plus the
    shape-preserving (PCHIP) interpolation of the misses ``hints - joints`` at the hinted frames.

    Dense hints (a quarter of the frames, say) describe a path; pinning only the sampled frames
    and leaving the rest to the smoothest-field fill let heads, elbows and knees wobble between
    them (six joints at 25 %: jitter 0.09 -> 0.05 on 12 test clips). A motion that already
    meets its hints is left as it is. Longer gaps are left to the displacement fields. Returns
    new arrays.
    """
    from scipy.interpolate import PchipInterpolator

    hints, mask = np.array(hints, dtype=np.float64), np.array(mask, dtype=bool)
    for joint in np.flatnonzero(mask.any(0)):
        frames = np.flatnonzero(mask[:, joint])
        if len(frames) < 2:
            continue
        gaps = [(a, b) for a, b in zip(frames[:-1], frames[1:]) if 1 < b - a <= max_gap]
        if not gaps:
            continue
        miss = PchipInterpolator(frames, hints[frames, joint] - joints[frames, joint], axis=0)
        fill = np.concatenate([np.arange(a + 1, b) for a, b in gaps])
        hints[fill, joint] = joints[fill, joint] + miss(fill)
        mask[fill, joint] = True
    return hints, mask


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def _smooth_runs(values: np.ndarray, frames: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of values (K, C) over each run of consecutive ``frames`` (K,) separately."""
    from scipy.ndimage import gaussian_filter1d

    out = values.copy()
    for run in np.split(np.arange(len(frames)), np.flatnonzero(np.diff(frames) != 1) + 1):
        if len(run) > 1:
            out[run] = gaussian_filter1d(values[run], sigma, axis=0, mode="nearest")
    return out


def two_bone_ik(a: np.ndarray, b: np.ndarray, c: np.ndarray, target: np.ndarray, frames: np.ndarray | None = None,
                pole_sigma: float = 2.0, pole_hint: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place the chain a-b-c (K, 3) each so that c reaches ``target`` with a fixed and both bone
    lengths kept; b stays in the plane of (a, b, target). Returns (new b, new c, reached (K,) bool).

    ``frames`` (K,): the clip frames of the K chains; the bend plane is then smoothed over
    ``pole_sigma`` frames, so that a nearly straight limb's knee or elbow does not swing about the
    limb's axis from frame to frame (what made exact end-effector control jitter). ``pole_hint``
    (K, 3): the direction b should bend towards (its part across the limb) instead of b's own."""
    upper = np.linalg.norm(b - a, axis=-1)
    lower = np.linalg.norm(c - b, axis=-1)
    to_target = target - a
    dist = np.linalg.norm(to_target, axis=-1)
    reach = upper + lower
    reached = (dist <= reach * (1 - 1e-9)) & (dist >= np.abs(upper - lower) * (1 + 1e-9))
    d = np.clip(dist, np.abs(upper - lower) + 1e-6, reach - 1e-9)
    axis = _unit(to_target)
    # Bend plane: the current middle joint's offset from the a->target line (a fallback if straight).
    pole = (b - a) - ((b - a) * axis).sum(-1, keepdims=True) * axis
    if pole_hint is not None:  # a preferred bend direction, where it is not along the limb
        hint = pole_hint - (pole_hint * axis).sum(-1, keepdims=True) * axis
        usable = np.linalg.norm(hint, axis=-1, keepdims=True) > 1e-3
        pole = np.where(usable, 0.1 * _unit(hint), pole)
    fallback = np.cross(axis, np.array([0.0, 1.0, 0.0]))
    fallback = np.where(np.linalg.norm(fallback, axis=-1, keepdims=True) < 1e-6, np.cross(axis, np.array([1.0, 0.0, 0.0])),
                        fallback)
    straight = np.linalg.norm(pole, axis=-1, keepdims=True) < 1e-6
    pole = np.where(straight, fallback, pole)
    if frames is not None and pole_sigma > 0:
        # Unnormalised offsets: a bent limb's plane weighs more than a straight one's in the average
        # (a straight frame's fallback direction counts for next to nothing).
        pole = _smooth_runs(np.where(straight, 1e-5 * fallback, pole), np.asarray(frames), pole_sigma)
        pole = pole - (pole * axis).sum(-1, keepdims=True) * axis
        pole = np.where(np.linalg.norm(pole, axis=-1, keepdims=True) < 1e-6, fallback, pole)
    pole = _unit(pole)
    along = (upper**2 - lower**2 + d**2) / (2 * d)
    height = np.sqrt(np.maximum(upper**2 - along**2, 0.0))
    new_b = a + along[:, None] * axis + height[:, None] * pole
    new_c = new_b + lower[:, None] * _unit(a + d[:, None] * axis - new_b)
    return new_b, new_c, reached


def _rotation_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smallest rotations (K, 3, 3) turning directions u onto v (K, 3)."""
    return quat_to_matrix(qbetween(u, v))


def _fabrik(chain: np.ndarray, target: np.ndarray, iterations: int = 60) -> np.ndarray:
    """FABRIK on chains (K, N, 3) with the first joint fixed; returns the moved chains."""
    lengths = np.linalg.norm(np.diff(chain, axis=1), axis=-1)  # (K, N-1)
    points = chain.copy()
    root = chain[:, 0].copy()
    for _ in range(iterations):
        points[:, -1] = target
        for i in range(points.shape[1] - 2, -1, -1):
            points[:, i] = points[:, i + 1] + lengths[:, i, None] * _unit(points[:, i] - points[:, i + 1])
        points[:, 0] = root
        for i in range(1, points.shape[1]):
            points[:, i] = points[:, i - 1] + lengths[:, i - 1, None] * _unit(points[:, i] - points[:, i - 1])
    return points


def _contacts(joints: np.ndarray, speed: float = 0.01, height: float = 0.05) -> np.ndarray:
    """(T, 2) weight in [0, 1] that each foot is planted: slow (m/frame) and near its lowest height."""
    weights = []
    for ankle, toe in FOOT_JOINTS:
        foot = joints[:, [ankle, toe]]
        vel = np.linalg.norm(np.diff(foot, axis=0, prepend=foot[:1]), axis=-1).max(-1)
        low = (foot[..., 1] - foot[..., 1].min(0)).max(-1)
        planted = (vel < speed) & (low < height)
        weights.append(planted.astype(np.float64))
    weight = np.stack(weights, -1)
    # Soften the edges over 2 frames each side so the re-planting fades in and out.
    kernel = np.array([1, 2, 3, 2, 1], dtype=np.float64) / 9.0
    return np.stack([np.clip(np.convolve(w, kernel, mode="same"), 0, 1) for w in weight.T], -1)


def _place_leg(joints: np.ndarray, frames: np.ndarray, side: int, ankle_target: np.ndarray,
               foot: np.ndarray | None = None, over_toes: bool = False) -> np.ndarray:
    """Leg IK moving ankle ``side`` to ``ankle_target`` (K, 3) on ``frames``; the toe rides along
    (at ``foot`` (K, 3) from the ankle when given, else where it was); ``over_toes``: the knee bends
    towards the toes rather than in its own plane. -> reached."""
    hip, knee, ankle = LEGS[10 + side]
    toe = FOOT_JOINTS[side][1]
    foot = joints[frames, toe] - joints[frames, ankle] if foot is None else foot
    # A foot hint moves the hip-ankle line away from the generated leg, whose knee plane seen from
    # there swings with the generated gait: bend over the toes instead (knee jitter 0.19 -> 0.05).
    pole_hint = foot * np.array([1.0, 0.0, 1.0]) if over_toes else None
    new_knee, new_ankle, reached = two_bone_ik(joints[frames, hip], joints[frames, knee], joints[frames, ankle], ankle_target,
                                               frames, pole_hint=pole_hint)
    joints[frames, knee], joints[frames, ankle] = new_knee, new_ankle
    joints[frames, toe] = new_ankle + foot
    return reached


def _limb_reach(joints: np.ndarray, upper_joint: int, middle: int, end: int) -> np.ndarray:
    """(T,) length of a limb stretched straight (upper + lower bone)."""
    return (np.linalg.norm(joints[:, middle] - joints[:, upper_joint], axis=-1)
            + np.linalg.norm(joints[:, end] - joints[:, middle], axis=-1))


def _shortfall(target: np.ndarray, root: np.ndarray, reach: np.ndarray, short: np.ndarray) -> np.ndarray:
    """(T, 3) move of a limb's root that brings ``target`` within the stretched limb's ``reach``, where ``short``."""
    gap = target - root
    dist = np.linalg.norm(gap, axis=-1, keepdims=True)
    return np.where(short[:, None], gap * (1 - 0.999 * reach[:, None] / np.maximum(dist, _EPS)), 0.0)


def _replant(joints: np.ndarray, original: np.ndarray, planted: np.ndarray, side: int,
             keep_within: float = 0.10) -> None:
    """Plant foot ``side`` (weight ``planted`` (T,)) again after the body moved, still for each contact.

    Per contact (a run of planted frames) the foot goes back where it was planted when the body
    moved less than ``keep_within`` metres there; for larger moves (a new path), where the moved
    foot is on average over the contact, blended in between; either way it stays still while
    planted. Best effort: a plant out of the leg's reach slides.
    """
    ankle = FOOT_JOINTS[side][0]
    moved = np.flatnonzero((planted > 0) & (np.linalg.norm(joints[:, ankle] - original[:, ankle], axis=-1) > 1e-6))
    if not len(moved):
        return
    target = joints[:, ankle].copy()
    runs = np.split(moved, np.flatnonzero(np.diff(moved) > 1) + 1)
    for run in runs:
        away = np.linalg.norm((joints[run, ankle] - original[run, ankle])[:, [0, 2]], axis=-1).mean()
        follow = float(np.clip((away - keep_within) / keep_within, 0.0, 1.0))
        moved_plant = joints[run, ankle].mean(0)
        target[run] = (1 - follow) * original[run, ankle] + follow * moved_plant
        target[run, 1] = original[run, ankle, 1]
    w = planted[moved, None]
    _place_leg(joints, moved, side, (1 - w) * joints[moved, ankle] + w * target[moved])


def _replant_unhinted(joints: np.ndarray, original: np.ndarray, planted: np.ndarray | None, mask: np.ndarray) -> None:
    """After the whole body moved: re-plant each planted foot that has no hint of its own (a foot
    hint decides where that foot goes)."""
    for side in (0, 1) if planted is not None else ():
        if not mask[:, 10 + side].any():
            _replant(joints, original, planted[:, side], side)


def heading_warp(joints: np.ndarray, before: np.ndarray, after: np.ndarray, min_speed: float = 0.02,
                 sigma: float = 3.0) -> np.ndarray:
    """Turn each frame (T, 22, 3) about the vertical through its pelvis by how much the pelvis'
    direction of travel turned from ``before`` (T, 3) to ``after`` (T, 3): a body walked along a new
    path faces along it (motion path editing) instead of crabbing. Frames slower than
    ``min_speed`` (m/frame) on either path take the turn of their moving neighbours; the turn is
    smoothed over ``sigma`` frames. Returns the (T,) turn in radians (joints are changed in place).
    """
    from scipy.ndimage import gaussian_filter1d

    u = np.gradient(before[:, [0, 2]], axis=0)
    v = np.gradient(after[:, [0, 2]], axis=0)
    reliable = np.minimum(np.linalg.norm(u, axis=-1), np.linalg.norm(v, axis=-1)) > min_speed
    turn = np.zeros(len(joints))
    if reliable.sum() < 2:
        return turn
    # the rotation about +y that takes u to v: x' = x cos a + z sin a, z' = -x sin a + z cos a
    angle = np.arctan2(u[:, 1] * v[:, 0] - u[:, 0] * v[:, 1], (u * v).sum(-1))
    frames = np.flatnonzero(reliable)
    turn = np.interp(np.arange(len(joints)), frames, np.unwrap(angle[frames]))
    turn = gaussian_filter1d(turn, sigma, mode="nearest")
    cos, sin = np.cos(turn), np.sin(turn)
    pivot = after[:, None, [0, 2]]
    rel = joints[..., [0, 2]] - pivot
    joints[..., 0] = pivot[..., 0] + cos[:, None] * rel[..., 0] + sin[:, None] * rel[..., 1]
    joints[..., 2] = pivot[..., 1] - sin[:, None] * rel[..., 0] + cos[:, None] * rel[..., 1]
    return turn


def _arm_ik(joints: np.ndarray, end: int, upper_joint: int, middle: int, target: np.ndarray, frames: np.ndarray) -> np.ndarray:
    new_mid, new_end, reached = two_bone_ik(joints[frames, upper_joint], joints[frames, middle], joints[frames, end],
                                            target[frames], frames)
    joints[frames, middle], joints[frames, end] = new_mid, new_end
    return reached


def _field_frames(field: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.linalg.norm(field, axis=-1) > 1e-9)


def _reach_with_spine(joints, hints, mask, decay_frames) -> None:
    """The head on its target by bending the spine (FABRIK, pelvis fixed); collars and arms ride along."""
    field = displacement_field(hints[:, HEAD] - joints[:, HEAD], mask[:, HEAD], decay_frames)
    frames = _field_frames(field)
    if not len(frames):
        return
    chain = joints[frames][:, list(SPINE_TO_HEAD)]
    moved = _fabrik(chain, joints[frames, HEAD] + field[frames])
    spine3, neck = SPINE_TO_HEAD.index(9), SPINE_TO_HEAD.index(12)
    rot = _rotation_between(chain[:, neck] - chain[:, spine3], moved[:, neck] - moved[:, spine3])
    upper = joints[frames][:, list(UPPER_BODY)] - chain[:, spine3, None]
    joints[frames[:, None], list(UPPER_BODY)] = moved[:, spine3, None] + np.einsum("kij,knj->kni", rot, upper)
    joints[frames[:, None], list(SPINE_TO_HEAD)] = moved


def _reach_with_arm(joints, hints, mask, end, upper_joint, middle, decay_frames, keep_head: bool = False) -> None:
    """Arm IK; where the stretched arm falls short, the upper body leans (rotates about the pelvis)
    to bring the shoulder closer, then the arm reaches again."""
    field = displacement_field(hints[:, end] - joints[:, end], mask[:, end], decay_frames)
    frames = _field_frames(field)
    if not len(frames):
        return
    target = joints[:, end] + field
    reached = _arm_ik(joints, end, upper_joint, middle, target, frames)
    for _ in range(3):  # a lean moves the shoulder on a sphere about the pelvis: a few rounds close the gap
        short = np.zeros(len(joints), bool)
        short[frames[~reached]] = True
        short &= mask[:, end]
        if not short.any():
            break
        # How far the shoulder must move so that the stretched arm's reach covers the target.
        reach = _limb_reach(joints, upper_joint, middle, end)
        need = _shortfall(target, joints[:, upper_joint], reach, short)
        fixed = short
        if keep_head:  # the last round: a hinted head stays where the spine step put it
            need[mask[:, HEAD]] = 0.0
            fixed = short | mask[:, HEAD]
        lean = displacement_field(need, fixed, decay_frames)
        lean_frames = _field_frames(lean)
        pelvis = joints[lean_frames, PELVIS]
        shoulder = joints[lean_frames, upper_joint] - pelvis
        rot = _rotation_between(shoulder, shoulder + lean[lean_frames])
        upper = list(LEANING)
        joints[lean_frames[:, None], upper] = pelvis[:, None] + np.einsum("kij,knj->kni", rot, joints[lean_frames][:, upper] - pelvis[:, None])
        reached = _arm_ik(joints, end, upper_joint, middle, target, frames)
    if keep_head:
        short = np.zeros(len(joints), bool)
        short[frames[~reached]] = True
        short &= mask[:, end]
        if short.any() and _twist_shoulders(joints, target, upper_joint, middle, end, short):
            _arm_ik(joints, end, upper_joint, middle, target, frames)


def _twist_shoulders(joints, target, upper_joint, middle, end, short, sigma: float = 2.0) -> bool:
    """Where a hinted head fixes the spine and an arm still falls short, turn the shoulder girdle
    (collars and arms, rigidly, about the spine3 -> neck axis through spine3) by the least angle that
    brings the target within the stretched arm's reach (the torso twist of a reaching or running
    arm): bone lengths and the head stay as they are. The angle is smoothed over ``sigma`` frames."""
    from scipy.ndimage import gaussian_filter1d

    spine3, neck = 9, 12
    axis = _unit(joints[:, neck] - joints[:, spine3])
    short = short & (np.linalg.norm(joints[:, neck] - joints[:, spine3], axis=-1) > 1e-6)  # no axis, no twist
    reach = _limb_reach(joints, upper_joint, middle, end)
    shoulder = joints[:, upper_joint] - joints[:, spine3]
    goal = target - joints[:, spine3]
    angles = np.deg2rad(np.arange(3.0, 93.0, 3.0))
    need = np.zeros(len(joints))
    best, best_angle = np.linalg.norm(shoulder - goal, axis=-1), np.zeros(len(joints))
    for angle in np.concatenate([angles, -angles])[np.argsort(np.concatenate([angles, angles]), kind="stable")]:
        turned = np.einsum("kij,kj->ki", axis_angle_to_matrix(axis * angle), shoulder)
        dist = np.linalg.norm(turned - goal, axis=-1)
        fits = short & (need == 0) & (dist <= 0.999 * reach)
        need = np.where(fits, angle, need)
        closer = short & (dist < best - 1e-9)  # the shoulder nearest the target, where no angle fits
        best, best_angle = np.where(closer, dist, best), np.where(closer, angle, best_angle)
    need = np.where(short & (need == 0), best_angle, need)  # best effort: as near as the turn gets
    if not need.any():
        return False
    smooth = gaussian_filter1d(need, sigma, mode="nearest")  # never less turn than a frame needs
    angle = np.where(np.abs(smooth) < np.abs(need), need, smooth)
    frames = np.flatnonzero(np.abs(angle) > 1e-6)
    rot = axis_angle_to_matrix(axis[frames] * angle[frames, None])
    pivot = joints[frames, spine3][:, None]
    upper = list(UPPER_BODY)
    joints[frames[:, None], upper] = pivot + np.einsum("kij,knj->kni", rot, joints[frames][:, upper] - pivot)
    return True


def _pointed_feet(foot: np.ndarray, toe_target: np.ndarray, hip: np.ndarray, reach: np.ndarray, hinted: np.ndarray,
                  sigma: float = 2.0) -> np.ndarray:
    """Ankle-to-toe vectors (T, 3) that bring a toe target within the leg's reach: where the ankle
    the current foot implies is out of reach, the foot turns towards pointing away from the hip (as
    a foot points to reach), by the least share of the way that suffices; the share is smoothed over
    ``sigma`` frames (never below what a frame needs), so the foot does not flick."""
    from scipy.ndimage import gaussian_filter1d, maximum_filter1d

    length = np.linalg.norm(foot, axis=-1, keepdims=True)
    current, pointed = _unit(foot), _unit(toe_target - hip)
    shares = np.linspace(0.0, 1.0, 21)
    need = np.ones(len(foot))
    for share in shares[::-1]:  # the smallest share that reaches (1 where none does)
        ankle = toe_target - length * _unit((1 - share) * current + share * pointed)
        fits = np.linalg.norm(ankle - hip, axis=-1) <= 0.999 * reach
        need = np.where(fits, share, need)
    need = np.where(hinted, need, 0.0)
    if not need.any():
        return foot
    need = np.maximum(gaussian_filter1d(maximum_filter1d(need, 2 * int(sigma) + 1), sigma, mode="nearest"), need)
    return length * _unit((1 - need[:, None]) * current + need[:, None] * pointed)


def _reach_with_leg(joints, original, planted, hints, mask, toe, decay_frames) -> None:
    """Leg IK for a toe hint; where the stretched leg falls short and the pelvis is free there, the
    body shifts towards the target (the other foot re-planted where ``planted`` (T, 2) says), then
    the leg reaches again."""
    side, ankle = toe - 10, LEGS[toe][2]
    field = displacement_field(hints[:, toe] - joints[:, toe], mask[:, toe], decay_frames)
    frames = _field_frames(field)
    if not len(frames):
        return
    hip, knee = LEGS[toe][0], LEGS[toe][1]
    reach = _limb_reach(joints, hip, knee, ankle)
    foot = joints[:, toe] - joints[:, ankle]
    if mask[:, PELVIS].any():  # the body cannot come closer where the pelvis is hinted: point the foot first
        # off the hinted frames (where the pointing fades out) the toe's target is the field's
        toe_target = np.where(mask[:, toe, None], hints[:, toe], joints[:, toe] + field)
        foot = _pointed_feet(foot, toe_target, joints[:, hip], reach, mask[:, toe] & mask[:, PELVIS])
    ankle_target = hints[:, toe] - foot  # at hinted frames; elsewhere the field's smooth target
    ankle_target = np.where(mask[:, toe, None], ankle_target, joints[:, ankle] + field)
    before = joints.copy()
    reached = _place_leg(joints, frames, side, ankle_target[frames], foot[frames], over_toes=True)
    short = np.zeros(len(joints), bool)
    short[frames[~reached]] = True
    short &= mask[:, toe] & ~mask[:, PELVIS]
    # The shift is pinned where the leg fell short; between those frames it is interpolated, which can
    # move the hip away from a hinted frame that was in reach: add such frames and solve again.
    for _ in range(LEG_SHIFT_ROUNDS):
        if not short.any():
            break
        joints[:] = before
        need = _shortfall(ankle_target, joints[:, hip], reach, short)
        # zero shift where the pelvis is hinted, and where the other foot's hints are met
        shift = displacement_field(need, short | mask[:, PELVIS] | mask[:, 10 + (1 - side)], decay_frames)
        joints += shift[:, None]
        other = 1 - side
        if planted is not None and not mask[:, 10 + other].any():
            _replant(joints, original, planted[:, other], other)
        shifted_target = np.where(mask[:, toe, None], hints[:, toe] - foot, joints[:, ankle] + field)
        reached = _place_leg(joints, frames, side, shifted_target[frames], foot[frames], over_toes=True)
        missed = np.zeros(len(joints), bool)
        missed[frames[~reached]] = True
        missed &= mask[:, toe] & ~mask[:, PELVIS] & ~short
        short |= missed
        if not missed.any():
            break


def _beyond(gap: np.ndarray, slack: float | np.ndarray) -> np.ndarray:
    """The part of each (K, 3) vector beyond length ``slack`` (zero inside it)."""
    size = np.linalg.norm(gap, axis=-1, keepdims=True)
    slack = np.expand_dims(np.asarray(slack, dtype=np.float64), -1)  # a scalar, or one per vector
    return gap * np.clip(1.0 - slack / np.maximum(size, _EPS), 0.0, None)


def _carry_targets(joints, hints, mask, others, slack) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) body moves at the hinted frames (see :func:`carry_body`) and the (T,) frames they pin."""
    miss = np.zeros((len(joints), 3))
    count = np.zeros(len(joints))
    for j in others:
        at = mask[:, j]
        gap = hints[at, j] - joints[at, j]
        if j in ARMS:
            upper_joint, middle, _ = ARMS[j]
            reach = _limb_reach(joints[at], upper_joint, middle, j)
            move = _beyond(hints[at, j] - joints[at, upper_joint], 0.9 * reach)
        elif j == HEAD:  # and the spine, pelvis to head, cannot stretch: what it lacks moves the body
            move = _beyond(gap, slack)
            spine = sum(np.linalg.norm(joints[at, a] - joints[at, b], axis=-1) for a, b in zip(SPINE_TO_HEAD, SPINE_TO_HEAD[1:]))
            move = move + _beyond(hints[at, j] - joints[at, PELVIS] - move, 0.97 * spine)
        else:  # a foot: the leg steps, the body only follows far targets on the ground
            move = _beyond(gap * np.array([1.0, 0.0, 1.0]), slack)
        miss[at] += move
        count += at
    pinned = count > 0
    miss[pinned] /= count[pinned, None]
    return miss, pinned


def carry_body(joints: np.ndarray, original: np.ndarray, planted: np.ndarray | None, hints: np.ndarray, mask: np.ndarray,
               decay_frames: float = 10.0, follow_path: bool = True, slack: float = CARRY_SLACK) -> None:
    """Where the pelvis has no hint, move the whole body towards far hints of the other joints.

    At each hinted frame the body moves by the mean over its hinted joints of the part of the miss
    that the limb cannot take: a foot's horizontal miss beyond ``slack`` metres; the head's miss
    beyond ``slack`` (up and down too: a lower head is mostly a lower body, crouching); a wrist's
    target beyond 90 % of the stretched arm's reach from its shoulder. Spread as a displacement
    field; the body turns along its new path; unhinted feet keep their height where the body went
    down (the knees bend) and planted ones are re-planted, as for a pelvis hint. The limbs then
    close the rest.

    Without it a wrist or head hinted where the real motion was (metres away: the generated walk
    went elsewhere) was left 0.7-0.8 m off on average (8 test clips, 5 frames), and a wrist far
    below the shoulder bent the upper body over instead of lowering it. Changes ``joints`` in place.
    """
    others = [j for j in SUPPORTED if j != PELVIS and mask[:, j].any()]
    if not others:
        return
    field = np.zeros((len(joints), 3))
    # The body's path is smooth: each pass fits the moves softly (a limb's swing makes them vary from
    # frame to frame; pinned exactly they shook the body: one clip, wrists at 25 %, jitter 0.039 ->
    # 0.065), later passes carry what is left (the last one exactly: only centimetres remain) and
    # what turning the body onto its path swung away.
    for turn, soft in ((follow_path, True), (False, True), (False, False)):
        miss, pinned = _carry_targets(joints, hints, mask, others, slack)
        if np.abs(miss).max() < 1e-9:
            break
        pelvis_before = joints[:, PELVIS].copy()
        step = displacement_field(miss, pinned, decay_frames, smooth_frames=3.0 if soft else None)
        joints += step[:, None]
        field += step
        if turn:
            heading_warp(joints, pelvis_before, joints[:, PELVIS])
    if np.abs(field).max() < 1e-9:
        return
    lowered = np.flatnonzero(field[:, 1] < -1e-6)
    for side in (0, 1) if len(lowered) else ():  # unhinted feet stay above the floor they were on: the legs bend
        if not mask[:, 10 + side].any():
            target = joints[lowered, FOOT_JOINTS[side][0]].copy()
            target[:, 1] -= field[lowered, 1]
            _place_leg(joints, lowered, side, target)
    _replant_unhinted(joints, original, planted, mask)


def keep_feet_above_floor(joints: np.ndarray, mask: np.ndarray, floor: float = 0.0, spread_frames: float = 2.0) -> None:
    """Raise each foot without a hint of its own wherever its ankle or toe is below ``floor``
    (HumanML3D's ``y = 0``), by leg IK, the lift spread over ``spread_frames`` each side so it
    fades in and out. A hinted foot goes where its hint says. Best effort where the leg cannot fold
    that far. Without it, a crouch redrawn for a head hinted 1 m low put a foot 2.7 cm through the floor."""
    from scipy.ndimage import gaussian_filter1d, maximum_filter1d

    for side, (ankle, toe) in enumerate(FOOT_JOINTS):
        if mask[:, 10 + side].any():
            continue
        depth = np.clip(floor - np.minimum(joints[:, ankle, 1], joints[:, toe, 1]), 0.0, None)
        if depth.max() < 1e-4:
            continue
        width = int(2 * np.ceil(spread_frames) + 1)
        lift = np.maximum(gaussian_filter1d(maximum_filter1d(depth, width), spread_frames, mode="nearest"), depth)
        frames = np.flatnonzero(lift > 1e-5)
        _place_leg(joints, frames, side, joints[frames, ankle] + lift[frames, None] * np.array([0.0, 1.0, 0.0]))


def ground_alignment(pelvis: np.ndarray, targets: np.ndarray, min_spread: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """The rigid motion of the ground plane (rotation about the vertical axis, then an x/z shift)
    that best takes pelvis points (K, 3) onto their targets (K, 3), least squares (2-D Procrustes).

    Returns (R (3, 3), t (3,)) for ``x -> R @ x + t``. When the targets span less than
    ``min_spread`` metres the heading is not determined by them and only the shift is fitted.
    """
    a, b = pelvis[:, [0, 2]], targets[:, [0, 2]]
    ca, cb = a.mean(0), b.mean(0)
    rot2 = np.eye(2)
    if np.linalg.norm(b - cb, axis=-1).max() >= min_spread:
        u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
        if np.linalg.det(vt.T @ u.T) > 0:  # a reflection is not a motion: then the shift only
            rot2 = vt.T @ u.T
    rot = np.eye(3)
    rot[np.ix_([0, 2], [0, 2])] = rot2
    shift = np.zeros(3)
    shift[[0, 2]] = cb - rot2 @ ca
    return rot, shift


def meet_hints(joints: np.ndarray, hints: np.ndarray, mask: np.ndarray, decay_frames: float = 10.0,
               keep_planted_feet: bool = True, align: bool = True, follow_path: bool = True,
               dense_gap: int = DENSE_GAP, carry: bool = True, keep_above_floor: bool = True
               ) -> tuple[np.ndarray, ExactHintsReport]:
    """Correct joints (T, 22, 3) so that they equal ``hints`` (T, 22, 3) where ``mask`` (T, 22) is True.

    Hints may be on the pelvis, the toes (10, 11), the head (15) and the wrists (20, 21), in any
    combination; see the module docstring for the method. Gaps of at most ``dense_gap`` frames
    between hints follow the hints' interpolation (:func:`densify_hints`; 0: off). ``carry``: without
    pelvis hints, the body moves towards far hints of the other joints (:func:`carry_body`).
    ``keep_above_floor``: unhinted feet are lifted out of the floor (:func:`keep_feet_above_floor`). Returns
    (new joints, report); the report measures the given hints only.
    """
    joints = np.array(joints, dtype=np.float64)
    hints = np.asarray(hints, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3) or hints.shape != joints.shape or mask.shape != joints.shape[:2]:
        raise MotionLCMError(f"meet_hints: joints {joints.shape}, hints {hints.shape} and mask {mask.shape} must be "
                             "(T, 22, 3), (T, 22, 3) and (T, 22)")
    other = sorted(set(np.flatnonzero(mask.any(0))) - set(SUPPORTED))
    if other:
        raise MotionLCMError(f"exact hints support the joints {list(SUPPORTED)}; got hints on {other}")
    if not np.isfinite(hints[mask]).all() or not np.isfinite(joints).all():
        raise MotionLCMError("meet_hints: hints and joints must be finite")
    before = np.linalg.norm(joints - hints, axis=-1)[mask]
    given_hints, given_mask = hints, mask
    if align and mask.any():
        # A rigid turn and shift on the ground keeps the motion exactly as natural, and usually
        # takes most of a trajectory's miss: the fields below then only fix what is left. Fitted to
        # the pelvis hints, or without them to every hinted point (head, wrists, feet).
        if mask[:, PELVIS].any():
            points, targets = joints[mask[:, PELVIS], PELVIS], hints[mask[:, PELVIS], PELVIS]
        else:
            points, targets = joints[mask], hints[mask]
        rot, shift = ground_alignment(points, targets)
        joints = joints @ rot.T + shift
    if dense_gap > 1:
        hints, mask = densify_hints(hints, mask, joints, dense_gap)
    original = joints.copy()
    planted = _contacts(original) if keep_planted_feet else None

    if mask[:, PELVIS].any():
        shift = displacement_field(hints[:, PELVIS] - joints[:, PELVIS], mask[:, PELVIS], decay_frames)
        joints += shift[:, None]
        if follow_path:
            heading_warp(joints, original[:, PELVIS], joints[:, PELVIS])
        _replant_unhinted(joints, original, planted, mask)
    elif carry:
        carry_body(joints, original, planted, hints, mask, decay_frames, follow_path)

    # Order: what moves more of the body first (pelvis, then a foot's body shift, then the spine for
    # the head, then an arm's lean), each step leaving the hints already met in place.
    # With both feet hinted, one foot's body shift can move the other's hip out of reach where the
    # other has no hint of its own: a second round reaches again (shifts keep met hints in place).
    feet = [toe for toe in LEGS if mask[:, toe].any()]
    for _ in range(2 if len(feet) == 2 else 1):
        for toe in feet:
            _reach_with_leg(joints, original, planted, hints, mask, toe, decay_frames)
    if keep_above_floor:
        keep_feet_above_floor(joints, mask)

    arms = [(end, chain) for end, chain in ARMS.items() if mask[:, end].any()]
    # Head (spine bend) and wrists (arm IK, the upper body leaning where an arm falls short) move
    # the same spine: alternate them a few rounds, so that each leaves the other's hints met.
    rounds = 4 if mask[:, HEAD].any() and arms else 1
    for round_ in range(rounds):
        if mask[:, HEAD].any():
            _reach_with_spine(joints, hints, mask, decay_frames)
        last = round_ == rounds - 1
        for end, (upper_joint, middle, _) in arms:
            _reach_with_arm(joints, hints, mask, end, upper_joint, middle, decay_frames,
                            keep_head=last and mask[:, HEAD].any())
    for end, (upper_joint, middle, _) in arms:  # a lean for one wrist moved the other: reach again
        field = displacement_field(hints[:, end] - joints[:, end], mask[:, end], decay_frames)
        frames = _field_frames(field)
        if len(frames):
            _arm_ik(joints, end, upper_joint, middle, joints[:, end] + field, frames)

    after = np.linalg.norm(joints - given_hints, axis=-1)[given_mask]
    unreachable = int((after > UNREACHED).sum())
    report = ExactHintsReport(float(before.mean()) if before.size else float("nan"),
                              float(before.max()) if before.size else float("nan"),
                              float(after.mean()) if after.size else float("nan"),
                              float(after.max()) if after.size else float("nan"), unreachable)
    return joints, report


__all__ = ["ExactHintsReport", "SUPPORTED", "carry_body", "densify_hints", "displacement_field", "ground_alignment",
           "heading_warp", "keep_feet_above_floor", "meet_hints", "two_bone_ik"]
