"""Body-model parameters of joint motions (SMPL-style pose from SMPL-22 joint positions)."""
from .smpl_pose import SmplParams, fk_from_smpl_params, joints_to_smpl_params, rest_offsets_from_joints

__all__ = ["SmplParams", "fk_from_smpl_params", "joints_to_smpl_params", "rest_offsets_from_joints"]
