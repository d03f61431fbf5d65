"""DDIM + classifier-free guidance against a hand computation of the update rule."""
import math

import numpy as np
import torch

from motionlcm.diffusion import NoiseSchedule, ddim_sample, make_ddim_scheduler, make_ddpm_scheduler
from motionlcm.models import DenoiserConfig, LatentDenoiser


def manual_alphas_cumprod(s: NoiseSchedule) -> np.ndarray:
    betas = np.linspace(math.sqrt(s.beta_start), math.sqrt(s.beta_end), s.num_train_timesteps, dtype=np.float64) ** 2
    return np.cumprod(1.0 - betas)


def test_schedule_matches_reference_settings():
    s = NoiseSchedule()
    ddim = make_ddim_scheduler(s)
    np.testing.assert_allclose(ddim.alphas_cumprod.numpy(), manual_alphas_cumprod(s), rtol=1e-5)
    ddim.set_timesteps(50)
    # 50 steps of 20 with steps_offset 1: 981, 961, ..., 1.
    assert ddim.timesteps.tolist() == list(range(981, 0, -20))
    assert float(ddim.final_alpha_cumprod) == float(ddim.alphas_cumprod[0])  # set_alpha_to_one=False


def test_ddim_cfg_sampling_equals_manual_computation():
    torch.manual_seed(0)
    config = DenoiserConfig(latent_shape=(4, 8), width=32, num_layers=3, num_heads=4, ffn_dim=64, text_dim=16, dropout=0.0)
    net = LatentDenoiser(config).double().eval()
    cond = torch.randn(2, 16, dtype=torch.float64)
    uncond = torch.randn(1, 16, dtype=torch.float64).expand(2, -1)
    noise = torch.randn(2, 4, 8, dtype=torch.float64)
    guidance, steps = 7.5, 5
    out = ddim_sample(lambda x, t, c: net(x, t, c), make_ddim_scheduler(NoiseSchedule()), cond, uncond, (4, 8),
                      steps, guidance, initial_noise=noise)

    abar = manual_alphas_cumprod(NoiseSchedule())
    timesteps = [801, 601, 401, 201, 1]  # 1000 // 5 = 200 apart, offset 1
    x = noise.clone()
    with torch.no_grad():
        for i, t in enumerate(timesteps):
            eps_c, eps_u = net(x, t, cond), net(x, t, uncond)
            eps = eps_u + guidance * (eps_c - eps_u)
            a_t = abar[t]
            a_prev = abar[timesteps[i + 1]] if i + 1 < len(timesteps) else abar[0]
            x0 = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
            x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
    torch.testing.assert_close(out, x, rtol=1e-6, atol=1e-6)


def test_guidance_one_skips_the_unconditional_pass():
    calls = []

    def eps_fn(x, t, c):
        calls.append(x.shape[0])
        return torch.zeros_like(x)

    ddim_sample(eps_fn, make_ddim_scheduler(NoiseSchedule()), torch.zeros(3, 4), torch.zeros(3, 4), (2, 2), 4, 1.0,
                initial_noise=torch.ones(3, 2, 2))
    assert calls == [3, 3, 3, 3]


def test_ddpm_add_noise_formula():
    s = NoiseSchedule()
    ddpm = make_ddpm_scheduler(s)
    x0, eps = torch.randn(3, 2, 2), torch.randn(3, 2, 2)
    t = torch.tensor([0, 499, 999])
    abar = torch.tensor(manual_alphas_cumprod(s), dtype=torch.float32)[t].view(3, 1, 1)
    torch.testing.assert_close(ddpm.add_noise(x0, eps, t), abar.sqrt() * x0 + (1 - abar).sqrt() * eps, rtol=1e-5, atol=1e-6)
