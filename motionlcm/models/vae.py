"""Motion VAE (MLD / MotionLCM): 263-d HumanML3D feature sequences <-> a few latent tokens.

Encoder: each frame's (normalised) features go through a linear embedding; ``2 * L`` learned
distribution tokens are prepended, learned positional embeddings are added, and a
:class:`~motionlcm.models.layers.SkipTransformerEncoder` runs with padded frames masked out as
keys. The first ``L`` outputs are ``mu``, the next ``L`` are ``logvar``. With a latent width
different from the transformer width (V2: ``latent_shape=(16, 32)``, width 256) a learned linear
maps the distribution tokens down to the latent width, and another maps latents back up before
decoding; V1 (``(1, 256)``) feeds the latent straight through.

Decoder: ``T`` queries, each just a learned positional embedding (MLD's zero query + position),
run through a :class:`~motionlcm.models.layers.SkipTransformerDecoder` that cross-attends to the
latent tokens (padded query frames are masked out of self-attention), then a linear to 263
values; padded frames are set to zero.

Padded frames never influence valid ones: their features are zeroed on the way in and they are
masked as attention keys, so valid outputs do not depend on what padding holds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import MotionLCMError
from ..motion.features import FEATURE_DIM, FPS, features_to_joints
from .layers import (TRANSFORMER_KEYS, LatentTransformerConfig, SkipTransformerDecoder, SkipTransformerEncoder,
                     build_positional_embedding, config_from_mapping, count_parameters)


@dataclass(frozen=True)
class VAEConfig(LatentTransformerConfig):
    """Hyper-parameters of :class:`MotionVAE`: the shared transformer fields plus its own; defaults
    are MotionLCM-V2's (REFERENCE.md section 2)."""

    feature_dim: int = FEATURE_DIM
    max_frames: int = 200  # longest sequence the positional tables cover (HumanML3D: 196)

    KEY_ORDER = ("feature_dim", "latent_shape", *TRANSFORMER_KEYS, "max_frames", "latent_projection")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "VAEConfig":
        """The ``vae`` section of a model config: ``"v2"`` (configs/model/humanml3d_v2.yaml, the
        MotionLCM-V2 paper), ``"v1"`` (humanml3d_v1.yaml, MotionLCM / MLD) or ``"embedded"``
        (embedded_transformer.yaml: small, CPU-trainable)."""
        from ..configs import MODEL_PRESETS, model_preset

        if name not in MODEL_PRESETS:
            raise MotionLCMError(f"unknown VAE preset {name!r}; choose one of {sorted(MODEL_PRESETS)}")
        return config_from_mapping(cls, {**model_preset(name, "vae"), **overrides})


@dataclass
class LatentDistribution:
    """Diagonal Gaussian over latent tokens: ``mu`` and ``logvar`` of shape (B, L, D)."""

    mu: torch.Tensor
    logvar: torch.Tensor

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self) -> torch.Tensor:
        """Reparameterised sample ``mu + std * eps`` (differentiable in mu and logvar)."""
        return self.mu + self.std * torch.randn_like(self.mu)

    def kl_to_standard_normal(self) -> torch.Tensor:
        """Element-wise ``KL(N(mu, std^2) || N(0, 1)) = 0.5 (mu^2 + var - 1 - logvar)``."""
        return 0.5 * (self.mu.square() + self.logvar.exp() - 1.0 - self.logvar)

    def to_normal(self) -> torch.distributions.Normal:
        return torch.distributions.Normal(self.mu, self.std)


class VAEOutput(NamedTuple):
    recon: torch.Tensor  # (B, T, 263), zero on padded frames
    z: torch.Tensor  # (B, L, D)
    mu: torch.Tensor  # (B, L, D)
    logvar: torch.Tensor  # (B, L, D)


class LatentMotionVAE(nn.Module):
    """What every motion VAE here shares: ``config`` (with ``latent_shape``, ``feature_dim``,
    ``max_frames``), input checks and ``forward``; subclasses implement ``encode`` / ``decode``."""

    config: Any

    @property
    def latent_shape(self) -> tuple[int, int]:
        return self.config.latent_shape

    def num_parameters(self, trainable_only: bool = False) -> int:
        return count_parameters(self, trainable_only)

    def _check_inputs(self, mask: torch.Tensor, features: torch.Tensor | None = None) -> None:
        if mask.ndim != 2 or mask.dtype != torch.bool:
            raise MotionLCMError(f"mask must be a (batch, frames) bool tensor, got {tuple(mask.shape)} {mask.dtype}")
        if mask.shape[1] > self.config.max_frames:
            raise MotionLCMError(f"{mask.shape[1]} frames exceed this model's max_frames ({self.config.max_frames})")
        if features is not None and (features.ndim != 3 or features.shape[:2] != mask.shape
                                     or features.shape[2] != self.config.feature_dim):
            raise MotionLCMError(f"features must be (batch, frames, {self.config.feature_dim}) matching the mask "
                                 f"{tuple(mask.shape)}, got {tuple(features.shape)}")

    def _check_latent(self, z: torch.Tensor, mask: torch.Tensor) -> None:
        self._check_inputs(mask)
        if z.ndim != 3 or tuple(z.shape[1:]) != tuple(self.config.latent_shape) or z.shape[0] != mask.shape[0]:
            raise MotionLCMError(f"z must be (batch, {self.config.latent_shape[0]}, {self.config.latent_shape[1]}) "
                                 f"with the mask's batch size {mask.shape[0]}, got {tuple(z.shape)}")

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> VAEOutput:
        """Encode (sampling the latent), decode; returns ``(recon, z, mu, logvar)``."""
        z, dist = self.encode(features, mask)
        return VAEOutput(self.decode(z, mask), z, dist.mu, dist.logvar)


class MotionVAE(LatentMotionVAE):
    """MLD / MotionLCM motion VAE. Features are expected normalised by the dataset's Mean/Std."""

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or VAEConfig()
        tokens, latent_dim = config.latent_shape
        width = config.width
        self.feature_embedding = nn.Linear(config.feature_dim, width)
        self.distribution_tokens = nn.Parameter(torch.randn(2 * tokens, width))  # mu tokens, then logvar tokens
        self.encoder_positions = build_positional_embedding(config.positional_embedding, 2 * tokens + config.max_frames, width)
        transformer_kwargs = dict(width=width, num_layers=config.num_layers, num_heads=config.num_heads,
                                  ffn_dim=config.ffn_dim, dropout=config.dropout, activation=config.activation,
                                  norm_first=config.norm_first, final_norm=config.final_norm, norm_eps=config.norm_eps)
        self.encoder = SkipTransformerEncoder(**transformer_kwargs)
        self.latent_down = nn.Linear(width, latent_dim) if config.projects_latent else nn.Identity()
        self.latent_up = nn.Linear(latent_dim, width) if config.projects_latent else nn.Identity()
        self.decoder_positions = build_positional_embedding(config.positional_embedding, config.max_frames, width)
        self.decoder = SkipTransformerDecoder(**transformer_kwargs)
        self.output_layer = nn.Linear(width, config.feature_dim)

    @classmethod
    def from_config(cls, config: VAEConfig | Mapping[str, Any] | str) -> "MotionVAE":
        """Build from a :class:`VAEConfig`, a plain mapping of its fields, or a preset name."""
        if isinstance(config, str):
            config = VAEConfig.preset(config)
        elif not isinstance(config, VAEConfig):
            config = VAEConfig.from_dict(config)
        return cls(config)

    def encode(self, features: torch.Tensor, mask: torch.Tensor, sample: bool = True
               ) -> tuple[torch.Tensor, LatentDistribution]:
        """features (B, T, 263), mask (B, T) True on valid frames -> (z (B, L, D), distribution).

        ``z`` is a reparameterised sample, or ``mu`` when ``sample`` is False.
        """
        self._check_inputs(mask, features)
        batch = features.shape[0]
        tokens = self.config.num_latent_tokens
        # Zero padded frames so that garbage (even NaN) there cannot reach attention sums.
        frames = self.feature_embedding(features.masked_fill(~mask[..., None], 0.0))
        distribution = self.distribution_tokens.to(frames.dtype).expand(batch, -1, -1)
        sequence = self.encoder_positions(torch.cat([distribution, frames], dim=1))
        ignore = torch.cat([torch.zeros(batch, 2 * tokens, dtype=torch.bool, device=mask.device), ~mask], dim=1)
        encoded = self.encoder(sequence, key_padding_mask=ignore)[:, : 2 * tokens]
        encoded = self.latent_down(encoded)
        dist = LatentDistribution(mu=encoded[:, :tokens], logvar=encoded[:, tokens:])
        return (dist.sample() if sample else dist.mu), dist

    def decode(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """z (B, L, D), mask (B, T) -> normalised features (B, T, 263), zero on padded frames."""
        self._check_latent(z, mask)
        memory = self.latent_up(z)
        queries = self.decoder_positions(memory.new_zeros(mask.shape[0], mask.shape[1], self.config.width))
        decoded = self.decoder(queries, memory, key_padding_mask=~mask)
        return self.output_layer(decoded).masked_fill(~mask[..., None], 0.0)


# --------------------------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VAELossWeights:
    features: float = 1.0
    joints: float = 1.0
    kl: float = 1e-4
    velocity: float = 0.0  # joint velocities (m/s at 20 fps); 0: off, as in MLD


def masked_frame_mean(per_frame: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (B, T) values over each sequence's valid frames, then over the batch (as MLD)."""
    total = torch.where(mask, per_frame, torch.zeros_like(per_frame)).sum(dim=1)
    return (total / mask.sum(dim=1).clamp(min=1)).mean()


def _as_tensor(values: torch.Tensor | np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(values).to(device=like.device, dtype=like.dtype)


def vae_loss(model_out: VAEOutput | tuple, target: torch.Tensor, mask: torch.Tensor,
             mean: torch.Tensor | np.ndarray, std: torch.Tensor | np.ndarray,
             weights: VAELossWeights | Mapping[str, float] | None = None) -> dict[str, torch.Tensor]:
    """MLD / MotionLCM VAE loss.

    ``model_out`` is :meth:`MotionVAE.forward`'s ``(recon, z, mu, logvar)``; ``target`` the
    normalised input features (B, T, 263); ``mean``/``std`` (263,) the normalisation statistics.

    * ``features``: smooth-L1 between recon and target (normalised space);
    * ``joints``: smooth-L1 between joints recovered (``features_to_joints``) from the
      de-normalised recon and target;
    * ``kl``: ``KL(N(mu, exp(logvar)) || N(0, 1))`` averaged over every latent element;
    * ``velocity`` (weight 0 by default, then not computed): smooth-L1 between the joints'
      velocities (m/s at HumanML3D's ``FPS``, 20) over pairs of valid frames. Fast motion (claps,
      waves) is a small share of the joint error but most of the velocity error.

    Reconstruction terms average each frame's elements, then average over each sequence's
    valid frames, then over the batch; padded frames contribute nothing (whatever they hold).
    Returns the unweighted components and ``total`` = their weighted sum
    (default weights 1.0, 1.0, 1e-4).
    """
    if weights is None:
        weights = VAELossWeights()
    elif not isinstance(weights, VAELossWeights):
        weights = config_from_mapping(VAELossWeights, weights)
    recon, _, mu, logvar = model_out
    # Clean padded target frames: garbage (or NaN) there must not leak through gradients.
    target = target.masked_fill(~mask[..., None], 0.0)
    recon = recon.masked_fill(~mask[..., None], 0.0)
    feature_loss = masked_frame_mean(F.smooth_l1_loss(recon, target, reduction="none").mean(dim=-1), mask)

    mean_t, std_t = _as_tensor(mean, recon), _as_tensor(std, recon)
    recon_joints = features_to_joints(recon * std_t + mean_t, mask)
    target_joints = features_to_joints(target * std_t + mean_t, mask)
    joint_loss = masked_frame_mean(F.smooth_l1_loss(recon_joints, target_joints, reduction="none").mean(dim=(-2, -1)), mask)

    kl_loss = LatentDistribution(mu, logvar).kl_to_standard_normal().mean()
    total = weights.features * feature_loss + weights.joints * joint_loss + weights.kl * kl_loss
    losses = {"features": feature_loss, "joints": joint_loss, "kl": kl_loss}
    if weights.velocity:
        recon_vel = (recon_joints[:, 1:] - recon_joints[:, :-1]) * FPS
        target_vel = (target_joints[:, 1:] - target_joints[:, :-1]) * FPS
        pairs = mask[:, 1:] & mask[:, :-1]
        velocity_loss = masked_frame_mean(F.smooth_l1_loss(recon_vel, target_vel, reduction="none").mean(dim=(-2, -1)), pairs)
        losses["velocity"] = velocity_loss
        total = total + weights.velocity * velocity_loss
    return {**losses, "total": total}


__all__ = ["VAEConfig", "LatentDistribution", "VAEOutput", "LatentMotionVAE", "MotionVAE", "VAELossWeights",
           "masked_frame_mean", "vae_loss"]
