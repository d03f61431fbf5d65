"""Motion ControlNet training (stage ``control``), after MotionLCM's ``train_diffusion_forward``.

What MotionLCM does, and so what this stage does:

* The base model (an exported ``lcm`` student, or an ``mld`` teacher) and the VAE are frozen;
  only the ControlNet (a copy of the base denoiser plus zero-initialised layers) and the
  trajectory encoder are trained, with lr 1e-4.
* Hints come from the batch's own motion: joints recovered from the features, a random subset
  of frames (density ``random``) of ONE joint drawn from the controlled set per sample, normalised
  with the per-joint position mean/std (``Mean_raw``/``Std_raw``).
* Diffusion-style loss on a noised ground-truth latent, through base denoiser + ControlNet:
  - ``lcm`` base: timesteps from the LCM skipping grid (10 DDIM steps), guidance ``w ~ U[5, 15]``
    fed as the student's guidance embedding, loss = MSE between the predicted ``x0`` and the clean
    latent (MotionLCM: "l2 loss > huber loss when training controlnet for LCM");
  - ``mld`` base: uniform timesteps, epsilon MSE.
  No consistency-distillation target is used: the LCM student is not retrained, and its
  one-step prediction at the grid timesteps is the ``x0`` estimate trained here.
* Control loss in motion space (ratio 1.0): decode the predicted ``x0`` with the frozen VAE,
  recover joints differentiably, smooth-L1 against the hints in metres over the controlled
  coordinates (MotionLCM's ``use_3d``, ``vaeloss_type: mask``: per-sample mean, then batch mean).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..control.hints import batch_hint_masks, hints_from_joints, load_joint_stats, parse_density, parse_joint_set
from ..errors import MotionLCMError
from ..diffusion.schedule import LCM_TIMESTEPS
from ..models.controlnet import (ControlNetConfig, ConvTrajectoryEncoder, MotionControlNet, TrajectoryEncoder,
                                 build_trajectory_encoder, controlled_eps, trajectory_encoder_config)
from ..motion.features import features_to_joints
from ..checkpoint import build_denoiser, build_vae, load_checkpoint
from ..models.denoiser import select_text_condition
from .stages import TextConditionCache, _check_same_normalisation, _Stage, checked_section

# The keys of the stage's ``control`` and ``loss`` sections (MotionLCM's motionlcm_control_s.yaml); their
# values and meaning: configs/stage/control.yaml. ``control`` is exported in this order.
CONTROL_KEYS = ("joints", "density", "temporal", "eval_density", "joint_stats", "timesteps", "guidance_w")
LOSS_KEYS = ("diffusion", "control", "control_loss", "cfg_dropout", "control_samples", "rollout", "rollout_samples")
CONTROL_LOSSES = {"smooth_l1": F.smooth_l1_loss, "l1": F.l1_loss, "l2": F.mse_loss}
# Compatibility defaults for an ``lcm`` base whose exported ``lcm`` section lacks a key: every export this
# package writes has them, hand-made or foreign folders may not (MotionPipeline reads those with the same
# num_ddim_timesteps). MotionLCM-V2's values; the training values themselves live in configs/stage/lcm.yaml.
BASE_LCM_COMPAT = {"num_ddim_timesteps": 10, "w_min": 5.0, "w_max": 15.0}


def control_loss(joints: torch.Tensor, hints: torch.Tensor, mask: torch.Tensor, kind: str = "smooth_l1") -> torch.Tensor:
    """Masked element loss averaged per sample over its controlled coordinates, then over samples with hints."""
    if kind not in CONTROL_LOSSES:
        raise MotionLCMError(f"unknown control loss {kind!r}; use one of {', '.join(CONTROL_LOSSES)}")
    weight = mask[..., None].to(joints.dtype).expand_as(joints)
    per_sample = (CONTROL_LOSSES[kind](joints, hints, reduction="none") * weight).flatten(1).sum(1)
    counted = weight.flatten(1).sum(1)
    has_hints = counted > 0
    if not has_hints.any():
        return joints.sum() * 0.0
    return (per_sample[has_hints] / counted[has_hints]).mean()


# Training timesteps for lcm bases: grid = the student's skipping grid (V2), uniform = [0, 1000) (V1),
# sampler = only those the 1/2/4-step sampler visits (LCM_TIMESTEPS): the ControlNet never runs elsewhere.
CONTROL_TIMESTEPS = ("grid", "uniform", "sampler")


class ControlStage(_Stage):
    """Trains a Motion ControlNet + trajectory encoder on top of a frozen ``lcm`` or ``mld`` export."""

    kind = "control"
    frozen_vae = True

    def __init__(self, base_path: str, control: dict[str, Any], controlnet: dict[str, Any], traj_encoder: dict[str, Any],
                 loss: dict[str, Any], optim: dict[str, Any], joint_mean, joint_std, mean, std,
                 sampling: dict[str, Any] | None = None):
        super().__init__(optim, mean, std)
        self.save_hyperparameters(ignore=["mean", "std", "joint_mean", "joint_std"])
        from ..diffusion import NoiseSchedule, make_ddpm_scheduler
        from ..diffusion.consistency import skipping_timesteps
        from ..models.text_encoder import load_text_encoder

        ckpt = load_checkpoint(base_path, expected_kinds=("lcm", "mld"))
        _check_same_normalisation(ckpt, mean, std)
        self.base_path, self.base_kind, self.base_config = str(base_path), ckpt.kind, ckpt.config
        self.control = checked_section(control, CONTROL_KEYS, "control")
        if self.control["timesteps"] not in CONTROL_TIMESTEPS:
            raise MotionLCMError(f"stage.control.timesteps must be one of {', '.join(CONTROL_TIMESTEPS)}, "
                                 f"got {self.control['timesteps']!r}")
        self.loss_cfg = checked_section(loss, LOSS_KEYS, "control loss")
        for key in ("control_samples", "rollout_samples"):
            samples = self.loss_cfg[key]
            if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
                raise MotionLCMError(f"stage.loss.{key} must be a positive integer or null, got {samples!r}")
        rollout = self.loss_cfg["rollout"]
        if isinstance(rollout, bool) or not isinstance(rollout, (int, float)) or rollout < 0:
            raise MotionLCMError(f"stage.loss.rollout must be a number >= 0, got {rollout!r}")
        if rollout and ckpt.kind != "lcm":
            raise MotionLCMError("stage.loss.rollout needs an lcm base (it trains the one-step sampler's own first step)")
        self.joints = parse_joint_set(self.control["joints"])
        parse_density(self.control["density"])  # bad densities fail here, not mid-training
        parse_density(self.control["eval_density"])
        self.vae = build_vae(ckpt).requires_grad_(False)
        self.denoiser = build_denoiser(ckpt).requires_grad_(False)
        encoder = build_trajectory_encoder(trajectory_encoder_config(traj_encoder, self.denoiser.config))
        encoder.set_hint_statistics(joint_mean, joint_std)
        # One module holds everything trained (optimiser, EMA and export read it).
        self.trainable = nn.ModuleDict({
            "controlnet": MotionControlNet.from_denoiser(self.denoiser, ControlNetConfig.from_dict(controlnet)),
            "traj_encoder": encoder,
        })
        self.text_encoder_name = ckpt.config["text_encoder"]
        self._text = [load_text_encoder(self.text_encoder_name)]  # frozen, outside the module tree
        self._conditions = TextConditionCache(self._text[0], tokens=self.denoiser.uses_text_tokens)
        self.schedule = NoiseSchedule.from_dict(ckpt.config.get("schedule"))
        self.noise_scheduler = make_ddpm_scheduler(self.schedule)
        self.register_buffer("alphas_cumprod", self.noise_scheduler.alphas_cumprod.clone().float(), persistent=False)
        self.lcm = dict(ckpt.config.get("lcm") or {})
        if self.base_kind == "lcm":
            if self.control["timesteps"] == "sampler":
                grid = torch.tensor(sorted({t for steps in LCM_TIMESTEPS.values() for t in steps}))
            else:
                grid = skipping_timesteps(self.schedule.num_train_timesteps, int(self._base_lcm("num_ddim_timesteps")))
            self.register_buffer("grid", grid, persistent=False)
        self.sampling = dict(sampling or ckpt.config.get("sampling") or {})
        self._setup_ema()

    def _base_lcm(self, key: str):
        """A setting of the lcm base's distillation (its exported ``lcm`` section, else ``BASE_LCM_COMPAT``)."""
        return self.lcm.get(key, BASE_LCM_COMPAT[key])

    @classmethod
    def from_config(cls, base_path: str | None, control: dict[str, Any], controlnet: dict[str, Any],
                    traj_encoder: dict[str, Any], loss: dict[str, Any], optim: dict[str, Any],
                    sampling: dict[str, Any] | None, data_root: str | None, mean, std) -> ControlStage:
        """``stage=control`` (the ``_target_`` of configs/stage/control.yaml): reads the per-joint position
        statistics from ``control.joint_stats``, else ``data_root``, then builds the stage."""
        if not base_path:
            raise MotionLCMError("the control stage needs a base model: add base=PATH "
                                 "(a folder written by stage=lcm or stage=mld)")
        stats_dir = (control or {}).get("joint_stats") or data_root
        if stats_dir is None:
            raise MotionLCMError("set stage.control.joint_stats to the folder holding Mean_raw.npy / Std_raw.npy")
        joint_mean, joint_std = load_joint_stats(Path(stats_dir))
        return cls(base_path, control, controlnet, traj_encoder, loss, optim, joint_mean, joint_std, mean, std, sampling)

    @property
    def controlnet(self) -> MotionControlNet:
        return self.trainable["controlnet"]

    @property
    def traj_encoder(self) -> TrajectoryEncoder | ConvTrajectoryEncoder:
        return self.trainable["traj_encoder"]

    def trained_network(self) -> torch.nn.Module:
        return self.trainable

    def train(self, mode: bool = True):
        super().train(mode)
        self.vae.eval()
        self.denoiser.eval()
        return self

    def on_fit_start(self) -> None:
        self._text[0].to(self.device)

    # -- hints ---------------------------------------------------------------------------------

    @torch.no_grad()
    def make_hints(self, batch, density: str | int | None = None, one_joint: bool = True,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Ground-truth joints (B, T, 22, 3), hints and mask drawn from the batch's own motion."""
        features = batch["motion"] * self.std + self.mean
        joints = features_to_joints(features, batch["mask"])
        temporal = self.control["temporal"]
        mask = batch_hint_masks(batch["lengths"].tolist(), joints.shape[1], self.joints,
                                self.control["density"] if density is None else density, temporal,
                                one_joint=one_joint and temporal is None, generator=generator).to(joints.device)
        return joints, hints_from_joints(joints, mask), mask

    # -- losses --------------------------------------------------------------------------------

    def _rand(self, shape, generator):
        if generator is None:
            return torch.rand(shape, device=self.device)
        return torch.rand(shape, generator=generator).to(self.device)

    def _noise_level(self, batch_size: int, generator: torch.Generator | None):
        """Timesteps (and the LCM guidance ``w``) as the base model was trained with."""
        if self.base_kind == "lcm":
            if self.control["timesteps"] == "uniform":
                steps = (self._rand(batch_size, generator) * self.schedule.num_train_timesteps).long()
                steps = steps.clamp(max=self.schedule.num_train_timesteps - 1)
            else:
                index = (self._rand(batch_size, generator) * len(self.grid)).long().clamp(max=len(self.grid) - 1)
                steps = self.grid[index]
            if self.control["guidance_w"] is not None:
                return steps, torch.full((batch_size,), float(self.control["guidance_w"]), device=self.device)
            w_min, w_max = float(self._base_lcm("w_min")), float(self._base_lcm("w_max"))
            return steps, w_min + (w_max - w_min) * self._rand(batch_size, generator)
        steps = (self._rand(batch_size, generator) * self.schedule.num_train_timesteps).long()
        return steps.clamp(max=self.schedule.num_train_timesteps - 1), None

    def text_embeddings(self, texts: list[str], drop: bool) -> torch.Tensor:
        pooled = self._conditions(list(texts), self.device)
        rate = float(self.loss_cfg["cfg_dropout"])
        if drop and rate > 0 and self.base_kind == "mld":
            keep = torch.rand(len(texts), device=pooled.device) >= rate
            pooled = select_text_condition(keep, pooled, self._conditions.empty(len(texts), self.device))
        return pooled

    def losses(self, batch, generator: torch.Generator | None = None, density: str | int | None = None,
               one_joint: bool = True, drop_text: bool = False, network: nn.ModuleDict | None = None
               ) -> dict[str, torch.Tensor]:
        """``{"diffusion", "control", "total"}`` for one batch (a ``generator`` fixes every random draw).

        ``network``: the ControlNet + trajectory encoder to use (default: the trained ones).
        """
        from ..diffusion.consistency import predict_x0

        network = self.trainable if network is None else network

        mask = batch["mask"]
        _, hints, hint_mask = self.make_hints(batch, density, one_joint, generator)
        dist = self.posterior(batch)  # fixed draws (a generator) use the posterior mean: repeatable evaluation
        z0 = dist.sample() if generator is None else dist.mu
        cond = self.text_embeddings(batch["text"], drop_text)
        steps, w = self._noise_level(len(z0), generator)
        noise = torch.randn(z0.shape, generator=generator).to(z0) if generator is not None else torch.randn_like(z0)
        noisy = self.noise_scheduler.add_noise(z0, noise, steps)
        tokens = network["traj_encoder"].encode_hints(hints, hint_mask, batch["lengths"])
        eps = controlled_eps(self.denoiser, network["controlnet"], noisy, steps, cond, tokens, w)
        x0 = predict_x0(eps, noisy, self.alphas_cumprod[steps])
        diffusion = F.mse_loss(x0, z0) if self.base_kind == "lcm" else F.mse_loss(eps, noise)
        # Decoding through the frozen VAE dominates a step (most of it on CPU), and the control loss
        # only needs a sample of the batch: control_samples trades its variance for speed.
        n = self.loss_cfg["control_samples"]
        n = len(x0) if n is None else min(int(n), len(x0))
        features = self.vae.decode(x0[:n], mask[:n]) * self.std + self.mean
        joints = features_to_joints(features, mask[:n])
        control = control_loss(joints, hints[:n], hint_mask[:n], str(self.loss_cfg["control_loss"]))
        total = float(self.loss_cfg["diffusion"]) * diffusion + float(self.loss_cfg["control"]) * control
        out = {"diffusion": diffusion, "control": control}
        if self.loss_cfg["rollout"]:
            out["rollout"] = self.rollout_loss(cond, tokens, w, hints, hint_mask, mask, generator, network)
            total = total + float(self.loss_cfg["rollout"]) * out["rollout"]
        return {**out, "total": total}

    def rollout_loss(self, cond, tokens, w, hints, hint_mask, mask, generator, network) -> torch.Tensor:
        """The control loss of the one-step sampler itself: pure noise at its timestep, through the
        base + ControlNet, decoded. The noised ground-truth latents of the diffusion loss still carry
        the motion the hints came from (most of it at the grid's low timesteps), so there the hints are
        nearly met for free; measured on 32 clips (400 steps), that loss fell to 4 cm while one-step
        samples from noise stayed 0.6-0.8 m from the hints. This term trains what sampling runs."""
        from ..diffusion.lcm_sampling import lcm_generate

        n = self.loss_cfg["rollout_samples"]
        n = len(cond) if n is None else min(int(n), len(cond))
        shape = (n, *self.denoiser.config.latent_shape)
        noise = torch.randn(shape, generator=generator).to(self.device) if generator is not None else torch.randn(shape, device=self.device)
        latent = lcm_generate(lambda x, t: controlled_eps(self.denoiser, network["controlnet"], x, t, cond[:n], tokens[:n], w[:n]),
                              self.alphas_cumprod, self._first_timesteps(), noise,
                              sigma_data=float(self.lcm.get("sigma_data", 0.5)),
                              timestep_scaling=float(self.lcm.get("timestep_scaling", 10.0)))
        features = self.vae.decode(latent, mask[:n]) * self.std + self.mean
        joints = features_to_joints(features, mask[:n])
        return control_loss(joints, hints[:n], hint_mask[:n], str(self.loss_cfg["control_loss"]))

    def _first_timesteps(self) -> list[int]:
        """The one-step schedule the base samples with (its exported ``lcm.timesteps``, else MotionLCM-V2's)."""
        table = self.lcm.get("timesteps") or {}
        return [int(t) for t in (table.get(1) or table.get("1") or LCM_TIMESTEPS[1])]

    def training_step(self, batch, batch_idx):
        losses = self.losses(batch, drop_text=True)
        size = len(batch["mask"])
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, batch_size=size)
        self.log("loss", losses["total"], prog_bar=True, logger=False, batch_size=size)
        return losses["total"]

    @torch.no_grad()
    def validation_step(self, batch, batch_idx):
        """Losses at the evaluation density with every joint of the set, from fixed random draws."""
        generator = torch.Generator().manual_seed(batch_idx)
        losses = self.losses(batch, generator, self.control["eval_density"], one_joint=False,
                             network=self.export_network())  # the EMA weights when enabled
        size = len(batch["mask"])
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, batch_size=size, sync_dist=True)
        self.log("val/loss", losses["total"], prog_bar=True, batch_size=size, sync_dist=True)
        if self.base_kind == "lcm":
            error = self.one_step_control_error(batch, generator)
            self.log("val/avg_err_m", error, prog_bar=True, batch_size=size, sync_dist=True)

    @torch.no_grad()
    def one_step_control_error(self, batch, generator: torch.Generator, network: nn.ModuleDict | None = None) -> torch.Tensor:
        """OmniControl's Avg err (metres) of one-step MotionLCM samples at the evaluation density."""
        from ..diffusion import lcm_default_guidance
        from ..diffusion.latent_tuning import lcm_generate

        network = self.export_network() if network is None else network
        _, hints, hint_mask = self.make_hints(batch, self.control["eval_density"], one_joint=False, generator=generator)
        cond = self._conditions(list(batch["text"]), self.device)
        tokens = network["traj_encoder"].encode_hints(hints, hint_mask, batch["lengths"])
        scale = self.sampling.get("guidance") or lcm_default_guidance(1)  # the scale the base samples with
        w = torch.full((len(cond),), float(scale) - 1.0, device=self.device)
        noise = torch.randn((len(cond), *self.denoiser.config.latent_shape), generator=generator).to(self.device)
        latent = lcm_generate(lambda x, t: controlled_eps(self.denoiser, network["controlnet"], x, t, cond, tokens, w),
                              self.alphas_cumprod, self._first_timesteps(), noise)
        joints = features_to_joints(self.vae.decode(latent, batch["mask"]) * self.std + self.mean, batch["mask"])
        error = torch.where(hint_mask, (joints - hints).norm(dim=-1), 0.0).flatten(1).sum(1)
        counted = hint_mask.flatten(1).sum(1)
        return (error[counted > 0] / counted[counted > 0]).mean()  # per sequence, then averaged

    # -- export --------------------------------------------------------------------------------

    def export_modules(self) -> dict[str, torch.nn.Module]:
        trained = self.export_network()
        return {"vae": self.vae, "denoiser": self.denoiser, "controlnet": trained["controlnet"],
                "traj_encoder": trained["traj_encoder"]}

    def export_config(self) -> dict[str, Any]:
        config = {
            "base_kind": self.base_kind,
            "base": self.base_path,
            "vae": self.vae.config.to_dict(),
            "denoiser": self.denoiser.config.to_dict(),
            "controlnet": self.controlnet.config.to_dict(),
            "traj_encoder": self.traj_encoder.config.to_dict(),
            "control": {**self.control, "joints": list(self.joints)},
            "text_encoder": self.text_encoder_name,
            "schedule": self.schedule.to_dict(),
            "sampling": self.sampling,
        }
        if self.base_kind == "lcm":
            config["lcm"] = self.lcm
        return config


__all__ = ["ControlStage", "control_loss", "CONTROL_KEYS", "LOSS_KEYS"]
