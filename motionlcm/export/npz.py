"""NPZ export of a generated motion, with the settings that reproduce it.

``joints`` (T, 22, 3) are the package's one export rig
(:func:`motionlcm.body.smpl_pose.rig_offsets`, stored as ``rest_offsets`` (22, 3)) posed by
forward kinematics of the stored rotations, so they equal the BVH and GLB exports of the same
clip exactly and keep every bone length fixed. ``joints_predicted`` (T, 22, 3) are the model's
own joint positions (recovered from ``features`` (T, 263)), which the rig was fitted to.
The rotations are SMPL-style: ``transl`` (T, 3), ``global_orient`` (T, 3) and ``body_pose``
(T, 21, 3) axis-angle, ``betas`` zeros (10,) (see that module for the conventions).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..body.smpl_pose import fit_rig
from ..io import atomic_path
from ..motion import FPS


def save_motion_npz(path: str | Path, result, index: int = 0, model_id: str = "", rig=None) -> Path:
    """Write sample ``index`` of a :class:`~motionlcm.pipeline.MotionOutput` atomically.

    ``rig``: ``fit_rig`` of the sample's joints when the caller already has it.
    """
    features, joints = result.motion(index)
    smpl, rig_joints = rig or fit_rig(joints)
    path = Path(path)
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            joints=rig_joints.astype(np.float32),
            joints_predicted=joints.astype(np.float32),
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
