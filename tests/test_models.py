"""Behaviour of the motion VAE, the latent denoiser and their shared blocks."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from motionlcm.errors import MotionLCMError
from motionlcm.models import (DenoiserConfig, LatentDenoiser, MotionVAE, VAEConfig, count_parameters,
                              guidance_scale_embedding, parameter_summary, timestep_embedding, vae_loss)
from motionlcm.models.layers import Timesteps
from motionlcm.models.vae import VAEOutput

TINY_VAE = dict(width=32, num_layers=3, num_heads=4, ffn_dim=64, max_frames=64)
TINY_DENOISER = dict(width=32, num_layers=3, num_heads=4, ffn_dim=64, text_dim=24, time_sinusoid_dim=32)


def lengths_mask(lengths: list[int], frames: int) -> torch.Tensor:
    return torch.arange(frames)[None, :] < torch.tensor(lengths)[:, None]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ------------------------------------------------------------------------------ shapes / configs


@pytest.mark.parametrize("preset, latent_shape, projects", [("v2", (16, 32), True), ("v1", (1, 256), False)])
def test_paper_presets_shapes(preset, latent_shape, projects):
    vae, denoiser = MotionVAE.from_config(preset).eval(), LatentDenoiser.from_config(preset).eval()
    assert vae.latent_shape == latent_shape == denoiser.latent_shape
    assert isinstance(vae.latent_down, torch.nn.Linear) is projects
    assert isinstance(denoiser.latent_in, torch.nn.Linear) is projects
    mask = lengths_mask([40, 23], 40)
    with torch.no_grad():
        recon, z, mu, logvar = vae(torch.randn(2, 40, 263), mask)
        eps = denoiser(z, torch.tensor([1, 999]), torch.randn(2, 768))
    assert recon.shape == (2, 40, 263)
    assert z.shape == mu.shape == logvar.shape == eps.shape == (2, *latent_shape)
    assert torch.all(recon[1, 23:] == 0)


def test_config_from_mapping_and_round_trip():
    vae = MotionVAE.from_config({"latent_shape": [4, 8], **TINY_VAE})
    assert vae.config.latent_shape == (4, 8)
    assert VAEConfig.from_dict(vae.config.to_dict()) == vae.config
    denoiser_config = DenoiserConfig.preset("embedded", guidance_embed_dim=256)
    assert DenoiserConfig.from_dict(denoiser_config.to_dict()) == denoiser_config
    with pytest.raises(MotionLCMError, match="unknown option"):
        VAEConfig.from_dict({"widht": 3})
    with pytest.raises(MotionLCMError, match="odd number"):
        MotionVAE(VAEConfig(num_layers=4))
    with pytest.raises(MotionLCMError, match="max_frames"):
        vae(torch.zeros(1, 65, 263), torch.ones(1, 65, dtype=torch.bool))


def test_configs_keep_the_saved_key_order():
    """Shared fields live in the base config classes; ``to_dict`` still writes each network's keys in the
    order saved checkpoints have, so exports stay byte-identical."""
    from pathlib import Path

    import yaml

    from motionlcm.models import ConvVAEConfig
    from motionlcm.models.controlnet import ConvTrajectoryEncoderConfig, TrajectoryEncoderConfig

    saved = yaml.safe_load((Path(__file__).resolve().parents[1] / "assets" / "checkpoints" / "control_pelvis" / "config.yaml")
                           .read_text())
    for key, config_class in (("vae", ConvVAEConfig), ("denoiser", DenoiserConfig),
                              ("traj_encoder", ConvTrajectoryEncoderConfig)):
        assert list(config_class.from_dict(saved[key]).to_dict().items()) == list(saved[key].items()), key
    assert list(VAEConfig().to_dict()) == ["feature_dim", "latent_shape", "width", "num_layers", "num_heads", "ffn_dim",
                                           "dropout", "activation", "norm_first", "final_norm", "norm_eps",
                                           "positional_embedding", "max_frames", "latent_projection"]
    # the paper's transformer trajectory encoder, as the previous release's control_pelvis/ saved it
    assert list(TrajectoryEncoderConfig().to_dict()) == ["latent_shape", "num_joints", "width", "num_layers", "num_heads",
                                                         "ffn_dim", "dropout", "activation", "norm_first", "final_norm",
                                                         "norm_eps", "positional_embedding", "max_frames", "latent_projection"]


def test_sinusoidal_positions_and_half_precision():
    vae = MotionVAE.from_config({**TINY_VAE, "latent_shape": (2, 8), "positional_embedding": "sinusoidal"}).eval()
    assert not any("positions" in name for name, _ in vae.named_parameters())
    mask = lengths_mask([10, 6], 10)
    with torch.no_grad():
        assert vae(torch.randn(2, 10, 263), mask).recon.shape == (2, 10, 263)
    denoiser = LatentDenoiser(DenoiserConfig(latent_shape=(4, 8), guidance_embed_dim=16, **TINY_DENOISER)).eval()
    denoiser = denoiser.to(torch.bfloat16)
    latent, t, text = _denoiser_inputs(denoiser.config)
    with torch.no_grad():
        eps = denoiser(latent.bfloat16(), t, text.bfloat16(), guidance=torch.tensor(7.5))
    assert eps.dtype == torch.bfloat16 and eps.shape == latent.shape


def test_parameter_counts():
    vae = MotionVAE.from_config({**TINY_VAE, "latent_shape": (2, 8)})
    assert vae.num_parameters() == sum(p.numel() for p in vae.parameters())
    vae.feature_embedding.requires_grad_(False)
    assert count_parameters(vae, trainable_only=True) == vae.num_parameters() - 263 * 32 - 32
    assert parameter_summary(vae).startswith("MotionVAE: ")


# ------------------------------------------------------------------------------ VAE padding


@pytest.mark.parametrize("norm_first", [False, True])
def test_vae_valid_frames_ignore_padding_content(norm_first):
    vae = MotionVAE.from_config({**TINY_VAE, "latent_shape": (2, 8), "norm_first": norm_first}).eval()
    lengths = [30, 17]
    mask = lengths_mask(lengths, 48)
    features = torch.randn(2, 48, 263)
    garbage = features.clone()
    garbage[~mask] = torch.randn(int((~mask).sum()), 263) * 1e3
    garbage[1, 40] = float("nan")
    with torch.no_grad():
        _, dist_a = vae.encode(features, mask, sample=False)
        _, dist_b = vae.encode(garbage, mask, sample=False)
        torch.testing.assert_close(dist_a.mu, dist_b.mu)
        torch.testing.assert_close(dist_a.logvar, dist_b.logvar)
        # The same motion without any padding gives the same latent and the same frames.
        _, alone = vae.encode(features[1:, :17], mask[1:, :17], sample=False)
        torch.testing.assert_close(alone.mu, dist_a.mu[1:], atol=1e-5, rtol=1e-5)
        decoded = vae.decode(dist_a.mu, mask)
        decoded_alone = vae.decode(dist_a.mu[1:], mask[1:, :17])
    torch.testing.assert_close(decoded_alone[0], decoded[1, :17], atol=1e-5, rtol=1e-5)
    assert torch.all(decoded[~mask] == 0)


# ------------------------------------------------------------------------------ embeddings


def test_timestep_embedding_matches_hand_formula():
    # dim 8, shift 0: frequencies exp(-ln(1e4) * i / 4) = 1, 0.1, 0.01, 0.001; flipped -> [cos | sin].
    embedding = Timesteps(8, flip_sin_to_cos=True, downscale_freq_shift=0)(torch.tensor([0, 10]))
    expected = torch.tensor([
        [1, 1, 1, 1, 0, 0, 0, 0],
        [math.cos(10), math.cos(1), math.cos(0.1), math.cos(0.01), math.sin(10), math.sin(1), math.sin(0.1), math.sin(0.01)],
    ])
    torch.testing.assert_close(embedding, expected)
    # Without flip and with shift 1 (diffusers' defaults): [sin | cos], frequencies 10^(-4 i / 3).
    unflipped = timestep_embedding(torch.tensor([3.0]), 8, flip_sin_to_cos=False, downscale_freq_shift=1)
    frequencies = [10 ** (-4 * i / 3) for i in range(4)]
    expected = [math.sin(3 * f) for f in frequencies] + [math.cos(3 * f) for f in frequencies]
    torch.testing.assert_close(unflipped, torch.tensor([expected]))
    # Odd sizes get one zero column.
    assert timestep_embedding(torch.tensor([5.0]), 7)[0, -1] == 0
    # The LCM guidance embedding is that of 1000 * w, [sin | cos], shift 1.
    w = torch.tensor([7.5])
    torch.testing.assert_close(guidance_scale_embedding(w, 8),
                               timestep_embedding(w * 1000, 8, flip_sin_to_cos=False, downscale_freq_shift=1))


# ------------------------------------------------------------------------------ denoiser


def _denoiser_inputs(config: DenoiserConfig, batch: int = 3):
    latent = torch.randn(batch, *config.latent_shape)
    return latent, torch.tensor([0, 500, 999][:batch]), torch.randn(batch, config.text_dim)


def test_denoiser_accepts_scalar_timestep():
    denoiser = LatentDenoiser(DenoiserConfig(latent_shape=(4, 8), **TINY_DENOISER)).eval()
    latent, _, text = _denoiser_inputs(denoiser.config)
    with torch.no_grad():
        torch.testing.assert_close(denoiser(latent, 250, text), denoiser(latent, torch.full((3,), 250), text))
    with pytest.raises(MotionLCMError, match="no guidance"):
        denoiser(latent, 250, text, guidance=torch.ones(3))


def test_zero_initialised_guidance_branch():
    config = DenoiserConfig(latent_shape=(4, 8), **TINY_DENOISER)
    teacher = LatentDenoiser(config).eval()
    student = LatentDenoiser(DenoiserConfig(**{**config.to_dict(), "guidance_embed_dim": 16})).eval()
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    assert missing == ["guidance_proj.weight"] and unexpected == []
    latent, t, text = _denoiser_inputs(config)
    guidance = torch.tensor([5.0, 10.0, 15.0])
    with torch.no_grad():
        reference = teacher(latent, t, text)
        torch.testing.assert_close(student(latent, t, text, guidance=guidance), reference)
        torch.testing.assert_close(student(latent, t, text), reference)

    optimizer = torch.optim.SGD(student.guidance_proj.parameters(), lr=0.1)
    student(latent, t, text, guidance=guidance).square().sum().backward()
    assert student.guidance_proj.weight.grad.abs().sum() > 0
    optimizer.step()
    with torch.no_grad():
        changed = student(latent, t, text, guidance=guidance)
        assert not torch.allclose(changed, reference, atol=1e-4)
        # Different guidance scales now give different predictions.
        assert not torch.allclose(changed, student(latent, t, text, guidance=guidance + 1), atol=1e-4)


def test_controlnet_residuals_and_block_outputs():
    denoiser = LatentDenoiser(DenoiserConfig(latent_shape=(4, 8), **TINY_DENOISER)).eval()
    latent, t, text = _denoiser_inputs(denoiser.config)
    with torch.no_grad():
        blocks = denoiser.block_outputs(latent, t, text)
        assert len(blocks) == 3 and all(b.shape == (3, 4 + 2, 32) for b in blocks)
        reference = denoiser(latent, t, text)
        zeros = [torch.zeros_like(b) for b in blocks]
        torch.testing.assert_close(denoiser(latent, t, text, controlnet_residuals=zeros), reference)
        # The last block's output is exactly what the final norm and projection see.
        expected = denoiser.latent_out(denoiser.transformer.final_norm(blocks[-1])[:, :4])
        torch.testing.assert_close(reference, expected)
        for index in range(3):
            residuals = [torch.zeros_like(b) for b in blocks]
            residuals[index] = torch.randn_like(blocks[index])
            assert not torch.allclose(denoiser(latent, t, text, controlnet_residuals=residuals), reference, atol=1e-4)
        # A residual on the last block shifts exactly that block's output.
        residuals = zeros[:-1] + [torch.randn_like(blocks[-1])]
        shifted = denoiser.latent_out(denoiser.transformer.final_norm(blocks[-1] + residuals[-1])[:, :4])
        torch.testing.assert_close(denoiser(latent, t, text, controlnet_residuals=residuals), shifted)
    with pytest.raises(MotionLCMError, match="residuals"):
        denoiser(latent, t, text, controlnet_residuals=zeros[:2])
    # A trainable copy (the ControlNet) starts with identical block outputs.
    controlnet = copy.deepcopy(denoiser)
    with torch.no_grad():
        for ours, theirs in zip(controlnet.block_outputs(latent, t, text), blocks):
            torch.testing.assert_close(ours, theirs)


def test_gradients_reach_every_denoiser_parameter():
    denoiser = LatentDenoiser(DenoiserConfig(latent_shape=(4, 8), guidance_embed_dim=16, **TINY_DENOISER))
    latent, t, text = _denoiser_inputs(denoiser.config)
    denoiser(latent, t, text, guidance=torch.rand(3) * 10).square().mean().backward()
    silent = [name for name, p in denoiser.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert silent == []


# ------------------------------------------------------------------------------ VAE loss


def _stats(fixtures):
    return (torch.from_numpy(np.load(fixtures / "Mean.npy")).float(), torch.from_numpy(np.load(fixtures / "Std.npy")).float())


def test_kl_term_matches_closed_form(fixtures):
    mean, std = _stats(fixtures)
    mask = lengths_mask([5, 3], 5)
    features = torch.zeros(2, 5, 263)
    # Half the latent elements: mu = 1, logvar = 0 -> KL 0.5; the other half: mu = 0, var = 2 ->
    # 0.5 (2 - 1 - ln 2).
    mu = torch.cat([torch.ones(2, 2, 4), torch.zeros(2, 2, 4)], dim=1)
    logvar = torch.cat([torch.zeros(2, 2, 4), torch.full((2, 2, 4), math.log(2.0))], dim=1)
    losses = vae_loss(VAEOutput(features, mu, mu, logvar), features, mask, mean, std)
    expected_kl = (0.5 + 0.5 * (1 - math.log(2.0))) / 2
    assert losses["kl"].item() == pytest.approx(expected_kl, rel=1e-6)
    assert losses["features"].item() == 0 and losses["joints"].item() == 0
    assert losses["total"].item() == pytest.approx(1e-4 * expected_kl, rel=1e-6)
    weighted = vae_loss(VAEOutput(features, mu, mu, logvar), features, mask, mean, std, {"kl": 1.0})
    assert weighted["total"].item() == pytest.approx(expected_kl, rel=1e-6)


def test_loss_masks_padded_frames(fixtures):
    mean, std = _stats(fixtures)
    motion = (torch.from_numpy(np.load(fixtures / "new_joint_vecs" / "012314.npy")).float() - mean) / std
    mask = lengths_mask([20, 12], 20)
    target = torch.stack([motion[:20], motion[40:60]])
    recon = (target + 0.3 * torch.randn_like(target)).masked_fill(~mask[..., None], 0)
    latent = torch.zeros(2, 1, 4)
    out = VAEOutput(recon, latent, latent, latent)
    reference = vae_loss(out, target, mask, mean, std)

    garbage = target.clone()
    garbage[1, 12:] = torch.randn(8, 263) * 100
    garbage[1, 15] = float("nan")
    for name, value in vae_loss(out, garbage, mask, mean, std).items():
        assert torch.equal(value, reference[name]), name
    changed = target.clone()
    changed[1, 5] += 1.0
    assert vae_loss(out, changed, mask, mean, std)["features"] > reference["features"]

    # Known answer: recon 0 against target 0.5 everywhere -> smooth-L1 0.5 * 0.5^2 = 0.125 per
    # element, whatever the lengths (per-sequence average over valid frames).
    half = torch.full((2, 20, 263), 0.5)
    zero = VAEOutput(torch.zeros(2, 20, 263), latent, latent, latent)
    assert vae_loss(zero, half, mask, mean, std)["features"].item() == pytest.approx(0.125)


# ------------------------------------------------------------------------------ training


def _fixture_batch(fixtures, frames: int = 48):
    """Four real motions (crops of the two fixtures) of different lengths, normalised and padded."""
    mean, std = _stats(fixtures)
    a = torch.from_numpy(np.load(fixtures / "new_joint_vecs" / "012314.npy")).float()
    b = torch.from_numpy(np.load(fixtures / "new_joint_vecs" / "000612.npy")).float()
    crops = [a[0:48], a[80:120], b[10:58], b[120:152]]
    features = torch.zeros(4, frames, 263)
    for row, crop in enumerate(crops):
        features[row, : len(crop)] = (crop - mean) / std
    return features, lengths_mask([len(c) for c in crops], frames), mean, std


def test_gradients_reach_every_vae_parameter(fixtures):
    features, mask, mean, std = _fixture_batch(fixtures)
    vae = MotionVAE.from_config({**TINY_VAE, "latent_shape": (2, 8)})
    vae_loss(vae(features, mask), features, mask, mean, std)["total"].backward()
    silent = [name for name, p in vae.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert silent == []


def test_tiny_vae_overfits_a_fixed_batch(fixtures):
    features, mask, mean, std = _fixture_batch(fixtures)
    # Pre-norm blocks: from scratch they leave the "predict the mean motion" plateau about twice
    # as fast as the post-norm default here, which keeps this test short with a wide margin (~20x).
    config = {**TINY_VAE, "width": 64, "ffn_dim": 128, "latent_shape": (2, 16), "dropout": 0.0, "norm_first": True}
    vae = MotionVAE.from_config(config)
    optimizer = torch.optim.Adam(vae.parameters(), lr=2e-3)
    history = []
    for _ in range(300):
        loss = vae_loss(vae(features, mask), features, mask, mean, std)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        if min(history[-10:]) < history[0] / 10:
            break  # the 10x drop is reached; up to 300 steps are allowed for it
    assert all(math.isfinite(v) for v in history)
    assert min(history[-10:]) < history[0] / 10, (history[0], history[-10:])


def _token_denoiser(**overrides):
    from motionlcm.models.denoiser import DenoiserConfig, LatentDenoiser

    config = DenoiserConfig(latent_shape=(4, 8), width=16, num_layers=3, num_heads=2, ffn_dim=32, dropout=0.0,
                            text_dim=6, text_conditioning="tokens", **overrides)
    torch.manual_seed(0)
    return LatentDenoiser(config).eval()


def test_token_conditioning_ignores_padding_and_batch_neighbours():
    """Cross-attention to token states (zero rows = padding): a sample's output depends on its own tokens only."""
    from motionlcm.models.denoiser import cat_text_conditions, select_text_condition

    denoiser = _token_denoiser()
    long = torch.randn(1, 7, 6)
    short = torch.randn(1, 3, 6)
    latent = torch.randn(2, 4, 8)
    both = cat_text_conditions([long, short])  # short is zero-padded to 7 tokens
    assert both.shape == (2, 7, 6) and (both[1, 3:] == 0).all()
    eps = denoiser(latent, torch.tensor([10, 700]), both)
    alone = denoiser(latent[1:], torch.tensor([700]), short)
    torch.testing.assert_close(eps[1:], alone, atol=1e-5, rtol=1e-5)
    padded = torch.nn.functional.pad(both, (0, 0, 0, 5))
    torch.testing.assert_close(denoiser(latent, torch.tensor([10, 700]), padded), eps, atol=1e-6, rtol=1e-6)
    # The words matter: other tokens, other output.
    assert (denoiser(latent[1:], torch.tensor([700]), torch.randn(1, 3, 6)) - alone).abs().max() > 1e-3
    chosen = select_text_condition(torch.tensor([True, False]), both, torch.zeros(2, 2, 6) + 1.0)
    assert chosen.shape == (2, 7, 6) and (chosen[1, :2] == 1).all() and (chosen[1, 2:] == 0).all()


def test_token_conditioning_rejects_pooled_or_empty_conditions():
    denoiser = _token_denoiser()
    with pytest.raises(MotionLCMError, match="token states"):
        denoiser(torch.randn(1, 4, 8), 5, torch.randn(1, 6))
    with pytest.raises(MotionLCMError, match="no tokens"):
        denoiser(torch.randn(1, 4, 8), 5, torch.zeros(1, 3, 6))
    with pytest.raises(MotionLCMError, match="text_conditioning"):
        DenoiserConfig(text_conditioning="words")


def test_controlnet_of_a_token_denoiser_starts_as_a_no_op():
    from motionlcm.models.controlnet import ControlNetConfig, MotionControlNet, controlled_eps

    denoiser = _token_denoiser()
    controlnet = MotionControlNet.from_denoiser(denoiser, ControlNetConfig())
    latent, text = torch.randn(2, 4, 8), torch.randn(2, 5, 6)
    tokens = torch.randn(2, 4, 8)
    torch.testing.assert_close(controlled_eps(denoiser, controlnet, latent, 30, text, tokens), denoiser(latent, 30, text))


def test_denoiser_presets_are_the_model_configs_sizes():
    """No Python copy of the YAML: a preset is its configs/model file's denoiser section, plus the
    VAE's latent shape and the text encoder's pooled width."""
    import yaml

    from motionlcm.configs import config_dir

    for name, file, text_dim in (("v2", "humanml3d_v2", 768), ("v1", "humanml3d_v1", 768),
                                 ("embedded", "embedded_transformer", 384)):
        model = yaml.safe_load((config_dir() / "model" / f"{file}.yaml").read_text())
        config = DenoiserConfig.preset(name)
        for key, value in model["denoiser"].items():
            assert getattr(config, key) == value, (name, key)
        assert list(config.latent_shape) == model["vae"]["latent_shape"] and config.text_dim == text_dim


def test_velocity_loss_known_answer():
    """The root height rising 5 cm per frame more than the target's moves the pelvis 1 m/s faster
    (20 fps) straight up (the other joints store their own heights): smooth-L1 of 1 on one of
    22 x 3 coordinates = 0.5 / 66; off (and absent) at weight 0; padded frames do not count."""
    from motionlcm.models.vae import vae_loss

    frames = 8
    target = torch.zeros(2, frames, 263)
    target[..., 3] = 0.9  # root height
    recon = target.clone()
    recon[..., 3] += 0.05 * torch.arange(frames, dtype=torch.float32)
    mask = torch.ones(2, frames, dtype=torch.bool)
    mask[1, 5:] = False
    recon[1, 5:] = 100.0  # garbage on padded frames
    mean, std = np.zeros(263, np.float32), np.ones(263, np.float32)
    latent = torch.zeros(2, 4, 8)
    losses = vae_loss((recon, latent, latent, latent), target, mask, mean, std, {"velocity": 2.0})
    assert losses["velocity"].item() == pytest.approx(0.5 / 66, rel=1e-5)
    plain = vae_loss((recon, latent, latent, latent), target, mask, mean, std)
    assert "velocity" not in plain
    assert (losses["total"] - plain["total"]).item() == pytest.approx(2.0 * 0.5 / 66, rel=1e-5)
