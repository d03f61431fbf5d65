"""Latent consistency distillation math and LCM sampling, against hand computations."""
import math

import pytest
import torch

from motionlcm.diffusion import NoiseSchedule, lcm_sample, lcm_timesteps, make_lcm_scheduler
from motionlcm.diffusion.consistency import (boundary_scalings, consistency_function, ddim_step, distillation_loss, guided,
                                             predict_x0, pseudo_huber, skipping_timesteps)
from motionlcm.models import DenoiserConfig, LatentDenoiser


def test_boundary_condition_at_zero():
    c_skip, c_out = boundary_scalings(torch.tensor([0]))
    assert c_skip.item() == 1.0 and c_out.item() == 0.0


def test_boundary_scalings_match_the_formula():
    # t = 3: scaled 30 -> c_skip = 0.25 / 900.25, c_out = 30 / sqrt(900.25)
    c_skip, c_out = boundary_scalings(torch.tensor([3]))
    assert c_skip.item() == pytest.approx(0.25 / 900.25)
    assert c_out.item() == pytest.approx(30 / math.sqrt(900.25))


def test_skipping_grid_is_lcms_ddim_solver_grid():
    assert skipping_timesteps(1000, 10).tolist() == [99, 199, 299, 399, 499, 599, 699, 799, 899, 999]
    assert skipping_timesteps(1000, 4).tolist() == [249, 499, 749, 999]


def test_consistency_target_of_a_hand_picked_case():
    """One sample, one latent value; every quantity worked out by hand below."""
    alphas = torch.tensor([0.96, 0.64], dtype=torch.float64)  # a toy 2-step schedule
    x_start = torch.tensor([[[1.0]]], dtype=torch.float64)
    start, end = torch.tensor([1]), torch.tensor([0])
    eps_c, eps_u = torch.tensor([[[0.5]]], dtype=torch.float64), torch.tensor([[[0.2]]], dtype=torch.float64)
    w = torch.tensor([2.0], dtype=torch.float64)
    # x0 = (x - sqrt(1 - 0.64) eps) / sqrt(0.64) = (1 - 0.6 eps) / 0.8
    x0_c, x0_u = (1 - 0.6 * 0.5) / 0.8, (1 - 0.6 * 0.2) / 0.8  # 0.875, 1.1
    assert predict_x0(eps_c, x_start, alphas[start]).item() == pytest.approx(x0_c)
    x0 = x0_c + 2.0 * (x0_c - x0_u)  # 0.425
    eps = 0.5 + 2.0 * (0.5 - 0.2)  # 1.1
    x0_t = guided(predict_x0(eps_c, x_start, alphas[start]), predict_x0(eps_u, x_start, alphas[start]), w)
    eps_t = guided(eps_c, eps_u, w)
    assert x0_t.item() == pytest.approx(x0) and eps_t.item() == pytest.approx(eps)
    # DDIM jump to t = 0: sqrt(0.96) * 0.425 + sqrt(0.04) * 1.1
    x_end = math.sqrt(0.96) * x0 + 0.2 * eps
    x_end_t = ddim_step(x0_t, eps_t, alphas[end])
    assert x_end_t.item() == pytest.approx(x_end)
    # The target at t = 0 is x_end itself whatever the target network predicts (c_skip 1, c_out 0).
    target = consistency_function(torch.tensor([[[7.0]]], dtype=torch.float64), x_end_t, end, alphas)
    assert target.item() == pytest.approx(x_end)
    # At t = 1 (scaled 10): f = c_skip x + c_out x0 with c_skip = 0.25 / 100.25, c_out = 10 / sqrt(100.25)
    f = consistency_function(eps_c, x_start, start, alphas)
    assert f.item() == pytest.approx(0.25 / 100.25 * 1.0 + 10 / math.sqrt(100.25) * x0_c)


def test_pseudo_huber_by_hand():
    pred, target = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0])
    # (sqrt(1 + 0.25) - 0.5 + sqrt(0 + 0.25) - 0.5) / 2
    assert pseudo_huber(pred, target, 0.5).item() == pytest.approx((math.sqrt(1.25) - 0.5) / 2)
    assert distillation_loss(pred, target, "l2").item() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        distillation_loss(pred, target, "l1")


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    config = DenoiserConfig(latent_shape=(4, 8), width=32, num_layers=3, num_heads=4, ffn_dim=64, text_dim=16,
                            dropout=0.0, guidance_embed_dim=32)
    net = LatentDenoiser(config).eval()
    torch.nn.init.normal_(net.guidance_proj.weight, std=0.1)  # make the guidance input matter
    return net


def test_one_step_sampling_applies_the_consistency_function_once(student):
    scheduler = make_lcm_scheduler(NoiseSchedule())
    noise = torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(1))
    text = torch.randn(3, 16, generator=torch.Generator().manual_seed(2))
    scale = 8.0
    sample = lcm_sample(lambda x, t, c, w: student(x, t, c, w), scheduler, text, noise, num_steps=1, guidance=scale)
    t = torch.full((3,), 799)
    with torch.no_grad():
        eps = student(noise, t, text, torch.full((3,), scale - 1.0))
    expected = consistency_function(eps, noise, t, scheduler.alphas_cumprod)
    torch.testing.assert_close(sample, expected.float(), rtol=1e-5, atol=1e-5)


def test_published_schedules_and_any_step_count():
    scheduler = make_lcm_scheduler(NoiseSchedule())
    assert lcm_timesteps(scheduler, 4).tolist() == [699, 399, 299, 299]
    assert lcm_timesteps(scheduler, 2).tolist() == [699, 299]
    three = lcm_timesteps(scheduler, 3).tolist()
    assert len(three) == 3 and three == sorted(three, reverse=True)
    assert len(lcm_timesteps(scheduler, 20)) == 20


def test_multi_step_sampling_is_deterministic_per_generator(student):
    scheduler = make_lcm_scheduler(NoiseSchedule())
    noise = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(1))
    text = torch.randn(2, 16)

    def run(seed):
        return lcm_sample(lambda x, t, c, w: student(x, t, c, w), scheduler, text, noise, num_steps=4, guidance=13.5,
                          generator=torch.Generator().manual_seed(seed))

    torch.testing.assert_close(run(5), run(5), rtol=0, atol=0)
    assert not torch.allclose(run(5), run(6))
