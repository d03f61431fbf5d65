"""Control hints for training and evaluation (MotionLCM / OmniControl protocol, REFERENCE.md section 2).

A hint set is a pair ``(hints, mask)``: ``hints`` (..., T, 22, 3) joint positions in metres (zero
where uncontrolled) and ``mask`` (..., T, 22) bool marking the controlled joint/frame pairs.

* Spatial control: some joints (pelvis ``[0]`` or the six ``[0, 10, 11, 15, 20, 21]``) at some
  frames. Densities: ``"random"`` (training: 1..T-1 frames, uniformly), a percentage of the frames
  (``"100%"``, ``"25%"``) or a frame count (``5``, ``2``, ``1``). As in MotionLCM's loader, training
  controls ONE joint drawn from the set per sample and evaluation controls every joint of the set.
* Temporal control (V2): every joint at chosen frames - keyframes, a prefix or a suffix.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import MotionLCMError
from ..motion.skeleton import JOINT_INDEX, NUM_JOINTS

JOINT_SETS: dict[str, tuple[int, ...]] = {"pelvis": (0,), "all": (0, 10, 11, 15, 20, 21)}
TEMPORAL_MODES = ("keyframes", "prefix", "suffix")


# ---------------------------------------------------------------------------------------------
# Parsing options
# ---------------------------------------------------------------------------------------------


def parse_joint_set(value: str | int | Sequence[int | str]) -> tuple[int, ...]:
    """``"pelvis"``, ``"all"``, a joint name/index, or a list of them -> sorted joint indices."""
    if isinstance(value, str) and value in JOINT_SETS:
        return JOINT_SETS[value]
    items = [value] if isinstance(value, (str, int)) else list(value)
    joints = set()
    for item in items:
        if isinstance(item, str) and item in JOINT_INDEX:
            joints.add(JOINT_INDEX[item])
        elif isinstance(item, (int, np.integer)) and 0 <= int(item) < NUM_JOINTS:
            joints.add(int(item))
        else:
            raise MotionLCMError(f"unknown control joint {item!r}; use pelvis, all, joint names or indices 0-21")
    if not joints:
        raise MotionLCMError("no control joint given")
    return tuple(sorted(joints))


def parse_density(value: str | int | float) -> tuple[str, float]:
    """Density -> ``("random", 0)``, ``("percent", p)`` or ``("frames", n)``.

    Strings: ``"random"``, ``"25%"``, ``"5f"``/``"5 frames"``. Plain numbers follow MotionLCM's
    loader: 1, 2 and 5 are frame counts, any other number is a percentage.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "random":
            return "random", 0.0
        try:
            if text.endswith("%"):
                return _checked_percent(float(text[:-1]))
            for suffix in (" frames", "frames", " frame", "frame", "f"):
                if text.endswith(suffix):
                    return _checked_frames(float(text[: -len(suffix)]))
            value = float(text)
        except ValueError:
            raise MotionLCMError(f"control density {value!r} not understood; use random, '25%' or a frame count") from None
    if float(value) in (1.0, 2.0, 5.0):
        return "frames", float(value)
    return _checked_percent(float(value))


def _checked_percent(p: float) -> tuple[str, float]:
    if not 0 < p <= 100:
        raise MotionLCMError(f"control density {p}% must be in (0, 100]")
    return "percent", p


def _checked_frames(n: float) -> tuple[str, float]:
    if n < 1 or not float(n).is_integer():
        raise MotionLCMError(f"control density of {n} frames must be a whole number >= 1")
    return "frames", n


# ---------------------------------------------------------------------------------------------
# Frame selection and masks
# ---------------------------------------------------------------------------------------------


def count_control_frames(length: int, density: str | int | float, generator: torch.Generator | None = None) -> int:
    """How many frames a density controls in a motion of ``length`` frames (MotionLCM's rounding)."""
    kind, amount = parse_density(density)
    if kind == "random":
        # MotionLCM: np.random.choice(length - 1) + 1, i.e. uniform in 1..length-1
        return int(torch.randint(1, max(length, 2), (1,), generator=generator))
    count = int(amount) if kind == "frames" else int(length * amount / 100)
    return max(1, min(count, length))


def choose_frames(length: int, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` distinct frames of ``0..length-1`` drawn uniformly, sorted."""
    return torch.randperm(length, generator=generator)[:count].sort().values


def spatial_mask(length: int, joints: Sequence[int], density: str | int | float, generator: torch.Generator | None = None,
                 one_joint: bool = False) -> torch.Tensor:
    """(length, 22) bool: ``joints`` (or one of them, drawn, when ``one_joint``) at randomly chosen frames."""
    joints = list(joints)
    if one_joint:
        joints = [joints[int(torch.randint(0, len(joints), (1,), generator=generator))]]
    frames = choose_frames(length, count_control_frames(length, density, generator), generator)
    mask = torch.zeros(length, NUM_JOINTS, dtype=torch.bool)
    mask[frames[:, None], torch.tensor(joints)[None, :]] = True
    return mask


def keyframe_mask(length: int, frames: Sequence[int]) -> torch.Tensor:
    """(length, 22): every joint at the given frames (temporal control with keyframes)."""
    frames = [int(f) for f in frames]
    bad = [f for f in frames if not 0 <= f < length]
    if bad:
        raise MotionLCMError(f"keyframe {bad[0]} is outside the motion's {length} frames (0-{length - 1})")
    mask = torch.zeros(length, NUM_JOINTS, dtype=torch.bool)
    mask[frames] = True
    return mask


def prefix_mask(length: int, count: int) -> torch.Tensor:
    """(length, 22): every joint on the first ``count`` frames (motion in-betweening from a start)."""
    return keyframe_mask(length, range(min(max(count, 0), length)))


def suffix_mask(length: int, count: int) -> torch.Tensor:
    """(length, 22): every joint on the last ``count`` frames."""
    count = min(max(count, 0), length)
    return keyframe_mask(length, range(length - count, length))


def temporal_mask(length: int, mode: str, density: str | int | float, generator: torch.Generator | None = None) -> torch.Tensor:
    """(length, 22): all joints on a prefix, a suffix or random keyframes; ``density`` sets how many frames."""
    count = count_control_frames(length, density, generator)
    if mode == "prefix":
        return prefix_mask(length, count)
    if mode == "suffix":
        return suffix_mask(length, count)
    if mode == "keyframes":
        return keyframe_mask(length, choose_frames(length, count, generator).tolist())
    raise MotionLCMError(f"unknown temporal control mode {mode!r}; use one of {', '.join(TEMPORAL_MODES)}")


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------


def batch_hint_masks(lengths: Sequence[int], max_frames: int, joints: Sequence[int] = (0,), density: str | int | float = "random",
                     temporal: str | None = None, one_joint: bool = False,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, max_frames, 22) bool masks, one per motion length (padded frames never controlled).

    ``temporal``: None for spatial control of ``joints``; ``"prefix"``, ``"suffix"``,
    ``"keyframes"``, or ``"mixed"`` (one of the three drawn per sample) for temporal control.
    """
    masks = torch.zeros(len(lengths), max_frames, NUM_JOINTS, dtype=torch.bool)
    for i, length in enumerate(int(n) for n in lengths):
        if temporal is None:
            masks[i, :length] = spatial_mask(length, joints, density, generator, one_joint)
        else:
            mode = temporal
            if mode == "mixed":
                mode = TEMPORAL_MODES[int(torch.randint(0, len(TEMPORAL_MODES), (1,), generator=generator))]
            masks[i, :length] = temporal_mask(length, mode, density, generator)
    return masks


def hints_from_joints(joints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Ground-truth joints (..., T, 22, 3) -> hints: the controlled positions, zeros elsewhere."""
    return torch.where(mask[..., None].to(joints.device), joints, torch.zeros_like(joints))


def normalize_hints(hints: torch.Tensor, mask: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Hints in metres (..., T, 22, 3) -> ((h - mean) / std) masked, flattened to (..., T, 66)."""
    mean = torch.as_tensor(mean, dtype=hints.dtype, device=hints.device).reshape(NUM_JOINTS, 3)
    std = torch.as_tensor(std, dtype=hints.dtype, device=hints.device).reshape(NUM_JOINTS, 3)
    normalised = torch.where(mask[..., None].bool(), (hints - mean) / std, torch.zeros_like(hints))
    return normalised.flatten(-2)


def denormalize_hints(normalised: torch.Tensor, mask: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalize_hints`: (..., T, 66) -> metres (..., T, 22, 3), zeros where uncontrolled."""
    mean = torch.as_tensor(mean, dtype=normalised.dtype, device=normalised.device).reshape(NUM_JOINTS, 3)
    std = torch.as_tensor(std, dtype=normalised.dtype, device=normalised.device).reshape(NUM_JOINTS, 3)
    hints = normalised.unflatten(-1, (NUM_JOINTS, 3)) * std + mean
    return torch.where(mask[..., None].bool(), hints, torch.zeros_like(hints))


def load_joint_stats(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``Mean_raw.npy``/``Std_raw.npy`` (per-joint position mean/std, (22, 3) or (66,)) -> two (22, 3) arrays."""
    folder = Path(folder)
    arrays = []
    for name in ("Mean_raw.npy", "Std_raw.npy"):
        path = folder / name
        if not path.is_file():
            raise MotionLCMError(f"{path} not found; compute it with `motionlcm data stats {folder}`")
        array = np.load(path, allow_pickle=False).astype(np.float32)
        if array.size != NUM_JOINTS * 3:
            raise MotionLCMError(f"{path}: expected {NUM_JOINTS} x 3 values, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise MotionLCMError(f"{path}: contains NaN or Inf")
        arrays.append(array.reshape(NUM_JOINTS, 3))
    if (arrays[1] <= 0).any():
        raise MotionLCMError(f"{folder / 'Std_raw.npy'}: has zero or negative entries")
    return arrays[0], arrays[1]


__all__ = [
    "JOINT_SETS", "TEMPORAL_MODES", "parse_joint_set", "parse_density", "count_control_frames", "choose_frames",
    "spatial_mask", "keyframe_mask", "prefix_mask", "suffix_mask", "temporal_mask", "batch_hint_masks",
    "hints_from_joints", "normalize_hints", "denormalize_hints", "load_joint_stats",
]
