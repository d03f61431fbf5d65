"""Corruptions of real motions, to check that the evaluator is not fooled by them.

Each function takes HumanML3D joints ``(frames, 22, 3)`` (metres, Y up, the joint order of
:mod:`motionlcm.motion.skeleton`; numpy or torch) and returns new joints of the same shape and
type; the input is never modified.

* :func:`freeze_legs` - the legs keep their first-frame offsets from the pelvis while the pelvis
  and the upper body move as before: the body glides on rigid legs;
* :func:`add_jitter` - i.i.d. Gaussian noise on every coordinate of every joint and frame;
* :func:`reverse_root` - the horizontal displacement of the whole body from frame 0 is negated:
  the body travels the mirror path of where it went (backwards for a forward walk), the pose and
  the facing are unchanged;
* :func:`swap_left_right` - the motion mirrored (:func:`motionlcm.motion.mirror.mirror_joints`:
  left and right joints swapped, X negated).

:func:`joints_to_evaluator_input` turns (corrupted) joints into what the evaluation feeds the
evaluator: raw 263-d features padded into a batch with their lengths. The evaluator applies its
own Mean/Std (:meth:`motionlcm.evaluation.runner.EvalEvaluator.embed_motion`, as the runner does
for ground-truth crops), so :func:`embed_joints` is that path end to end.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..errors import MotionLCMError
from ..motion.features import FEATURE_DIM, joints_to_features
from ..motion.mirror import mirror_joints
from ..motion.skeleton import JOINT_INDEX

# hips, knees, ankles and feet (both sides)
LEG_JOINTS = tuple(JOINT_INDEX[f"{side}_{part}"] for part in ("hip", "knee", "ankle", "foot") for side in ("left", "right"))
ROOT = JOINT_INDEX["pelvis"]
HORIZONTAL = (0, 2)  # X and Z; Y is up


def _as_array(joints) -> tuple[np.ndarray, Callable]:
    """float64 numpy copy of ``(frames, 22, 3)`` joints and a function giving results back in the input's type."""
    if isinstance(joints, torch.Tensor):
        array = joints.detach().cpu().numpy().astype(np.float64)
        like = joints

        def back(x: np.ndarray):
            return torch.as_tensor(x, dtype=like.dtype, device=like.device)
    else:
        original = np.asarray(joints)
        array = original.astype(np.float64)
        dtype = original.dtype if np.issubdtype(original.dtype, np.floating) else np.float64

        def back(x: np.ndarray):
            return x.astype(dtype)
    if array.ndim != 3 or array.shape[1:] != (22, 3):
        raise MotionLCMError(f"joints must have shape (frames, 22, 3), got {tuple(array.shape)}")
    if len(array) < 1:
        raise MotionLCMError("joints need at least one frame")
    return array, back


def freeze_legs(joints):
    """Legs (hips, knees, ankles, feet) keep their first-frame offset from the pelvis; the rest moves as before.

    ``out[t, leg] = joints[t, pelvis] + (joints[0, leg] - joints[0, pelvis])``: the offsets are
    fixed in the world frame, so the legs neither step nor turn while the root travels (a glide).
    """
    j, back = _as_array(joints)
    out = j.copy()
    legs = list(LEG_JOINTS)
    out[:, legs] = j[:, ROOT : ROOT + 1] + (j[0, legs] - j[0, ROOT])[None]
    return back(out)


def add_jitter(joints, std: float = 0.02, seed: int = 0):
    """Add i.i.d. ``N(0, std^2)`` noise (metres) to every coordinate of every joint and frame."""
    if not std >= 0:
        raise MotionLCMError(f"jitter std must be non-negative, got {std!r}")
    j, back = _as_array(joints)
    noise = np.random.default_rng(seed).normal(0.0, float(std), size=j.shape)
    return back(j + noise)


def reverse_root(joints):
    """Negate the root's horizontal displacement from frame 0, moving every joint with it.

    The pose (joints relative to the pelvis) and the facing are unchanged; the body travels the
    opposite way (``root_xz(t) -> 2 root_xz(0) - root_xz(t)``). Applying it twice is the identity.
    """
    j, back = _as_array(joints)
    out = j.copy()
    displacement = j[:, ROOT, HORIZONTAL] - j[0, ROOT, HORIZONTAL]  # (frames, 2)
    out[:, :, HORIZONTAL] -= 2.0 * displacement[:, None, :]
    return back(out)


def swap_left_right(joints):
    """Mirror the motion: left and right joints swapped and X negated (an involution)."""
    j, back = _as_array(joints)
    return back(np.asarray(mirror_joints(j)))


CORRUPTIONS: dict[str, Callable] = {
    "freeze_legs": freeze_legs,
    "jitter": add_jitter,
    "reverse_root": reverse_root,
    "swap_left_right": swap_left_right,
}


def joints_to_evaluator_input(clips: Sequence, retarget: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Joint clips (each ``(frames_i, 22, 3)``) -> raw features ``(B, T, 263)`` float32 and lengths ``(B,)``.

    Every clip goes through the dataset's processing (:func:`~motionlcm.motion.features.joints_to_features`:
    floor, origin, facing +Z, then the features, one frame fewer than the joints), and the batch is
    zero-padded as the runner's batches are. The features stay raw: the evaluator normalises them
    with its own Mean/Std. ``retarget=False`` (default) keeps the joints' bone lengths, right for
    clips recovered from dataset features (already on the dataset skeleton), so that a corruption
    reaches the evaluator unaltered.
    """
    features = [np.asarray(joints_to_features(torch.as_tensor(np.asarray(c, np.float64)), retarget=retarget))
                for c in clips]
    if not features:
        raise MotionLCMError("no motion to convert")
    lengths = np.array([len(f) for f in features], dtype=np.int64)
    batch = np.zeros((len(features), int(lengths.max()), FEATURE_DIM), np.float32)
    for row, f in enumerate(features):
        batch[row, : len(f)] = f
    return batch, lengths


def embed_joints(evaluator, clips: Sequence, batch_size: int = 32, retarget: bool = False) -> torch.Tensor:
    """Motion embeddings ``(B, dim)`` of joint clips by an evaluator of :func:`~motionlcm.evaluation.runner.load_eval_evaluator`
    (or a :class:`~motionlcm.models.evaluator.TrainedEvaluator`), in batches of ``batch_size``.

    A motion's embedding does not depend on its batch mates (padding is masked), so the clips are
    batched in order of length, which saves the padded frames; rows come back in the input order.
    """
    if not len(clips):
        raise MotionLCMError("no motion to embed")
    order = np.argsort([len(c) for c in clips], kind="stable")
    parts = []
    for i in range(0, len(order), batch_size):
        features, lengths = joints_to_evaluator_input([clips[j] for j in order[i : i + batch_size]], retarget=retarget)
        parts.append(evaluator.embed_motion(features, lengths).float().cpu())
    embeddings = torch.empty_like(torch.cat(parts))
    embeddings[torch.as_tensor(order)] = torch.cat(parts)
    return embeddings


__all__ = [
    "LEG_JOINTS", "freeze_legs", "add_jitter", "reverse_root", "swap_left_right", "CORRUPTIONS",
    "joints_to_evaluator_input", "embed_joints",
]
