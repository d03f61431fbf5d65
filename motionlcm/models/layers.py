"""Building blocks shared by the motion VAE and the latent denoiser.

* :class:`SkipTransformerEncoder` / :class:`SkipTransformerDecoder` - MLD's transformer with long
  (U-Net-like) skip connections. ``num_layers`` (odd) blocks are split into
  ``(num_layers - 1) // 2`` input blocks, one middle block and as many output blocks. The output
  of input block ``i`` is fused into the input of the mirrored output block as
  ``Linear(2W -> W)(cat(x, skip))`` (MLD's linear fusion, rather than a plain ``x + skip``), so
  the network can learn how much of each path to keep.
* Blocks are post-norm by default (``x = norm(x + sublayer(x))``, as MLD / MotionLCM) with an
  extra final LayerNorm after the whole stack; ``norm_first=True`` gives pre-norm blocks.
* Positional embeddings (learned or fixed sinusoidal) added to batch-first sequences.
* Diffusion timestep embedding: diffusers' ``get_timestep_embedding`` / ``Timesteps`` /
  ``TimestepEmbedding`` re-implemented by hand so the package does not depend on diffusers;
  the formula is identical, so weights trained either way are interchangeable.

Everything here is batch-first: sequences are ``(batch, tokens, width)``.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

import torch
import torch.nn as nn

from ..errors import MotionLCMError

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
}


def make_activation(name: str | None) -> nn.Module:
    """Activation module by name; ``None`` gives the identity."""
    if name is None:
        return nn.Identity()
    try:
        return ACTIVATIONS[name.lower()]()
    except KeyError:
        raise MotionLCMError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def zero_init_(module: nn.Module) -> nn.Module:
    """Set every parameter of ``module`` to zero (ControlNet / guidance branches start silent)."""
    for parameter in module.parameters():
        nn.init.zeros_(parameter)
    return module


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``module`` (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def format_parameter_count(count: int) -> str:
    """``1234567 -> '1.23M'``, for logs and model summaries."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.2f}{unit}"
    return str(count)


# --------------------------------------------------------------------------------------------
# Timestep / guidance-scale embeddings
# --------------------------------------------------------------------------------------------


def timestep_embedding(timesteps: torch.Tensor, dim: int, flip_sin_to_cos: bool = False,
                       downscale_freq_shift: float = 1.0, scale: float = 1.0, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding (N,) -> (N, dim): diffusers' ``get_timestep_embedding`` (float32).

    ``freq_i = exp(-ln(max_period) * i / (dim // 2 - downscale_freq_shift))`` for ``i < dim // 2``;
    the embedding is ``[sin(scale * t * freq), cos(scale * t * freq)]``, swapped to ``[cos, sin]``
    when ``flip_sin_to_cos``, zero-padded by one column when ``dim`` is odd.
    """
    from diffusers.models.embeddings import get_timestep_embedding

    if timesteps.ndim != 1:
        raise MotionLCMError(f"timesteps must be a 1-d tensor, got shape {tuple(timesteps.shape)}")
    return get_timestep_embedding(timesteps.float(), dim, flip_sin_to_cos, downscale_freq_shift, scale, int(max_period))


def guidance_scale_embedding(guidance: torch.Tensor, dim: int) -> torch.Tensor:
    """LCM's embedding of a guidance scale ``w`` (N,) -> (N, dim).

    Same as diffusers' / MotionLCM's ``get_guidance_scale_embedding``: sinusoids of ``w * 1000``
    with ``[sin, cos]`` order and frequencies ``exp(-ln(10000) * i / (dim // 2 - 1))``.
    """
    return timestep_embedding(guidance * 1000.0, dim, flip_sin_to_cos=False, downscale_freq_shift=1.0)


def Timesteps(dim: int, flip_sin_to_cos: bool = True, downscale_freq_shift: float = 0.0) -> nn.Module:  # noqa: N802
    """diffusers' parameter-free ``Timesteps`` projection (imported on first use: diffusers is slow to import)."""
    from diffusers.models.embeddings import Timesteps as DiffusersTimesteps

    return DiffusersTimesteps(dim, flip_sin_to_cos, downscale_freq_shift)


def TimestepEmbedding(in_dim: int, out_dim: int, activation: str = "silu") -> nn.Module:  # noqa: N802
    """diffusers' ``TimestepEmbedding``: ``linear_1 -> activation -> linear_2`` (the same parameter names)."""
    from diffusers.models.embeddings import TimestepEmbedding as DiffusersTimestepEmbedding

    return DiffusersTimestepEmbedding(in_dim, out_dim, act_fn=activation)


# --------------------------------------------------------------------------------------------
# Positional embeddings
# --------------------------------------------------------------------------------------------


class LearnedPositionalEmbedding(nn.Module):
    """Adds a learned table ``(max_len, width)`` to the first ``T`` positions of ``(B, T, width)``.

    Initialised uniformly in [0, 1) as MLD's ``PositionEmbeddingLearned1D``.
    """

    def __init__(self, max_len: int, width: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.table = nn.Parameter(torch.empty(max_len, width))
        nn.init.uniform_(self.table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.max_len:
            raise MotionLCMError(f"sequence of {x.shape[1]} tokens exceeds the positional table ({self.max_len})")
        return x + self.table[: x.shape[1]].to(x.dtype)


class SinusoidalPositionalEmbedding(nn.Module):
    """Fixed transformer sinusoids (``sin`` on even, ``cos`` on odd channels) added to ``(B, T, width)``."""

    def __init__(self, max_len: int, width: int) -> None:
        super().__init__()
        self.max_len = max_len
        position = torch.arange(max_len, dtype=torch.float32)[:, None]
        frequencies = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
        table = torch.zeros(max_len, width)
        table[:, 0::2] = torch.sin(position * frequencies)
        table[:, 1::2] = torch.cos(position * frequencies[: width // 2])
        self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.max_len:
            raise MotionLCMError(f"sequence of {x.shape[1]} tokens exceeds the positional table ({self.max_len})")
        return x + self.table[: x.shape[1]].to(x.dtype)


def build_positional_embedding(kind: str, max_len: int, width: int) -> nn.Module:
    """``kind`` is ``"learned"`` or ``"sinusoidal"`` (``"sine"`` accepted as MLD's spelling)."""
    if kind == "learned":
        return LearnedPositionalEmbedding(max_len, width)
    if kind in ("sinusoidal", "sine"):
        return SinusoidalPositionalEmbedding(max_len, width)
    raise MotionLCMError(f"unknown positional embedding {kind!r}; choose 'learned' or 'sinusoidal'")


# --------------------------------------------------------------------------------------------
# Transformer blocks
# --------------------------------------------------------------------------------------------


class FeedForward(nn.Module):
    def __init__(self, width: int, ffn_dim: int, dropout: float, activation: str) -> None:
        super().__init__()
        self.linear1 = nn.Linear(width, ffn_dim)
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_dim, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerEncoderBlock(nn.Module):
    """Self-attention + feed-forward; post-norm unless ``norm_first``."""

    def __init__(self, width: int, num_heads: int, ffn_dim: int, dropout: float = 0.1,
                 activation: str = "gelu", norm_first: bool = False, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = nn.MultiheadAttention(width, num_heads, dropout=dropout, batch_first=True)
        self.ffn = FeedForward(width, ffn_dim, dropout, activation)
        self.norm1 = nn.LayerNorm(width, eps=norm_eps)
        self.norm2 = nn.LayerNorm(width, eps=norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _attend(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        return self.dropout1(self.self_attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False)[0])

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``key_padding_mask`` (B, T) is True where a token must be ignored as a key."""
        if self.norm_first:
            x = x + self._attend(self.norm1(x), key_padding_mask)
            return x + self.dropout2(self.ffn(self.norm2(x)))
        x = self.norm1(x + self._attend(x, key_padding_mask))
        return self.norm2(x + self.dropout2(self.ffn(x)))


class TransformerDecoderBlock(nn.Module):
    """Self-attention, cross-attention to ``memory``, feed-forward; post-norm unless ``norm_first``."""

    def __init__(self, width: int, num_heads: int, ffn_dim: int, dropout: float = 0.1,
                 activation: str = "gelu", norm_first: bool = False, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = nn.MultiheadAttention(width, num_heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(width, num_heads, dropout=dropout, batch_first=True)
        self.ffn = FeedForward(width, ffn_dim, dropout, activation)
        self.norm1 = nn.LayerNorm(width, eps=norm_eps)
        self.norm2 = nn.LayerNorm(width, eps=norm_eps)
        self.norm3 = nn.LayerNorm(width, eps=norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def _self(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        return self.dropout1(self.self_attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False)[0])

    def _cross(self, x: torch.Tensor, memory: torch.Tensor, memory_key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        out = self.cross_attn(x, memory, memory, key_padding_mask=memory_key_padding_mask, need_weights=False)[0]
        return self.dropout2(out)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                memory_key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:
            x = x + self._self(self.norm1(x), key_padding_mask)
            x = x + self._cross(self.norm2(x), memory, memory_key_padding_mask)
            return x + self.dropout3(self.ffn(self.norm3(x)))
        x = self.norm1(x + self._self(x, key_padding_mask))
        x = self.norm2(x + self._cross(x, memory, memory_key_padding_mask))
        return self.norm3(x + self.dropout3(self.ffn(x)))


class SkipTransformer(nn.Module):
    """Input blocks, a middle block and output blocks with long skip connections.

    Block order (also the order of ``residuals`` and of the returned block outputs):
    ``input_blocks[0..n-1], middle_block, output_blocks[0..n-1]`` with ``n = (num_layers - 1) // 2``.
    Output block ``j`` receives ``Linear(cat(x, skip))`` where ``skip`` is the output of input
    block ``n - 1 - j`` (mirrored). A residual for block ``i`` is added to that block's output
    before it is stored as a skip or passed on, which is where MotionLCM's ControlNet injects.
    """

    def __init__(self, make_block: Callable[[], nn.Module], width: int, num_layers: int,
                 final_norm: bool = True, norm_eps: float = 1e-5) -> None:
        super().__init__()
        if num_layers < 1 or num_layers % 2 == 0:
            raise MotionLCMError(f"a skip transformer needs an odd number of layers (got {num_layers})")
        num_side = (num_layers - 1) // 2
        self.width = width
        self.num_layers = num_layers
        self.input_blocks = nn.ModuleList(make_block() for _ in range(num_side))
        self.middle_block = make_block()
        self.output_blocks = nn.ModuleList(make_block() for _ in range(num_side))
        self.skip_fusions = nn.ModuleList(nn.Linear(2 * width, width) for _ in range(num_side))
        self.final_norm = nn.LayerNorm(width, eps=norm_eps) if final_norm else nn.Identity()
        # As MLD: Xavier-uniform for every matrix of the stack (attention projections included).
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)

    def run_blocks(self, x: torch.Tensor, residuals: list[torch.Tensor] | None = None,
                   **block_kwargs) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run every block; returns the last block output (before the final norm) and all block outputs."""
        if residuals is not None and len(residuals) != self.num_layers:
            raise MotionLCMError(f"expected {self.num_layers} residuals (one per block), got {len(residuals)}")
        block_outputs: list[torch.Tensor] = []

        def finish(block_output: torch.Tensor) -> torch.Tensor:
            if residuals is not None:
                block_output = block_output + residuals[len(block_outputs)]
            block_outputs.append(block_output)
            return block_output

        skips = []
        for block in self.input_blocks:
            x = finish(block(x, **block_kwargs))
            skips.append(x)
        x = finish(self.middle_block(x, **block_kwargs))
        for block, fusion in zip(self.output_blocks, self.skip_fusions):
            x = fusion(torch.cat([x, skips.pop()], dim=-1))
            x = finish(block(x, **block_kwargs))
        return x, block_outputs


class SkipTransformerEncoder(SkipTransformer):
    """Skip-connected stack of :class:`TransformerEncoderBlock`."""

    def __init__(self, width: int, num_layers: int, num_heads: int, ffn_dim: int, dropout: float = 0.1,
                 activation: str = "gelu", norm_first: bool = False, final_norm: bool = True,
                 norm_eps: float = 1e-5) -> None:
        super().__init__(
            lambda: TransformerEncoderBlock(width, num_heads, ffn_dim, dropout, activation, norm_first, norm_eps),
            width, num_layers, final_norm, norm_eps)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                residuals: list[torch.Tensor] | None = None) -> torch.Tensor:
        x, _ = self.run_blocks(x, residuals, key_padding_mask=key_padding_mask)
        return self.final_norm(x)


class SkipTransformerDecoder(SkipTransformer):
    """Skip-connected stack of :class:`TransformerDecoderBlock` (queries cross-attend to ``memory``)."""

    def __init__(self, width: int, num_layers: int, num_heads: int, ffn_dim: int, dropout: float = 0.1,
                 activation: str = "gelu", norm_first: bool = False, final_norm: bool = True,
                 norm_eps: float = 1e-5) -> None:
        super().__init__(
            lambda: TransformerDecoderBlock(width, num_heads, ffn_dim, dropout, activation, norm_first, norm_eps),
            width, num_layers, final_norm, norm_eps)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                memory_key_padding_mask: torch.Tensor | None = None,
                residuals: list[torch.Tensor] | None = None) -> torch.Tensor:
        x, _ = self.run_blocks(x, residuals, memory=memory, key_padding_mask=key_padding_mask,
                               memory_key_padding_mask=memory_key_padding_mask)
        return self.final_norm(x)


# --------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatentConfig:
    """Fields and behaviour shared by the config dataclasses of every network over VAE latents
    (both VAEs, the denoiser, the trajectory encoder): the latent shape and the model width, shape
    checks, and YAML-friendly ``to_dict`` / ``from_dict``.

    ``to_dict`` writes the keys in ``KEY_ORDER`` when a subclass sets it: inherited fields come
    first in a dataclass, but saved ``config.yaml`` files list each network's keys in the order
    they had before the fields moved here, and exports must stay byte-identical.
    """

    latent_shape: tuple[int, int] = (16, 32)  # (latent tokens L, latent width D)
    width: int = 256

    KEY_ORDER: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        self.check_shapes()

    @property
    def num_latent_tokens(self) -> int:
        return self.latent_shape[0]

    @property
    def latent_dim(self) -> int:
        return self.latent_shape[1]

    def check_shapes(self) -> None:
        if len(self.latent_shape) != 2 or min(self.latent_shape) < 1:
            raise MotionLCMError(f"latent_shape must be (tokens, width) with positive sizes, got {self.latent_shape}")

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["latent_shape"] = list(values["latent_shape"])
        if not self.KEY_ORDER:
            return values
        if sorted(self.KEY_ORDER) != sorted(values):
            raise AssertionError(f"{type(self).__name__}.KEY_ORDER does not list exactly its fields")
        return {key: values[key] for key in self.KEY_ORDER}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]):
        return config_from_mapping(cls, values)


@dataclass(frozen=True)
class LatentTransformerConfig(LatentConfig):
    """:class:`LatentConfig` plus the skip-transformer fields the VAE, the denoiser and the
    trajectory encoder share (defaults: MotionLCM-V2's, REFERENCE.md section 2); subclasses add
    only their own fields."""

    num_layers: int = 9  # odd: (n-1)/2 input blocks, 1 middle block, (n-1)/2 output blocks
    num_heads: int = 4
    ffn_dim: int = 1024
    dropout: float = 0.1
    activation: str = "gelu"
    norm_first: bool = False  # MLD: post-norm blocks ...
    final_norm: bool = True  # ... plus a LayerNorm after the stack
    norm_eps: float = 1e-5
    positional_embedding: str = "learned"
    latent_projection: bool | None = None  # None: project iff latent width != transformer width

    WIDTH_NAME: ClassVar[str] = "transformer"  # how the latent-projection error names ``width``

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.projects_latent and self.latent_dim != self.width:
            raise MotionLCMError(f"latent width {self.latent_dim} differs from the {self.WIDTH_NAME} width "
                                 f"{self.width}; that needs latent_projection")

    @property
    def projects_latent(self) -> bool:
        if self.latent_projection is None:
            return self.latent_dim != self.width
        return bool(self.latent_projection)

    def check_shapes(self) -> None:
        super().check_shapes()
        if self.width % self.num_heads != 0:
            raise MotionLCMError(f"width {self.width} is not divisible by num_heads {self.num_heads}")


# The inherited transformer fields, in the order every saved transformer config lists them.
TRANSFORMER_KEYS = ("width", "num_layers", "num_heads", "ffn_dim", "dropout", "activation", "norm_first", "final_norm",
                    "norm_eps", "positional_embedding")


def config_from_mapping(config_class: type, values: Mapping[str, Any]) -> Any:
    """Build a config dataclass from a plain mapping (YAML / Hydra ``DictConfig``), rejecting unknown keys.

    Lists become tuples where the field's default is a tuple (e.g. ``latent_shape``).
    """
    known = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise MotionLCMError(f"{config_class.__name__}: unknown option(s) {unknown}; known: {sorted(known)}")
    converted = {}
    for name, value in values.items():
        default = known[name].default
        if isinstance(default, tuple) and isinstance(value, Sequence) and not isinstance(value, str):
            value = tuple(value)  # also turns Hydra's ListConfig into a plain tuple
        converted[name] = value
    return config_class(**converted)


__all__ = [
    "ACTIVATIONS", "make_activation", "zero_init_", "count_parameters", "format_parameter_count",
    "timestep_embedding", "guidance_scale_embedding", "Timesteps", "TimestepEmbedding",
    "LearnedPositionalEmbedding", "SinusoidalPositionalEmbedding", "build_positional_embedding",
    "FeedForward", "TransformerEncoderBlock", "TransformerDecoderBlock", "SkipTransformer",
    "SkipTransformerEncoder", "SkipTransformerDecoder", "LatentConfig", "LatentTransformerConfig", "TRANSFORMER_KEYS",
    "config_from_mapping",
]
