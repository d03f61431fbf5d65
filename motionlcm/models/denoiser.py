"""Latent denoiser (MLD / MotionLCM): predicts the noise epsilon added to VAE latents.

Token sequence fed to the skip-connected transformer encoder, in this order::

    [ latent_0 .. latent_{L-1} | time token | text token ]

* latent tokens: the noisy latent (B, L, D), mapped to the transformer width by a linear when
  ``D != width`` or when forced (V2); V1 feeds the 256-d latent directly.
* time token: ``TimestepEmbedding(Timesteps(t))`` - diffusers-style sinusoids
  (``flip_sin_to_cos=True``, ``downscale_freq_shift=0``) then ``Linear -> SiLU -> Linear``.
  With a guidance branch (LCM students), the guidance scale ``w`` is embedded with LCM's
  ``guidance_scale_embedding(w)`` (sinusoids of ``1000 w``) and passed through a bias-free linear
  whose weights start at zero; its output is added to the timestep sinusoids before the MLP
  (MotionLCM's ``cond_proj``), so a freshly added branch leaves the network unchanged.
* text token: the pooled sentence embedding (B, E) through ``[activation ->] Linear(E, width)``.

``text_conditioning: tokens`` (the embedded default; not in the papers): the text condition is the
encoder's token states (B, N, E), zero rows = padding (:attr:`TextEncoding.tokens`). They are
projected to the width and every block cross-attends to them (``TransformerDecoderBlock``); the
in-sequence text token is the projection of their masked mean. A pooled MiniLM sentence vector
cannot tell "kicks with the left leg" from "the right leg" (cosine 0.98) nor the order of the
actions, so the denoiser reads the words themselves.

A learned positional embedding covers all ``L + 2`` tokens. The output at the latent positions is
mapped back to the latent width and is the epsilon prediction (B, L, D).

ControlNet hooks: :meth:`LatentDenoiser.block_outputs` returns the hidden states (B, L + 2, width)
after each of the ``num_layers`` blocks (input blocks, middle block, output blocks, in execution
order, no final norm), and ``forward(..., controlnet_residuals=[r_0, ..., r_{n-1}])`` adds ``r_i``
to the output of block ``i`` (the same positions). A ControlNet is a trainable copy of this network
whose block outputs go through zero-initialised linears to become these residuals.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import MotionLCMError
from .layers import (TRANSFORMER_KEYS, LatentTransformerConfig, SkipTransformerDecoder, SkipTransformerEncoder, TimestepEmbedding,
                     Timesteps, build_positional_embedding,
                     config_from_mapping, count_parameters, guidance_scale_embedding, make_activation)


@dataclass(frozen=True)
class DenoiserConfig(LatentTransformerConfig):
    """Hyper-parameters of :class:`LatentDenoiser`: the shared transformer fields (``latent_shape``
    must match the VAE's) plus its own; defaults are MotionLCM-V2's (REFERENCE.md section 2)."""

    text_dim: int = 768  # sentence-t5-large (V2) / CLIP ViT-L/14 (V1); 384 for MiniLM
    text_activation: str | None = None  # V1 put a ReLU before the text projection
    # Size of the timestep sinusoids fed to the time MLP. The brief asks for 256 (diffusers'
    # Timesteps(256, True, 0)); MotionLCM's released configs use 768 - set it to load those shapes.
    time_sinusoid_dim: int = 256
    flip_sin_to_cos: bool = True
    downscale_freq_shift: float = 0.0
    time_activation: str = "silu"
    guidance_embed_dim: int | None = None  # LCM students: 256; None = no guidance branch
    text_conditioning: str = "pooled"  # pooled (papers) | tokens (cross-attention to token states)

    KEY_ORDER = ("latent_shape", *TRANSFORMER_KEYS, "text_dim", "text_activation", "time_sinusoid_dim", "flip_sin_to_cos",
                 "downscale_freq_shift", "time_activation", "guidance_embed_dim", "latent_projection", "text_conditioning")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.text_conditioning not in TEXT_CONDITIONING:
            raise MotionLCMError(f"text_conditioning must be one of {TEXT_CONDITIONING}, got {self.text_conditioning!r}")

    @property
    def num_tokens(self) -> int:
        """Transformer sequence length: latent tokens + time token + text token."""
        return self.num_latent_tokens + 2

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "DenoiserConfig":
        """The ``denoiser`` section of a model config (``"v2"``: configs/model/humanml3d_v2.yaml,
        ``"v1"``: humanml3d_v1.yaml, ``"embedded"``: embedded_transformer.yaml), with the latent
        shape of its ``vae`` section and the pooled width of its ``text_encoder``."""
        from ..configs import model_config, model_preset
        from .text_encoder import pooled_dim

        config = model_config(name)
        values = {**model_preset(name, "denoiser", config),
                  "latent_shape": tuple(model_preset(name, "vae", config)["latent_shape"]),
                  "text_dim": pooled_dim(str(config.get("text_encoder")))}
        return config_from_mapping(cls, {**values, **overrides})


TEXT_CONDITIONING = ("pooled", "tokens")


class LatentDenoiser(nn.Module):
    """Epsilon-predicting transformer over VAE latent tokens, conditioned on time, text and (LCM) guidance."""

    def __init__(self, config: DenoiserConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DenoiserConfig()
        width, latent_dim = config.width, config.latent_dim
        self.latent_in = nn.Linear(latent_dim, width) if config.projects_latent else nn.Identity()
        self.latent_out = nn.Linear(width, latent_dim) if config.projects_latent else nn.Identity()
        self.time_proj = Timesteps(config.time_sinusoid_dim, config.flip_sin_to_cos, config.downscale_freq_shift)
        self.time_embedding = TimestepEmbedding(config.time_sinusoid_dim, width, config.time_activation)
        if config.guidance_embed_dim is not None:
            # Zero weights: the branch contributes nothing until trained (see module docstring).
            self.guidance_proj = nn.Linear(config.guidance_embed_dim, config.time_sinusoid_dim, bias=False)
            nn.init.zeros_(self.guidance_proj.weight)
        else:
            self.guidance_proj = None
        self.text_proj = nn.Sequential(make_activation(config.text_activation), nn.Linear(config.text_dim, width))
        self.positions = build_positional_embedding(config.positional_embedding, config.num_tokens, width)
        stack = SkipTransformerDecoder if config.text_conditioning == "tokens" else SkipTransformerEncoder
        self.transformer = stack(
            width=width, num_layers=config.num_layers, num_heads=config.num_heads, ffn_dim=config.ffn_dim,
            dropout=config.dropout, activation=config.activation, norm_first=config.norm_first,
            final_norm=config.final_norm, norm_eps=config.norm_eps)

    @classmethod
    def from_config(cls, config: DenoiserConfig | Mapping[str, Any] | str) -> "LatentDenoiser":
        """Build from a :class:`DenoiserConfig`, a plain mapping of its fields, or a preset name."""
        if isinstance(config, str):
            config = DenoiserConfig.preset(config)
        elif not isinstance(config, DenoiserConfig):
            config = DenoiserConfig.from_dict(config)
        return cls(config)

    @property
    def latent_shape(self) -> tuple[int, int]:
        return self.config.latent_shape

    @property
    def has_guidance_embedding(self) -> bool:
        return self.guidance_proj is not None

    def num_parameters(self, trainable_only: bool = False) -> int:
        return count_parameters(self, trainable_only)

    def embed_time(self, timestep: torch.Tensor | float | int, batch: int, device: torch.device,
                   guidance: torch.Tensor | float | None = None) -> torch.Tensor:
        """Time (+ guidance) embedding (B, width). ``timestep``/``guidance``: scalar, (1,) or (B,)."""
        dtype = self.time_embedding.linear_1.weight.dtype  # sinusoids are float32; match half/bf16 weights
        sinusoid = self.time_proj(_per_sample(timestep, batch, device, "timestep")).to(dtype)
        if guidance is not None:
            if self.guidance_proj is None:
                raise MotionLCMError("this denoiser has no guidance embedding (guidance_embed_dim is None)")
            w = _per_sample(guidance, batch, device, "guidance")
            w_embedding = guidance_scale_embedding(w, self.config.guidance_embed_dim).to(dtype)
            sinusoid = sinusoid + self.guidance_proj(w_embedding)
        return self.time_embedding(sinusoid)

    @property
    def uses_text_tokens(self) -> bool:
        return self.config.text_conditioning == "tokens"

    def text_condition(self, encoding) -> torch.Tensor:
        """What this denoiser reads from a :class:`TextEncoding`: the pooled vectors or the token states."""
        return encoding.tokens if self.uses_text_tokens else encoding.pooled

    def _text_inputs(self, text: torch.Tensor, batch: int, dtype: torch.dtype
                     ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """-> (in-sequence text token (B, width), extra block arguments: cross-attention memory and mask)."""
        dim = self.config.text_dim
        if not self.uses_text_tokens:
            if text.ndim != 2 or text.shape != (batch, dim):
                raise MotionLCMError(f"text condition must be pooled embeddings (batch={batch}, {dim}), "
                                     f"got {tuple(text.shape)}")
            return self.text_proj(text.to(dtype)), {}
        if text.ndim != 3 or text.shape[0] != batch or text.shape[2] != dim:
            raise MotionLCMError(f"text condition must be token states (batch={batch}, tokens, {dim}), "
                                 f"got {tuple(text.shape)}")
        real = text.abs().amax(-1) > 0  # zero rows are padding (TextEncoding.tokens)
        if not bool(real.any(-1).all()):
            raise MotionLCMError("a text condition has no tokens; encode the empty prompt instead of zeros")
        used = int(real.sum(-1).max())  # padding beyond the longest text costs time, not information
        text, real = text[:, :used].to(dtype), real[:, :used]
        memory = self.text_proj(text)
        weights = real.to(dtype)[..., None]
        mean = (text * weights).sum(1) / weights.sum(1)
        return self.text_proj(mean), {"memory": memory, "memory_key_padding_mask": ~real}

    def _input_tokens(self, latent: torch.Tensor, timestep: torch.Tensor | float | int, text_emb: torch.Tensor,
                      guidance: torch.Tensor | float | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if latent.ndim != 3 or tuple(latent.shape[1:]) != tuple(self.config.latent_shape):
            raise MotionLCMError(f"latent must be (batch, {self.config.latent_shape[0]}, {self.config.latent_shape[1]}), "
                                 f"got {tuple(latent.shape)}")
        batch = latent.shape[0]
        latent_tokens = self.latent_in(latent)
        time_token = self.embed_time(timestep, batch, latent.device, guidance).to(latent_tokens.dtype)
        text_token, block_kwargs = self._text_inputs(text_emb, batch, latent_tokens.dtype)
        tokens = torch.cat([latent_tokens, time_token[:, None], text_token[:, None]], dim=1)
        return self.positions(tokens), block_kwargs

    def block_outputs(self, latent: torch.Tensor, timestep: torch.Tensor | float | int, text_emb: torch.Tensor,
                      guidance: torch.Tensor | float | None = None) -> list[torch.Tensor]:
        """Hidden states (B, L + 2, width) after each block, in execution order (for a ControlNet copy)."""
        tokens, block_kwargs = self._input_tokens(latent, timestep, text_emb, guidance)
        _, outputs = self.transformer.run_blocks(tokens, **block_kwargs)
        return outputs

    def forward(self, latent: torch.Tensor, timestep: torch.Tensor | float | int, text_emb: torch.Tensor,
                guidance: torch.Tensor | float | None = None,
                controlnet_residuals: list[torch.Tensor] | None = None) -> torch.Tensor:
        """latent (B, L, D), timestep scalar or (B,), text condition -> epsilon prediction (B, L, D).

        ``text_emb``: pooled embeddings (B, E), or token states (B, N, E) with zero rows as padding
        for ``text_conditioning: tokens`` (see :meth:`text_condition`).
        ``guidance`` (scalar or (B,)) is the raw guidance scale ``w`` (embedded here); only for
        denoisers built with ``guidance_embed_dim``. ``controlnet_residuals``: ``num_layers``
        tensors shaped like :meth:`block_outputs`' entries, added to the matching block outputs.
        """
        tokens, block_kwargs = self._input_tokens(latent, timestep, text_emb, guidance)
        hidden, _ = self.transformer.run_blocks(tokens, controlnet_residuals, **block_kwargs)
        hidden = self.transformer.final_norm(hidden)
        return self.latent_out(hidden[:, : self.config.num_latent_tokens])


def text_condition_dim(text_encoder, text_conditioning: str = "pooled") -> int:
    """Width of what a denoiser with ``text_conditioning`` reads from ``text_encoder`` (its ``text_dim``)."""
    return text_encoder.token_dim if text_conditioning == "tokens" else text_encoder.dim


def cat_text_conditions(conditions: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate text conditions along the batch; token states are zero-padded to the longest."""
    if conditions[0].ndim == 2:
        return torch.cat(conditions)
    n = max(c.shape[1] for c in conditions)
    return torch.cat([F.pad(c, (0, 0, 0, n - c.shape[1])) for c in conditions])


def select_text_condition(keep: torch.Tensor, condition: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Per sample: ``condition`` where ``keep`` (B,) is True, else ``other`` (e.g. the empty prompt for CFG dropout)."""
    if condition.ndim == 2:
        return torch.where(keep[:, None], condition, other)
    n = max(condition.shape[1], other.shape[1])
    condition = F.pad(condition, (0, 0, 0, n - condition.shape[1]))
    other = F.pad(other, (0, 0, 0, n - other.shape[1]))
    return torch.where(keep[:, None, None], condition, other)


def _per_sample(value: torch.Tensor | float | int, batch: int, device: torch.device, name: str) -> torch.Tensor:
    """Scalar, (1,) or (B,) -> (B,) on ``device``."""
    tensor = torch.as_tensor(value, device=device)
    if tensor.ndim == 0 or tensor.shape == (1,):
        return tensor.reshape(1).expand(batch)
    if tensor.shape != (batch,):
        raise MotionLCMError(f"{name} must be a scalar or have shape ({batch},), got {tuple(tensor.shape)}")
    return tensor


__all__ = ["DenoiserConfig", "TEXT_CONDITIONING", "LatentDenoiser", "cat_text_conditions", "text_condition_dim",
           "select_text_condition"]
