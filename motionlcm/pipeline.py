"""MotionPipeline: text -> motion. The one generation API used by the CLI and the app."""
from __future__ import annotations

import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .errors import MotionLCMError
from .inputs import FPS, MAX_FRAMES, MAX_SEED, MIN_FRAMES
from .motion.features import features_to_joints


@dataclass
class MotionOutput:
    """Generated motions, padded to the longest: features (B, T, 263), joints (B, T, 22, 3), lengths (B,)."""

    features: np.ndarray
    joints: np.ndarray
    lengths: np.ndarray
    texts: list[str]
    seed: int | list[int] | None  # one per sample when per-sample seeds were given
    steps: int
    guidance: float
    timings: dict[str, float] = field(default_factory=dict)
    hints: np.ndarray | None = None  # (B, T, 22, 3) metres, when generated under control
    hint_mask: np.ndarray | None = None  # (B, T, 22) bool
    tuning: dict | None = None  # latent tuning: steps, hint loss before/after (first/last step), seconds
    # exact hints (control/exact.py): per sample {mean_before, max_before, mean_after, max_after, unreachable} metres
    hint_errors: list[dict] | None = None
    controlnet: str | None = None  # the folder of the ControlNet that steered the sampling, if one did

    def seed_of(self, index: int) -> int | None:
        """The seed that reproduces sample ``index`` (with the same batch when one seed was given)."""
        return self.seed[index] if isinstance(self.seed, list) else self.seed

    def motion(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Unpadded (features, joints) of one sample."""
        n = int(self.lengths[index])
        return self.features[index, :n], self.joints[index, :n]


def parse_length(text: str | int | float, fps: int = FPS) -> int:
    """``"4s"``/``"4.5 s"`` -> frames at ``fps``; ``"80"``/``80`` -> frames. Clear error otherwise."""
    if isinstance(text, (int, np.integer)):
        frames = int(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|seconds|f|frames)?\s*", str(text))
        if not match:
            raise MotionLCMError(f"length {text!r} not understood; use seconds like '4s' or frames like '80'")
        value, unit = float(match.group(1)), match.group(2)
        if unit in ("s", "sec", "seconds"):
            frames = int(round(value * fps))
        elif float(value).is_integer():
            frames = int(value)
        else:
            raise MotionLCMError(f"length {text!r}: frames must be a whole number (add 's' for seconds)")
    if not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise MotionLCMError(f"length {frames} frames is outside {MIN_FRAMES}-{MAX_FRAMES} ({MIN_FRAMES / fps:.1f}-{MAX_FRAMES / fps:.1f} s)")
    return frames


# The embedded default model shipped with the source checkout (see assets/checkpoints/README.md).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "assets" / "checkpoints" / "motionlcm"
# Points the CLI, the Python API and the app at another default model folder.
CHECKPOINT_ENV = "MOTIONLCM_CKPT"


def default_checkpoint_candidates() -> list[Path]:
    """Where the default model may be, in order: $MOTIONLCM_CKPT, then the embedded one beside the package."""
    candidates = [Path(os.environ[CHECKPOINT_ENV]).expanduser()] if os.environ.get(CHECKPOINT_ENV) else []
    return candidates + [DEFAULT_CHECKPOINT]


def default_checkpoint() -> Path:
    """The default model folder (the one rule for CLI, Python API and app), or a clear error."""
    candidates = default_checkpoint_candidates()
    for path in candidates:
        if (path / "config.yaml").is_file():
            return path
    raise MotionLCMError(
        f"no checkpoint given and the embedded default model is missing (looked in {', '.join(map(str, candidates))}); "
        f"install from a source checkout, pass --ckpt DIR (an export/ folder of `motionlcm train`) or set {CHECKPOINT_ENV}")


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class GenerationInputs:
    """What :meth:`MotionPipeline.check_inputs` returns: every argument checked and normalised."""

    texts: list[str]
    frames: list[int]
    steps: int
    guidance: float
    seed: int | list[int]  # one per sample when per-sample seeds were given
    hints: np.ndarray | None = None  # (B, T, 22, 3) metres
    hint_mask: np.ndarray | None = None  # (B, T, 22) bool
    latent_tuning_steps: int = 0
    exact_hints: bool = True

    def generator(self) -> torch.Generator | list[torch.Generator]:
        """CPU generator(s) for the seed(s): a seed gives the same motion on CPU and CUDA."""
        if isinstance(self.seed, list):
            return [torch.Generator(device="cpu").manual_seed(s) for s in self.seed]
        return torch.Generator(device="cpu").manual_seed(self.seed)


# (ControlNet, trajectory encoder, the folder they came from)
ControlNetModules = tuple


@dataclass
class ControlTokens:
    """:meth:`MotionPipeline.prepare_control`'s trajectory tokens and the ControlNets that read them:
    ``parts`` are (controlnet, tokens (B, L, D), active (B,) bool or None for every sample) - the
    checkpoint's own ControlNet, or per sample the companion trained for that sample's hinted
    joints (:meth:`MotionPipeline.companion_for`), so that a sample never depends on the others
    in its batch. ``source``: the folder(s) the ControlNets came from."""

    parts: list[tuple]
    source: str


@dataclass
class PromptConditions:
    """:meth:`MotionPipeline.encode_prompt`: the text conditions, and the empty text's for CFG."""

    cond: torch.Tensor
    uncond: torch.Tensor | None = None


# Re-noising level(s) of the projection inside the sampler: one round at MotionLCM's last 4-step
# timestep. Measured on 96 test crops, pelvis 100 %: FID 0.529 without, 0.502 (299), 0.500 (499, 299),
# 0.488 (699, 499, 299, three times the cost); jitter and skating alike.
HINT_REFINE_TIMESTEPS = (299,)
# Smoothing passes after exact hints beyond the pelvis (meet_hints): Gaussian sigma in frames and
# rounds. One pass, 12 test crops, six joints 25 %: jitter 0.054 (none) / 0.015 (sigma 1) / 0.014
# (1.5) / 0.013 (2), 5 frames 0.118 -> 0.012; four fresh motions at 25 %: 0.018 / 0.042 / 0.057 /
# 0.425 -> 0.008 / 0.014 / 0.034 / 0.370 (one pass), 0.007 / 0.009 / 0.030 / 0.203 (two), 0.201 (three).
# Samples drawn per hinted prompt; the one passing nearest its hints goes on to the correction
# (best of N: the smaller the correction, the more of the model's own motion survives it).
HINT_CANDIDATES = 4
MAX_HINT_CANDIDATES = 64
HINT_SMOOTHING_SIGMA = 1.5
HINT_SMOOTHING_PASSES = 2


class MotionPipeline:
    """Text-to-motion from an exported checkpoint folder, in diffusers' shape.

    Components (:attr:`components`): ``vae``, ``denoiser``, ``text_encoder``, ``scheduler`` and,
    in ``control`` checkpoints, ``controlnet`` + ``traj_encoder``. The scheduler is the saved
    sampler of the checkpoint (``scheduler/scheduler_config.json``): DDIM + classifier-free
    guidance for an MLD teacher, LCMScheduler (a few steps, guidance as an embedding) for a
    MotionLCM student; a ControlNet samples as the model it was trained on.

    A call runs the steps in order, each a method of its own: :meth:`check_inputs` (the one
    validation of arguments), :meth:`encode_prompt`, :meth:`prepare_latents`,
    :meth:`prepare_control` (hints and ControlNet tokens), :meth:`denoise_latents` (or
    :meth:`tune_latents`, consistency latent tuning of the initial noise), :meth:`decode_latents`,
    and, with hints, :meth:`meet_hints` (the exact motion-space correction).
    """

    def __init__(self, vae, denoiser, text_encoder, scheduler, mean: np.ndarray, std: np.ndarray, config: dict,
                 device: torch.device, name: str = "", controlnet=None, traj_encoder=None,
                 companions: dict[frozenset, Path] | None = None):
        self.vae, self.denoiser, self.text_encoder, self.scheduler = vae, denoiser, text_encoder, scheduler
        self.controlnet, self.traj_encoder = controlnet, traj_encoder
        # joint set -> folder of a ControlNet trained on this very model (config ``controlnets``),
        # loaded on first use (:meth:`companion_for`)
        self.companions = dict(companions or {})
        self._loaded_companions: dict[Path, tuple] = {}
        self.config, self.device, self.name = config, device, name
        self.kind = config["kind"]
        self.mean = torch.as_tensor(mean, device=device)
        self.std = torch.as_tensor(std, device=device)
        sampling = config.get("sampling") or {}
        self.default_steps = int(sampling.get("steps") or (1 if self.sampler_kind == "lcm" else 50))
        guidance = sampling.get("guidance")
        self.default_guidance = None if guidance is None else float(guidance)

    @property
    def components(self) -> dict[str, object]:
        """The registered modules and the scheduler (None where a checkpoint has no ControlNet)."""
        return {"vae": self.vae, "denoiser": self.denoiser, "text_encoder": self.text_encoder,
                "scheduler": self.scheduler, "controlnet": self.controlnet, "traj_encoder": self.traj_encoder}

    @property
    def sampler_kind(self) -> str:
        """``"lcm"`` (few-step consistency sampling) or ``"mld"`` (DDIM + CFG): read off the scheduler."""
        from .diffusion.schedule import is_lcm_scheduler

        return "lcm" if is_lcm_scheduler(self.scheduler) else "mld"

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None, device: str | torch.device | None = None) -> "MotionPipeline":
        """Load an exported checkpoint folder; ``None`` loads the default model (:func:`default_checkpoint`)."""
        from .checkpoint import build_denoiser, build_scheduler, build_vae, load_checkpoint
        from .models.denoiser import text_condition_dim
        from .models.text_encoder import load_text_encoder

        device = pick_device(device)
        directory = default_checkpoint() if directory is None else directory
        ckpt = load_checkpoint(directory, expected_kinds=("mld", "lcm", "control"))
        vae, denoiser, scheduler = build_vae(ckpt), build_denoiser(ckpt), build_scheduler(ckpt)
        controlnet = traj_encoder = None
        if ckpt.kind == "control":
            from .models.controlnet import build_control_modules

            controlnet, traj_encoder = (m.to(device) for m in build_control_modules(ckpt))
        text_encoder = load_text_encoder(ckpt.config["text_encoder"], device=device)
        text_dim = text_condition_dim(text_encoder, denoiser.config.text_conditioning)
        if text_dim != denoiser.config.text_dim:
            raise MotionLCMError(f"{directory}: text encoder {ckpt.config['text_encoder']} gives {text_dim}-d "
                                 f"embeddings but the denoiser expects {denoiser.config.text_dim}")
        return cls(vae.to(device), denoiser.to(device), text_encoder, scheduler, ckpt.mean, ckpt.std, ckpt.config,
                   device, str(directory), controlnet=controlnet, traj_encoder=traj_encoder,
                   companions=_companion_controlnets(Path(directory), ckpt.config))

    def _companion_paths(self, hint_mask) -> list[Path | None]:
        """Per sample of a (B, T, 22) or (T, 22) mask: the companion listed for exactly its hinted
        joints (None for a sample without hints or without a matching companion)."""
        return [self.companions.get(joints) for joints in _hinted_joint_sets(hint_mask)]

    def companion_for(self, hint_mask: torch.Tensor | np.ndarray | None) -> ControlNetModules | None:
        """The companion ControlNet (config ``controlnets``) trained for exactly the joints these hints
        mark, as (controlnet, trajectory encoder, folder); None when the checkpoint has its own
        ControlNet, no hints are given or no companion matches. Its base weights must be this model's:
        a ControlNet steers the denoiser it was trained on."""
        if self.controlnet is not None or hint_mask is None:
            return None
        path = self.companions.get(frozenset().union(*_hinted_joint_sets(hint_mask)))
        return None if path is None else self._load_companion(path)

    def _load_companion(self, path: Path) -> ControlNetModules:
        """Load (once) and check a companion folder; a refused one stays refused without reloading."""
        if isinstance(self._loaded_companions.get(path), MotionLCMError):
            raise self._loaded_companions[path]
        if path not in self._loaded_companions:
            from .checkpoint import load_checkpoint
            from .models.controlnet import build_control_modules

            ckpt = load_checkpoint(path, expected_kinds=("control",))
            own = {**{f"denoiser.{k}": v for k, v in self.denoiser.state_dict().items()},
                   **{f"vae.{k}": v for k, v in self.vae.state_dict().items()}}
            if any(k not in ckpt.weights or not torch.equal(v.cpu(), ckpt.weights[k]) for k, v in own.items()):
                error = MotionLCMError(f"{path}: this ControlNet was trained on another model than {self.name} "
                                       "(its denoiser / VAE weights differ); remove it from 'controlnets' in config.yaml")
                self._loaded_companions[path] = error
                raise error
            controlnet, traj_encoder = (m.to(self.device) for m in build_control_modules(ckpt))
            self._loaded_companions[path] = (controlnet, traj_encoder, str(path))
        return self._loaded_companions[path]

    def lcm_timesteps_for(self, steps: int) -> list[int] | None:
        """The checkpoint's own LCM schedule for ``steps`` (``lcm.timesteps``, e.g. a converted V1
        student's [999] / [999, 499] / ...), else None: MotionLCM-V2's (diffusion/schedule.py)."""
        table = (self.config.get("lcm") or {}).get("timesteps") or {}
        chosen = table.get(steps, table.get(str(steps)))
        return [int(t) for t in chosen] if chosen else None

    def guidance_for(self, steps: int) -> float:
        """The guidance used when none is given: the checkpoint's, else the published default."""
        from .diffusion import lcm_default_guidance

        if self.default_guidance is not None:
            return self.default_guidance
        return lcm_default_guidance(steps) if self.sampler_kind == "lcm" else 7.5

    # ------------------------------------------------------------------ the steps of a call
    def check_inputs(self, texts: str | Sequence[str], lengths: int | str | Sequence[int | str] = 80,
                     num_steps: int | None = None, guidance: float | None = None,
                     seed: int | Sequence[int] | None = None, control=None, latent_tuning_steps: int = 0,
                     exact_hints: bool = True, companion: bool = True) -> GenerationInputs:
        """Every argument checked before any model runs (one-line :class:`MotionLCMError`s); the
        limits are :mod:`motionlcm.inputs`'s, shared with the CLI, batch mode and the app."""
        from .inputs import MAX_TUNING_STEPS, check_count, check_guidance

        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise MotionLCMError("no prompt given")
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise MotionLCMError("empty prompt")
        if isinstance(lengths, (int, str, np.integer)):
            lengths = [lengths] * len(texts)
        frames = [parse_length(x) for x in lengths]
        if len(frames) != len(texts):
            raise MotionLCMError(f"{len(texts)} prompts but {len(frames)} lengths")
        steps = int(num_steps or self.default_steps)
        if steps < 1 or steps > self.scheduler.config.num_train_timesteps:
            raise MotionLCMError(f"steps must be between 1 and {self.scheduler.config.num_train_timesteps}, got {steps}")
        scale = check_guidance(self.guidance_for(steps) if guidance is None else guidance)
        if isinstance(seed, (list, tuple, np.ndarray)):
            if len(seed) != len(texts):
                raise MotionLCMError(f"{len(texts)} prompts but {len(seed)} seeds")
            seed = [int(s) for s in seed]
        else:
            # a drawn seed stays within the range users may pass back (motionlcm.inputs.MAX_SEED)
            seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0]) % (MAX_SEED + 1)
        tuning = check_count(latent_tuning_steps, "Latent tuning steps", MAX_TUNING_STEPS, low=0)
        hints = hint_mask = None
        if control is None:
            if tuning > 0:
                raise MotionLCMError("latent tuning needs control hints (a control spec)")
        else:
            if tuning > 0 and self.sampler_kind != "lcm":
                raise MotionLCMError("latent tuning needs a MotionLCM (lcm) checkpoint or a ControlNet trained on one")
            from .control.spec import control_batch

            hints, hint_mask = control_batch(control, frames)
            # without exact hints or tuning, every hinted sample needs a ControlNet (own or companion)
            if tuning == 0 and not exact_hints and self.controlnet is None and not (
                    companion and all(not joints or joints in self.companions for joints in _hinted_joint_sets(hint_mask))):
                raise MotionLCMError(f"{self.name or 'this checkpoint'} is a '{self.kind}' checkpoint without a ControlNet "
                                     "for these joints; use a 'control' checkpoint, latent tuning steps > 0 or exact hints "
                                     "to follow the hints")
        return GenerationInputs(texts, frames, steps, scale, seed, hints, hint_mask, tuning, bool(exact_hints))

    def encode_prompt(self, texts: Sequence[str], guidance: float | None = None) -> PromptConditions:
        """The denoiser's text conditions; with DDIM + CFG (``guidance != 1``) also the empty text's."""
        cond = self.denoiser.text_condition(self.text_encoder.encode(list(texts)))
        uncond = None
        if self.sampler_kind != "lcm" and guidance is not None and guidance != 1.0:
            uncond = self.denoiser.text_condition(self.text_encoder.empty(len(cond)))
        return PromptConditions(cond, uncond)

    def prepare_latents(self, batch: int, generator) -> torch.Tensor:
        """Initial Gaussian latents (B, L, D), drawn on the CPU (same motion on CPU and CUDA)."""
        from .diffusion.lcm_sampling import draw_noise

        return draw_noise((batch, *self.denoiser.config.latent_shape), generator)

    def prepare_control(self, hints: np.ndarray | None, hint_mask: np.ndarray | None,
                        lengths: Sequence[int] | None = None, companion: bool = True):
        """(hints, mask, :class:`ControlTokens`) on the device; all None without hints, tokens None
        without a ControlNet: the checkpoint's own, else (``companion``) the companion trained for
        each sample's hinted joints (:meth:`companion_for`). ``lengths``: the motions' frame counts (default:
        the hints' frame count)."""
        if hints is None:
            return None, None, None
        hints_t = torch.as_tensor(hints, device=self.device)
        mask_t = torch.as_tensor(hint_mask, device=self.device)
        lengths_t = None if lengths is None else torch.as_tensor(list(lengths), device=self.device)
        if self.controlnet is not None:
            tokens = self.traj_encoder.encode_hints(hints_t, mask_t, lengths_t)
            return hints_t, mask_t, ControlTokens([(self.controlnet, tokens, None)], self.name)
        paths = self._companion_paths(mask_t) if companion else []
        parts, sources = [], []
        for path in dict.fromkeys(p for p in paths if p is not None):
            controlnet, traj_encoder, source = self._load_companion(path)
            active = torch.tensor([p == path for p in paths], device=self.device)
            parts.append((controlnet, traj_encoder.encode_hints(hints_t, mask_t, lengths_t), active))
            sources.append(source)
        return hints_t, mask_t, (ControlTokens(parts, ", ".join(sources)) if parts else None)

    def predict_noise(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor, w: torch.Tensor | None,
                      tokens: ControlTokens | None = None) -> torch.Tensor:
        """The denoiser's epsilon, through the ControlNet of ``tokens`` when there are control tokens."""
        residuals = None
        for controlnet, states, active in (tokens.parts if tokens is not None else []):
            repeat = len(x) // len(states)  # CFG doubles the batch: [uncond, cond]
            states = torch.cat([states] * repeat) if repeat > 1 else states
            part = controlnet(x, t, c, states, w)
            if active is not None:  # a companion steers only the samples it was chosen for
                weight = torch.cat([active] * repeat).to(x.dtype).view(-1, 1, 1)
                part = [r * weight for r in part]
            residuals = part if residuals is None else [a + b for a, b in zip(residuals, part)]
        return self.denoiser(x, t, c, w, controlnet_residuals=residuals)

    def denoise_latents(self, latents: torch.Tensor, prompt: PromptConditions, steps: int, guidance: float, generator,
                        progress: Callable[[int, int], None] | None = None,
                        tokens: ControlTokens | None = None) -> torch.Tensor:
        """Noise -> clean latents with the checkpoint's scheduler: LCM's consistency loop (guidance
        as an embedding) or DDIM with classifier-free guidance."""
        from .diffusion import ddim_sample, lcm_sample

        if self.sampler_kind == "lcm":
            return lcm_sample(lambda x, t, c, w: self.predict_noise(x, t, c, w, tokens), self.scheduler, prompt.cond,
                              latents, steps, guidance, timesteps=self.lcm_timesteps_for(steps), generator=generator,
                              progress=progress)
        return ddim_sample(lambda x, t, c: self.predict_noise(x, t, c, None, tokens), self.scheduler, prompt.cond,
                           prompt.uncond, tuple(self.denoiser.config.latent_shape), steps, guidance,
                           initial_noise=latents, progress=progress)

    def tune_latents(self, latents: torch.Tensor, prompt: PromptConditions, steps: int, guidance: float, generator,
                     mask: torch.Tensor, hints: torch.Tensor, hint_mask: torch.Tensor, tokens: ControlTokens | None,
                     tuning_steps: int, tuning_progress=None, progress=None) -> tuple[torch.Tensor, dict]:
        """Consistency latent tuning of the initial noise towards the hints, then the final
        (fixed-noise) LCM sample through the same consistency loop."""
        from .diffusion import lcm_timesteps
        from .diffusion.latent_tuning import tune_latents
        from .diffusion.lcm_sampling import draw_noise, lcm_generate

        timesteps = lcm_timesteps(self.scheduler, steps, self.lcm_timesteps_for(steps)).tolist()
        # Fixed re-noising between steps (drawn like the initial noise) keeps the objective deterministic.
        renoise = [draw_noise(latents.shape, generator).to(self.device) for _ in timesteps[1:]]
        w = torch.full((len(prompt.cond),), guidance - 1.0, device=self.device)
        alphas = self.scheduler.alphas_cumprod
        scaling = float(self.scheduler.config.timestep_scaling)

        def generate(latent):
            return lcm_generate(lambda x, t: self.predict_noise(x, t, prompt.cond, w, tokens), alphas, timesteps,
                                latent, renoise, timestep_scaling=scaling)

        def joints_fn(latent):
            return features_to_joints(self.decode_latents(generate(latent), mask), mask)

        result = tune_latents(latents.to(self.device), joints_fn, hints, hint_mask, steps=tuning_steps,
                              progress=tuning_progress)
        with torch.no_grad():
            latent = generate(result.latent)
        if progress is not None:
            progress(len(timesteps), len(timesteps))
        summary = {"steps": result.steps, "hint_loss_first": result.hint_loss[0] if result.hint_loss else None,
                   "hint_loss_last": result.hint_loss[-1] if result.hint_loss else None, "seconds": result.seconds}
        return latent, summary

    def decode_latents(self, latents: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Latents -> HumanML3D features in dataset units (B, T, 263), zero on padded frames."""
        features = self.vae.decode(latents, mask) * self.std + self.mean
        return features.masked_fill(~mask[..., None], 0.0)

    def refine_towards_hints(self, latents: torch.Tensor, prompt: PromptConditions, guidance: float, generator,
                             mask: torch.Tensor, hints: torch.Tensor, hint_mask: torch.Tensor, frames: list[int],
                             tokens: ControlTokens | None, timesteps: Sequence[int] = HINT_REFINE_TIMESTEPS,
                             smoothing: bool = True, decoded: torch.Tensor | None = None
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Projection inside the sampler (after ProjFlow / SDEdit): the sampled motion is corrected to
        its hints in motion space, encoded back to a latent, re-noised to ``timestep`` and denoised
        by one more consistency step, so the model redraws the body (legs stepping along the new
        path) around the corrected trajectory. Returns (latents, the corrected joints, whose placement
        on the ground the decoded refinement takes: features start at the origin facing +Z).
        ``decoded``: ``latents`` already decoded (saves the first round's decode)."""
        from .diffusion.lcm_sampling import draw_noise, lcm_generate

        corrected = None
        for timestep in timesteps:
            features = self.decode_latents(latents, mask) if decoded is None else decoded
            decoded = None
            joints = features_to_joints(features.double(), mask).float()
            if corrected is not None:
                joints = _place_like(joints, corrected, hint_mask, frames)
            features, corrected, _ = self.meet_hints(features, joints, hints, hint_mask, frames, smoothing)
            normalised = ((features - self.mean) / self.std).masked_fill(~mask[..., None], 0.0)
            z0 = self.vae.encode(normalised, mask, sample=False)[0]
            alpha = self.scheduler.alphas_cumprod[int(timestep)].to(z0)
            x_t = alpha.sqrt() * z0 + (1 - alpha).sqrt() * draw_noise(z0.shape, generator).to(z0)
            w = torch.full((len(z0),), guidance - 1.0, device=z0.device, dtype=z0.dtype)
            redrawn = lcm_generate(lambda x, t: self.predict_noise(x, t, prompt.cond, w, tokens),
                                   self.scheduler.alphas_cumprod, [int(timestep)], x_t,
                                   timestep_scaling=float(self.scheduler.config.timestep_scaling))
            # a sample without hints keeps its latent: as generated alone, whatever else is in the batch
            hinted = hint_mask.reshape(len(hint_mask), -1).any(1)
            latents = torch.where(hinted[:, None, None], redrawn, latents)
        return latents, corrected

    def nearest_candidate(self, latents: torch.Tensor, prompt: PromptConditions, steps: int, guidance: float,
                          generator, mask: torch.Tensor, hints: torch.Tensor, hint_mask: torch.Tensor,
                          tokens: ControlTokens | None, candidates: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Best of ``candidates`` samples for each hinted sample: ``latents`` (the first candidate)
        and ``candidates - 1`` more drawn from the same generator(s), sampled and decoded in one
        batch; the one whose joints pass nearest its hints (mean distance over the hinted points)
        is kept. Samples without hints keep ``latents``; a sample's choice depends only on its own
        seed (per-sample generators each draw their own candidates). Returns (the kept latents,
        their decoded features)."""
        batch, extra = len(latents), candidates - 1
        draws = torch.cat([self.prepare_latents(batch, generator) for _ in range(extra)])

        def more(x: torch.Tensor, times: int = extra) -> torch.Tensor:  # candidate-major: row r * batch + i is sample i
            return torch.cat([x] * times)

        repeated = PromptConditions(more(prompt.cond), None if prompt.uncond is None else more(prompt.uncond))
        steered = None if tokens is None else ControlTokens(
            [(net, more(states), None if active is None else more(active)) for net, states, active in tokens.parts],
            tokens.source)
        generators = generator * extra if isinstance(generator, list) else generator
        others = self.denoise_latents(draws, repeated, steps, guidance, generators, None, steered)
        pool = torch.cat([latents, others])  # (candidates * batch, L, D)
        pool_mask = more(mask, candidates)
        features = self.decode_latents(pool, pool_mask)
        joints = features_to_joints(features.double(), pool_mask).float()
        n = min(joints.shape[1], hints.shape[1])
        weight = more(hint_mask[:, :n], candidates).to(joints.dtype)
        err = (joints[:, :n] - more(hints[:, :n], candidates).to(joints)).norm(dim=-1)
        far = ((err * weight).sum((1, 2)) / weight.sum((1, 2)).clamp(min=1.0)).view(candidates, batch)
        best = far.argmin(0)  # ties keep the earliest candidate (the first draw)
        hinted = hint_mask.reshape(batch, -1).any(1)
        best = torch.where(hinted, best, torch.zeros_like(best))
        rows = torch.arange(batch)
        return (pool.view(candidates, batch, *latents.shape[1:])[best, rows],
                features.view(candidates, batch, *features.shape[1:])[best, rows])

    def meet_hints(self, features: torch.Tensor, joints: torch.Tensor, hints: torch.Tensor, hint_mask: torch.Tensor,
                   frames: list[int], smoothing: bool = True) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
        """Exact hints (:mod:`motionlcm.control.exact`) per sample on its valid frames, on the export rig;
        features recomputed from the corrected joints. ``smoothing`` (hints beyond the pelvis): the
        corrected joints smoothed over time (:data:`HINT_SMOOTHING_SIGMA` frames), put back on the
        rig and corrected again, :data:`HINT_SMOOTHING_PASSES` times.

        HumanML3D features are relative to the first frame (floor, origin, facing +Z) and have one
        frame fewer than their joints, so the last frame's features are repeated.
        """
        import dataclasses

        from .body.smpl_pose import fit_rig
        from .control.exact import meet_hints
        from .motion.features import framewise_features

        features, joints = features.clone(), joints.clone()
        reports = []
        for i, n in enumerate(frames):
            if not bool(hint_mask[i, :n].any()):
                reports.append(None)
                continue
            # On the export rig first: its bones are the dataset skeleton's (symmetric), so hints taken
            # from real motions are within reach, and the exports then show exactly these joints.
            targets, marked = hints[i, :n].cpu().numpy(), hint_mask[i, :n].cpu().numpy()
            _, rigged = fit_rig(joints[i, :n].cpu().numpy())
            corrected, report = meet_hints(rigged, targets, marked)
            if smoothing and marked[:, 1:].any():
                # Limb and spine IK solve each frame on its own: on sparse hints their per-frame
                # differences are jitter. Smoothed, put back on the rig and corrected again (now a
                # small correction), the joints meet the hints about as smooth as real motion.
                from scipy.ndimage import gaussian_filter1d

                for _ in range(HINT_SMOOTHING_PASSES):
                    _, smoothed = fit_rig(gaussian_filter1d(corrected, HINT_SMOOTHING_SIGMA, axis=0, mode="nearest"))
                    corrected, second = meet_hints(smoothed, targets, marked)
                report = dataclasses.replace(second, mean_before=report.mean_before, max_before=report.max_before)
            joints[i, :n] = torch.as_tensor(corrected, dtype=joints.dtype)
            features[i, :n] = framewise_features(torch.as_tensor(corrected), retarget=False).to(features)
            reports.append(dataclasses.asdict(report))
        return features, joints, reports

    @torch.no_grad()
    def __call__(self, texts: str | Sequence[str], lengths: int | str | Sequence[int | str] = 80, num_steps: int | None = None,
                 guidance: float | None = None, seed: int | Sequence[int] | None = None,
                 progress: Callable[[int, int], None] | None = None, control=None, latent_tuning_steps: int = 0,
                 tuning_progress: Callable[[int, int, float], None] | None = None,
                 exact_hints: bool = True, hint_refinement: bool = True, companion_controlnet: bool = True,
                 hint_smoothing: bool = True, hint_candidates: int = HINT_CANDIDATES) -> MotionOutput:
        """Generate one motion per text. ``seed``: one int for the batch, or one per text (each
        sample then depends only on its own seed, whatever else is in the batch).

        ``control``: joint hints to follow - a control spec (JSON path or dict, see
        ``docs/control_spec.md``) for every sample, a list with one per sample, or ``(hints, mask)``
        arrays ((T, 22, 3) metres and (T, 22) bool, or batched). ``latent_tuning_steps``: Adam steps
        of consistency latent tuning (MotionLCM uses 400) - needs an LCM-family checkpoint;
        ``tuning_progress(step, total, hint_loss)`` is called after each. ``exact_hints`` (default on):
        after sampling, a motion-space correction (:mod:`motionlcm.control.exact`) makes the joints
        meet the hints exactly; ``features`` are then recomputed from the corrected joints.
        ``hint_refinement`` (default on, LCM-family models with exact hints and no foot hints): before that, one
        projection round inside the sampler (:meth:`refine_towards_hints`). ``companion_controlnet``
        (default on): a checkpoint without a ControlNet of its own samples through the companion one
        its config lists for exactly the hinted joints (:meth:`companion_for`; the embedded default
        model lists its pelvis ControlNet), which makes the corrected motion more natural.
        ``hint_smoothing`` (default on): the smoothing pass of :meth:`meet_hints`. ``hint_candidates``:
        samples drawn per hinted prompt, the one nearest its hints kept (:meth:`nearest_candidate`;
        not with latent tuning, which steers its single sample instead).
        """
        from .inputs import check_count

        candidates = check_count(hint_candidates, "Hint candidates", MAX_HINT_CANDIDATES, low=1)
        inputs = self.check_inputs(texts, lengths, num_steps, guidance, seed, control, latent_tuning_steps, exact_hints,
                                   companion_controlnet)
        frames, steps, scale = inputs.frames, inputs.steps, inputs.guidance
        generator = inputs.generator()
        timings: dict[str, float] = {}

        t0 = _now(self.device)
        prompt = self.encode_prompt(inputs.texts, scale)
        t1 = _now(self.device)
        latents = self.prepare_latents(len(inputs.texts), generator)
        lengths_t = torch.tensor(frames, device=self.device)
        mask = torch.arange(max(frames), device=self.device)[None] < lengths_t[:, None]
        hints, hint_mask, tokens = self.prepare_control(inputs.hints, inputs.hint_mask, frames, companion_controlnet)
        tuning, decoded = None, None
        if inputs.latent_tuning_steps > 0:
            latent, tuning = self.tune_latents(latents, prompt, steps, scale, generator, mask, hints, hint_mask, tokens,
                                               inputs.latent_tuning_steps, tuning_progress, progress)
            timings["tuning"] = tuning["seconds"]
        else:
            latent = self.denoise_latents(latents, prompt, steps, scale, generator, progress, tokens)
            if hints is not None and candidates > 1:
                latent, decoded = self.nearest_candidate(latent, prompt, steps, scale, generator, mask, hints, hint_mask,
                                                         tokens, candidates)
        placement = None
        if hints is not None and inputs.exact_hints and hint_refinement and self.sampler_kind == "lcm" \
                and _refinement_helps(hint_mask):
            latent, placement = self.refine_towards_hints(latent, prompt, scale, generator, mask, hints, hint_mask,
                                                          frames, tokens, smoothing=hint_smoothing, decoded=decoded)
            decoded = None
        t2 = _now(self.device)
        features = self.decode_latents(latent, mask) if decoded is None else decoded
        t3 = _now(self.device)
        joints = features_to_joints(features.double(), mask).float()
        if placement is not None:
            joints = _place_like(joints, placement, hint_mask, frames)
        t4 = _now(self.device)
        hint_errors = None
        if hints is not None and inputs.exact_hints:
            features, joints, hint_errors = self.meet_hints(features, joints, hints, hint_mask, frames, hint_smoothing)
        t5 = _now(self.device)
        # AITS (REFERENCE.md) counts text + denoise + decode; joints recovery is reported apart.
        timings.update(text=t1 - t0, denoise=t2 - t1, decode=t3 - t2, joints=t4 - t3, total=t5 - t0)
        if hint_errors is not None:
            timings["exact_hints"] = t5 - t4
        if inputs.latent_tuning_steps > 0:
            timings["denoise"] = t2 - t1 - timings["tuning"]
        return MotionOutput(features.cpu().numpy(), joints.cpu().numpy(), np.array(frames), inputs.texts,
                            inputs.seed, steps, scale, timings, _numpy_or_none(hints), _numpy_or_none(hint_mask), tuning,
                            hint_errors, None if tokens is None else tokens.source)


def _hinted_joint_sets(hint_mask) -> list[frozenset]:
    """Per sample of a (B, T, 22) or (T, 22) hint mask: the joints it hints (empty without hints)."""
    mask = torch.as_tensor(hint_mask)
    mask = mask[None] if mask.ndim == 2 else mask
    marked = mask.any(1).cpu().numpy()
    return [frozenset(int(j) for j in np.flatnonzero(row)) for row in marked]


def _companion_controlnets(directory: Path, config: dict) -> dict[frozenset, Path]:
    """Config ``controlnets``: folders (relative to the checkpoint's) of ControlNets trained on this
    model, keyed by the joints each was trained for (read from its config; weights load on first
    use). A listed folder that is missing is skipped with a warning (a model folder copied on its
    own keeps working); one that is not a control checkpoint is a one-line error."""
    import yaml

    listed = config.get("controlnets") or []
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        raise MotionLCMError(f"{directory}/config.yaml: 'controlnets' must be a list of folder paths, got {listed!r}")
    companions = {}
    for entry in listed:
        path = (directory / entry).resolve()
        config_path = path / "config.yaml"
        if not path.exists():  # a model folder copied on its own still loads, without the companion
            warnings.warn(f"{directory}: companion ControlNet {entry!r} not found ({path}); sampling without it", stacklevel=3)
            continue
        try:
            companion = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else None
        except yaml.YAMLError:
            companion = None
        if not isinstance(companion, dict) or companion.get("kind") != "control":
            raise MotionLCMError(f"{directory}/config.yaml lists ControlNet {entry!r}, but {path} is not a control checkpoint")
        joints = (companion.get("control") or {}).get("joints")
        if not isinstance(joints, list) or not joints:
            raise MotionLCMError(f"{config_path}: 'control.joints' must list the joints the ControlNet was trained for")
        companions[frozenset(int(j) for j in joints)] = path
    return companions


def _refinement_helps(hint_mask: torch.Tensor) -> bool:
    """The projection round is for hints the body travels with: the pelvis, or the head and wrists
    (which carry the body, :func:`motionlcm.control.exact.carry_body`; 300 test crops, 5 frames:
    foot skating 0.09 -> 0.05, FID 0.150 -> 0.127 for the head), and no foot hints (the redrawn legs
    put a hinted foot 7.5 cm beyond a hinted pelvis's reach)."""
    from .control.exact import LEGS

    return bool(hint_mask.any()) and not bool(hint_mask[..., list(LEGS)].any())


def _place_like(joints: torch.Tensor, placed: torch.Tensor, hint_mask: torch.Tensor, frames: list[int]) -> torch.Tensor:
    """Each hinted sample turned and shifted on the ground (least squares over all its joints) onto
    ``placed``: a re-encoded motion decodes at the origin, facing +Z."""
    from .control.exact import ground_alignment

    joints = joints.clone()
    for i, n in enumerate(frames):
        if not bool(hint_mask[i, :n].any()):
            continue
        ours = joints[i, :n].reshape(-1, 3).cpu().double().numpy()
        rot, shift = ground_alignment(ours, placed[i, :n].reshape(-1, 3).cpu().double().numpy(), min_spread=0.0)
        joints[i, :n] = torch.as_tensor((ours @ rot.T + shift).reshape(n, 22, 3), dtype=joints.dtype)
    return joints


def _numpy_or_none(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.cpu().numpy()


def _now(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()
