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
from .layers import (TRANSFORMER_KEYS, LatentConfig, LatentTransformerConfig, SkipTransformerEncoder, build_positional_embedding,
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


class _HintEncoder(nn.Module):
    """What every trajectory encoder shares: the per-joint position mean/std (``Mean_raw``/``Std_raw``)
    as buffers, so an exported checkpoint carries the exact normalisation its ControlNet was trained with."""

    def _register_hint_statistics(self, num_joints: int) -> None:
        self.register_buffer("hint_mean", torch.zeros(num_joints, 3))
        self.register_buffer("hint_std", torch.ones(num_joints, 3))

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


class TrajectoryEncoder(_HintEncoder):
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
        self._register_hint_statistics(config.num_joints)

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

    def encode_hints(self, hints: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Hints in metres (B, T, J, 3) + mask (B, T, J) -> control tokens (B, L, D).

        ``lengths`` (the motions' frame counts) is not needed here: the global tokens attend to the
        hinted frames wherever they are; it is accepted for :class:`ConvTrajectoryEncoder`'s interface.
        """
        return self(self.normalize_hints(hints, mask), mask.bool().any(-1))


@dataclass(frozen=True)
class ConvTrajectoryEncoderConfig(LatentConfig):
    """Hyper-parameters of :class:`ConvTrajectoryEncoder` (``architecture: conv``; not in the papers)."""

    architecture: str = "conv"
    num_joints: int = NUM_JOINTS
    num_blocks: int = 4
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 3, 9)
    activation: str = "gelu"
    max_frames: int = 200

    KEY_ORDER = ("architecture", "latent_shape", "num_joints", "width", "num_blocks", "kernel_size", "dilations",
                 "activation", "max_frames")

    def __post_init__(self) -> None:
        from .conv_vae import check_conv_options

        super().__post_init__()
        check_conv_options(self, "trajectory encoder")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "dilations": list(self.dilations)}


class ConvTrajectoryEncoder(_HintEncoder):
    """Time-aligned trajectory encoder for the time-aligned (``architecture: conv``) VAE: control token
    ``j`` summarises the hints of the ``j``-th ``1/L`` of the clip, the frames latent token ``j`` stands for.

    Why (measured, model card): the paper's encoder must learn from a position table where in the
    clip each hint lies, as the transformer VAE had to; in CPU budgets its ControlNet hardly moved
    the motion. Here time is given by construction, as in :class:`~motionlcm.models.conv_vae.ConvMotionVAE`:

    per frame ``[normalised hints (J*3) | hint velocity (J*3, m/s) | hint mask (J)]`` -> convolution
    -> dilated residual blocks (padded frames zeroed) -> average over each of the ``L`` segments of
    the motion's valid frames -> linear to the latent width. The velocity channels are the centred
    difference of a joint's hints where both neighbours are hinted (zero elsewhere), computed by
    hand because the latent stores root *velocities* and a 1-frame difference of metre-scale
    normalised positions is too small for the first convolution to find quickly.
    """

    def __init__(self, config: ConvTrajectoryEncoderConfig | None = None) -> None:
        super().__init__()
        from .conv_vae import DilatedConvStack

        self.config = config = config or ConvTrajectoryEncoderConfig()
        channels = config.num_joints * 7
        self.input = nn.Conv1d(channels, config.width, config.kernel_size, padding=config.kernel_size // 2)
        self.blocks = DilatedConvStack.from_config(config)
        self.latent_out = nn.Linear(config.width, config.latent_dim)
        self._register_hint_statistics(config.num_joints)

    def frame_inputs(self, hints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hints in metres (B, T, J, 3) + mask (B, T, J) -> per-frame channels (B, T, 7 J)."""
        from ..motion import FPS

        mask = mask.bool()
        held = torch.where(mask[..., None], hints, torch.zeros_like(hints))
        both = torch.zeros_like(mask)
        both[:, 1:-1] = mask[:, :-2] & mask[:, 2:]
        velocity = torch.zeros_like(held)
        velocity[:, 1:-1] = (held[:, 2:] - held[:, :-2]) * (FPS / 2.0)
        velocity = torch.where(both[..., None], velocity, torch.zeros_like(velocity))
        return torch.cat([self.normalize_hints(hints, mask), velocity.flatten(-2), mask.to(hints.dtype)], dim=-1)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-frame channels (B, T, 7 J) from :meth:`frame_inputs`, lengths (B,) -> tokens (B, L, D)."""
        from .conv_vae import segment_pooling_matrix

        cfg = self.config
        if inputs.ndim != 3 or inputs.shape[-1] != cfg.num_joints * 7 or lengths.shape != inputs.shape[:1]:
            raise MotionLCMError(f"trajectory inputs must be (batch, frames, {cfg.num_joints * 7}) with (batch,) lengths, "
                                 f"got {tuple(inputs.shape)} and {tuple(lengths.shape)}")
        frames = inputs.shape[1]
        if frames > cfg.max_frames:
            raise MotionLCMError(f"{frames} frames exceed the trajectory encoder's {cfg.max_frames}")
        lengths = lengths.to(inputs.device).long()
        if bool((lengths < 1).any()) or bool((lengths > frames).any()):
            raise MotionLCMError(f"motion lengths must be within 1..{frames}, got {lengths.tolist()}")
        keep = (torch.arange(frames, device=inputs.device)[None] < lengths[:, None]).to(inputs.dtype)[:, None]
        x = self.input(inputs.transpose(1, 2) * keep) * keep
        x = self.blocks(x, keep)  # (B, C, T)
        pool = segment_pooling_matrix(lengths, frames, cfg.num_latent_tokens).to(x.dtype)
        return self.latent_out(torch.bmm(pool, x.transpose(1, 2)))

    def encode_hints(self, hints: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Hints in metres (B, T, J, 3) + mask (B, T, J) (+ the motions' frame counts, default T) -> tokens (B, L, D)."""
        if lengths is None:
            lengths = torch.full((hints.shape[0],), hints.shape[1], dtype=torch.long, device=hints.device)
        lengths = torch.as_tensor(lengths, device=hints.device)
        valid = torch.arange(hints.shape[1], device=hints.device)[None] < lengths[:, None]
        return self(self.frame_inputs(hints, mask.bool() & valid[..., None]), lengths)  # no hint past a motion's end


TRAJECTORY_ARCHITECTURES = ("transformer", "conv")


def trajectory_encoder_config(values: Mapping[str, Any] | None, denoiser: DenoiserConfig | None = None):
    """The trajectory encoder config a mapping describes: ``architecture: conv`` ->
    :class:`ConvTrajectoryEncoderConfig`, otherwise (no key, or ``transformer``) the paper's
    :class:`TrajectoryEncoderConfig`. With ``denoiser``, unset sizes follow it (training)."""
    values = dict(values or {})
    architecture = values.pop("architecture", "transformer")
    if architecture not in TRAJECTORY_ARCHITECTURES:
        raise MotionLCMError(f"unknown trajectory encoder architecture {architecture!r}; use transformer or conv")
    if architecture == "conv":
        base = {} if denoiser is None else {"latent_shape": tuple(denoiser.latent_shape), "width": denoiser.width}
        return config_from_mapping(ConvTrajectoryEncoderConfig, {**base, **values})
    if denoiser is not None:
        return TrajectoryEncoderConfig.like_denoiser(denoiser, **values)
    return TrajectoryEncoderConfig.from_dict(values)


def build_trajectory_encoder(config) -> "TrajectoryEncoder | ConvTrajectoryEncoder":
    return ConvTrajectoryEncoder(config) if isinstance(config, ConvTrajectoryEncoderConfig) else TrajectoryEncoder(config)


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


def build_control_modules(ckpt) -> tuple[MotionControlNet, "TrajectoryEncoder | ConvTrajectoryEncoder"]:
    """The ControlNet and trajectory encoder of an exported ``control`` checkpoint, in eval mode."""
    from ..checkpoint import load_state

    controlnet = MotionControlNet(DenoiserConfig.from_dict(ckpt.config["denoiser"]),
                                  ControlNetConfig.from_dict(ckpt.config.get("controlnet")))
    load_state(controlnet, ckpt.sub_state("controlnet"), str(ckpt.path))
    encoder = build_trajectory_encoder(trajectory_encoder_config(ckpt.config["traj_encoder"]))
    load_state(encoder, ckpt.sub_state("traj_encoder"), str(ckpt.path))
    return controlnet.eval(), encoder.eval()


__all__ = ["TrajectoryEncoderConfig", "TrajectoryEncoder", "ConvTrajectoryEncoderConfig", "ConvTrajectoryEncoder",
           "trajectory_encoder_config", "build_trajectory_encoder", "ControlNetConfig", "MotionControlNet", "controlled_eps",
           "build_control_modules"]
