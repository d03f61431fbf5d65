"""Batch conversion between joint positions and 263-d features (``motionlcm data to-*``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import MotionLCMError
from ..io import load_npy, save_npy
from ..motion.features import FEATURE_DIM, accepted_joint_array, features_to_joints, features_to_joints_fk, joints_to_features


@dataclass
class ConversionReport:
    written: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def joints_file_to_features(path: Path, retarget: bool = True) -> np.ndarray:
    joints = accepted_joint_array(load_npy(path), name=str(path))
    if len(joints) < 3:
        raise MotionLCMError(f"{path}: need at least 3 frames, got {len(joints)}")
    return joints_to_features(joints, retarget=retarget).astype(np.float32)


def features_file_to_joints(path: Path, use_rotations: bool = False) -> np.ndarray:
    features = load_npy(path)
    if features.ndim == 3 and features.shape[1:] == (22, 3):
        raise MotionLCMError(f"{path}: holds joint positions {features.shape}, not features; use `motionlcm data to-features`")
    if features.ndim != 2 or features.shape[1] != FEATURE_DIM:
        raise MotionLCMError(f"{path}: expected features of shape (frames, {FEATURE_DIM}), got {features.shape}")
    if not np.isfinite(features).all():
        raise MotionLCMError(f"{path}: contains NaN or Inf values")
    features = features.astype(np.float64)
    joints = features_to_joints_fk(features) if use_rotations else features_to_joints(features)
    return joints.astype(np.float32)


def convert(src: str | Path, dst: str | Path, fn: Callable[[Path], np.ndarray], progress: bool = True) -> ConversionReport:
    """Apply ``fn`` to one ``.npy`` file or every ``.npy`` in a folder, writing atomically.

    A failing file is reported and skipped; the others are still converted.
    """
    src, dst = Path(src), Path(dst)
    report = ConversionReport()
    if src.is_file():
        if src.suffix != ".npy":
            raise MotionLCMError(f"{src}: expected a .npy file")
        target = dst / src.name if dst.is_dir() else dst
        if target.suffix != ".npy":
            raise MotionLCMError(f"{dst}: output file must end in .npy (or be an existing folder)")
        save_npy(target, fn(src))
        report.written.append(target)
        return report
    if not src.is_dir():
        raise MotionLCMError(f"input not found: {src}")
    files = sorted(src.glob("*.npy"))
    if not files:
        raise MotionLCMError(f"{src}: no .npy files")
    if dst.exists() and not dst.is_dir():
        raise MotionLCMError(f"{dst}: output must be a folder when the input is a folder")
    dst.mkdir(parents=True, exist_ok=True)
    iterator = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc="converting", unit="file")
    for path in iterator:
        try:
            out = fn(path)
        except MotionLCMError as exc:
            report.failed.append(str(exc))
            continue
        save_npy(dst / path.name, out)
        report.written.append(dst / path.name)
    return report
