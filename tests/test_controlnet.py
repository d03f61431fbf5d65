"""Motion ControlNet and trajectory encoder: zero initialisation, shapes, gradients, checkpoint round trip."""
import pytest
import torch

from motionlcm.errors import MotionLCMError
from motionlcm.models import DenoiserConfig, LatentDenoiser
from motionlcm.models.controlnet import (ControlNetConfig, MotionControlNet, TrajectoryEncoder, TrajectoryEncoderConfig,
                                         build_control_modules, controlled_eps)
from tests.control_helpers import single_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("single_thread")


def tiny_config(**overrides) -> DenoiserConfig:
    values = dict(latent_shape=(4, 8), width=32, num_layers=3, num_heads=4, ffn_dim=64, text_dim=16, dropout=0.0,
                  guidance_embed_dim=32)
    return DenoiserConfig(**{**values, **overrides})


@pytest.fixture()
def models():
    torch.manual_seed(0)
    base = LatentDenoiser(tiny_config()).eval()
    torch.nn.init.normal_(base.guidance_proj.weight, std=0.1)  # a trained-looking student
    controlnet = MotionControlNet.from_denoiser(base).eval()
    encoder = TrajectoryEncoder(TrajectoryEncoderConfig.like_denoiser(base.config)).eval()
    return base, controlnet, encoder


def inputs(batch=3, frames=40, seed=1):
    g = torch.Generator().manual_seed(seed)
    hints = torch.randn(batch, frames, 22, 3, generator=g)
    mask = torch.rand(batch, frames, 22, generator=g) < 0.1
    return (torch.randn(batch, 4, 8, generator=g), torch.tensor([799, 99, 0])[:batch], torch.randn(batch, 16, generator=g),
            torch.tensor([7.0, 3.0, 12.0])[:batch], hints, mask)


def test_a_fresh_controlnet_leaves_the_base_model_exactly_unchanged(models):
    base, controlnet, encoder = models
    latent, t, text, w, hints, mask = inputs()
    tokens = encoder.encode_hints(hints, mask)
    with torch.no_grad():
        plain = base(latent, t, text, w)
        controlled = controlled_eps(base, controlnet, latent, t, text, tokens, w)
        residuals = controlnet(latent, t, text, tokens, w)
    assert torch.equal(plain, controlled)
    assert all(torch.count_nonzero(r) == 0 for r in residuals)
    # The copy is the base's own weights: same block outputs for the same input.
    for copied, original in zip(controlnet.copy.block_outputs(latent, t, text, w), base.block_outputs(latent, t, text, w)):
        assert torch.equal(copied, original)


def test_residual_and_token_shapes(models):
    base, controlnet, encoder = models
    latent, t, text, w, hints, mask = inputs(batch=2, frames=57)
    tokens = encoder.encode_hints(hints, mask)
    assert tokens.shape == (2, 4, 8)  # latent-shaped
    residuals = controlnet(latent, t, text, tokens, w)
    assert len(residuals) == base.config.num_layers
    assert all(r.shape == (2, 4 + 2, 32) for r in residuals)  # latent tokens + time + text, width
    assert encoder(encoder.normalize_hints(hints, mask), mask.any(-1)).shape == (2, 4, 8)
    with pytest.raises(MotionLCMError, match="must match the latent"):
        controlnet(latent, t, text, tokens[:, :2], w)


def test_unused_copy_layers_are_dropped(models):
    _, controlnet, _ = models
    names = {name for name, _ in controlnet.named_parameters()}
    assert not any(n.startswith(("copy.latent_out.", "copy.transformer.final_norm.")) for n in names)


def test_hint_normalisation_uses_the_stored_statistics():
    encoder = TrajectoryEncoder(TrajectoryEncoderConfig(latent_shape=(4, 8), width=32, num_layers=1, num_heads=4, ffn_dim=32))
    mean = torch.arange(66, dtype=torch.float32).reshape(22, 3)
    encoder.set_hint_statistics(mean, torch.full((22, 3), 2.0))
    hints = torch.zeros(1, 2, 22, 3)
    hints[0, 1, 0] = torch.tensor([4.0, 5.0, 6.0])
    mask = torch.zeros(1, 2, 22, dtype=torch.bool)
    mask[0, 1, 0] = True
    normalised = encoder.normalize_hints(hints, mask)
    assert normalised.shape == (1, 2, 66)
    assert normalised[0, 1, :3].tolist() == [2.0, 2.0, 2.0]  # ((4, 5, 6) - (0, 1, 2)) / 2
    assert torch.count_nonzero(normalised) == 3  # uncontrolled entries stay zero
    with pytest.raises(MotionLCMError, match="positive std"):
        encoder.set_hint_statistics(mean, torch.zeros(22, 3))


def test_gradients_reach_the_controlnet_and_the_trajectory_encoder_but_not_the_base(models):
    base, controlnet, encoder = models
    base.requires_grad_(False)
    latent, t, text, w, hints, mask = inputs()
    params = list(controlnet.parameters()) + list(encoder.parameters())
    optimizer = torch.optim.SGD(params, lr=0.1)

    def loss():
        tokens = encoder.encode_hints(hints, mask)
        return controlled_eps(base, controlnet, latent, t, text, tokens, w).pow(2).mean()

    def step():
        optimizer.zero_grad()
        loss().backward()
        grads = {"projections": sum(p.weight.grad.abs().sum() for p in controlnet.residual_projections),
                 "copy": sum(p.grad.abs().sum() for p in controlnet.copy.parameters() if p.grad is not None),
                 "cond_mlp_last": controlnet.cond_embedding[-1].weight.grad.abs().sum(),
                 "encoder": encoder.hint_embedding.weight.grad.abs().sum()}
        optimizer.step()
        return {k: float(v) > 0 for k, v in grads.items()}

    # Zero layers pass gradient one layer per step: first only the residual projections learn
    # (their inputs are non-zero), then the copy and the condition MLP's last layer, then the encoder.
    assert step() == {"projections": True, "copy": False, "cond_mlp_last": False, "encoder": False}
    assert step() == {"projections": True, "copy": True, "cond_mlp_last": True, "encoder": False}
    assert step() == {"projections": True, "copy": True, "cond_mlp_last": True, "encoder": True}
    assert all(p.grad is None for p in base.parameters())


def test_control_modules_round_trip_through_a_checkpoint(models, tmp_path):
    import numpy as np

    from motionlcm.checkpoint import load_checkpoint, save_checkpoint

    base, controlnet, encoder = models
    torch.nn.init.normal_(controlnet.residual_projections[0].weight)  # something non-zero to compare
    encoder.set_hint_statistics(torch.ones(22, 3), torch.full((22, 3), 0.5))
    config = {"denoiser": base.config.to_dict(), "controlnet": ControlNetConfig().to_dict(),
              "traj_encoder": encoder.config.to_dict()}
    save_checkpoint(tmp_path, "control", config, {"denoiser": base, "controlnet": controlnet, "traj_encoder": encoder},
                    np.zeros(263), np.ones(263))
    loaded_net, loaded_encoder = build_control_modules(load_checkpoint(tmp_path))
    for a, b in zip(controlnet.state_dict().values(), loaded_net.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(loaded_encoder.hint_std, torch.full((22, 3), 0.5))
    assert not loaded_net.training and not loaded_encoder.training


# --------------------------------------------------------------------------- time-aligned (conv) encoder
def conv_encoder(seed: int = 0):
    from motionlcm.models.controlnet import build_trajectory_encoder, trajectory_encoder_config

    torch.manual_seed(seed)
    config = trajectory_encoder_config({"architecture": "conv", "width": 16, "num_blocks": 2}, tiny_config())
    return build_trajectory_encoder(config).eval()


def test_conv_trajectory_encoder_config_follows_the_denoiser_and_rejects_bad_options():
    from motionlcm.models.controlnet import ConvTrajectoryEncoderConfig, trajectory_encoder_config

    config = trajectory_encoder_config({"architecture": "conv"}, tiny_config())
    assert isinstance(config, ConvTrajectoryEncoderConfig)
    assert config.latent_shape == (4, 8) and config.width == 32  # the denoiser's
    assert trajectory_encoder_config(config.to_dict()) == config  # the exported dict rebuilds it
    assert isinstance(trajectory_encoder_config({}, tiny_config()), TrajectoryEncoderConfig)  # the paper's by default
    with pytest.raises(MotionLCMError, match="unknown trajectory encoder architecture 'lstm'"):
        trajectory_encoder_config({"architecture": "lstm"})
    with pytest.raises(MotionLCMError, match="kernel_size must be odd"):
        trajectory_encoder_config({"architecture": "conv", "kernel_size": 4}, tiny_config())
    with pytest.raises(MotionLCMError, match="unknown option"):
        trajectory_encoder_config({"architecture": "conv", "num_heads": 4}, tiny_config())


def test_conv_trajectory_velocity_channels_are_the_centred_difference_of_hinted_neighbours():
    from motionlcm.motion import FPS

    encoder = conv_encoder()
    frames = 6
    hints = torch.zeros(1, frames, 22, 3)
    hints[0, :, 0, 0] = torch.arange(frames, dtype=torch.float32) * 0.05  # pelvis +5 cm per frame along x
    mask = torch.zeros(1, frames, 22, dtype=torch.bool)
    mask[0, :, 0] = True
    mask[0, 4, 0] = False  # a gap at frame 4
    channels = encoder.frame_inputs(hints, mask)
    velocity = channels[0, :, 66:132].reshape(frames, 22, 3)
    # (x[t+1] - x[t-1]) * fps / 2 = 0.05 * 20 = 1 m/s where both neighbours are hinted: frames 1, 2 and
    # the gap itself (4); not frame 3 (its right neighbour is the gap) nor the ends 0 and 5.
    assert torch.allclose(velocity[:, 0, 0], torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0]) * 0.05 * FPS)
    assert torch.count_nonzero(velocity[:, 1:]) == 0 and torch.count_nonzero(velocity[:, 0, 1:]) == 0
    assert torch.equal(channels[0, :, 132:], mask[0].float())  # the mask channels


def test_conv_trajectory_tokens_ignore_padding_and_hints_past_the_end():
    encoder = conv_encoder()
    g = torch.Generator().manual_seed(3)
    hints = torch.randn(2, 50, 22, 3, generator=g)
    mask = torch.zeros(2, 50, 22, dtype=torch.bool)
    mask[:, ::3, 0] = True  # past sequence 1's 30 frames too: they must not count
    with torch.no_grad():
        batched = encoder.encode_hints(hints, mask, torch.tensor([50, 30]))
        alone = encoder.encode_hints(hints[1:, :30], mask[1:, :30], torch.tensor([30]))
        altered = hints.clone()
        altered[:, :, 5] = 100.0  # an unhinted joint's values are ignored
        same = encoder.encode_hints(altered, mask, torch.tensor([50, 30]))
    assert batched.shape == (2, 4, 8)
    assert torch.allclose(batched[1], alone[0], atol=1e-6)
    assert torch.allclose(batched, same, atol=1e-6)
    with pytest.raises(MotionLCMError, match="motion lengths must be within 1..50"):
        encoder.encode_hints(hints, mask, torch.tensor([51, 30]))


def test_conv_trajectory_token_j_reads_its_own_segment_first():
    # A hint in the last quarter of the clip moves the last token more than the first one (the
    # dilated blocks reach a few frames past a segment, the pooling is per segment).
    encoder = conv_encoder()
    hints = torch.zeros(1, 80, 22, 3)
    mask = torch.zeros(1, 80, 22, dtype=torch.bool)
    with torch.no_grad():
        empty = encoder.encode_hints(hints, mask)
        hints[0, 75, 0] = torch.tensor([1.0, 0.9, 2.0])
        mask[0, 75, 0] = True
        moved = (encoder.encode_hints(hints, mask) - empty).norm(dim=-1)[0]
    assert moved[3] > 0 and float(moved[0]) == 0.0  # frames 0-19 are beyond the receptive field of frame 75


def test_a_conv_encoder_control_checkpoint_round_trips_and_starts_as_the_base(models, tmp_path):
    import numpy as np

    from motionlcm.checkpoint import load_checkpoint, save_checkpoint
    from motionlcm.models.controlnet import ConvTrajectoryEncoder

    base, controlnet, _ = models
    encoder = conv_encoder()
    latent, t, text, w, hints, mask = inputs()
    with torch.no_grad():
        assert torch.equal(controlled_eps(base, controlnet, latent, t, text, encoder.encode_hints(hints, mask), w),
                           base(latent, t, text, w))
    encoder.set_hint_statistics(torch.ones(22, 3), torch.full((22, 3), 0.5))
    config = {"denoiser": base.config.to_dict(), "controlnet": ControlNetConfig().to_dict(),
              "traj_encoder": encoder.config.to_dict()}
    save_checkpoint(tmp_path, "control", config, {"denoiser": base, "controlnet": controlnet, "traj_encoder": encoder},
                    np.zeros(263), np.ones(263))
    _, loaded = build_control_modules(load_checkpoint(tmp_path))
    assert isinstance(loaded, ConvTrajectoryEncoder)
    with torch.no_grad():
        assert torch.equal(loaded.encode_hints(hints, mask), encoder.encode_hints(hints, mask))
