"""Consistency latent tuning (CLT): optimise the initial noise so the generated motion meets the hints.

MotionLCM (REFERENCE.md section 2; its ``DNO`` noise optimiser): the initial latent ``z_T`` is a
free variable; the few-step LCM sampler, the VAE decoder and the joint recovery are all
differentiable, so ``z_T`` is updated by Adam (lr 0.1, 400 steps, cosine schedule with 50 warm-up
steps) to lower

    loss(z_T) = masked_mse(joints(decode(lcm(z_T))), hints) + 100 * decorrelation(z_T)

with each sample's gradient scaled to unit norm before the step (the step size is then set by the
learning rate alone, whatever the hint count). The decorrelation penalty (DNO's
``noise_regularize_1d``) keeps ``z_T`` looking like white noise, so the sampler stays in
distribution: at every scale of a dyadic pyramid over the latent tokens it penalises the squared
mean product of the latent with itself shifted by one token.

Everything here is model-agnostic: :func:`tune_latents` takes a ``joints_fn(latent) -> joints``
closure, so it works with a plain MotionLCM and with a ControlNet-steered one alike.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import MotionLCMError
from .lcm_sampling import lcm_generate  # the one LCM loop; re-exported for callers of this module

# progress(step, total, mean hint loss before the step)
TuningProgress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class LatentTuningConfig:
    """MotionLCM's noise-optimiser settings (``configs/modules/noise_optimizer.yaml``)."""

    steps: int = 400
    lr: float = 0.1
    warmup_steps: int = 50
    lr_schedule: str = "cosine"  # cosine | constant
    normalize_grad: bool = True
    decorrelation_weight: float = 100.0
    hint_loss: str = "l2"  # l2 | l1 | smooth_l1

    def warmup_for(self, steps: int) -> int:
        """Warm-up for a run of ``steps``: the configured one, shrunk to an eighth of short runs (400 -> 50)."""
        return min(self.warmup_steps, steps // 8)


@dataclass
class TuningResult:
    latent: torch.Tensor  # the tuned initial latent (B, L, D), detached
    hint_loss: list[float] = field(default_factory=list)  # batch-mean hint loss before each step
    steps: int = 0  # optimisation steps taken (never more than the budget)
    seconds: float = 0.0


def noise_decorrelation(noise: torch.Tensor, stop_at: int = 2, dim: int = 1,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """DNO's ``noise_regularize_1d`` per sample (B,): sum over a dyadic pyramid along ``dim`` of
    ``mean(x * roll(x, 1))^2``, halving the size by averaging pairs until it reaches ``stop_at``.

    A size that is not a power of two is padded with fresh Gaussian noise (as DNO does).
    """
    size = noise.shape[dim]
    if size & (size - 1):
        pad_shape = list(noise.shape)
        pad_shape[dim] = (1 << (size - 1).bit_length()) - size
        pad = torch.randn(pad_shape, generator=generator, dtype=noise.dtype).to(noise.device)
        noise = torch.cat([noise, pad], dim=dim)
        size = noise.shape[dim]
    loss = noise.new_zeros(noise.shape[0])
    reduce_dims = tuple(range(1, noise.ndim))
    while size > stop_at:
        loss = loss + (noise * torch.roll(noise, shifts=1, dims=dim)).mean(dim=reduce_dims).pow(2)
        noise = noise.reshape(*noise.shape[:dim], size // 2, 2, *noise.shape[dim + 1:]).mean(dim=dim + 1)
        size //= 2
    return loss


def masked_hint_loss(joints: torch.Tensor, hints: torch.Tensor, mask: torch.Tensor, kind: str = "l2") -> torch.Tensor:
    """Per-sample (B,) mean of the element loss over controlled coordinates; joints/hints (B, T, J, 3), mask (B, T, J)."""
    losses = {"l2": F.mse_loss, "l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss}
    if kind not in losses:
        raise MotionLCMError(f"unknown hint loss {kind!r}; use one of {', '.join(losses)}")
    weight = mask[..., None].to(joints.dtype).expand_as(joints)
    element = losses[kind](joints, hints.to(joints.dtype), reduction="none") * weight
    return element.flatten(1).sum(1) / weight.flatten(1).sum(1).clamp_min(1.0)


def _lr_scheduler(optimizer: torch.optim.Optimizer, config: LatentTuningConfig, steps: int):
    from diffusers.optimization import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

    warmup = config.warmup_for(steps)
    if config.lr_schedule == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, warmup, steps)
    if config.lr_schedule == "constant":
        return get_constant_schedule_with_warmup(optimizer, warmup)
    raise MotionLCMError(f"unknown latent-tuning lr schedule {config.lr_schedule!r}; use cosine or constant")


@torch.enable_grad()
def tune_latents(initial_latent: torch.Tensor, joints_fn: Callable[[torch.Tensor], torch.Tensor], hints: torch.Tensor,
                 mask: torch.Tensor, config: LatentTuningConfig | None = None, steps: int | None = None,
                 progress: TuningProgress | None = None, generator: torch.Generator | None = None) -> TuningResult:
    """Optimise ``initial_latent`` (B, L, D) so that ``joints_fn(latent)`` (B, T, 22, 3) meets ``hints``
    (B, T, 22, 3) where ``mask`` (B, T, 22) is set.

    ``steps`` is the step budget (default ``config.steps``, 400); the cosine schedule is laid out
    over that budget, so a short budget still ends at a zero learning rate. Models are not
    modified (only the latent is optimised); their parameters receive no gradient.
    """
    config = config or LatentTuningConfig()
    budget = config.steps if steps is None else int(steps)
    if budget < 0:
        raise MotionLCMError(f"latent tuning steps must be >= 0, got {budget}")
    latent = initial_latent.detach().clone().requires_grad_(True)
    result = TuningResult(latent.detach())
    if budget == 0:
        return result
    mask = mask.to(latent.device).bool()
    hints = hints.to(latent.device)
    optimizer = torch.optim.Adam([latent], lr=config.lr)
    scheduler = _lr_scheduler(optimizer, config, budget)
    started = time.perf_counter()
    for step in range(1, budget + 1):
        hint_loss = masked_hint_loss(joints_fn(latent), hints, mask, config.hint_loss)
        loss = hint_loss + config.decorrelation_weight * noise_decorrelation(latent, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        # Only the latent is a leaf we want; model parameters must not accumulate gradients.
        (grad,) = torch.autograd.grad(loss.sum(), [latent])
        if config.normalize_grad:
            grad = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).reshape(-1, *([1] * (grad.ndim - 1)))
        latent.grad = grad
        optimizer.step()
        scheduler.step()
        result.hint_loss.append(float(hint_loss.detach().mean()))
        result.steps = step
        if progress is not None:
            progress(step, budget, result.hint_loss[-1])
    result.latent = latent.detach()
    result.seconds = time.perf_counter() - started
    return result


__all__ = ["LatentTuningConfig", "TuningResult", "noise_decorrelation", "masked_hint_loss", "lcm_generate",
           "tune_latents"]
