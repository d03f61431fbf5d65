"""Writing a procedural corpus in HumanML3D's layout.

Motion ``i`` depends only on ``(seed, i)``: its generator is ``np.random.default_rng([seed,
i])`` and feature extraction runs single-threaded, so any number of worker processes gives
byte-identical files. The corpus is built in a hidden sibling directory and renamed into
place at the end, so an interrupted run never leaves a dataset that looks complete.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ...errors import MotionLCMError
from ...motion.features import FEATURE_DIM, FEATURE_GROUPS, features_to_joints, joints_to_features
from .actions import FAMILY_NAMES
from .compose import synthesize_motion
from .quality import foot_skating_counts

SYNTH_VERSION = "1.2"  # 1.1: synth_meta.json records, per caption, the actions whose side it leaves open; 1.2: and the parameters it leaves unstated; half turns and sideways walks no longer share phrases with full spins and side steps
SPLIT_FRACTIONS = {"val": 0.05, "test": 0.15}  # the rest is train
_SPLIT_STREAM = 0x5EED  # second seed word of the split permutation's generator
_PARALLEL_THRESHOLD = 64  # below this many motions, worker start-up costs more than it saves


def motion_id(index: int) -> str:
    return f"{index:06d}"


def make_motion(seed: int, index: int) -> dict:
    """Synthesise motion ``index``: features (T, 263), joints (T, 22, 3) (both float32), text lines."""
    rng = np.random.default_rng([seed, index])
    joints, captions, meta = synthesize_motion(rng)
    features = joints_to_features(joints).astype(np.float32)
    new_joints = features_to_joints(features).astype(np.float32)
    lines = [f"{text.replace('#', ' ')}#{tokens}#0.0#0.0" for text, tokens in captions]
    return {"id": motion_id(index), "features": features, "joints": new_joints, "lines": lines, "meta": meta}


class _Moments:
    """Running sums for a mean and a population std over frames, merged in index order."""

    def __init__(self, dim: int):
        self.count = 0
        self.sum = np.zeros(dim)
        self.sum_sq = np.zeros(dim)

    def add(self, count: int, total: np.ndarray, total_sq: np.ndarray) -> None:
        self.count += count
        self.sum += total
        self.sum_sq += total_sq

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.sum / max(self.count, 1)
        var = np.maximum(self.sum_sq / max(self.count, 1) - mean**2, 0.0)
        return mean, np.sqrt(var)


def _sums(x: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    x = x.astype(np.float64).reshape(len(x), -1)
    return len(x), x.sum(0), (x * x).sum(0)


def _write_and_summarise(root: Path, seed: int, index: int) -> dict:
    """Worker job: synthesise one motion, write its three files, return small summaries."""
    motion = make_motion(seed, index)
    mid = motion["id"]
    np.save(root / "new_joint_vecs" / f"{mid}.npy", motion["features"])
    np.save(root / "new_joints" / f"{mid}.npy", motion["joints"])
    (root / "texts" / f"{mid}.txt").write_text("\n".join(motion["lines"]) + "\n", encoding="utf-8")
    words = sorted({w for line in motion["lines"] for w in _caption_words(line.split("#", 1)[0])})
    return {
        "id": mid,
        "frames": len(motion["features"]),
        "feature_sums": _sums(motion["features"]),
        "joint_sums": _sums(motion["joints"]),
        "skating": foot_skating_counts(motion["joints"]),
        "words": words,
        "meta": motion["meta"],
    }


def _caption_words(text: str) -> list[str]:
    cleaned = "".join(c if c.isalpha() or c.isspace() else " " for c in text.lower())
    return cleaned.split()


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _job(args: tuple[str, int, int]) -> dict:
    root, seed, index = args
    return _write_and_summarise(Path(root), seed, index)


def split_ids(ids: list[str], seed: int) -> dict[str, list[str]]:
    """About 80/5/15 train/val/test, drawn with the corpus seed; each list sorted."""
    order = np.random.default_rng([seed, _SPLIT_STREAM]).permutation(len(ids))
    n_test = int(round(len(ids) * SPLIT_FRACTIONS["test"]))
    n_val = int(round(len(ids) * SPLIT_FRACTIONS["val"]))
    if n_test + n_val >= len(ids):  # tiny corpora: keep at least one training motion
        n_test, n_val = max(0, min(n_test, len(ids) - 1)), 0
    test = sorted(ids[i] for i in order[:n_test])
    val = sorted(ids[i] for i in order[n_test : n_test + n_val])
    train = sorted(ids[i] for i in order[n_test + n_val :])
    return {"train": train, "val": val, "test": test}


def group_std(std: np.ndarray) -> np.ndarray:
    """HumanML3D's Std: each feature group shares the mean std of its members; zeros -> 1."""
    std = std.copy()
    for group in FEATURE_GROUPS.values():
        std[group] = std[group].mean()
    return np.where(std < 1e-8, 1.0, std)


def _check_arguments(out_dir, num, seed, workers) -> Path:
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise MotionLCMError(f"number of motions must be a positive integer, got {num!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise MotionLCMError(f"seed must be a non-negative integer, got {seed!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1):
        raise MotionLCMError(f"workers must be a positive integer, got {workers!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MotionLCMError(f"output path {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        raise MotionLCMError(f"output directory {out} is not empty; choose a new directory")
    return out


def synthesize_dataset(out_dir, num: int, seed: int = 0, progress: bool = True, workers: int | None = None) -> dict:
    """Write ``num`` procedural motions in HumanML3D's layout to ``out_dir``; return a report.

    Files: ``new_joint_vecs/ID.npy`` (T, 263) and ``new_joints/ID.npy`` (T, 22, 3) float32,
    ``texts/ID.txt`` (3 captions), ``Mean.npy``/``Std.npy`` (train features),
    ``Mean_raw.npy``/``Std_raw.npy`` (train joint positions, (22, 3)), ``train.txt``,
    ``val.txt``, ``test.txt``, ``all.txt`` and ``synth_meta.json``.
    """
    out = _check_arguments(out_dir, num, seed, workers)
    num, seed = int(num), int(seed)
    if workers is None:
        workers = 1 if num < _PARALLEL_THRESHOLD else max(1, min(os.cpu_count() or 1, 8))
    workers = int(min(workers, num))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    for sub in ("new_joint_vecs", "new_joints", "texts"):
        (tmp / sub).mkdir(parents=True)
    start = time.perf_counter()
    try:
        summaries = _run_jobs(tmp, seed, num, workers, progress)
        report = _finish(tmp, summaries, seed, num)
        if out.exists():
            out.rmdir()  # checked empty above
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report["seconds"] = round(time.perf_counter() - start, 2)
    report["workers"] = workers
    report["out_dir"] = str(out)
    return report


def _run_jobs(tmp: Path, seed: int, num: int, workers: int, progress: bool) -> list[dict]:
    jobs = [(str(tmp), seed, i) for i in range(num)]
    bar = _progress_bar(num) if progress else None
    summaries = []
    if workers == 1:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # same arithmetic as in the workers
        try:
            for job in jobs:
                summaries.append(_job(job))
                if bar:
                    bar.update(1)
        finally:
            torch.set_num_threads(threads)
    else:
        # spawn: forking a process that has used torch's thread pools can deadlock.
        with multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_init) as pool:
            for summary in pool.imap(_job, jobs, chunksize=8):
                summaries.append(summary)
                if bar:
                    bar.update(1)
    if bar:
        bar.close()
    return summaries


def _progress_bar(total: int):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc="synthesising motions", unit="motion", file=sys.stderr)


def _finish(tmp: Path, summaries: list[dict], seed: int, num: int) -> dict:
    ids = [s["id"] for s in summaries]
    splits = split_ids(ids, seed)
    train = set(splits["train"])
    features, joints = _Moments(FEATURE_DIM), _Moments(22 * 3)
    for s in summaries:  # index order: deterministic sums
        if s["id"] in train:
            features.add(*s["feature_sums"])
            joints.add(*s["joint_sums"])
    mean, std = features.mean_std()
    np.save(tmp / "Mean.npy", mean.astype(np.float32))
    np.save(tmp / "Std.npy", group_std(std).astype(np.float32))
    joint_mean, joint_std = joints.mean_std()
    np.save(tmp / "Mean_raw.npy", joint_mean.reshape(22, 3).astype(np.float32))
    np.save(tmp / "Std_raw.npy", np.where(joint_std < 1e-8, 1.0, joint_std).reshape(22, 3).astype(np.float32))

    family_counts = Counter(f for s in summaries for f in set(s["meta"]["families"]))
    meta = {
        "generator": "motionlcm.data.synth",
        "version": SYNTH_VERSION,
        "seed": seed,
        "num": num,
        "fps": 20,
        "families": list(FAMILY_NAMES),
        "motions": {s["id"]: s["meta"] for s in summaries},
    }
    (tmp / "synth_meta.json").write_text(json.dumps(meta, separators=(",", ":")), encoding="utf-8")
    # Split lists last: a dataset reader treats their presence as "complete".
    for name, members in splits.items():
        (tmp / f"{name}.txt").write_text("".join(f"{i}\n" for i in members), encoding="utf-8")
    (tmp / "all.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")

    skating, low, total = (sum(s["skating"][k] for s in summaries) for k in range(3))
    frames = np.array([s["frames"] for s in summaries])
    vocabulary = set().union(*(s["words"] for s in summaries))
    return {
        "num_motions": len(ids),
        "num_captions": 3 * len(ids),
        "splits": {name: len(members) for name, members in splits.items()},
        "frames": {"min": int(frames.min()), "max": int(frames.max()), "mean": round(float(frames.mean()), 1)},
        "vocabulary_size": len(vocabulary),
        "skating_ratio": round(skating / max(total, 1), 5),
        "skating_ratio_near_floor": round(skating / max(low, 1), 5),
        "family_counts": dict(sorted(family_counts.items())),
    }


__all__ = ["synthesize_dataset", "make_motion", "split_ids", "group_std", "motion_id", "SYNTH_VERSION"]
