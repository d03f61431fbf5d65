"""One LightningModule per training stage: the motion VAE and the MLD latent-diffusion teacher."""
from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..errors import MotionLCMError
from ..models import DenoiserConfig, LatentDenoiser, MotionVAE, VAEConfig, vae_loss
from ..motion.features import features_to_joints
from .checkpoint import load_checkpoint, load_state


class _Stage(L.LightningModule):
    """Shared optimisation: AdamW, cosine schedule with warm-up, optional EMA of the trained network."""

    kind = ""

    def __init__(self, optim: dict[str, Any], mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.optim_cfg = dict(optim)
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, np.float32)), persistent=False)
        self.register_buffer("std", torch.as_tensor(np.asarray(std, np.float32)), persistent=False)
        self.ema: AveragedModel | None = None

    def trained_network(self) -> torch.nn.Module:
        raise NotImplementedError

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

    def export_network(self) -> torch.nn.Module:
        """The weights to export: the EMA copy when enabled."""
        return self.ema.module if self.ema is not None else self.trained_network()

    def configure_optimizers(self):
        from diffusers.optimization import get_cosine_schedule_with_warmup

        params = [p for p in self.trained_network().parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=float(self.optim_cfg["lr"]), weight_decay=float(self.optim_cfg.get("weight_decay", 0.0)),
                                      betas=tuple(self.optim_cfg.get("betas", (0.9, 0.999))))
        total = self.trainer.max_steps if self.trainer and self.trainer.max_steps and self.trainer.max_steps > 0 else 100_000
        scheduler = get_cosine_schedule_with_warmup(optimizer, int(self.optim_cfg.get("warmup_steps", 0)), total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class VAEStage(_Stage):
    """Trains :class:`MotionVAE` with the masked feature + joint + KL loss; validates MPJPE."""

    kind = "vae"

    def __init__(self, vae: dict[str, Any], optim: dict[str, Any], loss_weights: dict[str, float], mean, std):
        super().__init__(optim, mean, std)
        self.save_hyperparameters(ignore=["mean", "std"])
        self.vae = MotionVAE(VAEConfig.from_dict(vae))
        self.loss_weights = dict(loss_weights)
        self._setup_ema()

    def trained_network(self) -> torch.nn.Module:
        return self.vae

    def training_step(self, batch, batch_idx):
        out = self.vae(batch["motion"], batch["mask"])
        losses = vae_loss(out, batch["motion"], batch["mask"], self.mean, self.std, self.loss_weights)
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


def root_aligned_joint_error(pred_features: torch.Tensor, true_features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error (metres) after subtracting each frame's pelvis, over valid frames."""
    pred = features_to_joints(pred_features, mask)
    true = features_to_joints(true_features, mask)
    pred = pred - pred[..., :1, :]
    true = true - true[..., :1, :]
    per_frame = (pred - true).norm(dim=-1).mean(-1)
    return per_frame[mask].mean()


class MLDStage(_Stage):
    """Trains the latent denoiser (MLD teacher) on a frozen VAE's latents with text dropout for CFG."""

    kind = "mld"

    def __init__(self, vae_path: str, denoiser: dict[str, Any], text_encoder: str, schedule: dict[str, Any],
                 optim: dict[str, Any], cfg_dropout: float, sampling: dict[str, Any], mean, std):
        super().__init__(optim, mean, std)
        self.save_hyperparameters(ignore=["mean", "std"])
        from ..diffusion import NoiseSchedule, make_ddpm_scheduler
        from ..models.text_encoder import load_text_encoder

        vae_ckpt = load_checkpoint(vae_path, expected_kinds=("vae",))
        if not (np.allclose(vae_ckpt.mean, mean) and np.allclose(vae_ckpt.std, std)):
            raise MotionLCMError(f"{vae_path}: the VAE was trained with another Mean/Std than this dataset's")
        self.vae = MotionVAE(VAEConfig.from_dict(vae_ckpt.config["vae"]))
        load_state(self.vae, vae_ckpt.sub_state("vae"), str(vae_path))
        self.vae.requires_grad_(False).eval()
        self.text_encoder_name = text_encoder
        # Kept out of the module tree: frozen, loaded by name, not part of any checkpoint.
        self._text = [load_text_encoder(text_encoder)]
        denoiser = dict(denoiser)
        denoiser.setdefault("latent_shape", list(self.vae.config.latent_shape))
        denoiser["text_dim"] = self._text[0].dim
        self.denoiser = LatentDenoiser(DenoiserConfig.from_dict(denoiser))
        if tuple(self.denoiser.config.latent_shape) != tuple(self.vae.config.latent_shape):
            raise MotionLCMError(f"denoiser latent_shape {self.denoiser.config.latent_shape} differs from the VAE's {self.vae.config.latent_shape}")
        self.schedule = NoiseSchedule.from_dict(schedule)
        self.noise_scheduler = make_ddpm_scheduler(self.schedule)
        self.cfg_dropout = float(cfg_dropout)
        self.sampling = dict(sampling)
        self._setup_ema()

    def trained_network(self) -> torch.nn.Module:
        return self.denoiser

    def on_fit_start(self) -> None:
        self._text[0].to(self.device)

    def train(self, mode: bool = True):
        super().train(mode)
        self.vae.eval()  # frozen: no dropout in the teacher's latents
        return self

    def text_embeddings(self, texts: list[str], drop: bool) -> torch.Tensor:
        encoder = self._text[0].to(self.device)
        pooled = encoder.encode(list(texts)).pooled
        if drop and self.cfg_dropout > 0:
            empty = encoder.empty(len(texts)).pooled
            keep = torch.rand(len(texts), device=pooled.device) >= self.cfg_dropout
            pooled = torch.where(keep[:, None], pooled, empty)
        return pooled

    def diffusion_loss(self, batch, denoiser: torch.nn.Module, drop_text: bool) -> torch.Tensor:
        with torch.no_grad():
            z, _ = self.vae.encode(batch["motion"], batch["mask"], sample=True)
        noise = torch.randn_like(z)
        steps = torch.randint(0, self.schedule.num_train_timesteps, (len(z),), device=z.device)
        noisy = self.noise_scheduler.add_noise(z, noise, steps)
        eps = denoiser(noisy, steps, self.text_embeddings(batch["text"], drop_text))
        return F.mse_loss(eps, noise)

    def training_step(self, batch, batch_idx):
        loss = self.diffusion_loss(batch, self.denoiser, drop_text=True)
        self.log("train/loss", loss, batch_size=len(batch["mask"]))
        self.log("loss", loss, prog_bar=True, logger=False, batch_size=len(batch["mask"]))
        return loss

    def validation_step(self, batch, batch_idx):
        loss = self.diffusion_loss(batch, self.export_network(), drop_text=False)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch["mask"]), sync_dist=True)

    def export_modules(self) -> dict[str, torch.nn.Module]:
        return {"vae": self.vae, "denoiser": self.export_network()}

    def export_config(self) -> dict[str, Any]:
        return {
            "vae": self.vae.config.to_dict(),
            "denoiser": self.denoiser.config.to_dict(),
            "text_encoder": self.text_encoder_name,
            "schedule": self.schedule.to_dict(),
            "sampling": self.sampling,
        }
