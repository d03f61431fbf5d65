"""Joint positions -> SMPL-style pose parameters (inverse kinematics), and back (forward kinematics).

Conventions
-----------
* World frame: Y up, metres, 20 fps; the rest pose faces +Z with the body's left along +X
  (SMPL's canonical frame, and the frame HumanML3D motions start in).
* Skeleton: the SMPL-22 joints and parents of :mod:`motionlcm.motion.skeleton`.
* Kinematics are standard SMPL / BVH ones (not HumanML3D's root quirk for the collars)::

      R_0 = rot(global_orient),        p_0 = transl
      R_j = R_parent(j) @ rot(body_pose[j - 1])
      p_j = p_parent(j) + R_parent(j) @ offsets[j]

  so a joint's rotation moves its children, and ``transl`` is the pelvis position
  (``offsets[0]`` is zero). Rotations are axis-angle vectors in radians; matrices act on
  column vectors. ``body_pose`` holds SMPL joints 1..21 in SMPL order.
* Rest pose ("T-pose", all rotations zero): legs straight down, spine and head up, arms
  out along +-X, feet forward and 23 degrees down (the ankle-to-foot pitch of HumanML3D's
  reference skeleton). The two joints with several children are rigid bodies whose layout
  is measured on the motion itself: the pelvis (hips and spine1) and spine3 (neck and
  collars). Bone lengths are the motion's median lengths.
* Leaf joints (feet 10/11, head 15, wrists 20/21) move nothing among the 22 joints, so
  their rotations are the identity.
* Twist about a limb is not visible in joint positions. Each single-child joint takes the
  smallest rotation that aims its bone; hips and shoulders then take the twist that makes
  the knee / elbow bend about its rest hinge axis; while the limb is straight the twist holds
  its last value, and it never changes by more than 20 degrees between frames.

To drive a real SMPL body with these parameters use ``betas = zeros(10)`` (or the subject's)
and ``transl - J_rest[0]`` as translation, because SMPL's pelvis sits at ``transl + J_rest[0]``.
The rest directions above match SMPL's T-pose approximately, not exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ..errors import MotionLCMError
from ..motion.rotations import qbetween, quat_to_matrix
from ..motion.skeleton import MIRROR_PERMUTATION, NUM_JOINTS, PARENTS, REFERENCE_JOINTS

NUM_BETAS = 10
_FOOT_PITCH = np.radians(23.0)

# Rest direction of every bone whose parent joint has a single child (indexed by the child).
SINGLE_CHILD_REST_DIRECTIONS = {
    4: (0.0, -1.0, 0.0), 5: (0.0, -1.0, 0.0),  # knees under the hips
    7: (0.0, -1.0, 0.0), 8: (0.0, -1.0, 0.0),  # ankles under the knees
    10: (0.0, -np.sin(_FOOT_PITCH), np.cos(_FOOT_PITCH)),
    11: (0.0, -np.sin(_FOOT_PITCH), np.cos(_FOOT_PITCH)),
    6: (0.0, 1.0, 0.0), 9: (0.0, 1.0, 0.0), 15: (0.0, 1.0, 0.0),  # spine2, spine3, head
    16: (1.0, 0.0, 0.0), 18: (1.0, 0.0, 0.0), 20: (1.0, 0.0, 0.0),  # left arm along +X
    17: (-1.0, 0.0, 0.0), 19: (-1.0, 0.0, 0.0), 21: (-1.0, 0.0, 0.0),  # right arm along -X
}
# Joints with several children: (joint, left child, right child, upper child). Their rest
# layout comes from the motion, in the frame X = right->left child, Y = towards the upper child.
RIGID_GROUPS = ((0, 1, 2, 3), (9, 13, 14, 12))
# Hinge twist: (joint, child, grandchild, rest bend direction of the grandchild bone).
# Knees bend backwards (-Z); elbows bend forwards (+Z) from the T-pose.
HINGES = ((1, 4, 7, (0.0, 0.0, -1.0)), (2, 5, 8, (0.0, 0.0, -1.0)),
          (16, 18, 20, (0.0, 0.0, 1.0)), (17, 19, 21, (0.0, 0.0, 1.0)))
LEAF_JOINTS = (10, 11, 15, 20, 21)
CHILDREN = tuple(tuple(c for c in range(NUM_JOINTS) if PARENTS[c] == j) for j in range(NUM_JOINTS))
# Below this perpendicular share of the lower limb the bend plane is noise, so no hinge twist.
_HINGE_FADE = (np.sin(np.radians(10.0)), np.sin(np.radians(30.0)))
# Largest hinge-twist change between two frames (radians): 20 degrees, 400 degrees/s at 20 fps.
MAX_TWIST_STEP = np.radians(20.0)


@dataclass
class SmplParams:
    """SMPL-style parameters of a motion: transl (T, 3), global_orient (T, 3), body_pose (T, 21, 3), offsets (22, 3)."""

    transl: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    offsets: np.ndarray

    @property
    def betas(self) -> np.ndarray:
        """Neutral body shape (10,); bone lengths live in ``offsets`` instead."""
        return np.zeros(NUM_BETAS)

    @property
    def local_rotations(self) -> np.ndarray:
        """Local rotation matrices (T, 22, 3, 3): global_orient then body_pose."""
        return _axis_angle_to_matrix(np.concatenate([self.global_orient[:, None], self.body_pose], axis=1))

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"transl": self.transl, "global_orient": self.global_orient, "body_pose": self.body_pose,
                "betas": self.betas}


def validate_joints(joints, name: str = "joints") -> np.ndarray:
    """Return ``joints`` as float64 (T, 22, 3), or raise MotionLCMError with a one-line reason."""
    arr = np.asarray(joints)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_JOINTS, 3):
        raise MotionLCMError(f"{name}: expected joint positions of shape (frames, 22, 3), got {arr.shape}")
    if arr.shape[0] < 1:
        raise MotionLCMError(f"{name}: the motion has no frames")
    if not np.issubdtype(arr.dtype, np.number):
        raise MotionLCMError(f"{name}: expected numbers, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise MotionLCMError(f"{name}: contains NaN or Inf values")
    return arr.astype(np.float64)


def rest_offsets_from_joints(joints) -> np.ndarray:
    """T-pose offsets (22, 3) of a motion's skeleton: each joint relative to its parent, in metres."""
    joints = validate_joints(joints)
    lengths = _median_bone_lengths(joints)
    offsets = np.zeros((NUM_JOINTS, 3))
    for child, direction in SINGLE_CHILD_REST_DIRECTIONS.items():
        offsets[child] = lengths[child] * np.asarray(direction)
    for centre, left, right, up in RIGID_GROUPS:
        local = np.einsum("tij,tki->tkj", _group_frames(joints, centre, left, right, up),
                          joints[:, [left, right, up]] - joints[:, centre, None])
        mean = local.mean(axis=0)
        # Averaging shortens non-rigid offsets slightly; keep the median bone lengths.
        offsets[[left, right, up]] = mean / np.linalg.norm(mean, axis=-1, keepdims=True) * lengths[[left, right, up], None]
    return offsets


def symmetric_offsets(offsets: np.ndarray) -> np.ndarray:
    """Rest offsets (22, 3) made left/right symmetric: each pair averaged with its mirror (x -> -x)."""
    offsets = np.asarray(offsets, dtype=np.float64)
    mirrored = offsets[list(MIRROR_PERMUTATION)] * np.array([-1.0, 1.0, 1.0])
    return (offsets + mirrored) / 2


_RIG: np.ndarray | None = None


def rig_offsets() -> np.ndarray:
    """The one export rig (22, 3) of every model of this package, in metres.

    Every training motion (HumanML3D, and the procedural corpus, which is built on it) is
    retargeted onto HumanML3D's target skeleton, so that skeleton in this module's T-pose, made
    left/right symmetric, is the rig: the same for every clip, whatever bone lengths a
    generated clip happens to have (BVH, NPZ and GLB exports pose it).
    """
    global _RIG
    if _RIG is None:
        _RIG = symmetric_offsets(rest_offsets_from_joints(REFERENCE_JOINTS[None]))
        _RIG.setflags(write=False)
    return _RIG


def fit_rig(joints) -> tuple[SmplParams, np.ndarray]:
    """Pose :func:`rig_offsets` after joints (T, 22, 3): (its parameters, its joints by forward kinematics).

    The returned joints are what every exporter writes, so BVH, NPZ and GLB show one motion.
    """
    params = joints_to_smpl_params(joints, offsets=rig_offsets())
    return params, fk_from_smpl_params(params.transl, params.global_orient, params.body_pose, params.offsets)


def joints_to_smpl_params(joints, offsets: np.ndarray | None = None, hinge_twist: bool = True) -> SmplParams:
    """Inverse kinematics of joints (T, 22, 3) onto the rest skeleton ``offsets`` (default: measured on the motion).

    Exact (up to rounding) whenever the pelvis and spine3 groups are rigid and the bone
    lengths constant, as in HumanML3D data; otherwise the rigid groups are least-squares fits.
    """
    joints = validate_joints(joints)
    offsets = rest_offsets_from_joints(joints) if offsets is None else np.asarray(offsets, dtype=np.float64)
    if offsets.shape != (NUM_JOINTS, 3):
        raise MotionLCMError(f"offsets: expected shape (22, 3), got {offsets.shape}")
    world = _world_rotations(joints, offsets, hinge_twist)
    local = np.empty_like(world)
    local[:, 0] = world[:, 0]
    for j in range(1, NUM_JOINTS):
        local[:, j] = np.swapaxes(world[:, PARENTS[j]], -1, -2) @ world[:, j]
    aa = _matrix_to_axis_angle(local)
    return SmplParams(transl=joints[:, 0].copy(), global_orient=aa[:, 0], body_pose=aa[:, 1:], offsets=offsets)


def fk_from_smpl_params(transl, global_orient, body_pose, offsets) -> np.ndarray:
    """Forward kinematics: transl (T, 3), global_orient (T, 3), body_pose (T, 21, 3), offsets (22, 3) -> joints (T, 22, 3)."""
    transl, global_orient, body_pose = (np.asarray(a, dtype=np.float64) for a in (transl, global_orient, body_pose))
    offsets = np.asarray(offsets, dtype=np.float64)
    if transl.ndim != 2 or transl.shape[-1] != 3 or global_orient.shape != transl.shape \
            or body_pose.shape != (len(transl), NUM_JOINTS - 1, 3) or offsets.shape != (NUM_JOINTS, 3):
        raise MotionLCMError(
            "SMPL parameters: expected transl (T, 3), global_orient (T, 3), body_pose (T, 21, 3), offsets (22, 3); "
            f"got {transl.shape}, {global_orient.shape}, {body_pose.shape}, {offsets.shape}")
    local = _axis_angle_to_matrix(np.concatenate([global_orient[:, None], body_pose], axis=1))
    return forward_kinematics(local, transl, offsets)


def forward_kinematics(local_rotations: np.ndarray, root_positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Joints (T, 22, 3) from local rotation matrices (T, 22, 3, 3), root positions (T, 3), offsets (22, 3)."""
    world = [local_rotations[:, 0]]
    positions = [root_positions]
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        positions.append(positions[p] + world[p] @ offsets[j])
        world.append(world[p] @ local_rotations[:, j])
    return np.stack(positions, axis=1)


def _world_rotations(joints: np.ndarray, offsets: np.ndarray, hinge_twist: bool) -> np.ndarray:
    """World rotation (T, 22, 3, 3) of every joint, parents before children.

    Bones are aimed from the re-posed parent, not the input one, so that a joint the rigid
    fits cannot place exactly does not shift all its descendants.
    """
    frames = len(joints)
    world = np.tile(np.eye(3), (frames, NUM_JOINTS, 1, 1))
    posed = joints.copy()
    hinges = {h[0]: h for h in HINGES} if hinge_twist else {}
    for j in range(NUM_JOINTS):
        children = list(CHILDREN[j])
        parent_rot = world[:, PARENTS[j]] if j > 0 else world[:, j]
        if len(children) > 1:
            world[:, j] = _fit_rotation(offsets[children], joints[:, children] - posed[:, j, None])
        elif len(children) == 1:
            world[:, j] = _aim(parent_rot, offsets[children[0]], joints[:, children[0]] - posed[:, j])
            if j in hinges:
                world[:, j] = _apply_hinge_twist(world[:, j], joints, offsets, *hinges[j])
        else:
            world[:, j] = parent_rot  # leaf: identity local rotation
        for c in children:
            posed[:, c] = posed[:, j] + world[:, j] @ offsets[c]
    return world


def _aim(parent_rot: np.ndarray, rest_offset: np.ndarray, bone: np.ndarray) -> np.ndarray:
    """World rotation that turns ``rest_offset`` onto ``bone`` with the least rotation relative to the parent."""
    bone_in_parent = np.einsum("tji,tj->ti", parent_rot, bone)
    swing = quat_to_matrix(qbetween(np.broadcast_to(rest_offset, bone_in_parent.shape).copy(), bone_in_parent))
    return parent_rot @ swing


def _apply_hinge_twist(rot: np.ndarray, joints: np.ndarray, offsets: np.ndarray,
                       joint: int, child: int, grandchild: int, bend_rest) -> np.ndarray:
    """Twist ``rot`` about the bone joint->child so that the lower limb bends along ``bend_rest``.

    The twist follows the hinge while the limb is bent and holds its last value while it is
    straight or bent the wrong way (where the bend plane is noise), changing by at most
    ``MAX_TWIST_STEP`` per frame: per-frame targets alone jump by up to 180 degrees between
    frames when a nearly straight limb's bend plane flips.
    """
    axis = offsets[child] / np.linalg.norm(offsets[child])
    lower = joints[:, grandchild] - joints[:, child]
    lower = lower / np.linalg.norm(lower, axis=-1, keepdims=True).clip(1e-12)
    lower_local = np.einsum("tji,tj->ti", rot, lower)
    perp = lower_local - (lower_local @ axis)[:, None] * axis
    bend = np.asarray(bend_rest, dtype=np.float64)
    target = np.arctan2(np.cross(bend, perp) @ axis, perp @ bend)
    straightness = np.clip((np.linalg.norm(perp, axis=-1) - _HINGE_FADE[0]) / (_HINGE_FADE[1] - _HINGE_FADE[0]), 0, 1)
    # A limb bent the wrong way (|angle| near 180 degrees) would flip the whole limb: hold instead.
    wrong_way = np.clip((np.radians(150.0) - np.abs(target)) / np.radians(60.0), 0, 1)
    weight = straightness * wrong_way
    twist = np.empty(len(target))
    held = 0.0
    for t in range(len(target)):  # sequential by nature: each frame continues the previous one
        gap = (target[t] - held + np.pi) % (2 * np.pi) - np.pi
        held += float(np.clip(weight[t] * gap, -MAX_TWIST_STEP, MAX_TWIST_STEP))
        twist[t] = held
    return rot @ _axis_angle_to_matrix(axis * twist[:, None])


def _fit_rotation(rest: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Least-squares rotations (T, 3, 3) taking the rest vectors (K, 3) to current ones (T, K, 3) (Kabsch)."""
    cov = np.einsum("ki,tkj->tij", rest, current)
    u, _, vt = np.linalg.svd(cov)
    v = np.swapaxes(vt, -1, -2)
    ut = np.swapaxes(u, -1, -2)
    sign = np.sign(np.linalg.det(v @ ut))
    fix = np.tile(np.eye(3), (len(current), 1, 1))
    fix[:, 2, 2] = np.where(sign == 0, 1.0, sign)  # no reflections
    return v @ fix @ ut


def _group_frames(joints: np.ndarray, centre: int, left: int, right: int, up: int) -> np.ndarray:
    """Orthonormal frames (T, 3, 3), columns X = right->left, Y = towards ``up``, Z = X x Y (forward)."""
    x = joints[:, left] - joints[:, right]
    x = x / np.linalg.norm(x, axis=-1, keepdims=True).clip(1e-12)
    y = joints[:, up] - joints[:, centre]
    y = y - (y * x).sum(-1, keepdims=True) * x
    y = y / np.linalg.norm(y, axis=-1, keepdims=True).clip(1e-12)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def _median_bone_lengths(joints: np.ndarray) -> np.ndarray:
    parents = list(PARENTS[1:])
    lengths = np.zeros(NUM_JOINTS)
    lengths[1:] = np.median(np.linalg.norm(joints[:, 1:] - joints[:, parents], axis=-1), axis=0)
    if (lengths[1:] < 1e-6).any():
        short = [j for j in range(1, NUM_JOINTS) if lengths[j] < 1e-6]
        raise MotionLCMError(f"joints: bones ending at joints {short} have zero length; not a skeleton")
    return lengths


def _axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    return Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(aa.shape[:-1] + (3, 3))


def _matrix_to_axis_angle(mats: np.ndarray) -> np.ndarray:
    return Rotation.from_matrix(mats.reshape(-1, 3, 3)).as_rotvec().reshape(mats.shape[:-2] + (3,))


__all__ = [
    "LEAF_JOINTS",
    "NUM_BETAS",
    "RIGID_GROUPS",
    "SINGLE_CHILD_REST_DIRECTIONS",
    "SmplParams",
    "fk_from_smpl_params",
    "forward_kinematics",
    "joints_to_smpl_params",
    "rest_offsets_from_joints",
    "validate_joints",
]
