"""Motion ControlNet (MotionLCM, REFERENCE.md section 2): trajectory encoder + trainable denoiser copy.

Data flow for one denoising call::

    hints (B, T, 22*3) normalised, zero where uncontrolled
      -> TrajectoryEncoder -> control tokens (B, L, D)              (latent-shaped)
    latent (B, L, D) + cond_embedding(control tokens)              (MLP, last layer zero-initialised)
      -> MotionControlNet.copy.block_outputs(...)                   (trainable copy of the frozen denoiser)
      -> residual_projections[i] (zero-initialised linears)         -> residual r_i (B, L + 2, width)
    frozen denoiser(latent, ..., controlnet_residuals=[r_0 .. r_{n-1}])  -> epsilon

Both zero-initialised layers make a fresh ControlNet add exactly zero, so the controlled model
starts as the base model (bit for bit) and training moves away from it smoothly.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn as nn

from ..errors import MotionLCMError
from .denoiser import DenoiserConfig, LatentDenoiser
from .layers import (TRANSFORMER_KEYS, LatentTransformerConfig, SkipTransformerEncoder, build_positional_embedding,
                     config_from_mapping, make_activation, zero_init_)

NUM_JOINTS = 22


@dataclass(frozen=True)
class TrajectoryEncoderConfig(LatentTransformerConfig):
    """Hyper-parameters of :class:`TrajectoryEncoder` (MotionLCM-V2's ``MldTrajEncoder`` by default):
    the shared transformer fields (``latent_shape`` must match the denoiser's) plus its own."""

    num_joints: int = NUM_JOINTS
    max_frames: int = 200  # positional table covers latent tokens + this many frames
    # Linear from the transformer width to the latent width after the encoder. MotionLCM-V1's
    # encoder has none (its tokens are already latent-sized, 256-d); False needs width == latent width.
    latent_projection: bool = True

    KEY_ORDER = ("latent_shape", "num_joints", *TRANSFORMER_KEYS, "max_frames", "latent_projection")
    WIDTH_NAME = "trajectory encoder"

    @classmethod
    def like_denoiser(cls, denoiser: DenoiserConfig, **overrides: Any) -> "TrajectoryEncoderConfig":
        """The encoder sized as the denoiser it feeds (MotionLCM uses the same transformer sizes)."""
        base = dict(latent_shape=tuple(denoiser.latent_shape), width=denoiser.width, num_layers=denoiser.num_layers,
                    num_heads=denoiser.num_heads, ffn_dim=denoiser.ffn_dim, dropout=denoiser.dropout,
                    activation=denoiser.activation, norm_first=denoiser.norm_first, norm_eps=denoiser.norm_eps)
        return config_from_mapping(cls, {**base, **overrides})


class TrajectoryEncoder(nn.Module):
    """Per-frame joint hints -> latent-shaped control tokens (B, L, D).

    ``L`` learnable global tokens are prepended to the embedded frames (as the VAE encoder's
    distribution tokens); frames that carry no hint are masked out of attention, as in MotionLCM
    (``hint_mask.sum(-1) != 0``), so the tokens summarise only the controlled frames.

    The per-joint position mean/std used to normalise hints (``Mean_raw``/``Std_raw``) live here as
    buffers, so an exported checkpoint carries the exact normalisation its ControlNet was trained with.
    """

    def __init__(self, config: TrajectoryEncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or TrajectoryEncoderConfig()
        tokens, latent_dim = config.latent_shape
        self.hint_embedding = nn.Linear(config.num_joints * 3, config.width)
        self.global_tokens = nn.Parameter(torch.randn(tokens, config.width))
        self.positions = build_positional_embedding(config.positional_embedding, tokens + config.max_frames, config.width)
        self.encoder = SkipTransformerEncoder(
            width=config.width, num_layers=config.num_layers, num_heads=config.num_heads, ffn_dim=config.ffn_dim,
            dropout=config.dropout, activation=config.activation, norm_first=config.norm_first,
            final_norm=config.final_norm, norm_eps=config.norm_eps)
        self.latent_out = nn.Linear(config.width, latent_dim) if config.projects_latent else nn.Identity()
        self.register_buffer("hint_mean", torch.zeros(config.num_joints, 3))
        self.register_buffer("hint_std", torch.ones(config.num_joints, 3))

    def set_hint_statistics(self, mean, std) -> None:
        """Store the per-joint position mean/std (22, 3) (``Mean_raw.npy``/``Std_raw.npy``)."""
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(self.config.num_joints, 3)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(self.config.num_joints, 3)
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all()) or (std <= 0).any():
            raise MotionLCMError("joint statistics must be finite with positive std")
        self.hint_mean.copy_(mean)
        self.hint_std.copy_(std)

    def normalize_hints(self, hints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hints in metres (B, T, J, 3) and mask (B, T, J) -> encoder input (B, T, J*3), zero where uncontrolled."""
        from ..control.hints import normalize_hints

        return normalize_hints(hints, mask, self.hint_mean, self.hint_std)

    def forward(self, hints: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """hints (B, T, J*3) normalised, frame_mask (B, T) True on frames with a hint -> tokens (B, L, D)."""
        cfg = self.config
        if hints.ndim != 3 or hints.shape[-1] != cfg.num_joints * 3 or frame_mask.shape != hints.shape[:2]:
            raise MotionLCMError(f"hints must be (batch, frames, {cfg.num_joints * 3}) with a (batch, frames) mask, "
                                 f"got {tuple(hints.shape)} and {tuple(frame_mask.shape)}")
        if hints.shape[1] > cfg.max_frames:
            raise MotionLCMError(f"{hints.shape[1]} frames exceed the trajectory encoder's {cfg.max_frames}")
        batch, tokens = hints.shape[0], cfg.latent_shape[0]
        frame_mask = frame_mask.bool()
        frames = self.hint_embedding(hints.masked_fill(~frame_mask[..., None], 0.0))
        sequence = torch.cat([self.global_tokens.to(frames.dtype).expand(batch, -1, -1), frames], dim=1)
        ignore = torch.cat([torch.zeros(batch, tokens, dtype=torch.bool, device=hints.device), ~frame_mask], dim=1)
        encoded = self.encoder(self.positions(sequence), key_padding_mask=ignore)[:, :tokens]
        return self.latent_out(encoded)

    def encode_hints(self, hints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hints in metres (B, T, J, 3) + mask (B, T, J) -> control tokens (B, L, D)."""
        return self(self.normalize_hints(hints, mask), mask.bool().any(-1))


@dataclass(frozen=True)
class ControlNetConfig:
    """The ControlNet's own layers; its transformer copies the base denoiser's config."""

    embed_dim: int | None = None  # hidden size of the condition MLP; None = the denoiser width
    activation: str | None = "silu"  # None: no activation between its linears (MotionLCM-V1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "ControlNetConfig":
        return config_from_mapping(cls, dict(values or {}))


# The copy only runs its blocks; its output head and final norm would be unused parameters (DDP
# rejects those), so they are dropped.
_UNUSED_IN_COPY = ("latent_out.", "transformer.final_norm.")


class MotionControlNet(nn.Module):
    """A trainable copy of a :class:`LatentDenoiser` that turns control tokens into per-block residuals."""

    def __init__(self, denoiser_config: DenoiserConfig, config: ControlNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ControlNetConfig()
        self.denoiser_config = denoiser_config
        latent_dim, width = denoiser_config.latent_dim, denoiser_config.width
        embed = config.embed_dim or width
        self.copy = LatentDenoiser(denoiser_config)
        self.copy.latent_out = nn.Identity()
        self.copy.transformer.final_norm = nn.Identity()
        self.cond_embedding = nn.Sequential(
            nn.Linear(latent_dim, embed), make_activation(config.activation),
            nn.Linear(embed, embed), make_activation(config.activation),
            zero_init_(nn.Linear(embed, latent_dim)))
        self.residual_projections = nn.ModuleList(
            zero_init_(nn.Linear(width, width)) for _ in range(denoiser_config.num_layers))

    @classmethod
    def from_denoiser(cls, denoiser: LatentDenoiser, config: ControlNetConfig | None = None) -> "MotionControlNet":
        """A ControlNet whose copy starts from ``denoiser``'s weights (MotionLCM's initialisation)."""
        controlnet = cls(denoiser.config, config)
        state = {k: v for k, v in denoiser.state_dict().items() if not k.startswith(_UNUSED_IN_COPY)}
        controlnet.copy.load_state_dict(state, strict=True)
        return controlnet

    def forward(self, latent: torch.Tensor, timestep: torch.Tensor | float | int, text_emb: torch.Tensor,
                control_tokens: torch.Tensor, guidance: torch.Tensor | float | None = None) -> list[torch.Tensor]:
        """One residual (B, L + 2, width) per denoiser block, for ``LatentDenoiser(..., controlnet_residuals=)``."""
        if control_tokens.shape != latent.shape:
            raise MotionLCMError(f"control tokens {tuple(control_tokens.shape)} must match the latent {tuple(latent.shape)}")
        conditioned = latent + self.cond_embedding(control_tokens.to(latent.dtype))
        hidden = self.copy.block_outputs(conditioned, timestep, text_emb, guidance)
        return [project(h) for project, h in zip(self.residual_projections, hidden)]


def controlled_eps(denoiser: LatentDenoiser, controlnet: MotionControlNet | None, latent: torch.Tensor,
                   timestep: torch.Tensor | float | int, text_emb: torch.Tensor, control_tokens: torch.Tensor | None,
                   guidance: torch.Tensor | float | None = None) -> torch.Tensor:
    """The base denoiser's epsilon, steered by the ControlNet when both it and control tokens are given."""
    residuals = None
    if controlnet is not None and control_tokens is not None:
        residuals = controlnet(latent, timestep, text_emb, control_tokens, guidance)
    return denoiser(latent, timestep, text_emb, guidance, controlnet_residuals=residuals)


def build_control_modules(ckpt) -> tuple[MotionControlNet, TrajectoryEncoder]:
    """The ControlNet and trajectory encoder of an exported ``control`` checkpoint, in eval mode."""
    from ..checkpoint import load_state

    controlnet = MotionControlNet(DenoiserConfig.from_dict(ckpt.config["denoiser"]),
                                  ControlNetConfig.from_dict(ckpt.config.get("controlnet")))
    load_state(controlnet, ckpt.sub_state("controlnet"), str(ckpt.path))
    encoder = TrajectoryEncoder(TrajectoryEncoderConfig.from_dict(ckpt.config["traj_encoder"]))
    load_state(encoder, ckpt.sub_state("traj_encoder"), str(ckpt.path))
    return controlnet.eval(), encoder.eval()


__all__ = ["TrajectoryEncoderConfig", "TrajectoryEncoder", "ControlNetConfig", "MotionControlNet", "controlled_eps",
           "build_control_modules"]
