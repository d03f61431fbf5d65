"""One LightningModule per training stage: the motion VAE and the MLD latent-diffusion teacher."""
from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..errors import MotionLCMError
from ..models import DenoiserConfig, LatentDenoiser, motion_vae_from_config, vae_loss
from ..models.denoiser import cat_text_conditions, select_text_condition, text_condition_dim
from ..models.vae import LatentDistribution
from ..motion.features import features_to_joints
from ..checkpoint import Checkpoint, build_denoiser, build_vae, load_checkpoint, load_state


class TextConditionCache:
    """A frozen text encoder's conditions for a denoiser (pooled vectors or token states), memoised per caption.

    Training captions repeat every epoch and the encoder never changes, so on CPU this removes
    the sentence encoder from most training steps (MiniLM costs ~0.2 s per batch of 64 there).
    Token states are stored trimmed to their real length and zero-padded per batch.
    """

    def __init__(self, encoder, tokens: bool = False, max_entries: int = 200_000):
        self.encoder, self.tokens, self.max_entries = encoder, bool(tokens), max_entries
        self.table: dict[str, torch.Tensor] = {}

    def _condition(self, encoding) -> list[torch.Tensor]:
        if not self.tokens:
            return list(encoding.pooled.detach())
        return [t[m].detach() for t, m in zip(encoding.tokens, encoding.mask)]

    def _stack(self, rows: list[torch.Tensor], device: torch.device) -> torch.Tensor:
        if not self.tokens:
            return torch.stack(rows).to(device)
        return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True).to(device)

    def __call__(self, texts: list[str], device: torch.device) -> torch.Tensor:
        encoder = self.encoder.to(device)
        unique = list(dict.fromkeys(texts))
        missing = [t for t in unique if t not in self.table]
        if missing:
            if len(self.table) + len(missing) > self.max_entries:
                self.table.clear()
                missing = unique
            self.table.update(zip(missing, self._condition(encoder.encode(missing))))
        return self._stack([self.table[t] for t in texts], device)

    def empty(self, n: int, device: torch.device) -> torch.Tensor:
        return self._stack(self._condition(self.encoder.to(device).empty(1)) * n, device)


class LatentCache:
    """The frozen VAE's posterior (mu, logvar) per training crop, memoised on the CPU.

    In the mld, lcm and control stages the VAE is frozen, and text-mode crops repeat: a motion of
    L frames has about a dozen (two rounded lengths times their start frames). Encoding is most of
    a CPU training step (a 196-frame encoder pass for a 17-token denoiser), so after a few epochs
    most steps skip it. Keyed by (name, start, length); cleared when ``max_entries`` is reached.
    """

    def __init__(self, max_entries: int):
        self.max_entries = int(max_entries)
        self.table: dict[tuple[str, int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self.hits = self.misses = 0

    def __call__(self, vae, batch) -> LatentDistribution:
        lengths = batch["lengths"].tolist()
        keys = list(zip(batch["name"], (int(s) for s in batch["start"]), lengths))
        rows = [i for i, key in enumerate(keys) if key not in self.table]
        self.hits, self.misses = self.hits + len(keys) - len(rows), self.misses + len(rows)
        if rows:
            if len(self.table) + len(rows) > self.max_entries:
                self.table.clear()
                rows = list(range(len(keys)))
            frames = max(lengths[i] for i in rows)
            index = torch.tensor(rows, device=batch["motion"].device)
            with torch.no_grad():
                _, dist = vae.encode(batch["motion"][index, :frames], batch["mask"][index, :frames], sample=False)
            for row, mu, logvar in zip(rows, dist.mu.cpu(), dist.logvar.cpu()):
                self.table[keys[row]] = (mu, logvar)
        device = batch["motion"].device
        mu, logvar = (torch.stack([self.table[key][part] for key in keys]).to(device) for part in (0, 1))
        return LatentDistribution(mu=mu, logvar=logvar)


class _Stage(L.LightningModule):
    """Shared optimisation: AdamW, cosine schedule with warm-up, optional EMA of the trained network."""

    kind = ""
    frozen_vae = False  # stages that only read a frozen VAE's latents can memoise them (stage.latent_cache)

    def __init__(self, optim: dict[str, Any], mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.optim_cfg = dict(optim)
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, np.float32)), persistent=False)
        self.register_buffer("std", torch.as_tensor(np.asarray(std, np.float32)), persistent=False)
        self.ema: AveragedModel | None = None
        self._latent_cache: LatentCache | None = None

    def trained_network(self) -> torch.nn.Module:
        raise NotImplementedError

    def use_latent_cache(self, max_entries: int | None) -> None:
        """Memoise the frozen VAE's posteriors per crop (see :class:`LatentCache`); 0 or None: off."""
        if max_entries is not None and (isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 0):
            raise MotionLCMError(f"stage.latent_cache must be a number of crops >= 0 (0: off), got {max_entries!r}")
        self._latent_cache = LatentCache(max_entries) if max_entries else None

    def posterior(self, batch) -> LatentDistribution:
        """The frozen VAE's posterior of the batch's crops (memoised when enabled and the batch names its crops)."""
        if self._latent_cache is not None and "start" in batch and "name" in batch:
            return self._latent_cache(self.vae, batch)
        with torch.no_grad():
            return self.vae.encode(batch["motion"], batch["mask"], sample=False)[1]

    def _setup_ema(self) -> None:
        decay = self.optim_cfg.get("ema_decay")
        if decay:
            self.ema = AveragedModel(self.trained_network(), multi_avg_fn=get_ema_multi_avg_fn(float(decay)), use_buffers=True)
            self.ema.requires_grad_(False)

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        # Right after the step, so checkpoints saved at this batch already hold the updated EMA.
        if self.ema is not None:
            self.ema.update_parameters(self.trained_network())

    def _init_checkpoint(self, path: str, kinds: tuple[str, ...]) -> Checkpoint:
        """The ``init=`` export, of one of ``kinds``, with this dataset's Mean/Std (one-line errors)."""
        try:
            ckpt = load_checkpoint(path, expected_kinds=kinds)
        except MotionLCMError as exc:
            raise MotionLCMError(f"init={path}: {exc}") from None
        _check_same_normalisation(ckpt, self.mean.cpu().numpy(), self.std.cpu().numpy())
        return ckpt

    def export_network(self) -> torch.nn.Module:
        """The weights to export: the EMA copy when enabled."""
        return self.ema.module if self.ema is not None else self.trained_network()

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """The trained network's parameters grouped by ``optim.lr_scale`` ({name prefix: factor}):
        layers added to a trained network (the conv VAE's phase path) start at zero on both ends
        and leave that saddle only at a higher rate. A prefix that names no parameter is an error
        (checked when the stage is built, before any output is written)."""
        scales = {str(prefix): float(f) for prefix, f in dict(self.optim_cfg.get("lr_scale") or {}).items()}
        groups: dict[float, list] = {}
        used: set[str] = set()
        for name, p in self.trained_network().named_parameters():
            prefix = next((q for q in scales if name.startswith(q)), None)
            used.update([prefix] if prefix else [])
            if p.requires_grad:
                groups.setdefault(scales.get(prefix, 1.0), []).append(p)
        unused = [prefix for prefix in scales if prefix not in used]
        if unused:
            raise MotionLCMError(f"stage.optim.lr_scale names no parameters of the trained network: {', '.join(unused)}")
        return [{"params": ps, "lr": lr * f} for f, ps in sorted(groups.items())]

    def configure_optimizers(self):
        from diffusers.optimization import get_cosine_schedule_with_warmup

        lr = float(self.optim_cfg["lr"])
        optimizer = torch.optim.AdamW(self.param_groups(lr), lr=lr, weight_decay=float(self.optim_cfg.get("weight_decay", 0.0)),
                                      betas=tuple(self.optim_cfg.get("betas", (0.9, 0.999))))
        total = self.trainer.max_steps if self.trainer and self.trainer.max_steps and self.trainer.max_steps > 0 else 100_000
        scheduler = get_cosine_schedule_with_warmup(optimizer, int(self.optim_cfg.get("warmup_steps", 0)), total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class VAEStage(_Stage):
    """Trains :class:`MotionVAE` with the masked feature + joint + KL loss; validates MPJPE."""

    kind = "vae"

    def __init__(self, vae: dict[str, Any], optim: dict[str, Any], loss_weights: dict[str, float], mean, std,
                 anchor_weight: float = 0.0):
        super().__init__(optim, mean, std)
        self.save_hyperparameters(ignore=["mean", "std"])
        self.vae = motion_vae_from_config(vae)
        self.loss_weights = dict(loss_weights)
        if isinstance(anchor_weight, bool) or not isinstance(anchor_weight, (int, float)) or anchor_weight < 0:
            raise MotionLCMError(f"stage.anchor_weight must be a number >= 0, got {anchor_weight!r}")
        self.anchor_weight = float(anchor_weight)
        self.anchor: torch.nn.Module | None = None
        self._setup_ema()

    def trained_network(self) -> torch.nn.Module:
        return self.vae

    def load_initial_weights(self, path: str) -> None:
        """Start from an exported checkpoint's VAE (same Mean/Std). Layers this config adds (the conv
        VAE's zero-initialised phase path) may be absent there and keep their initialisation. With
        ``anchor_weight`` > 0 a frozen copy of the loaded VAE is kept, and the posterior means are
        pulled towards its (a fine-tuned VAE whose latents stay close keeps a denoiser usable)."""
        ckpt = self._init_checkpoint(path, ("vae", "mld", "lcm", "control"))
        state = ckpt.sub_state("vae")
        if not state:
            raise MotionLCMError(f"init={path}: the checkpoint holds no VAE")
        new_layers = tuple(getattr(self.vae, "PHASE_PREFIXES", ()))
        try:
            missing, unexpected = self.vae.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise MotionLCMError(f"init={path}: its VAE does not fit this config: {str(exc).splitlines()[-1].strip()}") from None
        wrong = unexpected + [k for k in missing if not k.startswith(new_layers) or not new_layers]
        if wrong:
            raise MotionLCMError(f"init={path}: its VAE does not fit this config (keys {', '.join(wrong[:3])})")
        if self.anchor_weight > 0:
            import copy

            # Taken before any step: the new layers' outputs are still zero, so this is the loaded VAE.
            self.anchor = copy.deepcopy(self.vae).eval().requires_grad_(False)
        self._setup_ema()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.anchor is not None:
            self.anchor.eval()
        return self

    def training_step(self, batch, batch_idx):
        out = self.vae(batch["motion"], batch["mask"])
        losses = vae_loss(out, batch["motion"], batch["mask"], self.mean, self.std, self.loss_weights)
        if self.anchor is not None:
            with torch.no_grad():
                anchor_mu = self.anchor.encode(batch["motion"], batch["mask"], sample=False)[1].mu
            losses["anchor"] = F.mse_loss(out[2], anchor_mu)
            losses["total"] = losses["total"] + self.anchor_weight * losses["anchor"]
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=False, batch_size=len(batch["mask"]))
        self.log("loss", losses["total"], prog_bar=True, logger=False, batch_size=len(batch["mask"]))
        return losses["total"]

    def validation_step(self, batch, batch_idx):
        vae = self.export_network()
        motion, mask = batch["motion"], batch["mask"]
        z, dist = vae.encode(motion, mask, sample=False)
        recon = vae.decode(z, mask)
        losses = vae_loss((recon, z, dist.mu, dist.logvar), motion, mask, self.mean, self.std, self.loss_weights)
        error = root_aligned_joint_error(recon * self.std + self.mean, motion * self.std + self.mean, mask)
        size = len(mask)
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, batch_size=size, sync_dist=True)
        self.log("val/mpjpe_mm", error * 1000.0, prog_bar=True, batch_size=size, sync_dist=True)

    def export_modules(self) -> dict[str, torch.nn.Module]:
        return {"vae": self.export_network()}

    def export_config(self) -> dict[str, Any]:
        return {"vae": self.vae.config.to_dict()}


def _check_same_normalisation(ckpt: Checkpoint, mean, std) -> None:
    if not (np.allclose(ckpt.mean, mean) and np.allclose(ckpt.std, std)):
        raise MotionLCMError(f"{ckpt.path}: trained with another Mean/Std than this dataset's")


def checked_section(given: dict[str, Any] | None, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    """A config section with exactly ``keys`` (their values live in configs/stage/*.yaml), in that order.

    Unknown and missing keys are one-line errors: the stages take no Python defaults for them.
    """
    given = dict(given or {})
    unknown = sorted(set(given) - set(keys))
    if unknown:
        raise MotionLCMError(f"unknown {what} option(s): {', '.join(unknown)}; known: {', '.join(keys)}")
    missing = [key for key in keys if key not in given]
    if missing:
        raise MotionLCMError(f"missing {what} option(s): {', '.join(missing)} (configs/stage/*.yaml lists them all)")
    return {key: given[key] for key in keys}


def root_aligned_joint_error(pred_features: torch.Tensor, true_features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error (metres) after subtracting each frame's pelvis, over valid frames."""
    pred = features_to_joints(pred_features, mask)
    true = features_to_joints(true_features, mask)
    pred = pred - pred[..., :1, :]
    true = true - true[..., :1, :]
    per_frame = (pred - true).norm(dim=-1).mean(-1)
    return per_frame[mask].mean()


class _GeneratorStage(_Stage):
    """Exports what generation needs: the frozen VAE, the trained denoiser and its sampling setup."""

    def export_modules(self) -> dict[str, torch.nn.Module]:
        return {"vae": self.vae, "denoiser": self.export_network()}

    def export_config(self) -> dict[str, Any]:
        return {
            "vae": self.vae.config.to_dict(),
            "denoiser": self.trained_network().config.to_dict(),
            "text_encoder": self.text_encoder_name,
            "schedule": self.schedule.to_dict(),
            "sampling": self.sampling,
        }


class MLDStage(_GeneratorStage):
    """Trains the latent denoiser (MLD teacher) on a frozen VAE's latents with text dropout for CFG."""

    kind = "mld"
    frozen_vae = True

    def __init__(self, vae_path: str, denoiser: dict[str, Any], text_encoder: str, schedule: dict[str, Any],
                 optim: dict[str, Any], cfg_dropout: float, sampling: dict[str, Any], mean, std,
                 snr_gamma: float | None = None, init_any_vae: bool = False):
        if not vae_path:
            raise MotionLCMError("the mld stage needs a trained VAE: add vae=PATH (a folder written by stage=vae)")
        super().__init__(optim, mean, std)
        self.save_hyperparameters(ignore=["mean", "std"])
        self.init_any_vae = bool(init_any_vae)
        from ..diffusion import NoiseSchedule, make_ddpm_scheduler
        from ..models.text_encoder import load_text_encoder

        # Any checkpoint holding a VAE will do (an mld / lcm folder carries the one it was trained on).
        vae_ckpt = load_checkpoint(vae_path, expected_kinds=("vae", "mld", "lcm"))
        _check_same_normalisation(vae_ckpt, mean, std)
        self.vae = build_vae(vae_ckpt).requires_grad_(False)
        self.text_encoder_name = text_encoder
        # Kept out of the module tree: frozen, loaded by name, not part of any checkpoint.
        self._text = [load_text_encoder(text_encoder)]
        denoiser = dict(denoiser)
        conditioning = denoiser.get("text_conditioning", "pooled")
        self._conditions = TextConditionCache(self._text[0], tokens=conditioning == "tokens")
        denoiser.setdefault("latent_shape", list(self.vae.config.latent_shape))
        denoiser["text_dim"] = text_condition_dim(self._text[0], conditioning)
        self.denoiser = LatentDenoiser(DenoiserConfig.from_dict(denoiser))
        if tuple(self.denoiser.config.latent_shape) != tuple(self.vae.config.latent_shape):
            raise MotionLCMError(f"denoiser latent_shape {self.denoiser.config.latent_shape} differs from the VAE's {self.vae.config.latent_shape}")
        self.schedule = NoiseSchedule.from_dict(schedule)
        self.noise_scheduler = make_ddpm_scheduler(self.schedule)
        self.cfg_dropout = float(cfg_dropout)
        if snr_gamma is not None and (isinstance(snr_gamma, bool) or not isinstance(snr_gamma, (int, float)) or not snr_gamma > 0):
            raise MotionLCMError(f"stage.snr_gamma must be a number > 0 (or null: plain MSE), got {snr_gamma!r}")
        self.snr_gamma = None if snr_gamma is None else float(snr_gamma)
        self.sampling = dict(sampling)
        self._setup_ema()

    def trained_network(self) -> torch.nn.Module:
        return self.denoiser

    def load_initial_weights(self, path: str) -> None:
        """Start from an exported teacher's denoiser (fine-tuning / a longer schedule); same VAE required."""
        ckpt = self._init_checkpoint(path, ("mld",))
        vae_state = ckpt.sub_state("vae")
        own = self.vae.state_dict()
        # stage.init_any_vae: deliberately carry a denoiser over to a fine-tuned VAE (same latent shape).
        if not self.init_any_vae and (
                vae_state.keys() != own.keys() or any(not torch.equal(vae_state[k], own[k].cpu()) for k in own)):
            raise MotionLCMError(f"init={path}: its denoiser was trained on another VAE than vae= "
                                 "(stage.init_any_vae=true carries it over on purpose)")
        load_state(self.denoiser, ckpt.sub_state("denoiser"), f"init={path}")
        self._setup_ema()

    def on_fit_start(self) -> None:
        self._text[0].to(self.device)

    def train(self, mode: bool = True):
        super().train(mode)
        self.vae.eval()  # frozen: no dropout in the teacher's latents
        return self

    def text_embeddings(self, texts: list[str], drop: bool) -> torch.Tensor:
        pooled = self._conditions(list(texts), self.device)
        if drop and self.cfg_dropout > 0:
            empty = self._conditions.empty(len(texts), self.device)
            keep = torch.rand(len(texts), device=pooled.device) >= self.cfg_dropout
            pooled = select_text_condition(keep, pooled, empty)
        return pooled

    def diffusion_loss(self, batch, denoiser: torch.nn.Module, drop_text: bool, weighted: bool = True) -> torch.Tensor:
        z = self.posterior(batch).sample()
        noise = torch.randn_like(z)
        steps = torch.randint(0, self.schedule.num_train_timesteps, (len(z),), device=z.device)
        noisy = self.noise_scheduler.add_noise(z, noise, steps)
        eps = denoiser(noisy, steps, self.text_embeddings(batch["text"], drop_text))
        if self.snr_gamma is None or not weighted:
            return F.mse_loss(eps, noise)
        # Min-SNR-gamma weighting (Hang et al. 2023; diffusers' compute_snr): for epsilon targets
        # the weight min(SNR, gamma) / SNR stops the low-noise steps from dominating the gradient.
        from diffusers.training_utils import compute_snr

        snr = compute_snr(self.noise_scheduler, steps)
        weight = torch.clamp(snr, max=self.snr_gamma) / snr
        per_sample = F.mse_loss(eps, noise, reduction="none").flatten(1).mean(1)
        return (per_sample * weight).mean()

    def training_step(self, batch, batch_idx):
        loss = self.diffusion_loss(batch, self.denoiser, drop_text=True)
        self.log("train/loss", loss, batch_size=len(batch["mask"]))
        self.log("loss", loss, prog_bar=True, logger=False, batch_size=len(batch["mask"]))
        return loss

    def validation_step(self, batch, batch_idx):
        # Plain epsilon MSE whatever the training weighting, so validation curves stay comparable.
        loss = self.diffusion_loss(batch, self.export_network(), drop_text=False, weighted=False)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch["mask"]), sync_dist=True)

class LCMStage(_GeneratorStage):
    """Latent consistency distillation of an MLD teacher into a few-step MotionLCM student.

    Module tree: ``vae`` and ``teacher`` (frozen), ``student`` (trained: the online network) and
    ``target`` (its EMA at ``target_ema``, the consistency target). Student and target start as
    copies of the teacher plus a zero-initialised guidance branch, so step 0 reproduces the teacher.
    """

    kind = "lcm"
    frozen_vae = True

    def __init__(self, teacher_path: str, optim: dict[str, Any], lcm: dict[str, Any], sampling: dict[str, Any], mean, std,
                 endpoint: dict[str, Any] | None = None):
        if not teacher_path:
            raise MotionLCMError("the lcm stage needs a trained teacher: add teacher=PATH (a folder written by stage=mld)")
        super().__init__(optim, mean, std)
        self.save_hyperparameters(ignore=["mean", "std"])
        from ..diffusion import NoiseSchedule, make_ddim_scheduler, make_ddpm_scheduler, make_lcm_scheduler
        from ..diffusion.consistency import skipping_timesteps
        from ..models.text_encoder import load_text_encoder

        ckpt = load_checkpoint(teacher_path, expected_kinds=("mld",))
        _check_same_normalisation(ckpt, mean, std)
        self.lcm = checked_section(lcm, LCM_KEYS, "lcm")
        self.vae = build_vae(ckpt).requires_grad_(False)
        self.teacher = build_denoiser(ckpt).requires_grad_(False)
        student_config = {**ckpt.config["denoiser"], "guidance_embed_dim": int(self.lcm["guidance_embed_dim"])}
        self.student = LatentDenoiser(DenoiserConfig.from_dict(student_config))
        missing, unexpected = self.student.load_state_dict(self.teacher.state_dict(), strict=False)
        if unexpected or set(missing) != {"guidance_proj.weight"}:
            raise MotionLCMError(f"{teacher_path}: teacher weights do not fit the student ({missing or unexpected})")
        self.target = LatentDenoiser(self.student.config).requires_grad_(False)
        self.target.load_state_dict(self.student.state_dict())
        self.text_encoder_name = ckpt.config["text_encoder"]
        self._text = [load_text_encoder(self.text_encoder_name)]  # frozen, outside the module tree
        self._conditions = TextConditionCache(self._text[0], tokens=self.teacher.uses_text_tokens)
        self.schedule = NoiseSchedule.from_dict(ckpt.config.get("schedule"))
        self.register_buffer("grid", skipping_timesteps(self.schedule.num_train_timesteps, int(self.lcm["num_ddim_timesteps"])),
                             persistent=False)
        self.noise_scheduler = make_ddpm_scheduler(self.schedule)
        # Validation samples with both: 1-step student vs DDIM-10 teacher.
        self.lcm_scheduler = make_lcm_scheduler(self.schedule, int(self.lcm["num_ddim_timesteps"]))
        self.ddim_scheduler = make_ddim_scheduler(self.schedule)
        self.register_buffer("alphas_cumprod", self.noise_scheduler.alphas_cumprod.clone().float(), persistent=False)
        self.sampling = dict(sampling)
        self.endpoint = checked_endpoint(endpoint)
        self._setup_ema()

    def trained_network(self) -> torch.nn.Module:
        return self.student

    def load_initial_weights(self, path: str) -> None:
        """Continue a distillation: student and consistency target start from an exported student
        distilled from this teacher's VAE (a fresh optimiser and schedule)."""
        ckpt = self._init_checkpoint(path, ("lcm",))
        vae_state, own = ckpt.sub_state("vae"), self.vae.state_dict()
        if vae_state.keys() != own.keys() or any(not torch.equal(vae_state[k], own[k].cpu()) for k in own):
            raise MotionLCMError(f"init={path}: that student was distilled on another VAE than the teacher's")
        load_state(self.student, ckpt.sub_state("denoiser"), f"init={path}")
        self.target.load_state_dict(self.student.state_dict())
        self._setup_ema()

    def train(self, mode: bool = True):
        super().train(mode)
        for frozen in (self.vae, self.teacher, self.target):
            frozen.eval()
        return self

    def on_fit_start(self) -> None:
        self._text[0].to(self.device)

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        rate = float(self.lcm["target_ema"])
        with torch.no_grad():
            torch._foreach_lerp_(list(self.target.parameters()), list(self.student.parameters()), 1.0 - rate)

    def distillation_loss(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        from ..diffusion.consistency import consistency_function, ddim_step, distillation_loss, guided, predict_x0

        cfg = self.lcm
        with torch.no_grad():
            z0 = self.posterior(batch).sample()
            cond = self._conditions(list(batch["text"]), self.device)
            uncond = self._conditions.empty(len(z0), self.device)
        batch_size, device = len(z0), z0.device

        def rand(*shape):
            return torch.rand(*shape, generator=generator).to(device) if generator is not None else torch.rand(*shape, device=device)

        index = (rand(batch_size) * len(self.grid)).long().clamp(max=len(self.grid) - 1)
        start = self.grid[index]
        k = self.schedule.num_train_timesteps // int(cfg["num_ddim_timesteps"])
        end = (start - k).clamp(min=0)
        noise = torch.randn(z0.shape, generator=generator).to(device) if generator is not None else torch.randn_like(z0)
        x_start = self.noise_scheduler.add_noise(z0, noise, start)
        w = float(cfg["w_min"]) + (float(cfg["w_max"]) - float(cfg["w_min"])) * rand(batch_size)
        scalings = dict(sigma_data=float(cfg["sigma_data"]), timestep_scaling=float(cfg["timestep_scaling"]))

        prediction = consistency_function(self.student(x_start, start, cond, w), x_start, start, self.alphas_cumprod, **scalings)
        with torch.no_grad():
            eps_both = self.teacher(torch.cat([x_start, x_start]), torch.cat([start, start]),
                                    cat_text_conditions([cond, uncond]))
            eps_c, eps_u = eps_both.chunk(2)
            alpha_start = self.alphas_cumprod[start]
            x0 = guided(predict_x0(eps_c, x_start, alpha_start), predict_x0(eps_u, x_start, alpha_start), w)
            eps = guided(eps_c, eps_u, w)
            x_end = ddim_step(x0, eps, self.alphas_cumprod[end])
            target = consistency_function(self.target(x_end, end, cond, w), x_end, end, self.alphas_cumprod, **scalings)
        return distillation_loss(prediction, target, str(cfg["loss"]), float(cfg["huber_c"]))

    def one_step_timestep(self) -> int:
        """The timestep of the student's one-step schedule (its ``lcm.timesteps``, else MotionLCM-V2's)."""
        from ..diffusion.schedule import LCM_TIMESTEPS

        table = self.lcm.get("timesteps") or {}
        return int((table.get(1) or table.get("1") or LCM_TIMESTEPS[1])[0])

    def endpoint_loss(self, texts: list[str], generator: torch.Generator | None = None) -> torch.Tensor:
        """One student step from pure noise against the teacher's DDIM + CFG solution from the same noise.

        The consistency loss reaches the one-step map only through the student's own targets at
        lower timesteps; this term states it directly (knowledge distillation of the PF-ODE's
        endpoint, Luhman & Luhman 2021), at one guidance scale per step drawn from [w_min, w_max].
        """
        from ..diffusion import ddim_sample
        from ..diffusion.consistency import consistency_function, distillation_loss

        cfg = self.lcm
        texts = list(texts)[: int(self.endpoint["samples"])]
        n, device = len(texts), self.device
        u = torch.rand((), generator=generator) if generator is not None else torch.rand(())
        w = float(cfg["w_min"]) + (float(cfg["w_max"]) - float(cfg["w_min"])) * float(u)
        noise = torch.randn((n, *self.student.config.latent_shape), generator=generator).to(device)
        with torch.no_grad():
            cond = self._conditions(texts, device)
            target = ddim_sample(lambda x, t, c: self.teacher(x, t, c), self.ddim_scheduler, cond,
                                 self._conditions.empty(n, device), tuple(self.student.config.latent_shape),
                                 num_steps=int(self.endpoint["teacher_steps"]), guidance=w + 1.0, initial_noise=noise)
        step = torch.full((n,), self.one_step_timestep(), device=device, dtype=torch.long)
        eps = self.student(noise, step, cond, torch.full((n,), w, device=device))
        prediction = consistency_function(eps, noise, step, self.alphas_cumprod, sigma_data=float(cfg["sigma_data"]),
                                          timestep_scaling=float(cfg["timestep_scaling"]))
        return distillation_loss(prediction, target, str(cfg["loss"]), float(cfg["huber_c"]))

    def training_step(self, batch, batch_idx):
        loss = self.distillation_loss(batch)
        size = len(batch["mask"])
        self.log("train/loss", loss, batch_size=size)
        weight = float(self.endpoint["weight"])
        if weight > 0:
            endpoint = self.endpoint_loss(batch["text"])
            self.log("train/endpoint", endpoint, batch_size=size)
            loss = loss + weight * endpoint
        self.log("loss", loss, prog_bar=True, logger=False, batch_size=size)
        return loss

    @torch.no_grad()
    def validation_step(self, batch, batch_idx):
        """Distillation loss, and how far 1-step student samples are from the teacher's DDIM + CFG samples."""
        from ..diffusion import ddim_sample, lcm_default_guidance, lcm_sample

        size = len(batch["mask"])
        generator = torch.Generator().manual_seed(batch_idx)
        self.log("val/loss", self.distillation_loss(batch, generator), prog_bar=True, batch_size=size, sync_dist=True)
        cond = self._conditions(list(batch["text"]), self.device)
        noise = torch.randn((size, *self.student.config.latent_shape), generator=generator).to(self.device)
        scale = lcm_default_guidance(1)
        student = lcm_sample(lambda x, t, c, w: self.student(x, t, c, w), self.lcm_scheduler, cond, noise,
                             num_steps=1, guidance=scale)
        teacher = ddim_sample(lambda x, t, c: self.teacher(x, t, c), self.ddim_scheduler, cond,
                              self._conditions.empty(size, self.device), tuple(self.student.config.latent_shape), num_steps=10,
                              guidance=scale, initial_noise=noise)
        self.log("val/lcm1_vs_ddim10_latent_mse", F.mse_loss(student, teacher), batch_size=size, sync_dist=True)
        if float(self.endpoint["weight"]) > 0:
            self.log("val/endpoint", self.endpoint_loss(batch["text"], generator), batch_size=size, sync_dist=True)

    def export_config(self) -> dict[str, Any]:
        return {**super().export_config(), "lcm": self.lcm}


def checked_endpoint(given: dict[str, Any] | None) -> dict[str, Any]:
    """``stage.endpoint`` (configs/stage/lcm.yaml): weight >= 0 (0: off), samples and teacher_steps positive integers."""
    endpoint = checked_section(given if given is not None else {"weight": 0.0, "samples": 8, "teacher_steps": 10},
                               ("weight", "samples", "teacher_steps"), "endpoint")
    weight = endpoint["weight"]
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
        raise MotionLCMError(f"stage.endpoint.weight must be a number >= 0, got {weight!r}")
    for key in ("samples", "teacher_steps"):
        value = endpoint[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise MotionLCMError(f"stage.endpoint.{key} must be a positive integer, got {value!r}")
    return endpoint


# The keys of ``stage.lcm``, exported as the checkpoint's ``lcm`` section in this order; their
# values and meaning: configs/stage/lcm.yaml (MotionLCM's distillation settings, REFERENCE.md section 2).
LCM_KEYS = ("num_ddim_timesteps", "w_min", "w_max", "loss", "huber_c", "target_ema", "guidance_embed_dim", "sigma_data",
            "timestep_scaling", "timesteps")
