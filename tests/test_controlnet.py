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
