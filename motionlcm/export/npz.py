"""NPZ export of a generated motion, with the settings that reproduce it.

Besides joints (T, 22, 3) and features (T, 263) the file holds SMPL-style parameters from
:func:`motionlcm.body.smpl_pose.joints_to_smpl_params`: ``transl`` (T, 3), ``global_orient``
(T, 3) and ``body_pose`` (T, 21, 3) axis-angle, ``betas`` zeros (10,), and ``rest_offsets``
(22, 3), the T-pose skeleton those rotations pose (see that module for the conventions).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..body.smpl_pose import joints_to_smpl_params
from ..io import atomic_path

FPS = 20


def save_motion_npz(path: str | Path, result, index: int = 0, model_id: str = "") -> Path:
    """Write sample ``index`` of a :class:`~motionlcm.pipeline.MotionOutput` atomically."""
    features, joints = result.motion(index)
    smpl = joints_to_smpl_params(joints)
    path = Path(path)
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            joints=joints.astype(np.float32),
            features=features.astype(np.float32),
            text=np.array(result.texts[index]),
            fps=np.array(FPS),
            length=np.array(len(joints)),
            seed=np.array(-1 if result.seed_of(index) is None else result.seed_of(index)),
            sample_index=np.array(index),
            steps=np.array(result.steps),
            guidance=np.array(result.guidance),
            model_id=np.array(model_id),
            **{key: value.astype(np.float32) for key, value in smpl.as_dict().items()},
            rest_offsets=smpl.offsets.astype(np.float32),
        )
    return path


def load_motion_npz(path: str | Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
