"""Consistency latent tuning: the regulariser and loss by hand, the differentiable sampler against
diffusers' LCMScheduler, and tuning on tiny random models (lower hint error, step budget)."""
import numpy as np
import pytest
import torch

from motionlcm.diffusion import NoiseSchedule, lcm_sample, lcm_timesteps, make_lcm_scheduler
from motionlcm.diffusion.latent_tuning import (LatentTuningConfig, lcm_generate, masked_hint_loss, noise_decorrelation,
                                               tune_latents)
from motionlcm.errors import MotionLCMError
from motionlcm.motion.features import features_to_joints
from tests.control_helpers import pelvis_error, pelvis_line_hints, save_tiny_lcm, single_thread, tiny_student, tiny_vae  # noqa: F401

pytestmark = pytest.mark.usefixtures("single_thread")


def test_decorrelation_penalty_by_hand():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)
    # size 4: x * roll(x) = [1*4, 2*1, 3*2, 4*3] -> mean 6 -> 36; halved to size 2 = stop
    assert noise_decorrelation(x).item() == pytest.approx(36.0)
    # constant latents are maximally correlated: 1 per pyramid level (16 -> 8 -> 4 tokens)
    assert noise_decorrelation(torch.ones(2, 16, 32)).tolist() == [3.0, 3.0]
    white = torch.randn(4, 16, 32, generator=torch.Generator().manual_seed(0))
    assert (noise_decorrelation(white) < 0.01).all()
    # 3 tokens are padded with noise to 4 (as MotionLCM's DNO); a generator makes it repeatable
    odd = torch.randn(2, 3, 8)
    a = noise_decorrelation(odd, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, noise_decorrelation(odd, generator=torch.Generator().manual_seed(1))) and a.shape == (2,)


def test_masked_hint_loss_by_hand():
    joints = torch.zeros(2, 3, 22, 3)
    hints = torch.zeros(2, 3, 22, 3)
    hints[0, 1, 0] = torch.tensor([1.0, 2.0, 2.0])
    mask = torch.zeros(2, 3, 22, dtype=torch.bool)
    mask[0, 1, 0] = mask[0, 2, 0] = True
    # sample 0: squared errors (1 + 4 + 4) + 0 over 6 controlled coordinates; sample 1: nothing controlled
    assert masked_hint_loss(joints, hints, mask).tolist() == pytest.approx([9 / 6, 0.0])
    assert masked_hint_loss(joints, hints, mask, "l1").tolist() == pytest.approx([5 / 6, 0.0])
    with pytest.raises(MotionLCMError, match="unknown hint loss"):
        masked_hint_loss(joints, hints, mask, "huber")


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_the_lcm_loop_matches_diffusers_scheduler_step(steps):
    """The one consistency loop (sampling and latent tuning) against diffusers' own LCMScheduler.step."""
    student = tiny_student()
    torch.nn.init.normal_(student.guidance_proj.weight, std=0.05)
    scheduler = make_lcm_scheduler(NoiseSchedule())
    text = torch.randn(2, 32, generator=torch.Generator().manual_seed(2))
    noise = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(3))
    w = torch.full((2,), 7.0)
    with torch.no_grad():
        ours = lcm_sample(lambda x, t, c, g: student(x, t, c, g), scheduler, text, noise, steps, 8.0,
                          generator=torch.Generator().manual_seed(4))
        # reference: diffusers' step(), which re-noises from the generator between steps
        reference_scheduler = make_lcm_scheduler(NoiseSchedule())
        timesteps = lcm_timesteps(reference_scheduler, steps)
        g = torch.Generator().manual_seed(4)
        latent = denoised = noise
        for t in timesteps:
            eps = student(latent, t.expand(2), text, w)
            latent, denoised = reference_scheduler.step(eps, int(t), latent, generator=g, return_dict=False)
        # and the differentiable call with the re-noise given explicitly
        g = torch.Generator().manual_seed(4)
        renoise = [torch.randn(2, 4, 8, generator=g) for _ in timesteps[1:]]
        explicit = lcm_generate(lambda x, t: student(x, t, text, w), scheduler.alphas_cumprod, timesteps.tolist(),
                                noise, renoise)
    torch.testing.assert_close(ours, denoised, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(explicit, denoised, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_setup(fixtures):
    mean = torch.as_tensor(np.load(fixtures / "Mean.npy"), dtype=torch.float32)
    std = torch.as_tensor(np.load(fixtures / "Std.npy"), dtype=torch.float32)
    vae, student = tiny_vae(), tiny_student()
    vae.requires_grad_(False)
    scheduler = make_lcm_scheduler(NoiseSchedule())
    text = torch.randn(2, 32, generator=torch.Generator().manual_seed(5))
    frames = 40
    mask = torch.ones(2, frames, dtype=torch.bool)
    w = torch.full((2,), 7.0)
    calls = []

    def joints_fn(latent):
        calls.append(1)
        x0 = lcm_generate(lambda x, t: student(x, t, text, w), scheduler.alphas_cumprod, [799], latent)
        return features_to_joints(vae.decode(x0, mask) * std + mean, mask)

    hints, hint_mask = pelvis_line_hints(frames, every=4)
    hints = torch.as_tensor(hints)[None].expand(2, -1, -1, -1)
    hint_mask = torch.as_tensor(hint_mask)[None].expand(2, -1, -1)
    noise = torch.randn(2, 4, 8, generator=torch.Generator().manual_seed(6))
    return dict(joints_fn=joints_fn, hints=hints, mask=hint_mask, noise=noise, calls=calls, student=student, vae=vae)


def test_tuning_lowers_the_hint_error(tiny_setup):
    s = tiny_setup
    with torch.no_grad():
        before = pelvis_error(s["joints_fn"](s["noise"]).numpy(), s["hints"].numpy(), s["mask"].numpy())
    result = tune_latents(s["noise"], s["joints_fn"], s["hints"], s["mask"], steps=60)
    with torch.no_grad():
        after = pelvis_error(s["joints_fn"](result.latent).numpy(), s["hints"].numpy(), s["mask"].numpy())
    print(f"pelvis error on tiny random models: {before:.3f} m -> {after:.3f} m after 60 steps")
    assert after < 0.7 * before
    assert result.hint_loss[-1] < result.hint_loss[0]
    # only the latent was optimised
    assert all(p.grad is None for p in s["student"].parameters())
    assert not torch.equal(result.latent, s["noise"])


def test_the_step_budget_is_respected(tiny_setup):
    s = tiny_setup
    seen = []
    s["calls"].clear()
    result = tune_latents(s["noise"], s["joints_fn"], s["hints"], s["mask"], steps=7,
                          progress=lambda step, total, loss: seen.append((step, total)))
    assert result.steps == 7 and len(result.hint_loss) == 7 and len(s["calls"]) == 7
    assert seen == [(i, 7) for i in range(1, 8)]
    untouched = tune_latents(s["noise"], s["joints_fn"], s["hints"], s["mask"], steps=0)
    assert untouched.steps == 0 and torch.equal(untouched.latent, s["noise"])
    with pytest.raises(MotionLCMError, match=">= 0"):
        tune_latents(s["noise"], s["joints_fn"], s["hints"], s["mask"], steps=-1)


def test_defaults_are_motionlcms():
    config = LatentTuningConfig()
    assert (config.steps, config.lr, config.warmup_steps, config.decorrelation_weight) == (400, 0.1, 50, 100.0)
    assert config.lr_schedule == "cosine" and config.normalize_grad
    assert config.warmup_for(400) == 50 and config.warmup_for(40) == 5  # short budgets keep the 1:8 ratio


def test_pipeline_tunes_a_plain_lcm_without_a_controlnet(tmp_path, fixtures):
    from motionlcm.pipeline import MotionPipeline

    export = save_tiny_lcm(tmp_path / "lcm", np.load(fixtures / "Mean.npy"), np.load(fixtures / "Std.npy"))
    pipe = MotionPipeline.from_pretrained(export, device="cpu")
    hints, mask = pelvis_line_hints(40, every=2)
    with pytest.raises(MotionLCMError, match="without a ControlNet"):
        pipe("a person walks", 40, seed=3, control=(hints, mask), exact_hints=False)
    exact = pipe("a person walks", 40, seed=3, control=(hints, mask))  # the motion-space correction alone
    assert pelvis_error(exact.joints[0], hints, mask) < 1e-6 and exact.hint_errors[0]["max_after"] < 1e-6
    plain = pipe("a person walks", 40, seed=3)
    progress = []
    tuned = pipe("a person walks", 40, seed=3, control=(hints, mask), latent_tuning_steps=60, exact_hints=False,
                 tuning_progress=lambda step, total, loss: progress.append(step))
    assert progress == list(range(1, 61)) and tuned.tuning["steps"] == 60
    assert tuned.hints.shape == (1, 40, 22, 3) and tuned.hint_mask[0, :, 0].sum() == 21
    before, after = pelvis_error(plain.joints[0], hints, mask), pelvis_error(tuned.joints[0], hints, mask)
    print(f"pipeline, plain tiny LCM: pelvis error {before:.3f} m -> {after:.3f} m with 60 tuning steps")
    assert after < 0.7 * before
    with pytest.raises(MotionLCMError, match="needs control hints"):
        pipe("a person walks", 40, seed=3, latent_tuning_steps=5)
