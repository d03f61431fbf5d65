"""HumanML3D's 263-d motion features: joints -> features and back (numpy or torch).

Layout per frame (REFERENCE.md section 1):
``[0]`` root yaw velocity, ``[1:3]`` root XZ velocity in the facing frame, ``[3]`` root height,
``[4:67]`` ric positions of joints 1..21, ``[67:193]`` local 6D rotations of joints 1..21,
``[193:259]`` velocities of all 22 joints in the facing frame, ``[259:263]`` foot contacts.

Feature 0 is HumanML3D's ``arcsin(q_y)`` of the per-frame root rotation quaternion, i.e. half
of the yaw change in radians; recovery builds the quaternion ``(cos a, 0, sin a, 0)`` from its
cumulative sum, so both directions agree. We keep that convention for compatibility.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import MotionLCMError
from . import skeleton as sk
from .rotations import numpy_compatible, qbetween, qinv, qmul, qrot, quat_to_cont6d, quat_to_matrix, matrix_to_cont6d

FPS = 20  # HumanML3D's frame rate: every motion, model and export of the package runs at it
FEATURE_DIM = 263
ROOT_YAW = slice(0, 1)
ROOT_VEL_XZ = slice(1, 3)
ROOT_HEIGHT = slice(3, 4)
RIC = slice(4, 67)
ROT6D = slice(67, 193)
LOCAL_VEL = slice(193, 259)
CONTACTS = slice(259, 263)
# Feature groups in order, as used for HumanML3D's group-averaged Std.
FEATURE_GROUPS = {
    "root_yaw": ROOT_YAW,
    "root_vel_xz": ROOT_VEL_XZ,
    "root_height": ROOT_HEIGHT,
    "ric": RIC,
    "rot6d": ROT6D,
    "local_vel": LOCAL_VEL,
    "contacts": CONTACTS,
}

FOOT_CONTACT_THRESHOLD = 0.002  # squared per-frame displacement, summed over x, y, z
FACING_SMOOTH_SIGMA = 20.0  # Gaussian sigma (frames) for the forward direction of the 6D rotations


def accepted_joint_array(joints: np.ndarray, name: str = "joints") -> np.ndarray:
    """Validate a joints array (T, J, 3); SMPL/SMPL-H/SMPL-X layouts keep their first 22 joints."""
    arr = np.asarray(joints)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise MotionLCMError(f"{name}: expected joint positions of shape (frames, 22, 3), got {arr.shape}")
    if arr.shape[1] not in (22, 24, 52, 55):
        raise MotionLCMError(f"{name}: expected 22 joints (or an SMPL layout with 24/52/55), got {arr.shape[1]}")
    if arr.shape[0] < 2:
        raise MotionLCMError(f"{name}: need at least 2 frames, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise MotionLCMError(f"{name}: contains NaN or Inf values")
    return arr[:, :22].astype(np.float64)


def gaussian_smooth(x: torch.Tensor, sigma: float, dim: int = 0, truncate: float = 4.0) -> torch.Tensor:
    """1-D Gaussian filter along ``dim`` with edge replication.

    Equals ``scipy.ndimage.gaussian_filter1d(x, sigma, axis=dim, mode='nearest')``, written in
    torch so that the whole feature pipeline runs (and differentiates) on any device.
    """
    radius = int(truncate * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    moved = x.movedim(dim, -1)
    flat = moved.reshape(-1, 1, moved.shape[-1])
    # Replicate padding of any width (F.pad's replicate mode works for pads wider than the input).
    padded = torch.cat((flat[..., :1].expand(-1, -1, radius), flat, flat[..., -1:].expand(-1, -1, radius)), dim=-1)
    out = F.conv1d(padded, kernel.view(1, 1, -1))
    return out.reshape(moved.shape).movedim(-1, dim)


def _facing_root_quat(joints: torch.Tensor, smooth: bool) -> torch.Tensor:
    """Per-frame root rotation turning the (optionally smoothed) facing direction to +Z.

    As in HumanML3D, frame 0 gets the identity (the motion has already been turned to face +Z).
    """
    forward = sk.facing_direction(joints, ik_convention=True, normalize=False)
    if smooth:
        forward = gaussian_smooth(forward, FACING_SMOOTH_SIGMA, dim=-2)
    forward = forward / forward.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    target = torch.zeros_like(forward)
    target[..., 2] = 1.0
    quat = qbetween(forward, target)
    identity = torch.zeros_like(quat[..., :1, :])
    identity[..., 0] = 1.0
    return torch.cat((identity, quat[..., 1:, :]), dim=-2)


def foot_contacts(positions: torch.Tensor, threshold: float = FOOT_CONTACT_THRESHOLD) -> torch.Tensor:
    """Contacts (..., T-1, 4): left ankle, left foot, right ankle, right foot."""
    feet = list(sk.LEFT_FOOT_JOINTS) + list(sk.RIGHT_FOOT_JOINTS)
    disp = ((positions[..., 1:, feet, :] - positions[..., :-1, feet, :]) ** 2).sum(-1)
    return (disp < threshold).to(positions.dtype)


def _canonicalise(joints: torch.Tensor, retarget: bool = True) -> torch.Tensor:
    """Steps 1-4 of HumanML3D's processing on one sequence (T, 22, 3)."""
    positions = joints
    if retarget:
        tgt_len = torch.as_tensor(sk.bone_lengths(sk.REFERENCE_JOINTS), dtype=joints.dtype, device=joints.device)
        legs = list(sk.LEG_LENGTH_JOINTS)
        leg_parents = [sk.PARENTS[j] for j in legs]
        src_leg = (joints[0, legs] - joints[0, leg_parents]).norm(dim=-1).sum()
        scale = tgt_len[legs].sum() / src_leg.clamp_min(1e-9)
        positions = sk.retarget_bone_lengths(joints - joints[:, :1], tgt_len) + joints[:, :1] * scale
    # Put on the floor.
    positions = positions - positions[..., 1].min() * positions.new_tensor([0.0, 1.0, 0.0])
    # First frame's root XZ to the origin.
    root_xz = positions[0, 0] * positions.new_tensor([1.0, 0.0, 1.0])
    positions = positions - root_xz
    # Turn the whole motion so that frame 0 faces +Z.
    forward0 = sk.facing_direction(positions[0])
    target = torch.zeros_like(forward0)
    target[2] = 1.0
    return qrot(qbetween(forward0, target), positions)


def _features_of_canonical(positions: torch.Tensor) -> torch.Tensor:
    """Steps 5-7 on a canonical sequence (T, 22, 3) -> (T-1, 263)."""
    contacts = foot_contacts(positions)
    r_rot = _facing_root_quat(positions, smooth=True)
    local_quat = sk.inverse_kinematics(positions, r_rot)
    rot6d = quat_to_cont6d(local_quat[:, 1:]).reshape(len(positions), -1)

    root_velocity = qrot(r_rot[1:], positions[1:, 0] - positions[:-1, 0])
    yaw_step = qmul(r_rot[1:], qinv(r_rot[:-1]))
    # Deviation from HumanML3D, on purpose: when the facing passes 180 degrees from the start
    # this quaternion comes out with w < 0 and arcsin(q_y) gets the wrong sign, so recovery
    # spins the body in one frame. q and -q are the same rotation; take the w >= 0 one.
    yaw_step = torch.where(yaw_step[..., :1] < 0, -yaw_step, yaw_step)
    yaw_feature = torch.asin(yaw_step[:, 2:3].clamp(-1.0, 1.0))

    ric = positions.clone()
    ric[..., 0] = ric[..., 0] - positions[:, :1, 0]
    ric[..., 2] = ric[..., 2] - positions[:, :1, 2]
    ric = qrot(r_rot[:, None], ric)
    local_vel = qrot(r_rot[:-1, None], positions[1:] - positions[:-1]).reshape(len(positions) - 1, -1)

    return torch.cat(
        (
            yaw_feature,
            root_velocity[:, [0, 2]],
            ric[:-1, 0, 1:2],
            ric[:-1, 1:].reshape(len(positions) - 1, -1),
            rot6d[:-1],
            local_vel,
            contacts[:, [0, 1]],
            contacts[:, [2, 3]],
        ),
        dim=-1,
    )


@numpy_compatible
def joints_to_features(joints: torch.Tensor, retarget: bool = True) -> torch.Tensor:
    """HumanML3D processing of joint positions (T, 22, 3) -> features (T-1, 263).

    Retargets to the dataset skeleton (skip with ``retarget=False`` for joints already on it),
    puts the motion on the floor at the origin facing +Z, then computes the features. Runs in
    the input's dtype (use float64 for data preparation).
    """
    if joints.ndim != 3 or joints.shape[-2:] != (22, 3):
        raise MotionLCMError(f"joints must have shape (frames, 22, 3), got {tuple(joints.shape)}")
    if joints.shape[0] < 2:
        raise MotionLCMError("joints need at least 2 frames")
    return _features_of_canonical(_canonicalise(joints, retarget))


def framewise_features(joints: torch.Tensor, retarget: bool = True) -> torch.Tensor:
    """:func:`joints_to_features` with one row per joint frame (T, 263): features have one frame
    fewer than their joints, so the last row repeats the one before (how generated clips are padded)."""
    features = joints_to_features(joints, retarget)
    return torch.cat([features, features[-1:]], 0)


def batch_joints_to_features(joints: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched version: joints (B, T, 22, 3) with valid ``lengths`` -> features (B, T-1, 263), mask.

    Each sequence is processed on its own valid frames (floor, facing and smoothing depend
    on them); padded frames are zero and masked out.
    """
    b, t = joints.shape[:2]
    lengths = torch.full((b,), t, dtype=torch.long) if lengths is None else torch.as_tensor(lengths).long().cpu()
    out = joints.new_zeros((b, t - 1, FEATURE_DIM))
    for i in range(b):
        n = int(lengths[i])
        out[i, : n - 1] = joints_to_features(joints[i, :n])
    mask = torch.arange(t - 1)[None] < (lengths[:, None] - 1)
    return out, mask.to(joints.device)


def _apply_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return x
    m = mask.to(x.device, torch.bool)
    while m.ndim < x.ndim:
        m = m.unsqueeze(-1)
    return torch.where(m, x, torch.zeros_like(x))


@numpy_compatible
def recover_root(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Root rotation quaternions (..., T, 4) and root positions (..., T, 3) from features."""
    half_yaw_steps = features[..., 0]
    half_yaw = torch.cumsum(torch.cat((torch.zeros_like(half_yaw_steps[..., :1]), half_yaw_steps[..., :-1]), -1), -1)
    zeros = torch.zeros_like(half_yaw)
    r_rot = torch.stack((torch.cos(half_yaw), zeros, torch.sin(half_yaw), zeros), dim=-1)
    step = torch.zeros(features.shape[:-1] + (3,), dtype=features.dtype, device=features.device)
    step = torch.cat(
        (
            torch.zeros_like(step[..., :1, :]),
            torch.stack((features[..., :-1, 1], zeros[..., :-1], features[..., :-1, 2]), dim=-1),
        ),
        dim=-2,
    )
    root = torch.cumsum(qrot(qinv(r_rot), step), dim=-2)
    root = torch.cat((root[..., :1], features[..., 3:4], root[..., 2:3]), dim=-1)
    return r_rot, root


@numpy_compatible
def features_to_joints(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """HumanML3D's ``recover_from_ric``: features (..., T, 263) -> joints (..., T, 22, 3).

    Batched and differentiable; frames where ``mask`` (..., T) is False come out as zeros.
    """
    _check_feature_dim(features)
    r_rot, root = recover_root(features)
    ric = features[..., RIC].reshape(features.shape[:-1] + (21, 3))
    ric = qrot(qinv(r_rot).unsqueeze(-2), ric)
    ric = ric + torch.stack((root[..., 0], torch.zeros_like(root[..., 0]), root[..., 2]), -1).unsqueeze(-2)
    return _apply_mask(torch.cat((root.unsqueeze(-2), ric), dim=-2), mask)


@numpy_compatible
def features_to_joints_fk(features: torch.Tensor, mask: torch.Tensor | None = None, offsets: torch.Tensor | None = None) -> torch.Tensor:
    """HumanML3D's ``recover_from_rot``: forward kinematics of the 6D rotations with the
    reference skeleton (or ``offsets`` (22, 3)). Batched and differentiable."""
    _check_feature_dim(features)
    r_rot, root = recover_root(features)
    root_6d = matrix_to_cont6d(quat_to_matrix(r_rot))
    local_6d = torch.cat((root_6d.unsqueeze(-2), features[..., ROT6D].reshape(features.shape[:-1] + (21, 6))), dim=-2)
    return _apply_mask(sk.forward_kinematics_cont6d(local_6d, root, offsets), mask)


def _check_feature_dim(features) -> None:
    if features.shape[-1] != FEATURE_DIM:
        raise MotionLCMError(f"features must have {FEATURE_DIM} values per frame, got {features.shape[-1]}")


def yaw_degrees_per_second(features: np.ndarray, fps: float = 20.0) -> np.ndarray:
    """Root turning speed in degrees per second (feature 0 holds half-angles per frame)."""
    return np.degrees(2.0 * np.asarray(features)[..., 0]) * fps


__all__ = [
    "FEATURE_DIM", "FEATURE_GROUPS", "ROOT_YAW", "ROOT_VEL_XZ", "ROOT_HEIGHT", "RIC", "ROT6D",
    "LOCAL_VEL", "CONTACTS", "FOOT_CONTACT_THRESHOLD", "accepted_joint_array", "gaussian_smooth",
    "foot_contacts", "joints_to_features", "framewise_features", "batch_joints_to_features", "recover_root",
    "features_to_joints", "features_to_joints_fk", "yaw_degrees_per_second",
]
