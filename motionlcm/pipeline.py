"""MotionPipeline: text -> motion. The one generation API used by the CLI and the app."""
from __future__ import annotations

import os
import re
import time
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


class MotionPipeline:
    """Text-to-motion from an exported checkpoint folder.

    ``mld`` checkpoints sample with DDIM + classifier-free guidance (the teacher); ``lcm``
    checkpoints with diffusers' LCMScheduler in a few steps, guidance entering as an embedding.
    ``control`` checkpoints add a Motion ControlNet to their base (``lcm`` or ``mld``) and sample
    like it. With an LCM-family model, ``latent_tuning_steps`` also optimises the initial noise
    towards the hints (consistency latent tuning), with or without a ControlNet.
    """

    def __init__(self, vae, denoiser, text_encoder, scheduler, mean: np.ndarray, std: np.ndarray, config: dict,
                 device: torch.device, name: str = "", controlnet=None, traj_encoder=None):
        self.vae, self.denoiser, self.text_encoder, self.scheduler = vae, denoiser, text_encoder, scheduler
        self.controlnet, self.traj_encoder = controlnet, traj_encoder
        self.config, self.device, self.name = config, device, name
        self.kind = config["kind"]
        # How to sample: a control checkpoint samples as the model it was trained on.
        self.sampler_kind = config.get("base_kind", "lcm") if self.kind == "control" else self.kind
        self.mean = torch.as_tensor(mean, device=device)
        self.std = torch.as_tensor(std, device=device)
        sampling = config.get("sampling") or {}
        self.default_steps = int(sampling.get("steps") or (1 if self.sampler_kind == "lcm" else 50))
        guidance = sampling.get("guidance")
        self.default_guidance = None if guidance is None else float(guidance)

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None, device: str | torch.device | None = None) -> "MotionPipeline":
        """Load an exported checkpoint folder; ``None`` loads the shipped embedded default."""
        from .checkpoint import build_denoiser, build_vae, load_checkpoint
        from .diffusion import NoiseSchedule, make_ddim_scheduler, make_lcm_scheduler
        from .models.denoiser import text_condition_dim
        from .models.text_encoder import load_text_encoder

        device = pick_device(device)
        directory = default_checkpoint() if directory is None else directory
        ckpt = load_checkpoint(directory, expected_kinds=("mld", "lcm", "control"))
        vae, denoiser = build_vae(ckpt), build_denoiser(ckpt)
        controlnet = traj_encoder = None
        if ckpt.kind == "control":
            from .models.controlnet import build_control_modules

            controlnet, traj_encoder = (m.to(device) for m in build_control_modules(ckpt))
        text_encoder = load_text_encoder(ckpt.config["text_encoder"], device=device)
        text_dim = text_condition_dim(text_encoder, denoiser.config.text_conditioning)
        if text_dim != denoiser.config.text_dim:
            raise MotionLCMError(f"{directory}: text encoder {ckpt.config['text_encoder']} gives {text_dim}-d "
                                 f"embeddings but the denoiser expects {denoiser.config.text_dim}")
        schedule = NoiseSchedule.from_dict(ckpt.config.get("schedule"))
        if ckpt.kind == "lcm" or ckpt.config.get("base_kind") == "lcm":
            scheduler = make_lcm_scheduler(schedule, int((ckpt.config.get("lcm") or {}).get("num_ddim_timesteps", 10)))
        else:
            scheduler = make_ddim_scheduler(schedule)
        return cls(vae.to(device), denoiser.to(device), text_encoder, scheduler, ckpt.mean, ckpt.std, ckpt.config,
                   device, str(directory), controlnet=controlnet, traj_encoder=traj_encoder)

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

    @torch.no_grad()
    def __call__(self, texts: str | Sequence[str], lengths: int | str | Sequence[int | str] = 80, num_steps: int | None = None,
                 guidance: float | None = None, seed: int | Sequence[int] | None = None,
                 progress: Callable[[int, int], None] | None = None, control=None, latent_tuning_steps: int = 0,
                 tuning_progress: Callable[[int, int, float], None] | None = None,
                 exact_hints: bool = True) -> MotionOutput:
        """Generate one motion per text. ``seed``: one int for the batch, or one per text (each
        sample then depends only on its own seed, whatever else is in the batch).

        ``control``: joint hints to follow - a control spec (JSON path or dict, see
        ``docs/control_spec.md``) for every sample, a list with one per sample, or ``(hints, mask)``
        arrays ((T, 22, 3) metres and (T, 22) bool, or batched). ``latent_tuning_steps``: Adam steps
        of consistency latent tuning (MotionLCM uses 400) - needs an LCM-family checkpoint;
        ``tuning_progress(step, total, hint_loss)`` is called after each. ``exact_hints`` (default on):
        after sampling, a motion-space correction (:mod:`motionlcm.control.exact`) makes the joints
        meet the hints exactly; ``features`` are then recomputed from the corrected joints.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise MotionLCMError("no prompt given")
        for text in texts:
            if not text.strip():
                raise MotionLCMError("empty prompt")
        if isinstance(lengths, (int, str, np.integer)):
            lengths = [lengths] * len(texts)
        frames = [parse_length(x) for x in lengths]
        if len(frames) != len(texts):
            raise MotionLCMError(f"{len(texts)} prompts but {len(frames)} lengths")
        steps = int(num_steps or self.default_steps)
        if steps < 1 or steps > self.scheduler.config.num_train_timesteps:
            raise MotionLCMError(f"steps must be between 1 and {self.scheduler.config.num_train_timesteps}, got {steps}")
        scale = float(self.guidance_for(steps) if guidance is None else guidance)
        if not np.isfinite(scale) or scale < 0:
            raise MotionLCMError(f"guidance must be a finite number >= 0, got {scale}")
        # Noise is drawn on the CPU so that a seed gives the same motion on CPU and CUDA.
        if isinstance(seed, (list, tuple, np.ndarray)):
            if len(seed) != len(texts):
                raise MotionLCMError(f"{len(texts)} prompts but {len(seed)} seeds")
            seed = [int(s) for s in seed]
            generator = [torch.Generator(device="cpu").manual_seed(s) for s in seed]
        else:
            # a drawn seed stays within the range users may pass back (motionlcm.inputs.MAX_SEED)
            seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0]) % (MAX_SEED + 1)
            generator = torch.Generator(device="cpu").manual_seed(seed)
        timings: dict[str, float] = {}

        t0 = _now(self.device)
        cond = self.denoiser.text_condition(self.text_encoder.encode(texts))
        t1 = _now(self.device)
        shape = tuple(self.denoiser.config.latent_shape)
        if isinstance(generator, list):
            noise = torch.stack([torch.randn(shape, generator=g) for g in generator])
        else:
            noise = torch.randn((len(texts), *shape), generator=generator)
        lengths_t = torch.tensor(frames, device=self.device)
        mask = torch.arange(max(frames), device=self.device)[None] < lengths_t[:, None]
        hints, hint_mask, tokens = self._control_inputs(control, frames, latent_tuning_steps, exact_hints)
        tuning = None
        if latent_tuning_steps > 0:
            latent, tuning = self._tuned_latent(cond, noise, steps, scale, generator, mask, hints, hint_mask, tokens,
                                                int(latent_tuning_steps), tuning_progress, progress)
            timings["tuning"] = tuning["seconds"]
        else:
            latent = self._denoise(cond, noise, steps, scale, generator, progress, tokens)
        t2 = _now(self.device)
        features = self.vae.decode(latent, mask) * self.std + self.mean
        features = features.masked_fill(~mask[..., None], 0.0)
        t3 = _now(self.device)
        joints = features_to_joints(features.double(), mask).float()
        t4 = _now(self.device)
        hint_errors = None
        if hints is not None and exact_hints:
            features, joints, hint_errors = _meet_hints(features, joints, hints, hint_mask, frames)
        t5 = _now(self.device)
        # AITS (REFERENCE.md) counts text + denoise + decode; joints recovery is reported apart.
        timings.update(text=t1 - t0, denoise=t2 - t1, decode=t3 - t2, joints=t4 - t3, total=t5 - t0)
        if hint_errors is not None:
            timings["exact_hints"] = t5 - t4
        if latent_tuning_steps > 0:
            timings["denoise"] = t2 - t1 - timings["tuning"]
        return MotionOutput(features.cpu().numpy(), joints.cpu().numpy(), np.array(frames), texts,
                            seed, steps, scale, timings, _numpy_or_none(hints), _numpy_or_none(hint_mask), tuning,
                            hint_errors)

    def _eps(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor, w: torch.Tensor | None,
             tokens: torch.Tensor | None) -> torch.Tensor:
        """The denoiser's epsilon, through the ControlNet when there are control tokens."""
        from .models.controlnet import controlled_eps

        if tokens is not None and len(tokens) != len(x):  # CFG doubles the batch: [uncond, cond]
            tokens = torch.cat([tokens] * (len(x) // len(tokens)))
        return controlled_eps(self.denoiser, self.controlnet, x, t, c, tokens, w)

    def _denoise(self, cond: torch.Tensor, noise: torch.Tensor, steps: int, scale: float, generator,
                 progress: Callable[[int, int], None] | None, tokens: torch.Tensor | None = None) -> torch.Tensor:
        from .diffusion import ddim_sample, lcm_sample

        if self.sampler_kind == "lcm":
            return lcm_sample(lambda x, t, c, w: self._eps(x, t, c, w, tokens), self.scheduler, cond, noise, steps, scale,
                              timesteps=self.lcm_timesteps_for(steps), generator=generator, progress=progress)
        uncond = self.denoiser.text_condition(self.text_encoder.empty(len(cond))) if scale != 1.0 else None
        return ddim_sample(lambda x, t, c: self._eps(x, t, c, None, tokens), self.scheduler, cond, uncond,
                           tuple(self.denoiser.config.latent_shape), steps, scale, initial_noise=noise, progress=progress)

    def _control_inputs(self, control, frames: list[int], tuning_steps: int, exact_hints: bool = True):
        """(hints, mask, control tokens) on the device; all None without control."""
        if tuning_steps < 0:
            raise MotionLCMError(f"latent tuning steps must be >= 0, got {tuning_steps}")
        if control is None:
            if tuning_steps > 0:
                raise MotionLCMError("latent tuning needs control hints (a control spec)")
            return None, None, None
        if self.controlnet is None and tuning_steps == 0 and not exact_hints:
            raise MotionLCMError(f"{self.name or 'this checkpoint'} is a '{self.kind}' checkpoint without a ControlNet; "
                                 "use a 'control' checkpoint, latent tuning steps > 0 or exact hints to follow the hints")
        from .control.spec import control_batch

        hints_np, mask_np = control_batch(control, frames)
        hints = torch.as_tensor(hints_np, device=self.device)
        hint_mask = torch.as_tensor(mask_np, device=self.device)
        tokens = self.traj_encoder.encode_hints(hints, hint_mask) if self.controlnet is not None else None
        return hints, hint_mask, tokens

    def _tuned_latent(self, cond, noise, steps: int, scale: float, generator, mask, hints, hint_mask, tokens,
                      tuning_steps: int, tuning_progress, progress) -> tuple[torch.Tensor, dict]:
        """Consistency latent tuning of the initial noise, then the final (fixed-noise) LCM sample."""
        from .diffusion import lcm_timesteps
        from .diffusion.latent_tuning import lcm_generate, tune_latents

        if self.sampler_kind != "lcm":
            raise MotionLCMError("latent tuning needs a MotionLCM (lcm) checkpoint or a ControlNet trained on one")
        timesteps = lcm_timesteps(self.scheduler, steps, self.lcm_timesteps_for(steps)).tolist()
        # Fixed re-noising between steps (drawn like the initial noise) keeps the objective deterministic.
        renoise = [_draw(noise.shape, generator).to(self.device) for _ in timesteps[1:]]
        w = torch.full((len(cond),), scale - 1.0, device=self.device)
        alphas = self.scheduler.alphas_cumprod

        def generate(latent):
            return lcm_generate(lambda x, t: self._eps(x, t, cond, w, tokens), alphas, timesteps, latent, renoise)

        def joints_fn(latent):
            features = self.vae.decode(generate(latent), mask) * self.std + self.mean
            return features_to_joints(features, mask)

        result = tune_latents(noise.to(self.device), joints_fn, hints, hint_mask, steps=tuning_steps,
                              progress=tuning_progress)
        with torch.no_grad():
            latent = generate(result.latent)
        if progress is not None:
            progress(len(timesteps), len(timesteps))
        summary = {"steps": result.steps, "hint_loss_first": result.hint_loss[0] if result.hint_loss else None,
                   "hint_loss_last": result.hint_loss[-1] if result.hint_loss else None, "seconds": result.seconds}
        return latent, summary


def _meet_hints(features: torch.Tensor, joints: torch.Tensor, hints: torch.Tensor, hint_mask: torch.Tensor,
                frames: list[int]) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """Exact hints per sample on its valid frames, on the export rig; features recomputed from the corrected joints.

    HumanML3D features are relative to the first frame (floor, origin, facing +Z) and have one
    frame fewer than their joints, so the last frame's features are repeated.
    """
    import dataclasses

    from .body.smpl_pose import fit_rig
    from .control.exact import meet_hints
    from .motion.features import joints_to_features

    features, joints = features.clone(), joints.clone()
    reports = []
    for i, n in enumerate(frames):
        if not bool(hint_mask[i, :n].any()):
            reports.append(None)
            continue
        # On the export rig first: its bones are the dataset skeleton's (symmetric), so hints taken
        # from real motions are within reach, and the exports then show exactly these joints.
        _, rigged = fit_rig(joints[i, :n].cpu().numpy())
        corrected, report = meet_hints(rigged, hints[i, :n].cpu().numpy(), hint_mask[i, :n].cpu().numpy())
        joints[i, :n] = torch.as_tensor(corrected, dtype=joints.dtype)
        recomputed = joints_to_features(torch.as_tensor(corrected), retarget=False).to(features.dtype)
        features[i, : n - 1] = recomputed.to(features.device)
        features[i, n - 1] = recomputed[-1].to(features.device)
        reports.append(dataclasses.asdict(report))
    return features, joints, reports


def _numpy_or_none(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.cpu().numpy()


def _draw(shape, generator) -> torch.Tensor:
    """CPU Gaussian noise from one generator, or one row per generator (per-sample seeds)."""
    if isinstance(generator, list):
        return torch.stack([torch.randn(tuple(shape[1:]), generator=g) for g in generator])
    return torch.randn(tuple(shape), generator=generator)


def _now(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()
