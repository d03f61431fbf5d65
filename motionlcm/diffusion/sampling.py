"""DDIM sampling with classifier-free guidance over VAE latents (the MLD teacher)."""
from __future__ import annotations

from typing import Callable

import torch

from ..models.denoiser import cat_text_conditions

EpsFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@torch.no_grad()
def ddim_sample(
    eps_fn: EpsFn,
    scheduler,
    cond: torch.Tensor,
    uncond: torch.Tensor | None,
    latent_shape: tuple[int, int],
    num_steps: int = 50,
    guidance: float = 7.5,
    generator: torch.Generator | None = None,
    initial_noise: torch.Tensor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Sample latents (B, L, D) with DDIM (eta 0) and classifier-free guidance.

    ``eps_fn(latent, timestep, text_emb)`` predicts noise; ``cond``/``uncond`` are text conditions
    (pooled (B, E) or token states (B, N, E)). With ``uncond`` given and
    ``guidance != 1`` the conditional and unconditional passes run as one doubled batch and are
    combined as ``eps_u + guidance * (eps_c - eps_u)``.
    """
    batch = cond.shape[0]
    device, dtype = cond.device, cond.dtype
    if initial_noise is None:
        initial_noise = torch.randn((batch, *latent_shape), generator=generator, device=generator.device if generator else device)
    latent = initial_noise.to(device=device, dtype=dtype) * scheduler.init_noise_sigma
    scheduler.set_timesteps(num_steps, device=device)
    use_cfg = uncond is not None and guidance != 1.0
    text = cat_text_conditions([uncond, cond]) if use_cfg else cond
    timesteps = scheduler.timesteps
    for i, t in enumerate(timesteps):
        model_in = torch.cat([latent, latent]) if use_cfg else latent
        eps = eps_fn(model_in, t.expand(model_in.shape[0]), text)
        if use_cfg:
            eps_u, eps_c = eps.chunk(2)
            eps = eps_u + guidance * (eps_c - eps_u)
        latent = scheduler.step(eps, t, latent, eta=0.0).prev_sample
        if progress is not None:
            progress(i + 1, len(timesteps))
    return latent
