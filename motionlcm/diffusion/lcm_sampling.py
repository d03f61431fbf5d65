"""Few-step sampling with a MotionLCM student: one consistency loop for sampling and for latent tuning."""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..errors import MotionLCMError
from .consistency import consistency_function
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


def lcm_generate(eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], alphas_cumprod: torch.Tensor,
                 timesteps: Sequence[int], latent: torch.Tensor, renoise: Sequence[torch.Tensor] = (),
                 sigma_data: float = 0.5, timestep_scaling: float = 10.0,
                 progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """The few-step consistency loop (diffusers' LCMScheduler.step, written out so the graph is kept).

    ``eps_fn(x_t, t (B,))`` is the student's epsilon (guidance and conditions bound in). Between
    steps the estimate is re-noised to the next timestep with ``renoise[i]``, which the caller fixes
    once so that the tuned objective is deterministic. Returns the final denoised latent.
    """
    timesteps = [int(t) for t in timesteps]
    if len(renoise) < len(timesteps) - 1:
        raise MotionLCMError(f"{len(timesteps)} LCM steps need {len(timesteps) - 1} re-noising tensors, got {len(renoise)}")
    alphas = alphas_cumprod.to(latent.device)
    x = latent
    denoised = latent
    for i, t in enumerate(timesteps):
        step = torch.full((latent.shape[0],), t, device=latent.device, dtype=torch.long)
        denoised = consistency_function(eps_fn(x, step), x, step, alphas, sigma_data, timestep_scaling)
        if i + 1 < len(timesteps):
            a_next = alphas[timesteps[i + 1]].to(latent.dtype)
            x = a_next.sqrt() * denoised + (1 - a_next).sqrt() * renoise[i].to(latent)
        if progress is not None:
            progress(i + 1, len(timesteps))
    return denoised



def draw_noise(shape, generator: torch.Generator | list[torch.Generator] | None) -> torch.Tensor:
    """CPU Gaussian noise from one generator, or one row per generator (per-sample seeds), as
    diffusers' ``randn_tensor`` draws it."""
    if isinstance(generator, list):
        return torch.stack([torch.randn(tuple(shape[1:]), generator=g) for g in generator])
    return torch.randn(tuple(shape), generator=generator)


@torch.no_grad()
def lcm_sample(
    eps_fn: LCMEpsFn,
    scheduler,
    cond: torch.Tensor,
    initial_noise: torch.Tensor,
    num_steps: int = 1,
    guidance: float = 8.0,
    timesteps: list[int] | None = None,
    generator: torch.Generator | list[torch.Generator] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Latents (B, L, D) from noise in ``num_steps`` consistency steps (:func:`lcm_generate`).

    ``guidance`` is the CFG-equivalent scale ``s``; the student was distilled with
    ``x0_c + w (x0_c - x0_u)``, so it is given ``w = s - 1``. Between steps the estimate is
    re-noised with noise from ``generator`` (CPU generators keep CPU/CUDA runs equal), drawn as
    LCMScheduler.step draws it.
    """
    device = cond.device
    latent = initial_noise.to(device=device, dtype=cond.dtype)
    steps = [int(t) for t in lcm_timesteps(scheduler, num_steps, timesteps)]
    w = torch.full((latent.shape[0],), float(guidance) - 1.0, device=device, dtype=cond.dtype)
    renoise = [draw_noise(latent.shape, generator).to(latent) for _ in steps[1:]]
    return lcm_generate(lambda x, t: eps_fn(x, t, cond, w), scheduler.alphas_cumprod, steps, latent, renoise,
                        timestep_scaling=float(scheduler.config.timestep_scaling), progress=progress)
