"""A time-aligned convolutional motion VAE: the same ``(L, D)`` latent as MotionLCM-V2's VAE,
but latent token ``j`` stands for the ``j``-th ``1/L`` of the clip.

Why it exists (``../shared/docs/VAE_NOTES.md``, the model card): in CPU-sized budgets the
transformer VAE's decoder has to learn *when* things happen from a position table, and it
plateaus at ~85 mm with no foot lifts. Here time is given for free:

* encoder: a convolution 263 -> ``width`` over frames, ``num_blocks`` dilated residual blocks,
  then each sequence's valid frames are average-pooled into ``L`` equal segments (adaptive
  pooling, per sequence length) and a linear layer gives ``mu`` / ``logvar`` (``D`` each);
* decoder: a linear layer ``D -> width`` per token, linear interpolation of the ``L`` tokens to
  the sequence's ``T`` frames (token centres at ``(j + 0.5) T / L``), ``num_blocks`` dilated
  residual blocks, a convolution to 263.

Padded frames are zeroed after every block, so valid outputs equal those of the sequence run
alone (zero "same" padding at its end), and padding content never reaches them. The interface
(``encode`` / ``decode`` / ``forward``, ``latent_shape``, ``config``) is :class:`MotionVAE`'s,
so the denoiser, ControlNet and pipeline do not know which VAE they run on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn as nn

from ..errors import MotionLCMError
from ..motion.features import FEATURE_DIM
from .layers import LatentConfig, make_activation
from .vae import LatentDistribution, LatentMotionVAE


@dataclass(frozen=True)
class ConvVAEConfig(LatentConfig):
    """Hyper-parameters of :class:`ConvMotionVAE` (``architecture: conv`` in a model config): the
    shared ``latent_shape`` and ``width`` plus its own (no transformer fields)."""

    architecture: str = "conv"
    feature_dim: int = FEATURE_DIM
    num_blocks: int = 6  # residual blocks in the encoder, and as many in the decoder
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 3, 9)  # cycled over the blocks
    activation: str = "gelu"
    max_frames: int = 200
    # Phase path (off when empty): periods in frames of the sinusoids that carry motion faster
    # than the token spacing (claps, waves, punches: 6-12 frames against 8-12 per token).
    phase_periods: tuple[float, ...] = ()
    phase_channels: int = 8  # channels per period (each gets a cosine and a sine)

    KEY_ORDER = ("architecture", "feature_dim", "latent_shape", "width", "num_blocks", "kernel_size", "dilations",
                 "activation", "max_frames", "phase_periods", "phase_channels")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_conv_options(self)
        if any(not float(p) >= 2.0 for p in self.phase_periods):
            raise MotionLCMError(f"phase_periods must be >= 2 frames each, got {list(self.phase_periods)}")
        if self.phase_periods and self.phase_channels < 1:
            raise MotionLCMError(f"phase_channels must be >= 1, got {self.phase_channels}")

    def to_dict(self) -> dict[str, Any]:
        values = {**super().to_dict(), "dilations": list(self.dilations), "phase_periods": [float(p) for p in self.phase_periods]}
        if not self.phase_periods:  # configs saved before the phase path existed stay byte-identical
            del values["phase_periods"], values["phase_channels"]
        return values


def check_conv_options(config, what: str = "") -> None:
    """The checks every config of a :class:`DilatedConvStack` network shares (``what`` prefixes the messages)."""
    prefix = f"{what} " if what else ""
    if config.architecture != "conv":
        raise MotionLCMError(f"{type(config).__name__}.architecture must be 'conv', got {config.architecture!r}")
    if config.kernel_size < 1 or config.kernel_size % 2 == 0:
        raise MotionLCMError(f"{prefix}kernel_size must be odd and positive, got {config.kernel_size}")
    if config.num_blocks < 1 or not config.dilations or min(config.dilations) < 1:
        raise MotionLCMError(f"{prefix}num_blocks and every dilation must be >= 1")


class _ResidualBlock(nn.Module):
    """``x + conv(act(conv_dilated(act(x))))``; both convolutions keep the frame count."""

    def __init__(self, width: int, kernel_size: int, dilation: int, activation: str):
        super().__init__()
        self.act1, self.act2 = make_activation(activation), make_activation(activation)
        self.conv1 = nn.Conv1d(width, width, kernel_size, padding=dilation * (kernel_size - 1) // 2, dilation=dilation)
        self.conv2 = nn.Conv1d(width, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act2(self.conv1(self.act1(x))))


class DilatedConvStack(nn.Module):
    """``num_blocks`` residual blocks over frames, dilations cycled; padded frames re-zeroed after each."""

    def __init__(self, width: int, num_blocks: int, kernel_size: int, dilations: tuple[int, ...], activation: str):
        super().__init__()
        cycle = [dilations[i % len(dilations)] for i in range(num_blocks)]
        self.blocks = nn.ModuleList(_ResidualBlock(width, kernel_size, d, activation) for d in cycle)

    @classmethod
    def from_config(cls, config) -> "DilatedConvStack":
        """From any config with ``width``, ``num_blocks``, ``kernel_size``, ``dilations``, ``activation``."""
        return cls(config.width, config.num_blocks, config.kernel_size, tuple(config.dilations), config.activation)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """x (B, C, T), keep (B, 1, T) float mask."""
        for block in self.blocks:
            x = block(x) * keep
        return x


def segment_pooling_matrix(lengths: torch.Tensor, frames: int, tokens: int) -> torch.Tensor:
    """(B, tokens, frames) weights averaging each sequence's valid frames into ``tokens`` segments.

    Segment ``j`` of a length-``n`` sequence spans frames ``floor(j n / L)`` to ``ceil((j + 1) n / L)``
    (exclusive), as ``torch.nn.functional.adaptive_avg_pool1d`` does for a single sequence.
    """
    n = lengths.to(torch.float64)[:, None, None]
    j = torch.arange(tokens, dtype=torch.float64, device=lengths.device)[None, :, None]
    t = torch.arange(frames, dtype=torch.float64, device=lengths.device)[None, None, :]
    start, end = torch.floor(j * n / tokens), torch.ceil((j + 1) * n / tokens)
    inside = (t >= start) & (t < end)
    weights = inside.to(torch.float32)
    return weights / weights.sum(-1, keepdim=True).clamp(min=1.0)


def token_interpolation_matrix(lengths: torch.Tensor, frames: int, tokens: int) -> torch.Tensor:
    """(B, frames, tokens) linear-interpolation weights from token centres to frame centres.

    Token ``j`` sits at ``(j + 0.5) n / L`` frames; frames outside the first/last centre copy the
    nearest token; padded frames (``t >= n``) get all-zero rows.
    """
    n = lengths.to(torch.float64)[:, None]
    t = torch.arange(frames, dtype=torch.float64, device=lengths.device)[None, :]
    position = ((t + 0.5) * tokens / n - 0.5).clamp(0.0, tokens - 1.0)  # in token units
    low = position.floor().long()
    high = (low + 1).clamp(max=tokens - 1)
    frac = (position - low.to(torch.float64)).to(torch.float32)
    weights = torch.zeros(lengths.shape[0], frames, tokens, device=lengths.device)
    weights.scatter_add_(2, low[..., None], (1.0 - frac)[..., None])
    weights.scatter_add_(2, high[..., None], frac[..., None])
    return weights * (t < n).to(torch.float32)[..., None]


def phase_waves(frames: int, periods: tuple[float, ...], channels: int, device=None) -> torch.Tensor:
    """(2 K C, frames): ``cos`` then ``sin`` of ``2 pi t / P_k`` for frame ``t`` counted from the
    clip's start, each period repeated for its ``channels`` channels."""
    t = torch.arange(frames, dtype=torch.float64, device=device)
    omega = 2.0 * torch.pi / torch.tensor([float(p) for p in periods], dtype=torch.float64, device=device)
    angle = (omega[:, None] * t[None, :]).repeat_interleave(channels, dim=0)  # (K C, T)
    return torch.cat([angle.cos(), angle.sin()], dim=0).to(torch.float32)


class ConvMotionVAE(LatentMotionVAE):
    """Time-aligned convolutional VAE with :class:`~motionlcm.models.vae.MotionVAE`'s interface."""

    def __init__(self, config: ConvVAEConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ConvVAEConfig()
        _, latent_dim = config.latent_shape
        width, kernel = config.width, config.kernel_size
        self.encoder_input = nn.Conv1d(config.feature_dim, width, kernel, padding=kernel // 2)
        self.encoder = DilatedConvStack.from_config(config)
        self.encoder_output = nn.Linear(width, 2 * latent_dim)  # mu, logvar
        self.decoder_input = nn.Linear(latent_dim, width)
        self.decoder = DilatedConvStack.from_config(config)
        self.decoder_output = nn.Conv1d(width, config.feature_dim, kernel, padding=kernel // 2)
        if config.phase_periods:
            # Local Fourier coefficients: the encoder pools (features x waves) per segment, the decoder
            # modulates the same waves by interpolated per-token amplitudes. Both outputs start at zero,
            # so a VAE trained without the path loads (strict=False on these keys) and starts unchanged.
            waves = len(config.phase_periods) * config.phase_channels
            self.encoder_phase_in = nn.Conv1d(width, waves, 1)
            self.encoder_phase_out = nn.Linear(2 * waves, 2 * latent_dim)
            self.decoder_phase_in = nn.Linear(latent_dim, 2 * waves)
            self.decoder_phase_out = nn.Conv1d(waves, width, 1)
            for layer in (self.encoder_phase_out, self.decoder_phase_out):
                nn.init.zeros_(layer.weight), nn.init.zeros_(layer.bias)

    PHASE_PREFIXES = ("encoder_phase_", "decoder_phase_")

    def _waves(self, frames: int, like: torch.Tensor) -> torch.Tensor:
        c = self.config
        return phase_waves(frames, tuple(c.phase_periods), c.phase_channels, like.device).to(like.dtype)

    @classmethod
    def from_config(cls, config: ConvVAEConfig | Mapping[str, Any]) -> "ConvMotionVAE":
        return cls(config if isinstance(config, ConvVAEConfig) else ConvVAEConfig.from_dict(config))

    def _check_inputs(self, mask: torch.Tensor, features: torch.Tensor | None = None) -> None:
        super()._check_inputs(mask, features)
        if not bool(mask.any(dim=1).all()):  # pooling and interpolation divide by the length
            raise MotionLCMError("every sequence needs at least one valid frame")

    def encode(self, features: torch.Tensor, mask: torch.Tensor, sample: bool = True
               ) -> tuple[torch.Tensor, LatentDistribution]:
        """features (B, T, 263), mask (B, T) True on valid frames -> (z (B, L, D), distribution)."""
        self._check_inputs(mask, features)
        keep = mask[:, None, :].to(features.dtype)
        x = self.encoder_input(features.masked_fill(~mask[..., None], 0.0).transpose(1, 2)) * keep
        x = self.encoder(x, keep)  # (B, C, T)
        pool = segment_pooling_matrix(mask.sum(1), mask.shape[1], self.config.num_latent_tokens).to(x.dtype)
        encoded = self.encoder_output(torch.bmm(pool, x.transpose(1, 2)))  # (B, L, 2D)
        if self.config.phase_periods:
            a = self.encoder_phase_in(x)  # (B, K C, T)
            waves = self._waves(x.shape[-1], x)
            modulated = torch.cat([a, a], dim=1) * waves[None] * keep  # (B, 2 K C, T)
            encoded = encoded + self.encoder_phase_out(torch.bmm(pool, modulated.transpose(1, 2)))
        mu, logvar = encoded.chunk(2, dim=-1)
        dist = LatentDistribution(mu=mu, logvar=logvar)
        return (dist.sample() if sample else dist.mu), dist

    def decode(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """z (B, L, D), mask (B, T) -> normalised features (B, T, 263), zero on padded frames."""
        self._check_latent(z, mask)
        keep = mask[:, None, :].to(z.dtype)
        interp = token_interpolation_matrix(mask.sum(1), mask.shape[1], self.config.num_latent_tokens).to(z.dtype)
        x = torch.bmm(interp, self.decoder_input(z)).transpose(1, 2) * keep  # (B, C, T)
        if self.config.phase_periods:
            coefficients = torch.bmm(interp, self.decoder_phase_in(z)).transpose(1, 2)  # (B, 2 K C, T)
            cos_part, sin_part = (coefficients * self._waves(x.shape[-1], x)[None]).chunk(2, dim=1)
            x = x + self.decoder_phase_out(cos_part + sin_part) * keep
        x = self.decoder(x, keep)
        out = self.decoder_output(x).transpose(1, 2)
        return out.masked_fill(~mask[..., None], 0.0)


__all__ = ["ConvVAEConfig", "ConvMotionVAE", "DilatedConvStack", "phase_waves", "segment_pooling_matrix",
           "token_interpolation_matrix"]


def motion_vae_from_config(config: Mapping[str, Any]) -> nn.Module:
    """The VAE a config mapping describes: ``architecture: conv`` -> :class:`ConvMotionVAE`,
    otherwise (no key, or ``transformer``) the paper's :class:`~motionlcm.models.vae.MotionVAE`."""
    from .vae import MotionVAE, VAEConfig

    values = dict(config)
    architecture = values.get("architecture", "transformer")
    if architecture == "conv":
        return ConvMotionVAE(ConvVAEConfig.from_dict(values))
    if architecture != "transformer":
        raise MotionLCMError(f"unknown VAE architecture {architecture!r}; use transformer or conv")
    values.pop("architecture", None)
    return MotionVAE(VAEConfig.from_dict(values))


__all__ += ["motion_vae_from_config"]
