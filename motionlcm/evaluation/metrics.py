"""Evaluation metrics for text-to-motion (REFERENCE.md section 3), as pure functions.

Inputs may be numpy arrays or torch tensors (any device); everything is computed in float64 on
the CPU and scalars come back as Python floats. Conventions follow the public evaluation code of
Guo et al. (text-to-motion), MLD / MotionLCM and OmniControl:

* embedding metrics (evaluator embeddings, one row per sample):
  :func:`fid` / :func:`frechet_distance`, :func:`r_precision`, :func:`mm_dist`, :func:`diversity`,
  :func:`multimodality`; every number is repeated (20 times in the protocol) and reported with
  :func:`mean_and_interval`;
* reconstruction metrics on joint positions ``(..., frames, joints, 3)`` in metres:
  :func:`mpjpe` (root-aligned), :func:`pa_mpjpe` (per-frame Procrustes), :func:`acceleration_error`;
* control metrics: :func:`control_errors` (OmniControl's Traj / Loc / Avg errors) and
  :func:`foot_skating_ratio`.

:class:`EmbeddingAccumulator` collects embeddings batch by batch and gathers them across DDP ranks.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.linalg
from scipy.ndimage import maximum_filter1d
import torch

ArrayLike = Any  # np.ndarray | torch.Tensor | nested sequences of numbers

# HumanML3D joint indices of the feet (SMPL left_foot, right_foot) used by the skating ratio.
FOOT_JOINTS = (10, 11)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def _f64(x: ArrayLike) -> torch.Tensor:
    """A float64 CPU tensor (detached) from a tensor, array or nested list."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64)
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def _embeddings(x: ArrayLike, name: str) -> torch.Tensor:
    t = _f64(x)
    if t.ndim != 2:
        raise ValueError(f"{name}: expected embeddings of shape (samples, dim), got {tuple(t.shape)}")
    return t


def _paired(a: ArrayLike, b: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _embeddings(a, "text embeddings"), _embeddings(b, "motion embeddings")
    if a.shape != b.shape:
        raise ValueError(f"text and motion embeddings differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    return a, b


def _frame_mask(mask: ArrayLike | None, shape: torch.Size) -> torch.Tensor:
    """Boolean mask over the leading ``(..., frames)`` dims; all True when ``mask`` is None."""
    if mask is None:
        return torch.ones(shape, dtype=torch.bool)
    m = torch.as_tensor(mask.detach().cpu() if isinstance(mask, torch.Tensor) else np.asarray(mask)).bool()
    if m.shape != shape:
        raise ValueError(f"mask of shape {tuple(m.shape)} does not match the frames {tuple(shape)}")
    return m


def _joints(x: ArrayLike, name: str) -> torch.Tensor:
    t = _f64(x)
    if t.ndim < 3 or t.shape[-1] != 3:
        raise ValueError(f"{name}: expected joint positions of shape (..., frames, joints, 3), got {tuple(t.shape)}")
    return t


def _random_subset(n: int, k: int, generator: torch.Generator | None) -> torch.Tensor:
    """``k`` distinct indices out of ``n`` (numpy's ``choice(n, k, replace=False)``)."""
    return torch.randperm(n, generator=generator)[:k]


# ------------------------------------------------------------------------------------------------
# FID
# ------------------------------------------------------------------------------------------------
def gaussian_statistics(embeddings: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (``np.cov``, unbiased) of ``(samples, dim)`` embeddings, float64."""
    e = _embeddings(embeddings, "embeddings").numpy()
    if len(e) < 2:
        raise ValueError("need at least 2 embeddings to estimate a covariance")
    return e.mean(axis=0), np.cov(e, rowvar=False)


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrtm(sigma1 sigma2))``. If the product is singular
    (the square root is not finite), ``eps`` is added to both diagonals, as in the reference code;
    a small imaginary part from round-off is dropped.
    """
    mu1, mu2 = np.atleast_1d(_f64(mu1).numpy()), np.atleast_1d(_f64(mu2).numpy())
    s1, s2 = np.atleast_2d(_f64(sigma1).numpy()), np.atleast_2d(_f64(sigma2).numpy())
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"inconsistent Gaussian statistics: means {mu1.shape}, {mu2.shape}; covariances {s1.shape}, {s2.shape}")
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(s1)) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: matrix square root has a large imaginary part ({np.abs(covmean.imag).max():.3g})")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def fid(emb_a: ArrayLike, emb_b: ArrayLike) -> float:
    """Frechet Inception-style distance between two sets of embeddings (Gaussian fits of each)."""
    return frechet_distance(*gaussian_statistics(emb_a), *gaussian_statistics(emb_b))


# ------------------------------------------------------------------------------------------------
# text-motion matching
# ------------------------------------------------------------------------------------------------
def euclidean_distance_matrix(a: ArrayLike, b: ArrayLike) -> torch.Tensor:
    """``(N1, N2)`` float64 matrix of Euclidean distances between rows of ``a`` and rows of ``b``."""
    return torch.cdist(_f64(a), _f64(b))


def r_precision(text_emb: ArrayLike, motion_emb: ArrayLike, group_size: int = 32, top_k: int = 3,
                shuffle: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """Retrieval accuracy of the matching motion among ``group_size`` candidates: ``(top_k,)`` float64.

    Row ``i`` of both inputs is a true (text, motion) pair. The rows are cut into consecutive groups
    of ``group_size`` (the last, incomplete group is dropped, as in the reference); within a group
    each text ranks the group's motions by Euclidean distance, and entry ``k - 1`` of the result is
    the fraction of texts whose own motion is among the ``k`` nearest. Ties count against the
    match (rank = number of other motions at most as far), so a collapsed generator whose
    motions are all equal scores 0, not a perfect retrieval. ``shuffle=True`` permutes the pairs first
    (the protocol shuffles before grouping) using ``generator``.
    """
    t, m = _paired(text_emb, motion_emb)
    if group_size < 1 or top_k < 1:
        raise ValueError(f"group_size and top_k must be positive, got {group_size}, {top_k}")
    num_groups = len(t) // group_size
    if num_groups == 0:
        raise ValueError(f"R-precision needs at least group_size={group_size} pairs, got {len(t)}")
    if shuffle:
        order = torch.randperm(len(t), generator=generator)
        t, m = t[order], m[order]
    used = num_groups * group_size
    t = t[:used].reshape(num_groups, group_size, -1)
    m = m[:used].reshape(num_groups, group_size, -1)
    distances = torch.cdist(t, m)  # (groups, texts, motions)
    true_distance = distances.diagonal(dim1=1, dim2=2).unsqueeze(-1)
    rank = (distances <= true_distance).sum(-1).reshape(-1) - 1  # 0 = own motion strictly the nearest
    ks = torch.arange(1, top_k + 1)
    return (rank[:, None] < ks[None, :]).to(torch.float64).mean(0)


def mm_dist(text_emb: ArrayLike, motion_emb: ArrayLike) -> float:
    """Multimodal distance: mean Euclidean distance between matched text and motion embeddings.

    The reference code averages over the pairs used by R-precision (after shuffling, the
    ``N mod 32`` leftover pairs are not counted); pass that subset to reproduce it exactly.
    """
    t, m = _paired(text_emb, motion_emb)
    return float((t - m).norm(dim=-1).mean())


def diversity(embeddings: ArrayLike, num_pairs: int = 300, generator: torch.Generator | None = None) -> float:
    """Mean distance over ``num_pairs`` random pairs of embeddings.

    As the reference: two independent draws of ``num_pairs`` distinct indices each, paired
    position by position (a pair may repeat a sample, giving distance 0).
    """
    e = _embeddings(embeddings, "embeddings")
    if len(e) < num_pairs:
        raise ValueError(f"diversity needs at least num_pairs={num_pairs} samples, got {len(e)}")
    first = _random_subset(len(e), num_pairs, generator)
    second = _random_subset(len(e), num_pairs, generator)
    return float((e[first] - e[second]).norm(dim=-1).mean())


def multimodality(embeddings: ArrayLike, num_pairs: int = 10, generator: torch.Generator | None = None) -> float:
    """Mean distance between generations of the same caption.

    ``embeddings`` is ``(num_captions, num_repeats, dim)`` (protocol: 100 captions x 30 generations);
    ``num_pairs`` pairs of repeat indices are drawn as in :func:`diversity` (the same pairs for every
    caption, as the reference) and the distances are averaged over captions and pairs.
    """
    e = _f64(embeddings)
    if e.ndim != 3:
        raise ValueError(f"multimodality expects (captions, repeats, dim) embeddings, got {tuple(e.shape)}")
    if e.shape[1] < num_pairs:
        raise ValueError(f"multimodality needs at least num_pairs={num_pairs} repeats per caption, got {e.shape[1]}")
    first = _random_subset(e.shape[1], num_pairs, generator)
    second = _random_subset(e.shape[1], num_pairs, generator)
    return float((e[:, first] - e[:, second]).norm(dim=-1).mean())


def mean_and_interval(values: ArrayLike) -> tuple[Any, Any]:
    """Mean over repetitions and the 95% half-interval ``1.96 * std / sqrt(n)`` (population std).

    ``values`` has the repetitions on axis 0 (e.g. 20 runs, or ``(20, 3)`` for R@1..3). Scalars come
    back as floats, anything wider as float64 arrays.
    """
    v = _f64(values).numpy()
    if v.ndim == 0 or len(v) == 0:
        raise ValueError("mean_and_interval needs at least one repetition")
    mean = v.mean(axis=0)
    interval = 1.96 * v.std(axis=0) / np.sqrt(len(v))
    if mean.ndim == 0:
        return float(mean), float(interval)
    return mean, interval


# ------------------------------------------------------------------------------------------------
# reconstruction
# ------------------------------------------------------------------------------------------------
def mpjpe(pred: ArrayLike, target: ArrayLike, mask: ArrayLike | None = None, align_root: bool = True) -> float:
    """Mean per-joint position error (same units as the input), averaged over valid frames.

    ``pred`` / ``target`` are ``(..., frames, joints, 3)``; ``mask`` ``(..., frames)`` marks valid
    frames. With ``align_root`` each frame's root joint (index 0) is subtracted from both first.
    """
    p, t = _joints(pred, "pred"), _joints(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target joints differ in shape: {tuple(p.shape)} vs {tuple(t.shape)}")
    if align_root:
        p, t = p - p[..., :1, :], t - t[..., :1, :]
    per_frame = (p - t).norm(dim=-1).mean(-1)
    return float(per_frame[_frame_mask(mask, per_frame.shape)].mean())


def procrustes_align(pred: ArrayLike, target: ArrayLike) -> torch.Tensor:
    """Per frame, the similarity transform (rotation, uniform scale, translation) of ``pred`` that
    best fits ``target`` in the least-squares sense, applied to ``pred`` (Umeyama / Kabsch with
    reflection correction). Shapes ``(..., joints, 3)``; returns float64."""
    p, t = _f64(pred), _f64(target)
    mu_p, mu_t = p.mean(-2, keepdim=True), t.mean(-2, keepdim=True)
    p0, t0 = p - mu_p, t - mu_t
    u, s, vh = torch.linalg.svd(p0.transpose(-1, -2) @ t0)
    v = vh.transpose(-1, -2)
    # Flip the last axis when the best orthogonal map would be a reflection.
    sign = torch.sign(torch.linalg.det(v @ u.transpose(-1, -2)))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    d = torch.ones_like(s)
    d[..., -1] = sign
    rotation = v @ torch.diag_embed(d) @ u.transpose(-1, -2)
    scale = (s * d).sum(-1) / p0.square().sum((-1, -2)).clamp_min(1e-12)
    return scale[..., None, None] * p0 @ rotation.transpose(-1, -2) + mu_t


def pa_mpjpe(pred: ArrayLike, target: ArrayLike, mask: ArrayLike | None = None) -> float:
    """MPJPE after per-frame Procrustes alignment of ``pred`` onto ``target`` (see :func:`mpjpe`)."""
    p, t = _joints(pred, "pred"), _joints(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target joints differ in shape: {tuple(p.shape)} vs {tuple(t.shape)}")
    return mpjpe(procrustes_align(p, t), t, mask, align_root=False)


def acceleration_error(pred: ArrayLike, target: ArrayLike, mask: ArrayLike | None = None, fps: float | None = None) -> float:
    """Mean norm of the difference of joint accelerations (second finite differences).

    Accelerations ``x[t+1] - 2 x[t] + x[t-1]`` are per frame squared (e.g. m/frame^2); with ``fps``
    they are scaled to per second squared. Only frames whose two neighbours are valid count.
    """
    p, t = _joints(pred, "pred"), _joints(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target joints differ in shape: {tuple(p.shape)} vs {tuple(t.shape)}")
    if p.shape[-3] < 3:
        raise ValueError(f"acceleration error needs at least 3 frames, got {p.shape[-3]}")
    valid = _frame_mask(mask, p.shape[:-2])
    valid = valid[..., :-2] & valid[..., 1:-1] & valid[..., 2:]

    def accel(x: torch.Tensor) -> torch.Tensor:
        return x[..., 2:, :, :] - 2 * x[..., 1:-1, :, :] + x[..., :-2, :, :]

    error = (accel(p) - accel(t)).norm(dim=-1).mean(-1)
    if fps is not None:
        error = error * float(fps) ** 2
    if not valid.any():
        raise ValueError("acceleration error: no frame has two valid neighbours")
    return float(error[valid].mean())


# ------------------------------------------------------------------------------------------------
# control
# ------------------------------------------------------------------------------------------------
def _point_mask(hint_mask: ArrayLike, single: bool) -> torch.Tensor:
    """Controlled points as a bool tensor (batch, frames, joints); ``single``: the mask is one
    sequence's. A per-coordinate mask (..., joints, 3), as the reference code keeps it, counts a
    point where any coordinate is non-zero."""
    m = torch.as_tensor(hint_mask.detach().cpu() if isinstance(hint_mask, torch.Tensor) else np.asarray(hint_mask)) != 0
    m = m[None] if single else m
    return m.any(-1) if m.ndim == 4 else m


def control_errors(joints: ArrayLike, hints: ArrayLike, hint_mask: ArrayLike,
                   thresholds: Sequence[float] = (0.5, 0.2)) -> dict[str, float]:
    """OmniControl's spatial-control errors, averaged over sequences.

    ``joints`` and ``hints`` are ``(batch, frames, joints, 3)`` in metres; ``hint_mask`` is
    ``(batch, frames, joints)`` (or ``(..., 3)``, any non-zero coordinate counts) marking the
    controlled points. For each controlled point ``e = ||joint - hint||``; per sequence:

    * ``traj_err_{T}cm``: 1 if any controlled point has ``e > T`` (the trajectory fails), else 0;
    * ``loc_err_{T}cm``: fraction of controlled points with ``e > T``;
    * ``avg_err``: mean ``e`` in metres;
    * ``max_err``: the largest ``e`` of the sequence, in metres.

    Each is averaged over the sequences that have at least one controlled point: a sequence with
    none has no error to measure and is left out (it neither passes nor fails). When no sequence
    has a controlled point every value is NaN (undefined, as the reference's 0 / 0). Keys use the
    thresholds in centimetres: ``traj_err_50cm, traj_err_20cm, loc_err_50cm, loc_err_20cm, avg_err, max_err``.
    """
    j, h = _f64(joints), _f64(hints)
    m = _point_mask(hint_mask, single=j.ndim == 3)
    if j.ndim == 3:  # a single sequence
        j, h = j[None], h[None]
    if j.shape != h.shape or j.ndim != 4 or m.shape != j.shape[:-1]:
        raise ValueError(f"control_errors: joints {tuple(j.shape)}, hints {tuple(h.shape)} and mask {tuple(m.shape)} "
                         "must be (batch, frames, joints, 3) and (batch, frames, joints)")
    error = (j - h).norm(dim=-1)
    counted = m.flatten(1).sum(1)
    keep = counted > 0
    if not keep.any():
        names = [f"{kind}_err_{round(t * 100)}cm" for kind in ("traj", "loc") for t in thresholds] + ["avg_err", "max_err"]
        return dict.fromkeys(names, float("nan"))
    error, m, counted = error[keep].flatten(1), m[keep].flatten(1), counted[keep].to(torch.float64)
    results: dict[str, float] = {}
    for threshold in thresholds:
        above = (error > threshold) & m
        results[f"traj_err_{round(threshold * 100)}cm"] = float(above.any(1).to(torch.float64).mean())
    for threshold in thresholds:
        above = (error > threshold) & m
        results[f"loc_err_{round(threshold * 100)}cm"] = float((above.sum(1) / counted).mean())
    # where(): hints at uncontrolled points may hold anything (even NaN padding)
    results["avg_err"] = float((torch.where(m, error, 0.0).sum(1) / counted).mean())
    results["max_err"] = float(torch.where(m, error, 0.0).max(1).values.mean())
    return results


def hint_acceleration_spike(joints: ArrayLike, hint_mask: ArrayLike, lengths: Sequence[int] | None = None,
                            window: int = 2, percentile: float = 95.0) -> float:
    """Peak acceleration at the hints against the clip's own: issue 20's "no spike at hinted frames".

    Per sequence: ``a_t = ||x[t+1] - 2 x[t] + x[t-1]||`` of every joint on the valid frames; the
    largest ``a_t`` of a hinted joint within ``window`` frames of one of its hinted frames, divided
    by the ``percentile``-th percentile of ``a_t`` over the clip (all joints and frames: a planted
    foot's own percentile would be ~0); the mean over sequences with hints (NaN if none). A
    correction that jumps at its hints scores far above what the same hints give on the real
    motion (in the README's control table).
    """
    j = _f64(joints)
    m = _point_mask(hint_mask, single=j.ndim == 3)
    j = j[None] if j.ndim == 3 else j
    if j.ndim != 4 or m.shape != j.shape[:-1]:
        raise ValueError(f"hint_acceleration_spike: joints {tuple(j.shape)} and mask {tuple(m.shape)} must be "
                         "(batch, frames, joints, 3) and (batch, frames, joints)")
    ratios = []
    for i in range(len(j)):
        n = int(lengths[i]) if lengths is not None else j.shape[1]
        if n < 3 or not bool(m[i, :n].any()):
            continue
        accel = (j[i, 2:n] - 2 * j[i, 1 : n - 1] + j[i, : n - 2]).norm(dim=-1).numpy()  # frame t = index + 1
        scale = float(np.percentile(accel, percentile))
        peak = 0.0
        hinted = m[i, :n].numpy()
        # frames within ``window`` of a hint, per joint (binary dilation along time), on accel's frames
        near = maximum_filter1d(hinted.astype(np.uint8), 2 * window + 1, axis=0, mode="constant")[1 : n - 1] > 0
        if near.any():
            peak = float(accel[near].max())
        if scale > 0:
            ratios.append(peak / scale)
    return float(np.mean(ratios)) if ratios else float("nan")


def foot_skating_ratio(joints: ArrayLike, fps: float = 20.0, lengths: Sequence[int] | None = None,
                       height_threshold: float = 0.05, speed_threshold: float = 0.5,
                       average_window: int = 5, feet: Sequence[int] = FOOT_JOINTS) -> float:
    """Fraction of frame transitions in which a foot skates, averaged over sequences.

    ``joints``: ``(batch, frames, joints, 3)`` or ``(frames, joints, 3)``, metres, Y up; ``lengths``
    gives each sequence's valid frames. A transition ``t -> t+1`` skates for a foot (joints 10, 11)
    when the foot is below ``height_threshold`` in both frames and its horizontal (XZ) speed exceeds
    ``speed_threshold`` m/s; a transition counts once if either foot skates. The ratio divides by the
    ``frames - 1`` transitions of each sequence.

    ``average_window``: the OmniControl / MotionLCM code additionally requires the speed averaged over
    a centred window of 5 transitions (zero-padded at the ends, ``scipy.ndimage.uniform_filter1d``)
    to exceed the threshold; that is the default. ``average_window=1`` gives the plain definition.
    """
    from scipy.ndimage import uniform_filter1d

    j = _f64(joints)
    if j.ndim == 3:
        j = j[None]
    if j.ndim != 4 or j.shape[-1] != 3:
        raise ValueError(f"foot_skating_ratio expects (batch, frames, joints, 3) joints, got {tuple(j.shape)}")
    lengths = [j.shape[1]] * len(j) if lengths is None else [int(n) for n in lengths]
    if len(lengths) != len(j) or min(lengths) < 2 or max(lengths) > j.shape[1]:
        raise ValueError(f"foot_skating_ratio: lengths {lengths} do not fit joints of shape {tuple(j.shape)}")
    ratios = []
    for motion, length in zip(j.numpy(), lengths):
        foot = motion[:length, list(feet)]  # (frames, feet, 3)
        speed = np.linalg.norm(foot[1:, :, [0, 2]] - foot[:-1, :, [0, 2]], axis=-1) * fps
        height = foot[:, :, 1]
        grounded = (height[:-1] < height_threshold) & (height[1:] < height_threshold)
        skating = grounded & (speed > speed_threshold)
        if average_window > 1:
            mean_speed = uniform_filter1d(speed, size=average_window, axis=0, mode="constant", origin=0)
            skating &= mean_speed > speed_threshold
        ratios.append(skating.any(axis=1).mean())
    return float(np.mean(ratios))


# ------------------------------------------------------------------------------------------------
# accumulation across batches and DDP ranks
# ------------------------------------------------------------------------------------------------
class EmbeddingAccumulator:
    """Collects named tensors batch by batch; :meth:`gather` concatenates them over batches and ranks.

    Under ``torch.distributed`` (initialised, world size > 1) every rank must call :meth:`gather`
    for the same names in the same order; ranks may hold different numbers of rows. Otherwise the
    local rows are returned. Rows come back in rank order (rank 0's rows first).
    """

    def __init__(self) -> None:
        self._parts: dict[str, list[torch.Tensor]] = {}

    def update(self, **tensors: torch.Tensor) -> None:
        for name, value in tensors.items():
            self._parts.setdefault(name, []).append(value.detach())

    def reset(self) -> None:
        self._parts.clear()

    def __len__(self) -> int:
        """Number of local rows of the first name (0 when empty)."""
        for parts in self._parts.values():
            return sum(len(p) for p in parts)
        return 0

    def local(self, name: str) -> torch.Tensor:
        if not self._parts.get(name):
            raise KeyError(f"nothing accumulated under {name!r}")
        return torch.cat(self._parts[name])

    def gather(self, name: str) -> torch.Tensor:
        """All rows under ``name`` from every rank, concatenated (on this rank's device)."""
        local = self.local(name)
        dist = torch.distributed
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return local
        return _all_gather_rows(local)


def _all_gather_rows(local: torch.Tensor) -> torch.Tensor:
    """``all_gather`` of tensors whose first dimension differs between ranks (pad, gather, trim)."""
    dist = torch.distributed
    home = local.device
    # NCCL only moves CUDA tensors; the other backends are used here with CPU tensors.
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    x = local.to(device)
    world = dist.get_world_size()
    count = torch.tensor([len(x)], device=device, dtype=torch.long)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    sizes = [int(c) for c in counts]
    padded = x.new_zeros((max(sizes), *x.shape[1:]))
    padded[: len(x)] = x
    pieces = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(pieces, padded)
    return torch.cat([piece[:size] for piece, size in zip(pieces, sizes)]).to(home)


__all__ = [
    "FOOT_JOINTS", "gaussian_statistics", "frechet_distance", "fid", "euclidean_distance_matrix", "r_precision",
    "mm_dist", "diversity", "multimodality", "mean_and_interval", "mpjpe", "procrustes_align", "pa_mpjpe",
    "acceleration_error", "control_errors", "hint_acceleration_spike", "foot_skating_ratio", "EmbeddingAccumulator",
]
