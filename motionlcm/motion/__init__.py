"""Skeleton, rotations and HumanML3D's 263-d motion representation (numpy and torch)."""
from .features import (
    FEATURE_DIM,
    FPS,
    batch_joints_to_features,
    features_to_joints,
    features_to_joints_fk,
    joints_to_features,
)
from .skeleton import JOINT_NAMES, NUM_JOINTS

__all__ = [
    "FEATURE_DIM", "FPS", "JOINT_NAMES", "NUM_JOINTS", "batch_joints_to_features", "features_to_joints",
    "features_to_joints_fk", "joints_to_features",
]
