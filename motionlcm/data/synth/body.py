"""The synthetic body: rest pose, rotation helpers, two-bone IK and the pose solver.

Conventions (shared by the whole corpus generator):

* Y is up, metres, 20 fps. In the rest pose the person stands at the origin facing +Z with
  the feet on the floor, so the person's LEFT side is +X.
* Yaw is a right-handed rotation about +Y: a positive yaw turns +Z toward +X, i.e. the
  person turns to their LEFT, which is COUNTER-CLOCKWISE when seen from above (from +Y).
* Body-frame vectors are (x = toward the person's left, y = up, z = forward).

A motion is described by per-frame channels (:class:`Channels`): the torso is posed by
forward kinematics with parent-relative local rotations, the legs and arms by two-bone IK
toward ankle and wrist targets. Bone lengths are exactly the dataset's reference lengths, so
HumanML3D's retargeting step leaves our joints unchanged and planted feet stay planted.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from ...motion import FPS
from ...motion import skeleton as sk

LEFT, RIGHT = 0, 1
SIDE_SIGN = np.array([1.0, -1.0])  # +X is the person's left

# Joint indices used by name below.
PELVIS, L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, SPINE2, L_ANKLE, R_ANKLE, SPINE3 = range(10)
L_FOOT, R_FOOT, NECK, L_COLLAR, R_COLLAR, HEAD, L_SHOULDER, R_SHOULDER = range(10, 18)
L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = range(18, 22)
HIPS = (L_HIP, R_HIP)
KNEES = (L_KNEE, R_KNEE)
ANKLES = (L_ANKLE, R_ANKLE)
TOES = (L_FOOT, R_FOOT)
SHOULDERS = (L_SHOULDER, R_SHOULDER)
ELBOWS = (L_ELBOW, R_ELBOW)
WRISTS = (L_WRIST, R_WRIST)


# --------------------------------------------------------------------------- rotations
def _rotation(a, axis: int) -> np.ndarray:
    """Right-handed rotation matrices (..., 3, 3) about a coordinate axis."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros(a.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]  # the plane the rotation turns: i -> j for positive angles
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def rot_x(a: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about +X; positive tips +Y toward +Z (a forward lean)."""
    return _rotation(a, 0)


def rot_y(a: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about +Y; positive turns +Z toward +X (to the left)."""
    return _rotation(a, 1)


def rot_z(a: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about +Z; positive tips +Y toward -X (a lean to the right)."""
    return _rotation(a, 2)


def euler_yxz(twist: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """R = Ry(twist) @ Rx(pitch) @ Rz(roll): turn, then lean forward, then lean sideways."""
    return rot_y(twist) @ rot_x(pitch) @ rot_z(roll)


def apply(rot: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Rotate vectors: rot (..., 3, 3) @ vec (..., 3)."""
    return np.einsum("...ij,...j->...i", rot, vec)


def heading(yaw: np.ndarray) -> np.ndarray:
    """Unit horizontal direction (..., 3) a body with this yaw faces."""
    yaw = np.asarray(yaw, dtype=np.float64)
    return np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], -1)


def body_to_world(yaw: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Turn body-frame vectors (x left, y up, z forward) into world vectors for a yaw."""
    return apply(rot_y(yaw), np.asarray(vec, dtype=np.float64))


# --------------------------------------------------------------------------- rest pose
def _build_rest_pose() -> np.ndarray:
    """REFERENCE_JOINTS turned to face +Z, made left/right symmetric, feet on the floor.

    Bone directions are averaged with their mirror images (so left and right actions are
    exact mirrors of each other), bone lengths are the reference's own.
    """
    ref = sk.REFERENCE_JOINTS - sk.REFERENCE_JOINTS[0] * np.array([1.0, 0.0, 1.0])
    fwd = sk.facing_direction(ref)
    ref = ref @ rot_y(-np.arctan2(fwd[0], fwd[2])).T
    parents = np.array(sk.PARENTS[1:])
    bones = ref[1:] - ref[parents]
    dirs = bones / np.linalg.norm(bones, axis=-1, keepdims=True)
    mirror = np.array(sk.MIRROR_PERMUTATION)
    mirrored = dirs[mirror[1:] - 1] * np.array([-1.0, 1.0, 1.0])
    sym = dirs + mirrored
    sym /= np.linalg.norm(sym, axis=-1, keepdims=True)
    lengths = sk.bone_lengths(sk.REFERENCE_JOINTS)
    rest = np.zeros((sk.NUM_JOINTS, 3))
    for j in range(1, sk.NUM_JOINTS):
        rest[j] = rest[sk.PARENTS[j]] + lengths[j] * sym[j - 1]
    rest[:, 1] -= rest[:, 1].min()
    return rest


REST_JOINTS = _build_rest_pose()
BONE_LENGTHS = sk.bone_lengths(REST_JOINTS)
REST_BONES = np.zeros((sk.NUM_JOINTS, 3))
REST_BONES[1:] = REST_JOINTS[1:] - REST_JOINTS[list(sk.PARENTS[1:])]
STANDING_PELVIS_HEIGHT = float(REST_JOINTS[PELVIS, 1])
THIGH = BONE_LENGTHS[list(KNEES)]  # (left, right)
SHIN = BONE_LENGTHS[list(ANKLES)]
UPPER_ARM = BONE_LENGTHS[list(ELBOWS)]
FOREARM = BONE_LENGTHS[list(WRISTS)]
LEG_REACH = THIGH + SHIN
ARM_REACH = UPPER_ARM + FOREARM
# Ankle -> toe joint of each foot (left, right) in the foot's own frame, the foot's yaw removed.
_feet = REST_JOINTS[list(TOES)] - REST_JOINTS[list(ANKLES)]
FOOT_VECTOR = np.stack([np.zeros(2), _feet[:, 1], np.hypot(_feet[:, 0], _feet[:, 2])], -1)
# Ankle height (left, right) of a flat foot whose toe joint touches the floor.
FLAT_ANKLE_HEIGHT = -FOOT_VECTOR[:, 1]
HALF_HIP_WIDTH = float(REST_JOINTS[L_HIP, 0])


def foot_offset(side: int, yaw, toe_down) -> np.ndarray:
    """Ankle -> toe vector (..., 3) of a foot for its yaw and pitch (positive = toes down).

    Equals rot_y(yaw) @ rot_x(toe_down) @ FOOT_VECTOR[side], written out (called often).
    """
    yaw, toe_down = np.broadcast_arrays(np.asarray(yaw, dtype=np.float64), np.asarray(toe_down, dtype=np.float64))
    _, fy, fz = FOOT_VECTOR[side]
    c, s = np.cos(toe_down), np.sin(toe_down)
    forward = fy * s + fz * c
    return np.stack([forward * np.sin(yaw), fy * c - fz * s, forward * np.cos(yaw)], -1)


# --------------------------------------------------------------------------- IK
def two_bone_ik(root: np.ndarray, target: np.ndarray, len1, len2, pole: np.ndarray, max_stretch: float = 0.999):
    """Place the middle and end joints of a two-bone limb; arrays (..., 3).

    The end reaches ``target`` when possible (else stops at full stretch along the same
    line); the middle joint bends toward ``pole`` (a direction, projected off the limb axis).
    """
    len1 = np.asarray(len1, dtype=np.float64)[..., None]
    len2 = np.asarray(len2, dtype=np.float64)[..., None]
    axis = target - root
    dist = np.linalg.norm(axis, axis=-1, keepdims=True)
    unit = axis / np.maximum(dist, 1e-9)
    dist = np.clip(dist, np.abs(len1 - len2) + 1e-4, (len1 + len2) * max_stretch)
    along = (len1**2 - len2**2 + dist**2) / (2.0 * dist)
    height = np.sqrt(np.maximum(len1**2 - along**2, 0.0))
    bend = pole - np.sum(pole * unit, axis=-1, keepdims=True) * unit
    norm = np.linalg.norm(bend, axis=-1, keepdims=True)
    # A pole parallel to the limb leaves the bend direction free; any perpendicular will do.
    fallback = np.cross(unit, np.array([1.0, 0.0, 0.0]))
    bend = np.where(
        norm > 1e-6, bend / np.maximum(norm, 1e-9), fallback / np.maximum(np.linalg.norm(fallback, axis=-1, keepdims=True), 1e-9)
    )
    middle = root + along * unit + height * bend
    end = root + dist * unit
    return middle, end


# --------------------------------------------------------------------------- channels
@dataclass
class Channels:
    """Per-frame description of a motion; every array starts with the frame axis (n, ...).

    Angles are radians. "Body frame" means relative to ``yaw``; "chest frame" relative to
    the chest (spine3) orientation.
    """

    root_xz: np.ndarray  # (n, 2) world X, Z of the body's ground point (pelvis before offsets)
    yaw: np.ndarray  # (n,) heading of the body
    pelvis_offset: np.ndarray  # (n, 3) body frame: sway left, height change, shift forward
    pelvis_rot: np.ndarray  # (n, 3) twist (about Y), pitch (forward tilt), roll, on top of yaw
    trunk: np.ndarray  # (n, 3) twist, pitch (bow forward), roll of the spine, spread over 3 joints
    head: np.ndarray  # (n, 2) pitch (nod down), yaw (look left), spread over neck and head
    shrug: np.ndarray  # (n, 2) collar elevation, left and right
    wrist: np.ndarray  # (n, 2, 3) wrist targets relative to each shoulder, chest frame
    elbow_pole: np.ndarray  # (n, 2, 3) direction the elbows bend toward, chest frame
    ankle: np.ndarray  # (n, 2, 3) world ankle targets
    toe: np.ndarray  # (n, 2, 3) world toe positions
    foot_yaw: np.ndarray  # (n, 2) where the toes point (the knees follow)
    planted: np.ndarray  # (n, 2) bool, the foot bears weight (its ankle must be reachable)

    def __len__(self) -> int:
        return len(self.yaw)

    @classmethod
    def concatenate(cls, parts: list["Channels"]) -> "Channels":
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def copy(self) -> "Channels":
        return Channels(**{f.name: getattr(self, f.name).copy() for f in fields(self)})


POSE_CHANNELS = ("pelvis_offset", "pelvis_rot", "trunk", "head", "shrug", "wrist", "elbow_pole")


# --------------------------------------------------------------------------- solver
def _fk_step(parent_pos, parent_rot, joint):
    return parent_pos + apply(parent_rot, REST_BONES[joint])


def _spread(angles: np.ndarray, parts: int) -> np.ndarray:
    """Local rotation for one of ``parts`` joints sharing twist/pitch/roll angles (n, 3)."""
    a = angles / parts
    return euler_yxz(a[:, 0], a[:, 1], a[:, 2])


def lower_pelvis_for_reach(hips: np.ndarray, ankles: np.ndarray, planted: np.ndarray) -> np.ndarray:
    """Per-frame drop (n,) >= 0 of the pelvis so that every planted ankle is reachable.

    Smoothed (never below the raw requirement) so that the body sinks gracefully into the
    stride extremes, as the pelvis does in real gait.
    """
    reach = (LEG_REACH * 0.985)[None]
    horizontal = np.linalg.norm((hips - ankles)[..., [0, 2]], axis=-1)
    vertical_ok = np.sqrt(np.maximum(reach**2 - horizontal**2, 0.02))
    need = np.maximum(hips[..., 1] - ankles[..., 1] - vertical_ok, 0.0)
    need = np.where(planted, need, 0.0).max(axis=-1)
    if not need.any():
        return need
    smooth = gaussian_filter1d(maximum_filter1d(need, size=7, mode="nearest"), sigma=2.0, mode="nearest")
    return np.maximum(smooth, need)


def solve_joints(ch: Channels) -> np.ndarray:
    """Joint positions (n, 22, 3) for the channels."""
    n = len(ch)
    out = np.zeros((n, sk.NUM_JOINTS, 3))
    body_rot = rot_y(ch.yaw)
    pelvis_rot = body_rot @ euler_yxz(ch.pelvis_rot[:, 0], ch.pelvis_rot[:, 1], ch.pelvis_rot[:, 2])
    pelvis = np.stack([ch.root_xz[:, 0], np.full(n, STANDING_PELVIS_HEIGHT), ch.root_xz[:, 1]], -1)
    pelvis = pelvis + apply(body_rot, ch.pelvis_offset)
    hips = np.stack([_fk_step(pelvis, pelvis_rot, j) for j in HIPS], 1)
    drop = lower_pelvis_for_reach(hips, ch.ankle, ch.planted)
    pelvis[:, 1] -= drop
    hips[..., 1] -= drop[:, None]
    out[:, PELVIS] = pelvis
    out[:, HIPS] = hips

    # Torso by forward kinematics, spine bend shared by the three spine joints.
    spine_local = _spread(ch.trunk, 3)
    rot = pelvis_rot
    pos = pelvis
    for j in (SPINE1, SPINE2, SPINE3):
        pos = _fk_step(pos, rot, j)
        rot = rot @ spine_local
        out[:, j] = pos
    chest_rot = rot
    head_local = euler_yxz(ch.head[:, 1] / 2, ch.head[:, 0] / 2, np.zeros(n))  # half at each of two bones
    neck_rot = chest_rot @ head_local
    out[:, NECK] = _fk_step(out[:, SPINE3], neck_rot, NECK)
    out[:, HEAD] = _fk_step(out[:, NECK], neck_rot @ head_local, HEAD)
    for side, (collar, shoulder) in enumerate(((L_COLLAR, L_SHOULDER), (R_COLLAR, R_SHOULDER))):
        out[:, collar] = _fk_step(out[:, SPINE3], chest_rot, collar)
        shrug = rot_z(SIDE_SIGN[side] * ch.shrug[:, side])  # raises the outer end of the collar bone
        out[:, shoulder] = _fk_step(out[:, collar], chest_rot @ shrug, shoulder)

    # Arms: two-bone IK toward chest-frame wrist targets.
    for side in (LEFT, RIGHT):
        shoulder = out[:, SHOULDERS[side]]
        target = shoulder + apply(chest_rot, keep_out_of_torso(ch.wrist[:, side], side))
        pole = apply(chest_rot, ch.elbow_pole[:, side])
        elbow, wrist = two_bone_ik(shoulder, target, UPPER_ARM[side], FOREARM[side], pole)
        out[:, ELBOWS[side]] = elbow
        out[:, WRISTS[side]] = wrist

    # Legs: each knee bends forward in the vertical plane of its foot: the pole is
    # perpendicular to the hip-ankle line (forward when standing, up when sitting, down
    # when kneeling), tilted slightly outward.
    for side in (LEFT, RIGHT):
        across = heading(ch.foot_yaw[:, side] + np.pi / 2)  # toward the person's left
        pole = np.cross(ch.ankle[:, side] - hips[:, side], across) + 0.05 * SIDE_SIGN[side] * across
        knee, ankle = two_bone_ik(hips[:, side], ch.ankle[:, side], THIGH[side], SHIN[side], pole)
        out[:, KNEES[side]] = knee
        out[:, ANKLES[side]] = ankle
        # The toe follows the ankle (they differ only when the target was out of reach).
        out[:, TOES[side]] = ch.toe[:, side] + (ankle - ch.ankle[:, side])
    return out


# Torso box in the chest frame, relative to each shoulder: the wrist target is pushed in
# front of it if an action (or a blend between two actions) would put the hand inside.
_TORSO_HALF_WIDTH = 0.14
_TORSO_FRONT = 0.13
_TORSO_BACK = -0.12
_TORSO_TOP, _TORSO_BOTTOM = 0.05, -0.55


def keep_out_of_torso(wrist_rel: np.ndarray, side: int) -> np.ndarray:
    """Wrist targets (n, 3) relative to a shoulder, moved out of the torso volume."""
    shoulder_x = REST_JOINTS[SHOULDERS[side], 0] - REST_JOINTS[SPINE3, 0]
    x = wrist_rel[:, 0] + shoulder_x  # relative to the body's midline
    inside = (
        (np.abs(x) < _TORSO_HALF_WIDTH)
        & (wrist_rel[:, 2] < _TORSO_FRONT)
        & (wrist_rel[:, 2] > _TORSO_BACK)
        & (wrist_rel[:, 1] < _TORSO_TOP)
        & (wrist_rel[:, 1] > _TORSO_BOTTOM)
    )
    if not inside.any():
        return wrist_rel
    out = wrist_rel.copy()
    out[inside, 2] = _TORSO_FRONT
    return out


__all__ = [
    "FPS",
    "LEFT",
    "RIGHT",
    "SIDE_SIGN",
    "Channels",
    "POSE_CHANNELS",
    "REST_JOINTS",
    "BONE_LENGTHS",
    "STANDING_PELVIS_HEIGHT",
    "FOOT_VECTOR",
    "FLAT_ANKLE_HEIGHT",
    "HALF_HIP_WIDTH",
    "ARM_REACH",
    "LEG_REACH",
    "rot_x",
    "rot_y",
    "rot_z",
    "euler_yxz",
    "apply",
    "heading",
    "body_to_world",
    "foot_offset",
    "two_bone_ik",
    "solve_joints",
    "keep_out_of_torso",
]
