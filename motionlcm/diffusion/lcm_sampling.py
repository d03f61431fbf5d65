"""Few-step sampling with a MotionLCM student: diffusers' LCMScheduler, no CFG doubling."""
from __future__ import annotations

from typing import Callable

import torch

from .schedule import LCM_TIMESTEPS

# eps_fn(latent, timestep, text_emb, w): the student's epsilon with guidance embedding w.
LCMEpsFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def lcm_timesteps(scheduler, num_steps: int, timesteps: list[int] | None = None, device=None) -> torch.Tensor:
    """Set and return the schedule: an explicit list, else MotionLCM's for 1/2/4 steps, else LCM's linear one."""
    if timesteps is None and num_steps in LCM_TIMESTEPS:
        timesteps = LCM_TIMESTEPS[num_steps]
    if timesteps is not None:
        scheduler.set_custom_timesteps(list(timesteps), device=device)
    else:
        # LCM's standard spacing over the distillation grid; more steps than the grid spreads a finer one.
        original = max(scheduler.config.original_inference_steps, num_steps)
        scheduler.set_timesteps(num_inference_steps=num_steps, device=device, original_inference_steps=original)
    return scheduler.timesteps


@torch.no_grad()
def lcm_sample(
    eps_fn: LCMEpsFn,
    scheduler,
    cond: torch.Tensor,
    initial_noise: torch.Tensor,
    num_steps: int = 1,
    guidance: float = 8.0,
    timesteps: list[int] | None = None,
    generator: torch.Generator | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Latents (B, L, D) from noise in ``num_steps`` consistency steps.

    ``guidance`` is the CFG-equivalent scale ``s``; the student was distilled with
    ``x0_c + w (x0_c - x0_u)``, so it is given ``w = s - 1``. Between steps the scheduler re-noises
    the denoised estimate with noise from ``generator`` (CPU generators keep CPU/CUDA runs equal).
    """
    device = cond.device
    latent = initial_noise.to(device=device, dtype=cond.dtype)
    steps = lcm_timesteps(scheduler, num_steps, timesteps, device=device)
    w = torch.full((latent.shape[0],), float(guidance) - 1.0, device=device, dtype=cond.dtype)
    denoised = latent
    for i, t in enumerate(steps):
        eps = eps_fn(latent, t.expand(latent.shape[0]), cond, w)
        # int(t): the scheduler's alphas live on the CPU.
        latent, denoised = scheduler.step(eps, int(t), latent, generator=generator, return_dict=False)
        if progress is not None:
            progress(i + 1, len(steps))
    return denoised
