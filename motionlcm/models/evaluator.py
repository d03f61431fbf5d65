"""A text-motion evaluator trainable on any HumanML3D-layout dataset (our stand-in for the official one).

The official evaluator (:mod:`motionlcm.models.t2m_evaluator`) exists only for HumanML3D; for other
corpora (e.g. the procedural one) this model gives the same kind of joint embedding space, so FID,
R-precision, MM-Dist, Diversity and MultiModality (:mod:`motionlcm.evaluation.metrics`) can be
computed the same way. Numbers from it are comparable only with numbers from the same weights.

* text side: the frozen sentence encoder's pooled embedding (:func:`~motionlcm.models.text_encoder.load_text_encoder`,
  default all-MiniLM-L6-v2) -> MLP -> ``embed_dim`` (512);
* motion side: normalised 263-d features -> linear -> sinusoidal positions -> a few pre-norm
  transformer blocks with a padding mask -> masked mean over frames -> LayerNorm -> linear -> 512;
* both embeddings are L2-normalised when ``normalize`` (the default, for the InfoNCE loss);
* losses (:func:`contrastive_losses`): symmetric InfoNCE with a learned temperature (CLIP-style;
  pairs that share a caption or a motion are not used as negatives) and/or the official margin loss
  (matched distance squared + squared hinge ``margin - d`` on the batch shifted by a random offset),
  which suits un-normalised embeddings (``normalize=False``, margin 10).

The frozen text encoder is not part of this module (it is loaded by name, as the other stages do);
:class:`MotionTextEvaluator` consumes pooled text embeddings. :func:`load_evaluator` reads a folder
exported by the ``evaluator`` training stage and returns a :class:`TrainedEvaluator` that embeds raw
texts and raw (un-normalised) features.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import MotionLCMError
from ..motion.features import FEATURE_DIM
from .layers import TransformerEncoderBlock, build_positional_embedding, config_from_mapping
from .text_encoder import DEFAULT_TEXT_ENCODER

EVALUATOR_KIND = "evaluator"


@dataclass(frozen=True)
class EvaluatorConfig:
    """Hyper-parameters of :class:`MotionTextEvaluator` (``text_dim`` is set from the text encoder)."""

    feature_dim: int = FEATURE_DIM
    text_dim: int = 384
    embed_dim: int = 512
    text_hidden: int = 512
    width: int = 256
    num_layers: int = 4
    num_heads: int = 4
    ffn_dim: int = 1024
    dropout: float = 0.1
    max_frames: int = 200
    positional: str = "sinusoidal"
    normalize: bool = True
    init_temperature: float = 0.07

    def __post_init__(self) -> None:
        positive = ("feature_dim", "text_dim", "embed_dim", "text_hidden", "width", "num_layers", "num_heads", "ffn_dim",
                    "max_frames")
        bad = [name for name in positive if int(getattr(self, name)) < 1]
        if bad:
            raise MotionLCMError(f"evaluator config: {', '.join(bad)} must be positive")
        if self.width % self.num_heads:
            raise MotionLCMError(f"evaluator config: width {self.width} is not divisible by num_heads {self.num_heads}")
        if not 0.0 <= self.dropout < 1.0 or not self.init_temperature > 0:
            raise MotionLCMError("evaluator config: dropout must be in [0, 1) and init_temperature positive")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> EvaluatorConfig:
        return config_from_mapping(cls, values)


class MotionTextEvaluator(nn.Module):
    """Maps pooled text embeddings and masked motion features into one embedding space."""

    MAX_LOGIT_SCALE = 100.0  # CLIP's cap on 1 / temperature

    def __init__(self, config: EvaluatorConfig) -> None:
        super().__init__()
        self.config = c = config
        self.text_head = nn.Sequential(nn.Linear(c.text_dim, c.text_hidden), nn.GELU(), nn.Dropout(c.dropout),
                                       nn.Linear(c.text_hidden, c.embed_dim))
        self.motion_input = nn.Linear(c.feature_dim, c.width)
        self.positions = build_positional_embedding(c.positional, c.max_frames, c.width)
        self.blocks = nn.ModuleList(
            TransformerEncoderBlock(c.width, c.num_heads, c.ffn_dim, c.dropout, "gelu", norm_first=True)
            for _ in range(c.num_layers))
        self.motion_norm = nn.LayerNorm(c.width)
        self.motion_head = nn.Linear(c.width, c.embed_dim)
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / c.init_temperature)))

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) if self.config.normalize else x

    def embed_text(self, pooled: torch.Tensor) -> torch.Tensor:
        """``(B, text_dim)`` sentence embeddings -> ``(B, embed_dim)``."""
        return self._finish(self.text_head(pooled))

    def embed_motion(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, T, feature_dim)`` normalised features with a ``(B, T)`` validity mask -> ``(B, embed_dim)``."""
        x = self.positions(self.motion_input(features))
        padding = ~mask
        for block in self.blocks:
            x = block(x, key_padding_mask=padding)
        x = self.motion_norm(x)
        weights = mask.to(x.dtype).unsqueeze(-1)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return self._finish(self.motion_head(pooled))

    def logit_scale(self) -> torch.Tensor:
        """``1 / temperature`` of the InfoNCE loss (learned, capped at 100)."""
        return self.log_logit_scale.exp().clamp(max=self.MAX_LOGIT_SCALE)


# ------------------------------------------------------------------------------------------------
# losses
# ------------------------------------------------------------------------------------------------
def info_nce_loss(text_emb: torch.Tensor, motion_emb: torch.Tensor, logit_scale: torch.Tensor | float,
                  same_pair: torch.Tensor | None = None, extra_motion_emb: torch.Tensor | None = None,
                  extra_exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE on cosine similarities: text -> motion and motion -> text cross-entropy.

    ``same_pair`` ``(B, B)`` bool marks off-diagonal pairs that are not true negatives (the same
    caption or the same motion twice in a batch); they are left out of the softmax.
    ``extra_motion_emb`` ``(K, D)``: motions that match no text of the batch (hard negatives),
    added as columns of the text -> motion softmax; ``extra_exclude`` ``(B, K)`` bool leaves
    some of them out for some texts (a mirrored motion still matches a caption naming no side).
    """
    logits = logit_scale * F.normalize(text_emb, dim=-1) @ F.normalize(motion_emb, dim=-1).T
    if same_pair is not None:
        off_diagonal = ~torch.eye(len(logits), dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(same_pair & off_diagonal, float("-inf"))
    labels = torch.arange(len(logits), device=logits.device)
    text_logits = logits
    if extra_motion_emb is not None and len(extra_motion_emb):
        # hard negatives (corrupted copies of real motions): extra columns of the text -> motion softmax only
        extra = logit_scale * F.normalize(text_emb, dim=-1) @ F.normalize(extra_motion_emb, dim=-1).T
        if extra_exclude is not None:
            extra = extra.masked_fill(extra_exclude, float("-inf"))
        text_logits = torch.cat([logits, extra], dim=1)
    return 0.5 * (F.cross_entropy(text_logits, labels) + F.cross_entropy(logits.T, labels))


def margin_loss(text_emb: torch.Tensor, motion_emb: torch.Tensor, margin: float = 10.0,
                shift: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """The official evaluator's contrastive loss: ``d(t_i, m_i)^2 + max(0, margin - d(t_i, m_{i+s}))^2``.

    Negatives are the motions shifted by ``s`` in ``1..B-1`` (random when ``shift`` is None; the
    reference's draw could also give 0, i.e. the positive itself, which we avoid).
    """
    positive = (text_emb - motion_emb).norm(dim=-1).square().mean()
    batch = len(text_emb)
    if batch < 2:
        return positive
    if shift is None:
        shift = int(torch.randint(1, batch, (1,), generator=generator))
    negative_distance = (text_emb - motion_emb.roll(-shift, dims=0)).norm(dim=-1)
    return positive + (margin - negative_distance).clamp_min(0.0).square().mean()


def same_pair_mask(texts: Sequence[str], names: Sequence[str] | None = None, device: torch.device | None = None) -> torch.Tensor:
    """``(B, B)`` True where samples i and j share their caption (or their motion name)."""
    def equal(keys: Sequence[str]) -> torch.Tensor:
        ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        codes = torch.tensor([ids[k] for k in keys], device=device)
        return codes[:, None] == codes[None, :]

    mask = equal(list(texts))
    if names is not None:
        mask |= equal(list(names))
    return mask


def contrastive_losses(text_emb: torch.Tensor, motion_emb: torch.Tensor, logit_scale: torch.Tensor,
                       weights: Mapping[str, float], margin: float = 10.0,
                       same_pair: torch.Tensor | None = None, extra_motion_emb: torch.Tensor | None = None,
                       extra_exclude: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Weighted sum of the enabled losses: ``{"infonce", "margin", "total"}`` (disabled ones absent)."""
    unknown = sorted(set(weights) - {"infonce", "margin"})
    if unknown:
        raise MotionLCMError(f"unknown evaluator loss weight(s) {unknown}; use infonce and/or margin")
    losses: dict[str, torch.Tensor] = {}
    if weights.get("infonce", 0.0):
        losses["infonce"] = info_nce_loss(text_emb, motion_emb, logit_scale, same_pair, extra_motion_emb, extra_exclude)
    if weights.get("margin", 0.0):
        losses["margin"] = margin_loss(text_emb, motion_emb, margin)
    if not losses:
        raise MotionLCMError("the evaluator needs a positive weight for infonce or margin")
    losses["total"] = sum(float(weights[name]) * value for name, value in losses.items())
    return losses


# ------------------------------------------------------------------------------------------------
# using an exported evaluator
# ------------------------------------------------------------------------------------------------
class TrainedEvaluator:
    """An exported evaluator with its text encoder and feature statistics, ready to embed.

    ``embed_text(texts)`` and ``embed_motion(features, lengths)`` return ``(B, embed_dim)`` float32
    tensors (no gradients); motion features are raw (un-normalised) 263-d HumanML3D features.
    """

    def __init__(self, model: MotionTextEvaluator, text_encoder, mean: np.ndarray, std: np.ndarray,
                 path: Path | None = None) -> None:
        self.model = model.eval()
        self.text_encoder = text_encoder
        self.mean = torch.as_tensor(np.asarray(mean, np.float32))
        self.std = torch.as_tensor(np.asarray(std, np.float32))
        self.path = path

    @property
    def device(self) -> torch.device:
        return self.model.log_logit_scale.device

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str], batch_size: int | None = 256) -> torch.Tensor:
        pooled = self.text_encoder.encode(list(texts), batch_size=batch_size).pooled
        return self.model.embed_text(pooled.to(self.device, torch.float32))

    @torch.no_grad()
    def embed_motion(self, features: torch.Tensor | np.ndarray, lengths: Sequence[int] | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(features, dtype=torch.float32, device=self.device)
        lengths = torch.as_tensor(lengths, dtype=torch.long, device=self.device)
        if x.ndim != 3 or x.shape[-1] != len(self.mean):
            raise MotionLCMError(f"expected motion features of shape (batch, frames, {len(self.mean)}), got {tuple(x.shape)}")
        if lengths.shape != (x.shape[0],) or int(lengths.min()) < 1 or int(lengths.max()) > x.shape[1]:
            raise MotionLCMError(f"motion lengths {lengths.tolist()} must be between 1 and {x.shape[1]} frames")
        if x.shape[1] > self.model.config.max_frames:
            raise MotionLCMError(f"motions longer than {self.model.config.max_frames} frames are not supported by this evaluator")
        mask = torch.arange(x.shape[1], device=self.device)[None, :] < lengths[:, None]
        normalised = torch.where(mask[..., None], (x - self.mean.to(x)) / self.std.to(x), 0.0)
        return self.model.embed_motion(normalised, mask)


def load_evaluator(path: str | Path, device: torch.device | str = "cpu") -> TrainedEvaluator:
    """Load a folder exported by the ``evaluator`` training stage (config.yaml + model.safetensors + Mean/Std)."""
    from ..checkpoint import load_checkpoint, load_state
    from .text_encoder import load_text_encoder

    checkpoint = load_checkpoint(path, expected_kinds=(EVALUATOR_KIND,))
    try:
        config = EvaluatorConfig.from_dict(checkpoint.config["evaluator"])
        text_name = str(checkpoint.config.get("text_encoder", DEFAULT_TEXT_ENCODER))
    except (KeyError, TypeError) as exc:
        raise MotionLCMError(f"{path}: config.yaml lacks the evaluator settings ({exc})") from None
    model = MotionTextEvaluator(config)
    load_state(model, checkpoint.sub_state("evaluator"), str(path))
    text_encoder = load_text_encoder(text_name, device)
    if text_encoder.dim != config.text_dim:
        raise MotionLCMError(f"{path}: trained with a {config.text_dim}-d text encoder, "
                             f"but {text_name!r} gives {text_encoder.dim}-d")
    try:
        model = model.to(device)
    except (RuntimeError, AssertionError) as exc:
        raise MotionLCMError(f"cannot move the evaluator to {device}: {str(exc).splitlines()[0]}") from None
    return TrainedEvaluator(model, text_encoder, checkpoint.mean, checkpoint.std, Path(path))


__all__ = [
    "EVALUATOR_KIND", "EvaluatorConfig", "MotionTextEvaluator", "info_nce_loss", "margin_loss", "same_pair_mask",
    "contrastive_losses", "TrainedEvaluator", "load_evaluator",
]
