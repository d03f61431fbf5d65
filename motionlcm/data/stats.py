"""Dataset statistics: HumanML3D's feature Mean/Std and per-joint position statistics."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..errors import MotionLCMError
from ..motion.features import FEATURE_DIM, FEATURE_GROUPS


def feature_mean_std(features: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Std (263,) over all frames, with HumanML3D's group-averaged Std.

    As in HumanML3D's ``cal_mean_variance``, each feature group's Std is replaced by the mean
    of its members, so that all coordinates of a group share one scale.
    """
    frames = [np.asarray(f, dtype=np.float64).reshape(-1, FEATURE_DIM) for f in features]
    if not frames:
        raise MotionLCMError("no motions to compute statistics from")
    data = np.concatenate(frames, axis=0)
    mean = data.mean(axis=0)
    std = data.std(axis=0)
    for group in FEATURE_GROUPS.values():
        std[group] = std[group].mean()
    # A constant group (e.g. no contacts ever) would divide by zero when normalising.
    std = np.where(std < 1e-8, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def joint_mean_std(joints: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint position mean and std (22, 3) over all frames, used to normalise control hints."""
    frames = [np.asarray(j, dtype=np.float64).reshape(-1, 22, 3) for j in joints]
    if not frames:
        raise MotionLCMError("no motions to compute statistics from")
    data = np.concatenate(frames, axis=0)
    std = data.std(axis=0)
    return data.mean(axis=0).astype(np.float32), np.where(std < 1e-8, 1.0, std).astype(np.float32)


def dataset_stats(root, split: str = "train", progress: bool = False) -> dict[str, np.ndarray]:
    """Mean/Std of features and per-joint position mean/std over a split's whole motions.

    Joint positions come from ``new_joints/`` when present, else are recovered from the
    features. Returns arrays keyed by the file names they are saved under.
    """
    from pathlib import Path

    from ..motion.features import features_to_joints
    from .humanml3d import load_motion, read_split

    root = Path(root)
    if not root.is_dir():
        raise MotionLCMError(f"dataset directory not found: {root}")
    ids = read_split(root, split)
    if not ids:
        raise MotionLCMError(f"{root / (split + '.txt')}: split is empty")
    iterator = ids
    if progress:
        from tqdm import tqdm

        iterator = tqdm(ids, desc=f"statistics of {split}", unit="motion")
    features, joints = [], []
    for motion_id in iterator:
        motion = load_motion(root / "new_joint_vecs" / f"{motion_id}.npy")
        features.append(motion)
        joint_path = root / "new_joints" / f"{motion_id}.npy"
        joints.append(np.load(joint_path, allow_pickle=False) if joint_path.is_file() else features_to_joints(motion))
    mean, std = feature_mean_std(features)
    joint_mean, joint_std = joint_mean_std(joints)
    return {"Mean.npy": mean, "Std.npy": std, "Mean_raw.npy": joint_mean, "Std_raw.npy": joint_std}
