"""The time-aligned convolutional VAE (architecture: conv): pooling / interpolation maths,
padding invariance, config dispatch, checkpoint round trip, and that it learns."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from motionlcm.errors import MotionLCMError
from motionlcm.models import ConvMotionVAE, ConvVAEConfig, MotionVAE, motion_vae_from_config, vae_loss
from motionlcm.models.conv_vae import segment_pooling_matrix, token_interpolation_matrix

TINY = dict(architecture="conv", latent_shape=(4, 8), width=32, num_blocks=3, max_frames=64)


def lengths_mask(lengths: list[int], frames: int) -> torch.Tensor:
    return torch.arange(frames)[None, :] < torch.tensor(lengths)[:, None]


@pytest.mark.parametrize("length", [16, 17, 40, 41, 63])
def test_segment_pooling_equals_adaptive_average_pooling(length):
    x = torch.randn(1, 5, length)
    expected = F.adaptive_avg_pool1d(x, 4)  # (1, 5, 4)
    pool = segment_pooling_matrix(torch.tensor([length]), 64, 4)  # padded to 64 frames
    padded = torch.cat([x, torch.full((1, 5, 64 - length), 1e6)], dim=2) * (torch.arange(64) < length)
    assert torch.allclose(torch.bmm(pool, padded.transpose(1, 2)).transpose(1, 2), expected, atol=1e-5)


def test_interpolation_matrix_known_values():
    # 4 tokens over 8 frames: token j sits at frame (j + 0.5) * 2 - 0.5 = 0.5, 2.5, 4.5, 6.5
    weights = token_interpolation_matrix(torch.tensor([8, 4]), 8, 4)
    assert torch.allclose(weights[0, 0], torch.tensor([1.0, 0, 0, 0]))  # before the first centre: copy
    assert torch.allclose(weights[0, 1], torch.tensor([0.75, 0.25, 0, 0]))  # frame 1 = 0.25 of the way
    assert torch.allclose(weights[0, 3], torch.tensor([0, 0.75, 0.25, 0]))
    assert torch.allclose(weights[0, 7], torch.tensor([0, 0, 0, 1.0]))
    assert torch.allclose(weights[1, :4], torch.eye(4))  # as many frames as tokens: identity
    assert torch.all(weights[1, 4:] == 0)  # padded frames get nothing
    assert torch.allclose(weights[0].sum(-1), torch.ones(8))


def test_valid_frames_do_not_depend_on_padding_or_batch_mates():
    torch.manual_seed(0)
    vae = ConvMotionVAE(ConvVAEConfig.from_dict(TINY)).eval()
    x = torch.randn(2, 50, 263)
    mask = lengths_mask([50, 30], 50)
    garbage = x.clone()
    garbage[1, 30:] = float("nan")
    with torch.no_grad():
        recon, _, mu, _ = vae(garbage, mask)
        _, alone = vae.encode(x[1:, :30], mask[1:, :30], sample=False)
        recon_alone = vae.decode(alone.mu, mask[1:, :30])
    assert torch.isfinite(recon).all() and torch.all(recon[1, 30:] == 0)
    assert torch.allclose(mu[1], alone.mu[0], atol=1e-5)
    assert torch.allclose(vae.decode(mu, mask)[1, :30], recon_alone[0], atol=1e-5)


def test_latent_tokens_are_time_aligned():
    """Changing the last frames of a clip changes the last latent tokens, not the first ones."""
    torch.manual_seed(0)
    vae = ConvMotionVAE(ConvVAEConfig.from_dict({**TINY, "num_blocks": 1, "dilations": [1]})).eval()
    x = torch.randn(1, 64, 263)
    y = x.clone()
    y[:, 56:] += 1.0
    mask = torch.ones(1, 64, dtype=torch.bool)
    with torch.no_grad():
        mu_x, mu_y = vae.encode(x, mask, sample=False)[0], vae.encode(y, mask, sample=False)[0]
    changed = (mu_x - mu_y).abs().amax(-1)[0]
    assert torch.all(changed[:3] < 1e-6) and changed[3] > 1e-3


def test_config_dispatch_round_trip_and_errors():
    vae = motion_vae_from_config(TINY)
    assert isinstance(vae, ConvMotionVAE) and vae.latent_shape == (4, 8)
    assert ConvVAEConfig.from_dict(vae.config.to_dict()) == vae.config
    assert vae.config.to_dict()["architecture"] == "conv"
    assert isinstance(motion_vae_from_config({"latent_shape": [4, 8], "width": 32, "num_layers": 3, "num_heads": 4,
                                              "ffn_dim": 64}), MotionVAE)
    with pytest.raises(MotionLCMError, match="unknown VAE architecture"):
        motion_vae_from_config({"architecture": "lstm"})
    with pytest.raises(MotionLCMError, match="unknown option"):
        motion_vae_from_config({**TINY, "num_layers": 5})
    with pytest.raises(MotionLCMError, match="kernel_size"):
        ConvVAEConfig(kernel_size=2)
    with pytest.raises(MotionLCMError, match="max_frames"):
        vae.encode(torch.zeros(1, 65, 263), torch.ones(1, 65, dtype=torch.bool))


def test_checkpoint_round_trip(tmp_path):
    from motionlcm.checkpoint import build_vae, load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    vae = motion_vae_from_config(TINY).eval()
    save_checkpoint(tmp_path / "ckpt", "vae", {"vae": vae.config.to_dict()}, {"vae": vae}, np.zeros(263), np.ones(263))
    loaded = build_vae(load_checkpoint(tmp_path / "ckpt"))
    x, mask = torch.randn(1, 40, 263), torch.ones(1, 40, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(vae.decode(vae.encode(x, mask, sample=False)[0], mask),
                           loaded.decode(loaded.encode(x, mask, sample=False)[0], mask))


def test_tiny_conv_vae_overfits_real_motions(fixtures):
    from motionlcm.data.humanml3d import load_mean_std

    mean, std = (torch.from_numpy(v).float() for v in load_mean_std(fixtures))
    a = torch.from_numpy(np.load(fixtures / "new_joint_vecs" / "012314.npy")).float()
    b = torch.from_numpy(np.load(fixtures / "new_joint_vecs" / "000612.npy")).float()
    crops = [a[0:48], a[80:120], b[10:58], b[120:152]]
    features = torch.zeros(4, 48, 263)
    for row, crop in enumerate(crops):
        features[row, : len(crop)] = (crop - mean) / std
    mask = lengths_mask([len(c) for c in crops], 48)
    torch.manual_seed(0)
    vae = motion_vae_from_config({**TINY, "width": 64})
    optimizer = torch.optim.Adam(vae.parameters(), lr=2e-3)
    first = None
    for _ in range(150):
        loss = vae_loss(vae(features, mask), features, mask, mean, std)["total"]
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 10


PHASE = dict(TINY, phase_periods=(4.0, 6.0), phase_channels=3)


def test_phase_waves_known_values():
    from motionlcm.models.conv_vae import phase_waves

    waves = phase_waves(5, (4.0,), 2)  # 2 channels of one period: rows cos, cos, sin, sin
    assert waves.shape == (4, 5)
    torch.testing.assert_close(waves[0], torch.tensor([1.0, 0.0, -1.0, 0.0, 1.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(waves[2], torch.tensor([0.0, 1.0, 0.0, -1.0, 0.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(waves[1], waves[0]), torch.testing.assert_close(waves[3], waves[2])


def test_phase_path_starts_as_the_vae_it_was_loaded_from():
    torch.manual_seed(0)
    plain = ConvMotionVAE(ConvVAEConfig.from_dict(TINY)).eval()
    phased = ConvMotionVAE(ConvVAEConfig.from_dict(PHASE)).eval()
    missing, unexpected = phased.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith(ConvMotionVAE.PHASE_PREFIXES) for k in missing)
    x, mask = torch.randn(2, 40, 263), lengths_mask([40, 25], 40)
    with torch.no_grad():
        z, _ = plain.encode(x, mask, sample=False)
        z_phase, _ = phased.encode(x, mask, sample=False)
        assert torch.equal(z, z_phase) and torch.equal(plain.decode(z, mask), phased.decode(z, mask))


def test_phase_path_keeps_padding_invariance():
    torch.manual_seed(1)
    vae = ConvMotionVAE(ConvVAEConfig.from_dict(PHASE)).eval()
    for layer in (vae.encoder_phase_out, vae.decoder_phase_out):  # switch the path on
        torch.nn.init.normal_(layer.weight, std=0.1)
    x, mask = torch.randn(2, 50, 263), lengths_mask([50, 30], 50)
    x[1, 30:] = float("nan")
    with torch.no_grad():
        recon, _, mu, _ = vae(x, mask)
        _, alone = vae.encode(x[1:, :30], mask[1:, :30], sample=False)
        z_plain = ConvMotionVAE(ConvVAEConfig.from_dict(TINY)).encode(x[1:, :30], mask[1:, :30], sample=False)[0]
    assert torch.isfinite(recon).all() and torch.all(recon[1, 30:] == 0)
    assert torch.allclose(mu[1], alone.mu[0], atol=1e-5)
    assert torch.allclose(vae.decode(mu, mask)[1, :30], vae.decode(alone.mu, mask[1:, :30])[0], atol=1e-5)
    assert not torch.allclose(alone.mu[0], z_plain[0])  # the path is live


def test_phase_config_round_trip_and_errors():
    assert "phase_periods" not in ConvVAEConfig.from_dict(TINY).to_dict()  # older configs stay as they were saved
    saved = ConvVAEConfig.from_dict(PHASE).to_dict()
    assert saved["phase_periods"] == [4.0, 6.0] and saved["phase_channels"] == 3
    assert ConvVAEConfig.from_dict(saved) == ConvVAEConfig.from_dict(PHASE)
    with pytest.raises(MotionLCMError, match="phase_periods must be >= 2 frames"):
        ConvVAEConfig.from_dict(dict(TINY, phase_periods=[1.0]))


def test_phase_path_reconstructs_what_the_token_grid_cannot():
    """A 4-frame oscillation under 4 tokens of 8 frames, with a random phase per clip: the plain conv
    VAE gets some of it from the slopes between tokens; the same network with the phase path learns it."""
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(32, dtype=torch.float32)
    phase = torch.rand(64, 1, generator=gen) * 2 * torch.pi
    x = torch.zeros(64, 32, 263)
    x[..., 10] = torch.cos(2 * torch.pi * t / 4.0 + phase)  # one feature oscillates, period 4 frames
    mask = torch.ones(64, 32, dtype=torch.bool)
    errors = {}
    for name, cfg in (("plain", TINY), ("phase", dict(TINY, phase_periods=(4.0,), phase_channels=2))):
        torch.manual_seed(0)
        vae = ConvMotionVAE(ConvVAEConfig.from_dict(cfg))
        optim = torch.optim.Adam(vae.parameters(), lr=3e-3)
        for _ in range(150):
            optim.zero_grad()
            _, dist = vae.encode(x, mask, sample=False)
            F.mse_loss(vae.decode(dist.mu, mask)[..., 10], x[..., 10]).backward()
            optim.step()
        with torch.no_grad():
            errors[name] = F.mse_loss(vae.decode(vae.encode(x, mask, sample=False)[1].mu, mask)[..., 10], x[..., 10]).item()
    # the signal's variance is 0.5 (measured: plain 0.14, phase 0.0003 after 150 steps)
    assert errors["plain"] > 0.05 and errors["phase"] < errors["plain"] / 20, errors
