"""``motionlcm data check``: list every problem of a HumanML3D-layout dataset."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MotionLCMError
from ..io import load_npy
from ..motion.features import FEATURE_DIM
from .humanml3d import (
    MAX_FRAMES_EXCLUSIVE,
    MIN_FRAMES,
    SPLITS,
    Caption,
    parse_caption_line,
    samples_of_motion,
)


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class CheckReport:
    problems: list[Problem]
    split_sizes: dict[str, int]
    motions: int
    samples: int
    captions: int

    @property
    def ok(self) -> bool:
        return not self.problems


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _check_stat(root: Path, name: str, problems: list[Problem]) -> None:
    path = root / name
    if not path.is_file():
        problems.append(Problem(name, "missing (run `motionlcm data stats` to compute it)"))
        return
    try:
        arr = load_npy(path)
    except MotionLCMError as exc:
        problems.append(Problem(name, str(exc).split(": ", 1)[-1]))
        return
    if arr.shape != (FEATURE_DIM,):
        problems.append(Problem(name, f"expected shape ({FEATURE_DIM},), got {arr.shape}"))
    elif not np.isfinite(arr).all():
        problems.append(Problem(name, "contains NaN or Inf"))
    elif name == "Std.npy" and (arr <= 0).any():
        problems.append(Problem(name, f"{int((arr <= 0).sum())} entries are zero or negative"))


def _check_captions(root: Path, path: Path, problems: list[Problem]) -> list[Caption]:
    rel = _rel(root, path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        problems.append(Problem(rel, "not valid UTF-8 text"))
        return []
    except OSError as exc:
        problems.append(Problem(rel, f"unreadable ({type(exc).__name__})"))
        return []
    captions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            captions.append(parse_caption_line(line))
        except ValueError as exc:
            problems.append(Problem(f"{rel}:{number}", f"malformed caption line: {exc}"))
    if not captions and not any(p.path.startswith(rel + ":") for p in problems):
        problems.append(Problem(rel, "no captions"))
    return captions


def _check_array(root: Path, path: Path, shape_tail: tuple[int, ...], what: str, problems: list[Problem]) -> np.ndarray | None:
    rel = _rel(root, path)
    try:
        arr = load_npy(path)
    except MotionLCMError as exc:
        problems.append(Problem(rel, str(exc).split(": ", 1)[-1]))
        return None
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail or arr.shape[0] == 0:
        expected = ", ".join(["frames", *map(str, shape_tail)])
        problems.append(Problem(rel, f"{what}: expected shape ({expected}), got {arr.shape}"))
        return None
    if not np.issubdtype(arr.dtype, np.floating):
        problems.append(Problem(rel, f"{what}: expected floating-point values, got {arr.dtype}"))
        return None
    bad = ~np.isfinite(arr)
    if bad.any():
        frames = np.unique(np.nonzero(bad)[0])
        problems.append(Problem(rel, f"{what}: NaN/Inf in {len(frames)} frame(s), first at frame {int(frames[0])}"))
        return None
    return arr


def check_dataset(root: str | Path, progress: bool = False) -> CheckReport:
    """Validate a dataset directory and collect every problem found (never raises for data errors)."""
    root = Path(root)
    if not root.is_dir():
        raise MotionLCMError(f"dataset directory not found: {root}")
    problems: list[Problem] = []
    for sub in ("new_joint_vecs", "texts"):
        if not (root / sub).is_dir():
            problems.append(Problem(sub + "/", "missing directory"))
    _check_stat(root, "Mean.npy", problems)
    _check_stat(root, "Std.npy", problems)

    split_ids: dict[str, list[str]] = {}
    for split in SPLITS:
        path = root / f"{split}.txt"
        if not path.is_file():
            problems.append(Problem(path.name, "missing split file"))
            continue
        ids = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        if not ids:
            problems.append(Problem(path.name, "split is empty"))
        seen: set[str] = set()
        for motion_id in ids:
            if motion_id in seen:
                problems.append(Problem(path.name, f"id {motion_id} listed more than once"))
            seen.add(motion_id)
        split_ids[split] = ids
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            shared = sorted(set(split_ids.get(a, ())) & set(split_ids.get(b, ())))
            if shared:
                problems.append(Problem(f"{a}.txt", f"{len(shared)} id(s) also in {b}.txt, e.g. {shared[0]}"))
    listed = set().union(*split_ids.values()) if split_ids else set()
    all_path = root / "all.txt"
    if all_path.is_file():
        all_ids = {line.strip() for line in all_path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()}
        missing_from_all = sorted(listed - all_ids)
        if missing_from_all:
            problems.append(Problem("all.txt", f"{len(missing_from_all)} split id(s) not listed, e.g. {missing_from_all[0]}"))

    has_joints = (root / "new_joints").is_dir()
    ids = sorted(listed)
    iterator = ids
    if progress:
        from tqdm import tqdm

        iterator = tqdm(ids, desc="checking", unit="motion")
    motions = samples = captions_total = 0
    for motion_id in iterator:
        vec_path = root / "new_joint_vecs" / f"{motion_id}.npy"
        txt_path = root / "texts" / f"{motion_id}.txt"
        motion = None
        if not vec_path.is_file():
            problems.append(Problem(_rel(root, vec_path), "missing motion file for a listed id"))
        else:
            motion = _check_array(root, vec_path, (FEATURE_DIM,), "features", problems)
        if not txt_path.is_file():
            problems.append(Problem(_rel(root, txt_path), "missing caption file for a listed id"))
            captions: list[Caption] = []
        else:
            captions = _check_captions(root, txt_path, problems)
        if has_joints:
            joint_path = root / "new_joints" / f"{motion_id}.npy"
            if joint_path.is_file():
                joints = _check_array(root, joint_path, (22, 3), "joints", problems)
                if joints is not None and motion is not None and len(joints) != len(motion):
                    problems.append(Problem(_rel(root, joint_path), f"{len(joints)} frames but the features have {len(motion)}"))
        if motion is not None:
            motions += 1
            if captions:
                kept = samples_of_motion(motion_id, motion, captions)
                samples += len(kept)
                captions_total += sum(len(s.captions) for s in kept)

    for sub in ("new_joint_vecs", "texts"):
        folder = root / sub
        if folder.is_dir():
            suffix = ".npy" if sub == "new_joint_vecs" else ".txt"
            extra = sorted(p.stem for p in folder.iterdir() if p.suffix == suffix and p.stem not in listed)
            if extra:
                problems.append(Problem(sub + "/", f"{len(extra)} file(s) not in any split, e.g. {extra[0]}{suffix}"))
    if motions and not samples:
        problems.append(Problem(".", f"no usable sample: every motion is outside {MIN_FRAMES}-{MAX_FRAMES_EXCLUSIVE - 1} frames"))
    return CheckReport(problems, {k: len(v) for k, v in split_ids.items()}, motions, samples, captions_total)
