"""NPZ export of a generated motion, with the settings that reproduce it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_path

FPS = 20


def save_motion_npz(path: str | Path, result, index: int = 0, model_id: str = "") -> Path:
    """Write sample ``index`` of a :class:`~motionlcm.pipeline.MotionOutput` atomically."""
    features, joints = result.motion(index)
    path = Path(path)
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            joints=joints.astype(np.float32),
            features=features.astype(np.float32),
            text=np.array(result.texts[index]),
            fps=np.array(FPS),
            length=np.array(len(joints)),
            seed=np.array(-1 if result.seed is None else result.seed),
            sample_index=np.array(index),
            steps=np.array(result.steps),
            guidance=np.array(result.guidance),
            model_id=np.array(model_id),
        )
    return path


def load_motion_npz(path: str | Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
