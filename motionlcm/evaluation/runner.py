"""Text-to-motion evaluation on a HumanML3D-layout test split (REFERENCE.md section 3).

:func:`evaluate_text_to_motion` runs the protocol of Guo et al. / MLD / MotionLCM for one or several
methods in one pass:

* every replication (20 in the protocol) shuffles the test samples with its own fixed seed and, per
  sample, draws one of its captions, rounds its length to a multiple of 4 (MotionLCM's rule: floor
  with probability 2/3, else one unit less) and draws a crop of that length - the reference test
  loader, made reproducible;
* batches of 32 are generated (per-sample seeds, so a motion does not depend on its batch mates) and
  the captions, the ground-truth crops and the generated motions are embedded by the evaluator;
* per replication: R-precision top-1/2/3 (groups of 32 in shuffled order: the batches), MM-Dist (on
  the pairs that R-precision uses), FID (generated vs ground-truth embeddings of that replication),
  Diversity (300 pairs) and, for sampling methods, MultiModality in a separate pass (100 captions x 30
  generations, 10 pairs); reconstruction methods also get MPJPE (root-aligned), PA-MPJPE and the
  acceleration error in millimetres;
* each number is reported as mean and 95% half-interval over the replications
  (:func:`~motionlcm.evaluation.metrics.mean_and_interval`); AITS is the pipeline's text + denoise +
  decode time per sentence at the test batch size, averaged over full batches after a warm-up call.

Small test sets (fewer than 32 samples, e.g. the test fixtures) are handled by shrinking the groups:
R-precision uses groups of ``min(32, N)``, Diversity ``min(300, N)`` pairs, MultiModality
``min(100, N)`` captions and ``min(10, repeats)`` pairs. The effective values are in the settings.

Methods: ``"gt"`` (the real crops: the reference row), a :class:`VAEReconstruction` (encode + decode
the real crop with a checkpoint's VAE, using the latent mean), or a :class:`~motionlcm.pipeline.MotionPipeline`
at given steps / guidance (:class:`PipelineGenerator`).

Evaluators (:func:`load_eval_evaluator`): a folder exported by the ``evaluator`` training stage, or a
folder with the official evaluator's files (recognised by its ``t2m/`` / ``glove/`` layout). Both take
raw (un-normalised) features and apply their own Mean/Std, which is the renormalisation from the
dataset's statistics to the evaluator's; the official one reads the captions' ``word/POS`` tokens
(the rule-based tagger only for captions without tokens).
"""
from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.humanml3d import MAX_MOTION_LENGTH, Caption, HumanML3DDataset, MotionSample
from ..errors import MotionLCMError
from ..motion.features import FEATURE_DIM
from . import metrics as M
from .joint_quality import joint_quality

GROUP_SIZE = 32  # R-precision candidates (and the test batch size of the protocol)
UNIT_LENGTH = 4  # lengths are multiples of the evaluator's movement unit
QUICK_SETTINGS = {"replications": 2, "mm_captions": 10, "mm_repeats": 5}
TABLE_COLUMNS = ("R@1", "R@2", "R@3", "FID", "MM-Dist", "Diversity", "MModality", "AITS")
RECONSTRUCTION_COLUMNS = ("MPJPE", "PA-MPJPE", "AccelErr")
# Read off the joints, no learned model (joint_quality.py); every row gets them
PROMPT_OVERALL, PROMPT_MOTIONS, PROMPT_FAMILY = "prompt_ok", "prompt_ok_motions", "prompt_ok/"  # rule-based checks
# The same checks judged against every metadata parameter at the metadata's timing (only sides the
# caption leaves open are open): the definition of releases before corpus 1.2, kept for comparison.
PROMPT_STRICT = "prompt_ok_strict"
PHYSICS_COLUMNS = ("jitter", "bone_std_cm", "foot_lifts_per_s", "foot_skating", "penetration_cm", "floating_cm")
# OmniControl / MotionLCM control columns (errors over the controlled points; skating over all frames)
CONTROL_COLUMNS = ("traj_err_50cm", "loc_err_50cm", "avg_err", "max_err", "skating", "accel_spike")
RESULTS_JSON, RESULTS_MD = "results.json", "results.md"
AITS_PARTS = ("text", "denoise", "decode", "tuning")  # tuning: consistency latent tuning, when used


# ------------------------------------------------------------------------------------------------
# evaluators
# ------------------------------------------------------------------------------------------------
class EvalEvaluator:
    """One interface over the trainable and the official evaluator: captions and raw features in."""

    def __init__(self, model, kind: str, path: Path) -> None:
        self.model, self.kind, self.path = model, kind, path

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(torch.as_tensor(self.model.mean).cpu(), np.float32)

    @property
    def std(self) -> np.ndarray:
        return np.asarray(torch.as_tensor(self.model.std).cpu(), np.float32)

    @property
    def max_frames(self) -> int | None:
        config = getattr(getattr(self.model, "model", None), "config", None)
        return int(config.max_frames) if config is not None else None  # the official one pads to any length

    def embed_captions(self, captions: Sequence[Caption]) -> torch.Tensor:
        if self.kind == "official":  # the dataset's word/POS tokens; the tagger only when a line has none
            return self.model.embed_text([c.tokens if c.tokens else c.text for c in captions]).float().cpu()
        return self.model.embed_text([c.text for c in captions]).float().cpu()

    def embed_motion(self, features: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
        return self.model.embed_motion(torch.as_tensor(features), torch.as_tensor(lengths)).float().cpu()


def is_official_evaluator_dir(path: str | Path) -> bool:
    """The official evaluator's layout (``t2m/`` or ``glove/`` beside it), not an exported checkpoint."""
    path = Path(path)
    return not (path / "config.yaml").is_file() and ((path / "t2m").is_dir() or (path / "glove").is_dir())


def load_eval_evaluator(path: str | Path, device: torch.device | str = "cpu") -> EvalEvaluator:
    """Load an exported trainable evaluator or the official one, and check its feature size."""
    if path is None or str(path).strip() in ("", "None", "null"):
        raise MotionLCMError("no evaluator given: pass evaluator=DIR (an exported evaluator, or the official t2m/glove files)")
    path = Path(path)
    if not path.is_dir():
        raise MotionLCMError(f"evaluator folder not found: {path}")
    if is_official_evaluator_dir(path):
        from ..models.t2m_evaluator import load_official_evaluator

        evaluator = EvalEvaluator(load_official_evaluator(path, device), "official", path)
    elif (path / "config.yaml").is_file():
        from ..models.evaluator import load_evaluator

        evaluator = EvalEvaluator(load_evaluator(path, device), "trained", path)
    else:
        raise MotionLCMError(f"{path}: not an evaluator (expected config.yaml of an exported evaluator, "
                             "or the official evaluator's t2m/ and glove/ folders)")
    check_evaluator_fits(evaluator)
    return evaluator


def check_evaluator_fits(evaluator: EvalEvaluator) -> None:
    """The evaluator must read 263-d features with a usable normalisation and HumanML3D's lengths."""
    mean, std = evaluator.mean, evaluator.std
    if mean.shape != (FEATURE_DIM,) or std.shape != (FEATURE_DIM,):
        raise MotionLCMError(f"{evaluator.path}: evaluator normalisation has shape {mean.shape} / {std.shape}, "
                             f"but the motions have {FEATURE_DIM} features")
    if not (np.isfinite(mean).all() and np.isfinite(std).all()) or (std <= 0).any():
        raise MotionLCMError(f"{evaluator.path}: evaluator Mean/Std hold NaN, Inf or non-positive std entries")
    if evaluator.max_frames is not None and evaluator.max_frames < MAX_MOTION_LENGTH:
        raise MotionLCMError(f"{evaluator.path}: evaluator reads at most {evaluator.max_frames} frames; "
                             f"test motions have up to {MAX_MOTION_LENGTH}")


def statistics_warning(evaluator: EvalEvaluator, dataset_mean: np.ndarray, dataset_std: np.ndarray) -> str | None:
    """A trainable evaluator trained on other data gives numbers that mean little here: say so."""
    if evaluator.kind != "trained":
        return None
    if np.allclose(evaluator.mean, dataset_mean, rtol=1e-3, atol=1e-4) and np.allclose(evaluator.std, dataset_std, rtol=1e-3, atol=1e-4):
        return None
    return (f"the evaluator's Mean/Std ({evaluator.path}) differ from the dataset's: it was trained on other data, "
            "so its numbers are not comparable with numbers from evaluators trained on this dataset")


# ------------------------------------------------------------------------------------------------
# what each replication evaluates
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalItem:
    """One test pair of a replication: a sample, one of its captions and a crop."""

    sample: int
    caption: Caption
    start: int
    length: int


@dataclass
class EvalBatch:
    captions: list[Caption]
    lengths: np.ndarray  # (B,) int
    motion: np.ndarray  # (B, T, 263) raw features, zero past each length
    seeds: list[int]

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.captions]

    def __len__(self) -> int:
        return len(self.captions)


def _rng(seed: int, replication: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng([seed, replication, purpose])


def evaluation_length(frames: int, rng: np.random.Generator) -> int:
    """MotionLCM's test-time rounding: up to 196 frames, floored to 4 (2/3) or one unit less (1/3)."""
    frames = min(frames, MAX_MOTION_LENGTH)
    units = frames // UNIT_LENGTH - (1 if int(rng.integers(3)) == 2 else 0)
    return max(units, 1) * UNIT_LENGTH


def plan_replication(samples: Sequence[MotionSample], seed: int, replication: int,
                     max_samples: int | None = None) -> list[EvalItem]:
    """The shuffled (caption, crop) pairs of one replication; the same for every method."""
    rng = _rng(seed, replication, 0)
    order = rng.permutation(len(samples))
    if max_samples is not None:
        order = order[:max_samples]
    items = []
    for index in order:
        sample = samples[int(index)]
        caption = sample.captions[int(rng.integers(len(sample.captions)))]
        length = evaluation_length(sample.length, rng)
        start = int(rng.integers(sample.length - length + 1))
        items.append(EvalItem(int(index), caption, start, length))
    return items


def sample_seeds(seed: int, replication: int, purpose: int, count: int) -> list[int]:
    """Per-sample generation seeds (uint32), fixed by (seed, replication, pass)."""
    return [int(s) for s in np.random.SeedSequence([seed, replication, purpose]).generate_state(count)]


def make_batch(samples: Sequence[MotionSample], items: Sequence[EvalItem], seeds: Sequence[int]) -> EvalBatch:
    lengths = np.array([it.length for it in items])
    motion = np.zeros((len(items), int(lengths.max()), FEATURE_DIM), np.float32)
    for row, it in enumerate(items):
        motion[row, : it.length] = samples[it.sample].motion[it.start : it.start + it.length]
    return EvalBatch([it.caption for it in items], lengths, motion, list(seeds))


def frame_mask(lengths, frames: int) -> torch.Tensor:
    """(B, frames) True on each crop's valid frames."""
    return torch.arange(frames)[None] < torch.as_tensor(np.asarray(lengths))[:, None]


def crop_joints(features: np.ndarray, mask: torch.Tensor) -> torch.Tensor:
    """Joints (B, T, 22, 3) in float64 of padded raw feature crops."""
    from ..motion.features import features_to_joints

    return features_to_joints(torch.as_tensor(features, dtype=torch.float64), mask)


def _chunks(values: Sequence, size: int) -> list:
    return [values[i : i + size] for i in range(0, len(values), size)]


# ------------------------------------------------------------------------------------------------
# generators
# ------------------------------------------------------------------------------------------------
@dataclass
class Generated:
    features: np.ndarray  # (B, T, 263) raw
    timings: dict[str, float] | None = None
    control: dict[str, float] | None = None  # control errors of this batch (controlled generators only)


class GroundTruth:
    """The real crops themselves: the reference row of the table."""

    default_name = "GT"
    samples_motion = False  # no MultiModality: one motion per caption
    reconstructs = False

    def generate(self, batch: EvalBatch) -> Generated:
        return Generated(batch.motion)


class VAEReconstruction:
    """Encode + decode the real crop with a checkpoint's VAE (latent mean, so it is deterministic)."""

    default_name = "VAE"
    samples_motion = False
    reconstructs = True

    def __init__(self, vae, mean: np.ndarray, std: np.ndarray, device: torch.device, source: str = "") -> None:
        self.vae, self.device, self.source = vae.to(device).eval(), device, source
        self.mean = torch.as_tensor(np.asarray(mean, np.float32), device=device)
        self.std = torch.as_tensor(np.asarray(std, np.float32), device=device)
        if vae.config.feature_dim != FEATURE_DIM or vae.config.max_frames < MAX_MOTION_LENGTH:
            raise MotionLCMError(f"{source}: the VAE reads {vae.config.feature_dim}-d features up to {vae.config.max_frames} "
                                 f"frames; the evaluation needs {FEATURE_DIM}-d and {MAX_MOTION_LENGTH} frames")

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: torch.device | str = "cpu") -> VAEReconstruction:
        from ..checkpoint import build_vae, load_checkpoint

        ckpt = load_checkpoint(path, expected_kinds=("vae", "mld", "lcm", "control"))
        return cls(build_vae(ckpt), ckpt.mean, ckpt.std, torch.device(device), str(path))

    @torch.no_grad()
    def generate(self, batch: EvalBatch) -> Generated:
        x = torch.as_tensor(batch.motion, device=self.device)
        mask = torch.arange(x.shape[1], device=self.device)[None] < torch.as_tensor(batch.lengths, device=self.device)[:, None]
        normalised = ((x - self.mean) / self.std).masked_fill(~mask[..., None], 0.0)
        z, _ = self.vae.encode(normalised, mask, sample=False)
        features = (self.vae.decode(z, mask) * self.std + self.mean).masked_fill(~mask[..., None], 0.0)
        return Generated(features.cpu().numpy())


def crop_hints(batch: EvalBatch, joints, density) -> tuple[torch.Tensor, torch.Tensor]:
    """The control protocol's hints: each crop's own joints at ``density`` of its frames.

    The frames are drawn from the batch's first seed, so every method of a replication (generators
    and the VAE's reconstruction alike) is scored on the same points.
    """
    from ..control.hints import batch_hint_masks, hints_from_joints

    lengths = [int(n) for n in batch.lengths]
    truth = crop_joints(batch.motion, frame_mask(lengths, batch.motion.shape[1])).float()
    frames = torch.Generator().manual_seed(int(batch.seeds[0]))
    hint_mask = batch_hint_masks(lengths, truth.shape[1], joints, density, generator=frames)
    return hints_from_joints(truth, hint_mask), hint_mask


def control_and_skating(joints, hints: torch.Tensor, hint_mask: torch.Tensor, lengths: list[int]) -> dict[str, float]:
    errors = M.control_errors(joints, hints, hint_mask)
    errors["skating"] = M.foot_skating_ratio(joints, lengths=lengths)
    errors["accel_spike"] = M.hint_acceleration_spike(joints, hint_mask, lengths=lengths)
    return errors


def control_points(joints, density) -> tuple[tuple[int, ...], str]:
    """The joint indices and the row label of a control method; a bad joint set or density fails here."""
    from ..control.hints import parse_density, parse_joint_set

    indices = parse_joint_set(joints)
    parse_density(density)
    return indices, joints if isinstance(joints, str) else ",".join(str(j) for j in indices)


class ControlledReconstruction:
    """A VAE's reconstruction scored like a controlled method: the floor of latent-space control.

    A generator that hits the true latent exactly still shows these errors, since every controlled
    motion is decoded by the same VAE; the row says how much of a ControlNet's error is the VAE's.
    Wraps one loaded :class:`VAEReconstruction`, shared by the rows of several densities.
    """

    default_name = "VAE"
    samples_motion = False
    reconstructs = True

    def __init__(self, reconstruction: VAEReconstruction, joints="pelvis", density: str | int = "100%") -> None:
        self.reconstruction, self.density = reconstruction, density
        self.joints, self.joint_label = control_points(joints, density)

    @property
    def variant(self) -> str:
        return f"{self.joint_label} {self.density}"

    def generate(self, batch: EvalBatch) -> Generated:
        out = self.reconstruction.generate(batch)
        lengths = [int(n) for n in batch.lengths]
        hints, hint_mask = crop_hints(batch, self.joints, self.density)
        joints = crop_joints(out.features, frame_mask(lengths, out.features.shape[1])).float()
        return Generated(out.features, out.timings, control_and_skating(joints, hints, hint_mask, lengths))

    def describe(self) -> dict[str, Any]:
        return {"checkpoint": self.reconstruction.source, "control": {"joints": list(self.joints), "density": self.density}}


def exported_features(joints: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """Raw features (B, T, 263) recomputed from joints (B, T, 22, 3) put on the export rig, as the
    BVH / NPZ / GLB exports show them (:func:`motionlcm.body.smpl_pose.fit_rig`); zero past each length.

    Exact control corrects motions on the rig and recomputes their features, so these are the
    features to compare it with: a model's own features are not quite those of its own joints.
    """
    from ..body.smpl_pose import fit_rig
    from ..motion.features import framewise_features

    joints = np.asarray(joints, dtype=np.float64)
    out = np.zeros(joints.shape[:2] + (FEATURE_DIM,), np.float32)
    for i, n in enumerate(int(n) for n in lengths):
        if n < 2:
            raise MotionLCMError(f"exported features need at least 2 frames per motion, got {n}")
        _, rigged = fit_rig(joints[i, :n])
        out[i, :n] = framewise_features(torch.as_tensor(rigged), retarget=False).numpy()
    return out


FEATURE_SOURCES = ("model", "exported")  # a sampled row's features: the model's own, or those of its exported joints


def check_feature_source(features) -> str:
    if features not in FEATURE_SOURCES:
        raise MotionLCMError(f"method features must be one of {', '.join(FEATURE_SOURCES)}, got {features!r}")
    return features


class PipelineGenerator:
    """A :class:`~motionlcm.pipeline.MotionPipeline` at fixed steps and guidance.

    ``features``: ``"model"`` scores the features the model decoded; ``"exported"`` those recomputed
    from its joints on the export rig (:func:`exported_features`), the reference for exact control.
    """

    samples_motion = True
    reconstructs = False

    def __init__(self, pipe, steps: int | None = None, guidance: float | None = None, features: str = "model") -> None:
        self.features = check_feature_source(features)
        self.pipe = pipe
        self.steps = int(steps or pipe.default_steps)
        self.guidance = None if guidance is None else float(guidance)

    @property
    def _features_label(self) -> str:
        return " exported" if self.features == "exported" else ""

    def _scored_features(self, out, lengths) -> np.ndarray:
        """The features this row is scored on (the model's, or those of its exported joints)."""
        return exported_features(out.joints, lengths) if self.features == "exported" else out.features

    @property
    def default_name(self) -> str:
        sampler = getattr(self.pipe, "sampler_kind", self.pipe.kind)  # a control checkpoint samples as its base
        family = "MotionLCM" if sampler == "lcm" else "MLD"
        if self.pipe.kind == "control":
            family += "-Control"
        return f"{family}-{self.variant}"

    @property
    def variant(self) -> str:
        """What tells this generator from the checkpoint's other rows (appended to a method's name)."""
        return str(self.steps) + self._features_label

    def generate(self, batch: EvalBatch) -> Generated:
        out = self.pipe(batch.texts, [int(n) for n in batch.lengths], num_steps=self.steps, guidance=self.guidance,
                        seed=batch.seeds)
        return Generated(self._scored_features(out, batch.lengths), dict(out.timings))

    def describe(self) -> dict[str, Any]:
        return {"checkpoint": str(self.pipe.name), "kind": self.pipe.kind, "steps": self.steps,
                "guidance": self.pipe.guidance_for(self.steps) if self.guidance is None else self.guidance,
                "features": self.features}


class ControlledGenerator(PipelineGenerator):
    """Spatial control from each test crop's own joints (OmniControl / MotionLCM protocol).

    The hints are the ground-truth positions of ``joints`` at ``density`` (``"100%"``, ``"25%"`` or a
    frame count) of each crop's frames, every joint of the set at once; the frames are drawn from the
    batch's first seed, so every method of a replication gets the same hints. The motion is sampled
    through the checkpoint's ControlNet (when it has one) and/or ``tune_steps`` of consistency latent
    tuning; the control errors and the foot skating ratio are measured on the recovered joints.
    """

    samples_motion = False  # no MultiModality pass: the control tables of OmniControl / MotionLCM do not report it

    def __init__(self, pipe, steps: int | None = None, guidance: float | None = None, joints="pelvis",
                 density: str | int = "100%", tune_steps: int = 0, exact: bool = True, refine: bool = True,
                 features: str = "model", companion: bool = True, smooth: bool = True,
                 candidates: int | None = None) -> None:
        from ..inputs import check_count
        from ..pipeline import MAX_HINT_CANDIDATES

        super().__init__(pipe, steps, guidance, features)
        self.refine, self.companion, self.smooth = bool(refine), bool(companion), bool(smooth)
        # None: the pipeline's default (HINT_CANDIDATES); a number is passed on as asked, 1 included
        self.candidates = None if candidates is None else check_count(candidates, "Hint candidates", MAX_HINT_CANDIDATES)
        # a bad joint set or density fails before any replication runs
        self.joints, self.joint_label = control_points(joints, density)
        self.density, self.tune_steps, self.exact = density, int(tune_steps), bool(exact)
        self.controlnet_used: str | None = None  # the ControlNet the last batch sampled through
        if pipe.controlnet is None and self.tune_steps == 0 and not self.exact and not (
                self.companion and frozenset(self.joints) in (getattr(pipe, "companions", None) or {})):
            raise MotionLCMError(f"{pipe.name}: a controlled method needs a control checkpoint, tune_steps > 0 or exact hints")
        if self.tune_steps and pipe.sampler_kind != "lcm":
            raise MotionLCMError(f"{pipe.name}: latent tuning needs an LCM-family checkpoint")

    @property
    def variant(self) -> str:
        tuned = f" +LT{self.tune_steps}" if self.tune_steps else ""
        exact = " +exact" if self.exact else ""
        refined = " -refine" if self.exact and not self.refine else ""
        alone = " -controlnet" if not self.companion and getattr(self.pipe, "companions", None) else ""
        rough = " -smooth" if self.exact and not self.smooth else ""
        best = "" if self.candidates is None else (f" best-of-{self.candidates}" if self.candidates > 1 else " one candidate")
        return (f"{self.steps} {self.joint_label} {self.density}{tuned}{exact}{refined}{alone}{rough}{best}"
                f"{self._features_label}")

    def generate(self, batch: EvalBatch) -> Generated:
        lengths = [int(n) for n in batch.lengths]
        hints, hint_mask = crop_hints(batch, self.joints, self.density)
        out = self.pipe(batch.texts, lengths, num_steps=self.steps, guidance=self.guidance, seed=batch.seeds,
                        control=(hints.numpy(), hint_mask.numpy()), latent_tuning_steps=self.tune_steps,
                        exact_hints=self.exact, hint_refinement=self.refine,
                        **({} if self.companion else {"companion_controlnet": False}),
                        **({} if self.smooth else {"hint_smoothing": False}),
                        **({} if self.candidates is None else {"hint_candidates": self.candidates}))
        self.controlnet_used = getattr(out, "controlnet", None)
        return Generated(self._scored_features(out, lengths), dict(out.timings),
                         control_and_skating(out.joints, hints, hint_mask, lengths))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "control": {"joints": list(self.joints), "density": self.density},
                "tune_steps": self.tune_steps, "exact_hints": self.exact, "hint_refinement": self.refine,
                "controlnet": self.controlnet_used, "hint_smoothing": self.smooth,
                "hint_candidates": self._effective_candidates}

    @property
    def _effective_candidates(self) -> int:
        from ..pipeline import HINT_CANDIDATES

        return HINT_CANDIDATES if self.candidates is None else self.candidates


@dataclass
class Method:
    name: str
    generator: Any  # GroundTruth | VAEReconstruction | PipelineGenerator (anything with .generate(batch))

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "type": type(self.generator).__name__}
        if hasattr(self.generator, "describe"):
            info.update(self.generator.describe())
        elif getattr(self.generator, "source", ""):
            info["checkpoint"] = self.generator.source
        return info


def _as_generator(generator, steps, guidance):
    from ..pipeline import MotionPipeline

    if isinstance(generator, MotionPipeline):
        return PipelineGenerator(generator, steps, guidance)
    if not hasattr(generator, "generate"):
        raise MotionLCMError(f"not a generator: {generator!r} (use 'gt', 'vae', 'ckpt', a MotionPipeline or a Method)")
    return generator


def resolve_methods(methods, ckpt: str | Path | None = None, vae: str | Path | None = None,
                    steps: int | Sequence[int] | None = None, guidance: float | None = None,
                    device: torch.device | str = "cpu") -> list[Method]:
    """Turn method specs into :class:`Method` objects.

    A spec is ``"gt"``; ``"vae"`` (the VAE of ``vae``, else of ``ckpt``); ``"ckpt"`` (``ckpt`` sampled at
    each of ``steps``); a mapping ``{ckpt: DIR, steps: int | list, guidance: x, name: str}`` (plus
    ``control`` / ``tune_steps`` for control rows); ``{vae: DIR, control: {...}}`` (the VAE's
    reconstruction, scored on the control points: the floor of latent-space control); a tuple
    ``(name, generator, steps, guidance)``; a MotionPipeline; or a generator / :class:`Method` object.
    """
    if isinstance(methods, (str, tuple, dict, Method)) or hasattr(methods, "generate") or not isinstance(methods, Sequence):
        methods = [methods]
    pipes: dict[str, Any] = {}  # load each checkpoint once, even for several step counts

    def pipeline(path) -> Any:
        from ..pipeline import MotionPipeline

        key = str(path)
        if key not in pipes:
            pipes[key] = MotionPipeline.from_pretrained(path, device=device)
        return pipes[key]

    def sampled(path, step_list, scale, name=None, control=None, tune_steps=None, exact=True, refine=True,
                features="model", companion=True, smooth=True, candidates=None) -> list[Method]:
        if path is None:
            raise MotionLCMError("the 'ckpt' method needs a generator checkpoint: ckpt=DIR (an mld or lcm export)")
        check_feature_source(features)  # before the checkpoint loads
        pipe, counts = pipeline(path), _step_list(step_list)
        if control is None and tune_steps is None:
            generators = [PipelineGenerator(pipe, n, scale, features) for n in counts]
        else:
            generators = [ControlledGenerator(pipe, n, scale, joints, density, tune, exact, refine, features, companion,
                                              smooth, candidates)
                          for joints, density, tune in _control_variants(control, tune_steps) for n in counts]
        if not name:
            return [Method(g.default_name, g) for g in generators]
        if len(generators) == 1:
            return [Method(str(name), generators[0])]
        return [Method(f"{name}-{g.variant}", g) for g in generators]

    def reconstructed(spec: dict[str, Any]) -> list[Method]:
        """``{vae: DIR, name: str, control: {...}}``: the VAE's reconstruction, scored as control if asked."""
        clashing = sorted(set(spec) & {"ckpt", "steps", "guidance", "tune_steps", "features"})
        if clashing:
            raise MotionLCMError(f"method {spec}: a 'vae' method reconstructs, it takes no {', '.join(clashing)}")
        name, reconstruction = str(spec.get("name") or "VAE"), VAEReconstruction.from_checkpoint(spec["vae"], device)
        if spec.get("control") is None:
            return [Method(name, reconstruction)]
        rows = [ControlledReconstruction(reconstruction, joints, density)
                for joints, density, _ in _control_variants(spec["control"], None)]
        return [Method(f"{name} {g.variant}", g) for g in rows]

    resolved: list[Method] = []
    for spec in methods:
        if isinstance(spec, Method):
            resolved.append(spec)
        elif isinstance(spec, str):
            key = spec.strip().lower()
            if key == "gt":
                resolved.append(Method("GT", GroundTruth()))
            elif key == "vae":
                source = vae or ckpt
                if source is None:
                    raise MotionLCMError("the 'vae' method needs a checkpoint with a VAE: vae=DIR or ckpt=DIR")
                resolved.append(Method("VAE", VAEReconstruction.from_checkpoint(source, device)))
            elif key == "ckpt":
                resolved.extend(sampled(ckpt, steps, guidance))
            else:
                raise MotionLCMError(f"unknown method {spec!r}; use gt, vae, ckpt or {{ckpt: DIR, steps: N}}")
        elif isinstance(spec, dict) or hasattr(spec, "keys"):
            spec = dict(spec)
            unknown = sorted(set(spec) - set(METHOD_KEYS))
            if unknown:
                raise MotionLCMError(f"method {spec}: unknown key(s) {unknown}; use {', '.join(METHOD_KEYS)}")
            flags = {key: spec[key] for key in ("exact", "refine", "controlnet", "smooth")
                     if key in spec and not isinstance(spec[key], bool)}
            if flags:
                raise MotionLCMError(f"method {spec}: {', '.join(flags)} must be true or false, got {list(flags.values())}")
            if "vae" in spec:
                resolved.extend(reconstructed(spec))
            else:
                resolved.extend(sampled(spec.get("ckpt"), spec.get("steps"), spec.get("guidance"), spec.get("name"),
                                        spec.get("control"), spec.get("tune_steps"), spec.get("exact", True),
                                        spec.get("refine", True), spec.get("features", "model"),
                                        spec.get("controlnet", True), spec.get("smooth", True), spec.get("candidates")))
        elif isinstance(spec, tuple):
            if len(spec) != 4:
                raise MotionLCMError(f"method tuple {spec!r}: expected (name, generator, steps, guidance)")
            name, generator, n, scale = spec
            generator = _as_generator(generator, n, scale)
            resolved.append(Method(str(name or generator.default_name), generator))
        else:
            generator = _as_generator(spec, steps if isinstance(steps, int) else None, guidance)
            resolved.append(Method(generator.default_name, generator))
    if not resolved:
        raise MotionLCMError("no method to evaluate")
    names = [m.name for m in resolved]
    if len(set(names)) != len(names):
        raise MotionLCMError(f"method names must be unique, got {names}")
    return resolved


METHOD_KEYS = ("name", "ckpt", "vae", "steps", "guidance", "control", "tune_steps", "exact", "refine", "features",
               "controlnet", "smooth", "candidates")


def _as_list(value) -> list:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def _control_variants(control, tune_steps) -> list[tuple[Any, Any, int]]:
    """(joints, density, tune_steps) for every density x tuning-step combination of a method spec.

    ``control``: ``{joints: pelvis | all | [names], density: "100%" | 5 | [...]}`` (default pelvis, 100%);
    ``tune_steps``: N or a list (default 0).
    """
    control = dict(control or {})
    unknown = sorted(set(control) - {"joints", "density"})
    if unknown:
        raise MotionLCMError(f"control {control}: unknown key(s) {unknown}; use joints, density")
    joints = control.get("joints", "pelvis")
    tunes = _as_list(0 if tune_steps is None else tune_steps)
    for tune in tunes:
        if not isinstance(tune, (int, np.integer)) or isinstance(tune, bool) or tune < 0:
            raise MotionLCMError(f"tune_steps must be integers >= 0, got {tune_steps!r}")
    return [(joints, density, int(tune)) for density in _as_list(control.get("density", "100%")) for tune in tunes]


def _step_list(steps) -> list[int | None]:
    if steps is None:
        return [None]
    values = [steps] if isinstance(steps, (int, np.integer)) else list(steps)
    if not values or any(not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1 for v in values):
        raise MotionLCMError(f"steps must be a positive integer or a list of them, got {steps!r}")
    return [int(v) for v in values]


# ------------------------------------------------------------------------------------------------
# metrics of one replication
# ------------------------------------------------------------------------------------------------
def embedding_metrics(text: torch.Tensor, real: torch.Tensor, generated: torch.Tensor, group_size: int,
                      diversity_pairs: int, generator: torch.Generator) -> dict[str, float]:
    """R@1..3, MM-Dist (the pairs R-precision uses), FID (generated vs real) and Diversity."""
    r = M.r_precision(text, generated, group_size=group_size)
    used = (len(text) // group_size) * group_size
    return {"R@1": float(r[0]), "R@2": float(r[1]), "R@3": float(r[2]),
            "FID": max(M.fid(generated, real), 0.0),  # identical sets give round-off like -1e-15
            "MM-Dist": M.mm_dist(text[:used], generated[:used]),
            "Diversity": M.diversity(generated, diversity_pairs, generator=generator)}


def crop_actions(actions: Sequence[dict[str, Any]], start: int, length: int, keep: float = 0.75) -> list[dict[str, Any]] | None:
    """The synth actions seen by a crop ``[start, start + length)`` of a motion's feature frames,
    with their frame counts cut to the crop; ``None`` when an action the crop cuts keeps less than
    ``keep`` of its frames (its counts and angles would no longer be what the caption says)."""
    cropped, begin = [], 0
    for action in actions:
        end = begin + int(action["frames"])
        overlap = min(end, start + length) - max(begin, start)
        if overlap > 0:
            if overlap < keep * int(action["frames"]):
                return None
            cropped.append({**action, "frames": overlap})
        begin = end
    return cropped or None


class PromptChecker:
    """Rule-based prompt following (``prompt_checks.py``) of a replication's clips, for datasets made
    by ``motionlcm data synth`` (their ``synth_meta.json`` says what each motion does)."""

    def __init__(self, samples: Sequence[MotionSample], meta: dict[str, dict]) -> None:
        self.samples, self.meta = samples, meta

    @classmethod
    def for_dataset(cls, root: str | Path, samples: Sequence[MotionSample]) -> "PromptChecker | None":
        from .prompt_checks import load_synth_meta

        if not (Path(root) / "synth_meta.json").is_file():
            return None  # HumanML3D: no action labels
        meta = load_synth_meta(root)
        if any(s.name.split("#")[0] not in meta for s in samples):
            return None
        return cls(samples, meta)

    def __call__(self, items: Sequence[EvalItem], clips: Sequence[np.ndarray]) -> dict[str, float]:
        from .prompt_checks import caption_actions, prompt_following, sideless_of, unstated_of

        motions, metas, strict = [], [], []
        for item, clip in zip(items, clips):
            meta = self.meta[self.samples[item.sample].name.split("#")[0]]
            # Judged against what the drawn caption says: sides, counts and heights it leaves open
            # count either way, and its actions' order counts, not the metadata's exact timing.
            sideless, unstated = sideless_of(meta, item.caption.text), unstated_of(meta, item.caption.text)
            actions = crop_actions(caption_actions(meta["actions"], sideless, unstated), item.start, item.length)
            if actions is not None:
                motions.append(clip)
                metas.append({"actions": actions})
                strict.append({"actions": crop_actions(caption_actions(meta["actions"], sideless), item.start, item.length)})
        if not motions:
            return {}
        result = prompt_following(motions, metas)
        values = {PROMPT_OVERALL: result["overall"], PROMPT_MOTIONS: result["motions"]}
        values.update({PROMPT_FAMILY + family: rate for family, rate in result["families"].items()})
        values[PROMPT_STRICT] = prompt_following(motions, strict, boundary_slack=0.0)["overall"]
        return values


@dataclass
class ReconstructionTally:
    """Frame-weighted sums of the reconstruction errors over the batches of a replication."""

    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(RECONSTRUCTION_COLUMNS, 0.0))
    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(RECONSTRUCTION_COLUMNS, 0.0))

    def add(self, real: np.ndarray, recon: np.ndarray, lengths: np.ndarray) -> None:
        mask = frame_mask(lengths, real.shape[1])
        target, pred = crop_joints(real, mask), crop_joints(recon, mask)
        frames = float(mask.sum())
        accel_frames = float(np.clip(np.asarray(lengths) - 2, 0, None).sum())
        self._add("MPJPE", M.mpjpe(pred, target, mask) * 1000.0, frames)  # metres -> mm
        self._add("PA-MPJPE", M.pa_mpjpe(pred, target, mask) * 1000.0, frames)
        if accel_frames:
            self._add("AccelErr", M.acceleration_error(pred, target, mask) * 1000.0, accel_frames)  # mm / frame^2

    def _add(self, name: str, value: float, weight: float) -> None:
        self.sums[name] += value * weight
        self.counts[name] += weight

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in RECONSTRUCTION_COLUMNS if self.counts[k]}


@dataclass
class MethodRun:
    """What one method accumulates over the replications."""

    method: Method
    values: dict[str, list] = field(default_factory=dict)
    per_sentence: list[dict[str, float]] = field(default_factory=list)  # pipeline timings / batch size
    full_batch: list[bool] = field(default_factory=list)
    seconds: float = 0.0

    def record(self, name: str, value: float) -> None:
        self.values.setdefault(name, []).append(float(value))

    def timing(self, timings: dict[str, float] | None, size: int, batch_size: int) -> None:
        if timings:
            self.per_sentence.append({k: float(v) / size for k, v in timings.items()})
            self.full_batch.append(size == batch_size)


def clip_joints(features: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """Each crop's joints (frames, 22, 3), float64, without its padding."""
    joints = crop_joints(features, frame_mask(lengths, features.shape[1])).numpy()
    return [joints[row, : int(n)] for row, n in enumerate(lengths)]


def _generate_embeddings(run: MethodRun, batches: list[EvalBatch], evaluator: EvalEvaluator, batch_size: int,
                         tally: ReconstructionTally | None, clips: list[np.ndarray] | None = None) -> torch.Tensor:
    embeddings = []
    control_sums: dict[str, float] = {}
    for batch in batches:
        out = run.method.generator.generate(batch)
        run.timing(out.timings, len(batch), batch_size)
        embeddings.append(evaluator.embed_motion(out.features, batch.lengths))
        if clips is not None:
            clips.extend(clip_joints(out.features, batch.lengths))
        if tally is not None:
            tally.add(batch.motion, out.features, batch.lengths)
        for name, value in (out.control or {}).items():  # per-sequence means: weight batches by their size
            control_sums[name] = control_sums.get(name, 0.0) + value * len(batch)
    for name, total in control_sums.items():
        run.record(name, total / sum(len(b) for b in batches))
    return torch.cat(embeddings)


def multimodality_embeddings(run: MethodRun, samples: Sequence[MotionSample], items: Sequence[EvalItem],
                             evaluator: EvalEvaluator, captions: int, repeats: int, batch_size: int, seed: int,
                             replication: int) -> torch.Tensor:
    """(captions, repeats, dim) embeddings of ``repeats`` generations for ``captions`` random pairs."""
    rng = _rng(seed, replication, 1)
    chosen = [items[int(i)] for i in rng.choice(len(items), size=captions, replace=False)]
    flat = [it for it in chosen for _ in range(repeats)]
    seeds = sample_seeds(seed, replication, 1, len(flat))
    embeddings = []
    for part, part_seeds in zip(_chunks(flat, batch_size), _chunks(seeds, batch_size)):
        batch = make_batch(samples, part, part_seeds)
        embeddings.append(evaluator.embed_motion(run.method.generator.generate(batch).features, batch.lengths))
    return torch.cat(embeddings).reshape(captions, repeats, -1)


# ------------------------------------------------------------------------------------------------
# the evaluation
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    """The protocol sizes after shrinking to a small test set (see the module docstring)."""

    samples: int
    group_size: int
    diversity_pairs: int
    mm_captions: int
    mm_repeats: int
    mm_pairs: int


def effective_sizes(samples: int, batch_size: int, diversity_pairs: int, mm_captions: int, mm_repeats: int,
                    mm_pairs: int) -> Sizes:
    if samples < 2:
        raise MotionLCMError(f"the evaluation needs at least 2 test samples (FID fits a Gaussian), got {samples}")
    return Sizes(samples, min(GROUP_SIZE, batch_size, samples), min(diversity_pairs, samples), min(mm_captions, samples),
                 mm_repeats, min(mm_pairs, mm_repeats))


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise MotionLCMError(f"{name} must be a positive integer, got {value!r}")


def load_eval_samples(dataset_root: str | Path, split: str, progress: bool = False) -> HumanML3DDataset:
    """The split's samples (raw features, every caption) and the dataset's Mean/Std."""
    return HumanML3DDataset(dataset_root, split, mode="eval", progress=progress)


def evaluate_text_to_motion(generator, dataset_root: str | Path, evaluator: EvalEvaluator | str | Path, split: str = "test",
                            replications: int = 20, batch_size: int = 32, num_steps: int | Sequence[int] | None = None,
                            guidance: float | None = None, mm: bool = True, mm_captions: int = 100, mm_repeats: int = 30,
                            mm_pairs: int = 10, diversity_pairs: int = 300, seed: int = 0, quick: bool = False,
                            progress: bool = True, ckpt: str | Path | None = None, vae: str | Path | None = None,
                            device: torch.device | str | None = None, max_samples: int | None = None) -> dict[str, Any]:
    """Evaluate one or several methods on a split (protocol in the module docstring).

    ``generator``: a MotionPipeline, ``"gt"``, a :class:`VAEReconstruction`, ``"vae"`` / ``"ckpt"`` (with
    ``vae`` / ``ckpt`` paths), or a list of such specs (see :func:`resolve_methods`); ``num_steps`` may be a
    list for ``"ckpt"``. ``evaluator``: an :class:`EvalEvaluator` or a folder for :func:`load_eval_evaluator`.
    ``quick``: 2 replications and a 10 x 5 MultiModality pass, for smoke runs. ``max_samples``: evaluate
    only that many shuffled samples per replication (smoke runs on the full test set).

    Returns ``{"methods": [{"name", "metrics": {metric: (mean, interval)}, "replications": {metric: [...]},
    "aits", ...}], "settings": {...}, "cost_s": seconds}``; with a single method, its ``metrics`` are also
    at the top level.
    """
    started = time.perf_counter()
    from ..pipeline import pick_device

    device = pick_device(device)
    if quick:
        replications = min(replications, QUICK_SETTINGS["replications"])
        mm_captions = min(mm_captions, QUICK_SETTINGS["mm_captions"])
        mm_repeats = min(mm_repeats, QUICK_SETTINGS["mm_repeats"])
    _check_positive(replications=replications, batch_size=batch_size, mm_captions=mm_captions, mm_repeats=mm_repeats,
                    mm_pairs=mm_pairs, diversity_pairs=diversity_pairs)
    if max_samples is not None:
        _check_positive(max_samples=max_samples)
    dataset = load_eval_samples(dataset_root, split, progress=progress)
    if not isinstance(evaluator, EvalEvaluator):
        evaluator = load_eval_evaluator(evaluator, device)
    methods = resolve_methods(generator, ckpt=ckpt, vae=vae, steps=num_steps, guidance=guidance, device=device)
    count = len(dataset) if max_samples is None else min(max_samples, len(dataset))
    sizes = effective_sizes(count, batch_size, diversity_pairs, mm_captions, mm_repeats, mm_pairs)
    runs = [MethodRun(m) for m in methods]
    checks = PromptChecker.for_dataset(dataset_root, dataset.samples)
    bar = _progress_bar(replications * len(runs), progress)
    for replication in range(replications):
        _evaluate_replication(runs, dataset.samples, evaluator, sizes, batch_size, seed, replication, mm, max_samples, bar,
                              checks)
    if bar is not None:
        bar.close()
    warning = statistics_warning(evaluator, dataset.mean, dataset.std)
    settings = {
        "dataset": str(dataset_root), "split": split, "samples": sizes.samples, "replications": replications,
        "batch_size": batch_size, "group_size": sizes.group_size, "diversity_pairs": sizes.diversity_pairs,
        "mm": bool(mm), "mm_captions": sizes.mm_captions, "mm_repeats": sizes.mm_repeats, "mm_pairs": sizes.mm_pairs,
        "seed": seed, "quick": bool(quick), "max_samples": max_samples, "device": str(device),
        "evaluator": {"path": str(evaluator.path), "kind": evaluator.kind}, "torch": torch.__version__,
        "warnings": [warning] if warning else [],
    }
    results: dict[str, Any] = {"methods": [summarise(run) for run in runs], "settings": settings,
                               "cost_s": time.perf_counter() - started}
    if len(runs) == 1:
        results["metrics"] = results["methods"][0]["metrics"]
    return results


def _evaluate_replication(runs: list[MethodRun], samples: Sequence[MotionSample], evaluator: EvalEvaluator, sizes: Sizes,
                          batch_size: int, seed: int, replication: int, mm: bool, max_samples: int | None, bar,
                          checks=None) -> None:
    items = plan_replication(samples, seed, replication, max_samples)
    seeds = sample_seeds(seed, replication, 0, len(items))
    batches = [make_batch(samples, part, part_seeds)
               for part, part_seeds in zip(_chunks(items, batch_size), _chunks(seeds, batch_size))]
    text = torch.cat([evaluator.embed_captions(b.captions) for b in batches])
    real = torch.cat([evaluator.embed_motion(b.motion, b.lengths) for b in batches])
    for run in runs:
        begun = time.perf_counter()
        tally = ReconstructionTally() if run.method.generator.reconstructs else None
        clips: list[np.ndarray] = []
        if isinstance(run.method.generator, GroundTruth):
            generated = real  # identical inputs: skip embedding them twice
            for b in batches:
                clips.extend(clip_joints(b.motion, b.lengths))
        else:
            generated = _generate_embeddings(run, batches, evaluator, batch_size, tally, clips)
        for name, value in joint_quality(clips).items():
            run.record(name, value)
        if checks is not None:
            for name, value in checks(items, clips).items():
                run.record(name, value)
        diversity_rng = torch.Generator().manual_seed(int(sample_seeds(seed, replication, 2, 1)[0]))
        for name, value in embedding_metrics(text, real, generated, sizes.group_size, sizes.diversity_pairs,
                                             diversity_rng).items():
            run.record(name, value)
        if tally is not None:
            for name, value in tally.means().items():
                run.record(name, value)
        if mm and run.method.generator.samples_motion:
            mm_emb = multimodality_embeddings(run, samples, items, evaluator, sizes.mm_captions, sizes.mm_repeats,
                                              batch_size, seed, replication)
            mm_rng = torch.Generator().manual_seed(int(sample_seeds(seed, replication, 3, 1)[0]))
            run.record("MModality", M.multimodality(mm_emb, sizes.mm_pairs, generator=mm_rng))
        run.seconds += time.perf_counter() - begun
        if bar is not None:
            bar.set_postfix_str(f"replication {replication + 1}, {run.method.name}")
            bar.update(1)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="evaluating", unit="run", file=sys.stderr)


def summarise(run: MethodRun) -> dict[str, Any]:
    """Mean and 95% interval of every metric over the replications, plus AITS and the cost."""
    metrics = {name: M.mean_and_interval(values) for name, values in run.values.items()}
    result: dict[str, Any] = {"name": run.method.name, **{k: v for k, v in run.method.describe().items() if k != "name"},
                              "metrics": metrics, "replications": {k: list(v) for k, v in run.values.items()},
                              "cost_s": run.seconds}
    aits = average_time_per_sentence(run.per_sentence, run.full_batch)
    if aits is not None:
        result["aits"], result["aits_parts"] = aits.pop("aits"), aits
    return result


def average_time_per_sentence(per_sentence: list[dict[str, float]], full_batch: list[bool]) -> dict[str, float] | None:
    """Mean seconds per sentence of each timed part, and ``aits`` = text + denoise (+ tuning) + decode, over full test batches.

    The first call is a warm-up (allocations, kernel selection) and is left out when there are others;
    when no batch is full (a test set smaller than one batch), every batch counts.
    """
    if not per_sentence:
        return None
    calls = list(zip(per_sentence, full_batch))
    if len(calls) > 1:
        calls = calls[1:]
    chosen = [t for t, full in calls if full] or [t for t, _ in calls]
    parts = {key: float(np.mean([t[key] for t in chosen])) for key in chosen[0]}
    # AITS counts text + denoise (+ latent tuning) + decode only (anything else timed, e.g. joints, is left out)
    counted = [key for key in AITS_PARTS if key in parts]
    parts["aits"] = sum(parts[key] for key in counted) if counted else parts["total"]
    return parts


# ------------------------------------------------------------------------------------------------
# output
# ------------------------------------------------------------------------------------------------
def _cell(metrics: dict[str, Any], name: str, digits: int = 3) -> str:
    if name not in metrics:
        return "-"
    mean, interval = metrics[name]
    return f"{mean:.{digits}f}±{interval:.{digits}f}"


def format_table(results: dict[str, Any]) -> str:
    """The papers' Markdown table: one row per method, ``mean±interval`` (AITS in seconds, no interval).

    A second table with MPJPE / PA-MPJPE / acceleration error (mm) follows when a method reconstructs.
    """
    methods = results["methods"]
    lines = ["| Method | " + " | ".join(TABLE_COLUMNS) + " |", "|---" * (len(TABLE_COLUMNS) + 1) + "|"]
    for m in methods:
        cells = [_cell(m["metrics"], name) for name in TABLE_COLUMNS[:-1]]
        cells.append(f"{m['aits']:.4f}" if m.get("aits") is not None else "-")
        lines.append(f"| {m['name']} | " + " | ".join(cells) + " |")
    recon = [m for m in methods if any(name in m["metrics"] for name in RECONSTRUCTION_COLUMNS)]
    if recon:
        lines += ["", "| Method | MPJPE (mm) | PA-MPJPE (mm) | Accel. err (mm/frame²) |", "|---|---|---|---|"]
        for m in recon:
            lines.append(f"| {m['name']} | " + " | ".join(_cell(m["metrics"], n, 2) for n in RECONSTRUCTION_COLUMNS) + " |")
    physical = [m for m in methods if any(name in m["metrics"] for name in PHYSICS_COLUMNS)]
    if physical:
        lines += ["", "| Method | Jitter (>5 Hz) | Bone std (cm) | Foot lifts /s | Foot skating | Penetration (cm) "
                      "| Floating (cm) |", "|---" * 7 + "|"]
        for m in physical:
            lines.append(f"| {m['name']} | " + " | ".join(_cell(m["metrics"], n, 3) for n in PHYSICS_COLUMNS) + " |")
    prompt = [m for m in methods if PROMPT_OVERALL in m["metrics"]]
    if prompt:
        families = sorted({k.split("/", 1)[1] for m in prompt for k in m["metrics"] if k.startswith(PROMPT_FAMILY)})
        lines += ["", "| Method | Prompt checks (actions) | Whole prompts | Strict (metadata timing and counts) | "
                  + " | ".join(families) + " |", "|---" * (len(families) + 4) + "|"]
        for m in prompt:
            cells = [_cell(m["metrics"], PROMPT_OVERALL, 3), _cell(m["metrics"], PROMPT_MOTIONS, 3),
                     _cell(m["metrics"], PROMPT_STRICT, 3)]
            cells += [_cell(m["metrics"], PROMPT_FAMILY + f, 2) for f in families]
            lines.append(f"| {m['name']} | " + " | ".join(cells) + " |")
    controlled = [m for m in methods if "avg_err" in m["metrics"]]
    if controlled:
        lines += ["", "| Method | Traj. err (50 cm) | Loc. err (50 cm) | Avg. err (m) | Max. err (m) | Foot skating | "
                  "Accel. at hints / p95 |", "|---|---|---|---|---|---|---|"]
        for m in controlled:
            lines.append(f"| {m['name']} | " + " | ".join(_cell(m["metrics"], n, 4) for n in CONTROL_COLUMNS) + " |")
    return "\n".join(lines)


def _plain(value):
    """JSON-ready copies: tuples -> lists, numpy scalars/arrays -> Python numbers/lists, NaN -> None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def describe_settings(settings: dict[str, Any]) -> str:
    s = settings
    text = (f"{s['split']} split of {s['dataset']}: {s['samples']} samples, {s['replications']} replication(s), "
            f"batch {s['batch_size']}, R-precision groups of {s['group_size']}, diversity {s['diversity_pairs']} pairs")
    if s["mm"]:
        text += f", MultiModality {s['mm_captions']} captions x {s['mm_repeats']} repeats ({s['mm_pairs']} pairs)"
    return text + f"; evaluator {s['evaluator']['kind']} ({s['evaluator']['path']}), seed {s['seed']}, device {s['device']}."


def write_results(out_dir: str | Path, results: dict[str, Any]) -> dict[str, Path]:
    """Write ``results.json`` and ``results.md`` (the table and the settings) atomically."""
    from ..io import write_text

    out_dir = Path(out_dir)
    paths = {"json": out_dir / RESULTS_JSON, "markdown": out_dir / RESULTS_MD}
    write_text(paths["json"], json.dumps(_plain(results), indent=2) + "\n")
    notes = [f"- warning: {w}" for w in results["settings"].get("warnings", [])]
    markdown = "\n".join([
        "# Text-to-motion evaluation", "", format_table(results), "",
        (f"Values are mean±95% interval over the replications; AITS is seconds per sentence. "
         f"{describe_settings(results['settings'])} Wall time {results['cost_s']:.1f} s."), *notes, "",
    ])
    write_text(paths["markdown"], markdown)
    return paths


__all__ = [
    "FEATURE_SOURCES",
    "GROUP_SIZE",
    "QUICK_SETTINGS",
    "RECONSTRUCTION_COLUMNS",
    "TABLE_COLUMNS",
    "ControlledReconstruction",
    "EvalBatch",
    "EvalEvaluator",
    "EvalItem",
    "GroundTruth",
    "Method",
    "PipelineGenerator",
    "VAEReconstruction",
    "average_time_per_sentence",
    "exported_features",
    "check_evaluator_fits",
    "effective_sizes",
    "embedding_metrics",
    "evaluate_text_to_motion",
    "evaluation_length",
    "format_table",
    "is_official_evaluator_dir",
    "load_eval_evaluator",
    "make_batch",
    "plan_replication",
    "resolve_methods",
    "sample_seeds",
    "write_results",
]
