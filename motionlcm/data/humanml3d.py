"""HumanML3D-layout datasets: caption parsing, sub-clips, splits, normalisation, sampling.

Layout (REFERENCE.md section 1): ``new_joint_vecs/ID.npy`` (T, 263), ``new_joints/ID.npy``
(T, 22, 3), ``texts/ID.txt``, ``Mean.npy``, ``Std.npy`` and ``train/val/test/all.txt``.
Each caption line is ``caption#word/POS word/POS ...#start#end`` with times in seconds;
``0.0#0.0`` means the whole motion, anything else a separate sample of frames
``[int(start*20) : int(end*20)]``. Samples are kept when 40 <= frames < 200; a motion that
is itself outside that range is dropped with all its sub-clips, as in the original loaders.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import MotionLCMError
from ..io import load_npy
from ..motion import FPS
from ..motion.features import FEATURE_DIM
from ..motion.mirror import mirror_caption, mirror_features

MIN_FRAMES = 40
MAX_FRAMES_EXCLUSIVE = 200
MAX_MOTION_LENGTH = 196
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Caption:
    text: str
    tokens: tuple[str, ...]
    start: float = 0.0
    end: float = 0.0

    @property
    def whole_motion(self) -> bool:
        return self.start == 0.0 and self.end == 0.0


@dataclass
class MotionSample:
    """One training sample: a motion (or sub-clip) and the captions that describe it."""

    name: str
    motion: np.ndarray  # (frames, 263) float32, not normalised
    captions: list[Caption] = field(default_factory=list)

    @property
    def length(self) -> int:
        return len(self.motion)


def parse_caption_line(line: str) -> Caption:
    """Parse ``caption#tokens#start#end``; raises ValueError with the reason."""
    parts = line.rstrip("\n").split("#")
    if len(parts) != 4:
        raise ValueError(f"expected 4 '#'-separated fields (caption#tokens#start#end), got {len(parts)}")
    text, tokens, start, end = parts
    if not text.strip():
        raise ValueError("empty caption")
    try:
        start_s, end_s = float(start), float(end)
    except ValueError:
        raise ValueError(f"start/end must be numbers, got {start!r} and {end!r}") from None
    # The released texts contain a few 'nan' tags; the original loaders read them as 0.
    start_s = 0.0 if math.isnan(start_s) else start_s
    end_s = 0.0 if math.isnan(end_s) else end_s
    if start_s < 0 or end_s < 0 or (not (start_s == 0 and end_s == 0) and end_s <= start_s):
        raise ValueError(f"invalid time span {start_s}..{end_s}")
    token_list = tuple(tokens.split())
    for tok in token_list:
        word, sep, pos = tok.rpartition("/")
        if not sep or not word or not pos:
            raise ValueError(f"token {tok!r} is not word/POS")
    return Caption(text.strip(), token_list, start_s, end_s)


def read_captions(path: Path) -> list[Caption]:
    """All caption lines of a text file; a bad line raises MotionLCMError naming file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise MotionLCMError(f"{path}: caption file not found") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise MotionLCMError(f"{path}: unreadable caption file ({type(exc).__name__})") from None
    captions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            captions.append(parse_caption_line(line))
        except ValueError as exc:
            raise MotionLCMError(f"{path}:{number}: {exc}") from None
    if not captions:
        raise MotionLCMError(f"{path}: no captions")
    return captions


def read_split(root: Path, split: str) -> list[str]:
    path = Path(root) / f"{split}.txt"
    if not path.is_file():
        raise MotionLCMError(f"{path}: split file not found")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_mean_std(root: Path) -> tuple[np.ndarray, np.ndarray]:
    mean, std = load_npy(Path(root) / "Mean.npy"), load_npy(Path(root) / "Std.npy")
    for name, arr in (("Mean.npy", mean), ("Std.npy", std)):
        if arr.shape != (FEATURE_DIM,):
            raise MotionLCMError(f"{Path(root) / name}: expected shape ({FEATURE_DIM},), got {arr.shape}")
        if not np.isfinite(arr).all():
            raise MotionLCMError(f"{Path(root) / name}: contains NaN or Inf")
    if (std <= 0).any():
        raise MotionLCMError(f"{Path(root) / 'Std.npy'}: has zero or negative entries")
    return mean.astype(np.float32), std.astype(np.float32)


def load_motion(path: Path) -> np.ndarray:
    motion = load_npy(path)
    if motion.ndim != 2 or motion.shape[1] != FEATURE_DIM:
        raise MotionLCMError(f"{path}: expected features of shape (frames, {FEATURE_DIM}), got {motion.shape}")
    if not np.isfinite(motion).all():
        raise MotionLCMError(f"{path}: contains NaN or Inf")
    return motion.astype(np.float32)


def samples_of_motion(name: str, motion: np.ndarray, captions: list[Caption]) -> list[MotionSample]:
    """Split a motion and its captions into samples, with the original length filters."""
    if not (MIN_FRAMES <= len(motion) < MAX_FRAMES_EXCLUSIVE):
        return []
    whole = [c for c in captions if c.whole_motion]
    samples = [MotionSample(name, motion, whole)] if whole else []
    spans: dict[tuple[int, int], list[Caption]] = {}
    for c in captions:
        if not c.whole_motion:
            spans.setdefault((int(c.start * FPS), int(c.end * FPS)), []).append(c)
    for (a, b), group in spans.items():
        clip = motion[a:b]
        if MIN_FRAMES <= len(clip) < MAX_FRAMES_EXCLUSIVE:
            samples.append(MotionSample(f"{name}#{a}-{b}", clip, group))
    return samples


def load_split_samples(root: Path, split: str, progress: bool = False) -> list[MotionSample]:
    """Load every sample of a split into memory (HumanML3D's test split is about 100 MB)."""
    root = Path(root)
    ids = read_split(root, split)
    if not ids:
        raise MotionLCMError(f"{root / (split + '.txt')}: split is empty")
    iterator = ids
    if progress:
        from tqdm import tqdm

        iterator = tqdm(ids, desc=f"loading {split}", unit="motion")
    samples: list[MotionSample] = []
    for motion_id in iterator:
        motion = load_motion(root / "new_joint_vecs" / f"{motion_id}.npy")
        captions = read_captions(root / "texts" / f"{motion_id}.txt")
        samples.extend(samples_of_motion(motion_id, motion, captions))
    if not samples:
        raise MotionLCMError(f"{root}: split '{split}' has no motion of {MIN_FRAMES}-{MAX_FRAMES_EXCLUSIVE - 1} frames")
    return samples


def round_length(length: int, unit: int, generator: torch.Generator | None = None) -> int:
    """MotionLCM's length rounding: floor to ``unit`` with p=2/3, else one unit less."""
    if unit <= 1:
        return length
    coin = int(torch.randint(0, 3, (1,), generator=generator))
    units = length // unit - (1 if coin == 2 else 0)
    return max(units, 1) * unit


def check_mirror_prob(value) -> float:
    """``data.mirror_prob`` as a float, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise MotionLCMError(f"data.mirror_prob must be a probability in [0, 1], got {value!r}")
    return float(value)


class HumanML3DDataset(Dataset):
    """A split of a HumanML3D-layout dataset.

    ``mode="text"`` is MotionLCM's text-to-motion sampler: one random caption, the length
    rounded to ``unit_length`` (2/3 floor, 1/3 one unit less), a random crop, z-normalised.
    ``mode="crop"`` gives a random crop of random length (uniform between ``MIN_FRAMES`` and the
    motion's length, floored to ``unit_length``), for VAEs whose latent tokens are time-aligned
    and must see every clip length. ``mode="window"`` gives random fixed windows of ``window`` frames (or the whole motion when
    shorter), as used to train the VAE. ``mode="eval"`` is deterministic: the whole sample and
    its first caption. Randomness comes from torch's global generator, which DataLoader seeds
    per worker, so runs are reproducible under ``torch.manual_seed`` / Lightning's seeding.

    ``mirror_prob`` (training modes only): the chance that a drawn sample comes mirrored left /
    right, caption included ("turns left" -> "turns right"), as HumanML3D's ``M`` copies are
    made offline. It gives the model pairs that differ only in side and direction words; leave
    it at 0 for HumanML3D itself, whose ``M`` files are already in the splits. A mirrored crop's
    ``name`` ends in ``#M`` so per-crop caches keep it apart from the original.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        mode: str = "text",
        unit_length: int = 4,
        window: int = 64,
        max_motion_length: int = MAX_MOTION_LENGTH,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
        samples: list[MotionSample] | None = None,
        progress: bool = False,
        mirror_prob: float = 0.0,
    ):
        if mode not in ("text", "window", "crop", "eval"):
            raise MotionLCMError(f"unknown dataset mode {mode!r}; use text, window, crop or eval")
        self.mirror_prob = check_mirror_prob(mirror_prob) if mode != "eval" else 0.0
        self.root = Path(root)
        if not self.root.is_dir():
            raise MotionLCMError(f"dataset directory not found: {self.root}")
        self.split, self.mode = split, mode
        self.unit_length, self.window, self.max_motion_length = unit_length, window, max_motion_length
        if mean is None or std is None:
            mean, std = load_mean_std(self.root)
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.samples = samples if samples is not None else load_split_samples(self.root, split, progress)

    def __len__(self) -> int:
        return len(self.samples)

    def normalize(self, motion: np.ndarray) -> np.ndarray:
        return (motion - self.mean) / self.std

    def denormalize(self, motion: np.ndarray) -> np.ndarray:
        return motion * self.std + self.mean

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        motion = sample.motion
        start = 0
        if self.mode == "eval":
            caption = sample.captions[0]
            motion = motion[: self.max_motion_length]
        else:
            caption = sample.captions[int(torch.randint(0, len(sample.captions), (1,)))]
            if self.mode == "text":
                length = round_length(min(len(motion), self.max_motion_length), self.unit_length)
            elif self.mode == "crop":
                longest = min(len(motion), self.max_motion_length)
                shortest = min(MIN_FRAMES, longest)
                length = int(torch.randint(shortest, longest + 1, (1,)))
                if self.unit_length > 1 and length >= self.unit_length:
                    length -= length % self.unit_length
            else:
                length = min(self.window, len(motion))
            start = int(torch.randint(0, len(motion) - length + 1, (1,)))
            motion = motion[start : start + length]
        text, tokens, name = caption.text, caption.tokens, sample.name
        if self.mirror_prob > 0.0 and float(torch.rand(())) < self.mirror_prob:
            motion = mirror_features(np.asarray(motion, np.float32))
            text, tokens, name = mirror_caption(text), tuple(mirror_caption(t) for t in tokens), f"{name}#M"
        return {
            "motion": torch.from_numpy(self.normalize(motion).astype(np.float32)),
            "length": len(motion),
            "text": text,
            "tokens": tokens,
            "name": name,
            "start": start,  # first frame of the crop: (name, start, length) identifies it
        }


def collate_motions(items: list[dict]) -> dict:
    """Pad a list of samples: motion (B, T, 263), mask (B, T) bool, lengths (B,), texts, tokens, names, crop starts."""
    lengths = torch.tensor([it["length"] for it in items], dtype=torch.long)
    max_len = int(lengths.max())
    motion = torch.zeros(len(items), max_len, items[0]["motion"].shape[-1])
    for i, it in enumerate(items):
        motion[i, : it["length"]] = it["motion"]
    mask = torch.arange(max_len)[None, :] < lengths[:, None]
    return {
        "motion": motion,
        "mask": mask,
        "lengths": lengths,
        "text": [it["text"] for it in items],
        "tokens": [it["tokens"] for it in items],
        "name": [it["name"] for it in items],
        "start": torch.tensor([it.get("start", 0) for it in items], dtype=torch.long),
    }


__all__ = [
    "FPS", "MIN_FRAMES", "MAX_FRAMES_EXCLUSIVE", "MAX_MOTION_LENGTH", "SPLITS", "Caption", "MotionSample",
    "parse_caption_line", "read_captions", "read_split", "load_mean_std", "load_motion",
    "samples_of_motion", "load_split_samples", "round_length", "HumanML3DDataset", "collate_motions",
]
