"""Latent consistency distillation math (MotionLCM, after LCM; REFERENCE.md section 2).

Small pure functions so that each piece has a known-answer test; the training stage
(:class:`motionlcm.training.stages.LCMStage`) composes them. Notation: ``alphas_cumprod`` is the
DDPM schedule's cumulative product, ``t_{n+k}`` a start timestep on the skipping grid and
``t_n = t_{n+k} - k`` the timestep the teacher's one DDIM step lands on.
"""
from __future__ import annotations

import torch


def skipping_timesteps(num_train_timesteps: int = 1000, num_ddim_timesteps: int = 10) -> torch.Tensor:
    """The distillation grid ``[k-1, 2k-1, ..., T-1]`` with ``k = T // num_ddim_timesteps`` (LCM's DDIM solver)."""
    k = num_train_timesteps // num_ddim_timesteps
    return torch.arange(1, num_ddim_timesteps + 1) * k - 1


def boundary_scalings(timestep: torch.Tensor, sigma_data: float = 0.5, timestep_scaling: float = 10.0
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """``c_skip, c_out`` with ``c_skip(0) = 1`` and ``c_out(0) = 0``, so ``f(x, 0) = x`` exactly."""
    scaled = timestep.to(torch.float64) * timestep_scaling
    c_skip = sigma_data ** 2 / (scaled ** 2 + sigma_data ** 2)
    c_out = scaled / (scaled ** 2 + sigma_data ** 2).sqrt()
    return c_skip, c_out


def _per_sample(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1, ...) broadcastable against ``like``, in its dtype."""
    return values.to(like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


def predict_x0(eps: torch.Tensor, x_t: torch.Tensor, alpha_t: torch.Tensor) -> torch.Tensor:
    """Epsilon parameterisation: ``x0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)``; ``alpha_t`` is (B,)."""
    a = _per_sample(alpha_t, x_t)
    return (x_t - (1 - a).sqrt() * eps) / a.sqrt()


def consistency_function(eps: torch.Tensor, x_t: torch.Tensor, timestep: torch.Tensor, alphas_cumprod: torch.Tensor,
                         sigma_data: float = 0.5, timestep_scaling: float = 10.0) -> torch.Tensor:
    """``f(x_t, t) = c_skip(t) x_t + c_out(t) x0(eps)`` for a (B,) integer ``timestep``."""
    c_skip, c_out = boundary_scalings(timestep, sigma_data, timestep_scaling)
    x0 = predict_x0(eps, x_t, alphas_cumprod[timestep])
    return _per_sample(c_skip, x_t) * x_t + _per_sample(c_out, x_t) * x0


def guided(cond: torch.Tensor, uncond: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The augmented PF-ODE's guidance: ``cond + w (cond - uncond)``, ``w`` per sample (B,).

    With this convention a sampling-time CFG scale ``s`` corresponds to ``w = s - 1``.
    """
    w = _per_sample(w, cond)
    return cond + w * (cond - uncond)


def ddim_step(x0: torch.Tensor, eps: torch.Tensor, alpha_prev: torch.Tensor) -> torch.Tensor:
    """Deterministic DDIM (eta 0) jump to the timestep whose ``alphas_cumprod`` is ``alpha_prev`` (B,)."""
    a = _per_sample(alpha_prev, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


def pseudo_huber(pred: torch.Tensor, target: torch.Tensor, c: float) -> torch.Tensor:
    """Mean of ``sqrt((pred - target)^2 + c^2) - c`` (elementwise, as in LCM's distillation script)."""
    return (((pred.float() - target.float()) ** 2 + c * c).sqrt() - c).mean()


def distillation_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "huber", huber_c: float = 0.5) -> torch.Tensor:
    if kind == "huber":
        return pseudo_huber(pred, target, huber_c)
    if kind == "l2":
        return torch.nn.functional.mse_loss(pred.float(), target.float())
    raise ValueError(f"unknown distillation loss {kind!r}; use 'huber' or 'l2'")


__all__ = ["skipping_timesteps", "boundary_scalings", "predict_x0", "consistency_function", "guided", "ddim_step",
           "pseudo_huber", "distillation_loss"]
