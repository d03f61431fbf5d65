"""Tiny random models and checkpoints shared by the control tests (no training needed)."""
from pathlib import Path

import numpy as np
import torch
import yaml

import pytest

from motionlcm.configs import config_dir
from motionlcm.models import DenoiserConfig, LatentDenoiser, MotionVAE, VAEConfig

TEXT_ENCODER = "hash:32"
# stage.lcm of configs/stage/lcm.yaml, read as plain YAML: composing it imports Lightning (~10 s on a loaded CPU)
LCM_SETTINGS = yaml.safe_load((config_dir() / "stage" / "lcm.yaml").read_text(encoding="utf-8"))["stage"]["lcm"]


@pytest.fixture(scope="module")
def single_thread():
    """Tiny models on a shared, loaded CPU run ~10x faster on one thread than on two competing ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_vae(seed: int = 0) -> MotionVAE:
    torch.manual_seed(seed)
    return MotionVAE(VAEConfig(latent_shape=(4, 8), width=32, num_layers=3, num_heads=4, ffn_dim=64, dropout=0.0)).eval()


def tiny_student(seed: int = 0, guidance_embed_dim: int | None = 256) -> LatentDenoiser:
    torch.manual_seed(seed)
    config = DenoiserConfig(latent_shape=(4, 8), width=32, num_layers=3, num_heads=4, ffn_dim=64, text_dim=32,
                            dropout=0.0, guidance_embed_dim=guidance_embed_dim, latent_projection=True)
    return LatentDenoiser(config).eval()


def save_tiny_lcm(directory: Path, mean: np.ndarray, std: np.ndarray, seed: int = 0, kind: str = "lcm") -> Path:
    """An exported ``lcm`` (or ``mld``) checkpoint with random tiny weights (the layout the stages write)."""
    from motionlcm.diffusion import NoiseSchedule
    from motionlcm.checkpoint import save_checkpoint

    vae, student = tiny_vae(seed), tiny_student(seed + 1, 256 if kind == "lcm" else None)
    config = {"vae": vae.config.to_dict(), "denoiser": student.config.to_dict(), "text_encoder": TEXT_ENCODER,
              "schedule": NoiseSchedule().to_dict()}
    if kind == "lcm":
        config.update(sampling={"steps": 1, "guidance": None}, lcm=dict(LCM_SETTINGS))
    else:
        config.update(sampling={"steps": 10, "guidance": 7.5})
    return save_checkpoint(directory, kind, config, {"vae": vae, "denoiser": student}, mean, std)


def pelvis_line_hints(frames: int, every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis walking 2 m along +Z at standing height, controlled every ``every`` frames."""
    from motionlcm.control import load_control_spec

    spec = {"joints": {"pelvis": {"path": {"type": "line", "origin": [0, 0.95, 0], "to": [0, 0.95, 2], "every": every}}}}
    return load_control_spec(spec, frames)


def pelvis_error(joints: np.ndarray, hints: np.ndarray, mask: np.ndarray) -> float:
    """Mean distance (m) between generated and hinted pelvis positions over controlled frames."""
    controlled = mask[..., 0]
    return float(np.linalg.norm(joints[..., 0, :] - hints[..., 0, :], axis=-1)[controlled].mean())
