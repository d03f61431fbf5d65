"""The SMPL-22 skeleton of HumanML3D ("t2m"): names, hierarchy, offsets, IK and FK.

Y is up, units are metres. The kinematic conventions (which rotation a joint's local
rotation is relative to, the root quirk of the arm chains) reproduce HumanML3D's
``Skeleton`` class so that our 6D rotation features match the released data.
"""
from __future__ import annotations

import numpy as np
import torch

from .rotations import (
    cont6d_to_matrix,
    numpy_compatible,
    qbetween,
    qinv,
    qmul,
    qrot,
)

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
NUM_JOINTS = 22
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

KINEMATIC_CHAINS = (
    (0, 2, 5, 8, 11),
    (0, 1, 4, 7, 10),
    (0, 3, 6, 9, 12, 15),
    (9, 14, 17, 19, 21),
    (9, 13, 16, 18, 20),
)
PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

# Unit direction of each bone in the rest pose (HumanML3D's t2m_raw_offsets).
RAW_OFFSETS = np.array(
    [
        [0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0],
        [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0],
        [-1, 0, 0], [0, 0, 1], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0],
        [0, -1, 0],
    ],
    dtype=np.float64,
)

# Frame 0 of HumanML3D motion 000021, the target skeleton of the dataset
# (skeleton_example_h3d.npy[:22]); only its bone lengths are used.
REFERENCE_JOINTS = np.array(
    [
        [-0.032778795808553696, 0.9845883250236511, 0.8220340013504028],
        [-0.05078006535768509, 0.899807870388031, 0.7662444710731506],
        [-0.029623907059431076, 0.8932549357414246, 0.8830472230911255],
        [-0.0827392190694809, 1.1062910556793213, 0.823647677898407],
        [-0.04644011706113815, 0.5086480975151062, 0.7224903702735901],
        [-0.05053192377090454, 0.5060234069824219, 0.9261917471885681],
        [-0.056224189698696136, 1.2467718124389648, 0.8155515193939209],
        [-0.12119458615779877, 0.08446693420410156, 0.7609673738479614],
        [-0.10520601272583008, 0.08556050062179565, 0.8888561725616455],
        [-0.05220288038253784, 1.3039767742156982, 0.8170124292373657],
        [-0.00019541755318641663, 0.028704404830932617, 0.7079759836196899],
        [0.029135722666978836, 0.027199983596801758, 0.9183927178382874],
        [-0.06975682079792023, 1.522566318511963, 0.8224256634712219],
        [-0.07016853988170624, 1.4177966117858887, 0.742013156414032],
        [-0.058984074741601944, 1.4234843254089355, 0.8959465622901917],
        [-0.0015960969030857086, 1.5913610458374023, 0.7872335910797119],
        [-0.10370944440364838, 1.4016003608703613, 0.615779459476471],
        [-0.055603042244911194, 1.4214637279510498, 1.01886785030365],
        [-0.13465546071529388, 1.1467429399490356, 0.608241081237793],
        [-0.09778346121311188, 1.1646476984024048, 1.0573854446411133],
        [-0.05406394973397255, 0.8948581218719482, 0.5795830488204956],
        [-0.009182747453451157, 0.9147475957870483, 1.1077156066894531],
    ],
    dtype=np.float64,
)

# Hips then shoulders, (right, left, right, left), used for the facing direction.
FACE_JOINTS = (2, 1, 17, 16)
LEFT_FOOT_JOINTS = (7, 10)
RIGHT_FOOT_JOINTS = (8, 11)
# Joints whose bones set the leg length used to rescale the root trajectory.
LEG_LENGTH_JOINTS = (5, 8)
# Joint permutation that swaps left and right.
MIRROR_PERMUTATION = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20)

# HumanML3D quirk: every chain restarts from the root rotation, so the collars (13, 14)
# rotate relative to the pelvis, not to spine3. ROTATION_PARENT[j] is the joint whose
# accumulated rotation joint j's local rotation is applied after.
ROTATION_PARENT = tuple(
    0 if j in {c[1] for c in KINEMATIC_CHAINS} else (PARENTS[j] if j > 0 else -1) for j in range(NUM_JOINTS)
)


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Length of the bone ending at each joint (0 for the root); joints (..., 22, 3)."""
    joints = np.asarray(joints)
    parents = np.array(PARENTS[1:])
    lengths = np.zeros(joints.shape[:-1])
    lengths[..., 1:] = np.linalg.norm(joints[..., 1:, :] - joints[..., parents, :], axis=-1)
    return lengths


def offsets_from_joints(joints: np.ndarray) -> np.ndarray:
    """HumanML3D offsets of a pose (22, 3): bone length times the raw direction."""
    return bone_lengths(joints)[..., None] * RAW_OFFSETS


def reference_offsets() -> np.ndarray:
    """Offsets of the dataset's target skeleton, (22, 3)."""
    return offsets_from_joints(REFERENCE_JOINTS)


@numpy_compatible
def facing_direction(joints: torch.Tensor, ik_convention: bool = False, normalize: bool = True) -> torch.Tensor:
    """Unit horizontal forward direction from hips and shoulders; joints (..., 22, 3) -> (..., 3).

    ``ik_convention=True`` reproduces HumanML3D's inverse kinematics, which unpacks the face
    joints in another order and so uses (left hip - right hip) + (right shoulder - left
    shoulder). The released 6D rotations and root velocities depend on it.
    """
    r_hip, l_hip, r_sdr, l_sdr = FACE_JOINTS
    hips = joints[..., r_hip, :] - joints[..., l_hip, :]
    if ik_convention:
        hips = -hips
    across = hips + (joints[..., r_sdr, :] - joints[..., l_sdr, :])
    across = across / across.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    up = torch.zeros_like(across)
    up[..., 1] = 1.0
    forward = torch.linalg.cross(up, across, dim=-1)
    if not normalize:  # HumanML3D smooths this unnormalised vector before normalising
        return forward
    return forward / forward.norm(dim=-1, keepdim=True).clamp_min(1e-12)


@numpy_compatible
def retarget_bone_lengths(joints: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Keep every bone's direction and give it a new length; joints (..., 22, 3), lengths (22,).

    Equals HumanML3D's inverse kinematics followed by forward kinematics with new offsets
    (both place each bone along its original direction), computed directly, which is exact
    and never meets the degenerate shortest-arc case.
    """
    out = [joints[..., 0, :]]
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        bone = joints[..., j, :] - joints[..., p, :]
        bone = bone / bone.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        out.append(out[p] + lengths[j] * bone)
    return torch.stack(out, dim=-2)


@numpy_compatible
def inverse_kinematics(joints: torch.Tensor, root_quat: torch.Tensor) -> torch.Tensor:
    """Local joint quaternions (..., 22, 4) with HumanML3D's conventions.

    ``root_quat`` (..., 4) is the root rotation (HumanML3D uses the rotation that turns the
    facing direction to +Z). Each bone's local rotation is relative to ROTATION_PARENT.
    """
    raw = torch.as_tensor(RAW_OFFSETS, dtype=joints.dtype, device=joints.device)
    parents = list(PARENTS[1:])
    bones = joints[..., 1:, :] - joints[..., parents, :]
    bones = bones / bones.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    # World rotation of each bone: shortest arc from its rest direction to its current one.
    world = qbetween(raw[1:].expand(bones.shape), bones)
    world = torch.cat((root_quat.unsqueeze(-2), world), dim=-2)
    rot_parent = list(ROTATION_PARENT[1:])
    local = qmul(qinv(world[..., rot_parent, :]), world[..., 1:, :])
    return torch.cat((root_quat.unsqueeze(-2), local), dim=-2)


def _fk(local_rot: torch.Tensor, root_pos: torch.Tensor, offsets: torch.Tensor, compose, apply) -> torch.Tensor:
    world = [local_rot[..., 0, :] if local_rot.shape[-1] == 4 else local_rot[..., 0, :, :]]
    positions = [root_pos]
    for j in range(1, NUM_JOINTS):
        rp = ROTATION_PARENT[j]
        lj = local_rot[..., j, :] if local_rot.shape[-1] == 4 else local_rot[..., j, :, :]
        world.append(compose(world[rp], lj))
        positions.append(positions[PARENTS[j]] + apply(world[j], offsets[j]))
    return torch.stack(positions, dim=-2)


@numpy_compatible
def forward_kinematics(local_quat: torch.Tensor, root_pos: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
    """Joint positions (..., 22, 3) from local quaternions (..., 22, 4) and root positions (..., 3)."""
    offsets = _offsets_tensor(offsets, local_quat)
    return _fk(local_quat, root_pos, offsets, qmul, lambda q, v: qrot(q, v.expand(q.shape[:-1] + (3,))))


@numpy_compatible
def forward_kinematics_cont6d(local_6d: torch.Tensor, root_pos: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
    """Joint positions (..., 22, 3) from local 6D rotations (..., 22, 6); differentiable."""
    offsets = _offsets_tensor(offsets, local_6d)
    mats = cont6d_to_matrix(local_6d)
    return _fk(mats, root_pos, offsets, torch.matmul, lambda m, v: torch.matmul(m, v.unsqueeze(-1)).squeeze(-1))


def _offsets_tensor(offsets, like: torch.Tensor) -> torch.Tensor:
    if offsets is None:
        offsets = reference_offsets()
    return torch.as_tensor(offsets, dtype=like.dtype, device=like.device)


__all__ = [
    "JOINT_NAMES", "NUM_JOINTS", "JOINT_INDEX", "KINEMATIC_CHAINS", "PARENTS", "RAW_OFFSETS",
    "REFERENCE_JOINTS", "FACE_JOINTS", "LEFT_FOOT_JOINTS", "RIGHT_FOOT_JOINTS", "LEG_LENGTH_JOINTS",
    "MIRROR_PERMUTATION", "ROTATION_PARENT", "bone_lengths", "offsets_from_joints", "reference_offsets",
    "facing_direction", "retarget_bone_lengths", "inverse_kinematics", "forward_kinematics",
    "forward_kinematics_cont6d",
]
