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
