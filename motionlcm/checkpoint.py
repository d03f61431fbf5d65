"""Exported checkpoints: a folder with everything inference needs, and nothing pickled.

Layout::

    DIR/config.yaml        kind (vae | mld | lcm | evaluator), model configs, text encoder, schedule, sampling defaults
    DIR/model.safetensors  weights, prefixed by sub-model ("vae.", "denoiser.")
    DIR/Mean.npy, Std.npy  the feature normalisation of the training data
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from .errors import MotionLCMError
from .io import atomic_path, load_npy, save_npy

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"
KINDS = ("vae", "mld", "lcm", "evaluator", "control")
GENERATOR_KINDS = ("mld", "lcm", "control")  # checkpoints that sample, so carry a scheduler
# The sampler, saved like diffusers' schedulers: scheduler/scheduler_config.json.
SCHEDULER_DIR, SCHEDULER_FILE = "scheduler", "scheduler_config.json"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    path: Path
    config: dict[str, Any]
    weights: dict[str, torch.Tensor]
    mean: np.ndarray
    std: np.ndarray

    @property
    def kind(self) -> str:
        return self.config["kind"]

    def sub_state(self, prefix: str) -> dict[str, torch.Tensor]:
        """Weights of one sub-model (e.g. ``"vae"``) with the prefix removed."""
        head = prefix + "."
        state = {k[len(head):]: v for k, v in self.weights.items() if k.startswith(head)}
        if not state:
            raise MotionLCMError(f"{self.path / WEIGHTS_FILE}: holds no '{prefix}' weights")
        return state


def save_checkpoint(directory: str | Path, kind: str, config: dict[str, Any], modules: dict[str, torch.nn.Module],
                    mean: np.ndarray, std: np.ndarray, scheduler=None) -> Path:
    """Write an inference checkpoint atomically (file by file; the config goes last).

    Generator checkpoints (mld / lcm / control) also get their sampler as a component,
    ``scheduler/scheduler_config.json`` (``scheduler``, else :func:`default_scheduler` of the config).
    """
    from safetensors.torch import save_file

    if kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {
        f"{name}.{key}": value.detach().to("cpu").contiguous()
        for name, module in modules.items()
        for key, value in module.state_dict().items()
    }
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "motionlcm", "kind": kind})
    save_npy(directory / "Mean.npy", np.asarray(mean, np.float32))
    save_npy(directory / "Std.npy", np.asarray(std, np.float32))
    full = {"format_version": FORMAT_VERSION, "kind": kind, **config}
    if kind in GENERATOR_KINDS:
        scheduler = scheduler if scheduler is not None else default_scheduler(full)
        (directory / SCHEDULER_DIR).mkdir(exist_ok=True)
        with atomic_path(directory / SCHEDULER_DIR / SCHEDULER_FILE) as tmp:
            Path(tmp).write_text(scheduler.to_json_string(), encoding="utf-8")
    with atomic_path(directory / CONFIG_FILE) as tmp:
        Path(tmp).write_text(yaml.safe_dump(full, sort_keys=False), encoding="utf-8")
    return directory


def load_checkpoint(directory: str | Path, expected_kinds: tuple[str, ...] | None = None) -> Checkpoint:
    """Read a checkpoint folder; every problem is a one-line MotionLCMError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    if not directory.is_dir():
        raise MotionLCMError(f"checkpoint folder not found: {directory}")
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise MotionLCMError(f"{directory}: not a motionlcm checkpoint ({CONFIG_FILE} missing)")
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MotionLCMError(f"{config_path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(config, dict) or config.get("kind") not in KINDS:
        raise MotionLCMError(f"{config_path}: missing or unknown 'kind' (expected one of {', '.join(KINDS)})")
    if expected_kinds and config["kind"] not in expected_kinds:
        raise MotionLCMError(
            f"{directory} is a '{config['kind']}' checkpoint; this needs {' or '.join(repr(k) for k in expected_kinds)}")
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise MotionLCMError(f"{directory}: {WEIGHTS_FILE} missing")
    try:
        weights = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise MotionLCMError(f"{weights_path}: unreadable safetensors file ({str(exc).splitlines()[0][:100]})") from None
    mean, std = load_npy(directory / "Mean.npy"), load_npy(directory / "Std.npy")
    return Checkpoint(directory, config, weights, mean.astype(np.float32), std.astype(np.float32))


def load_state(module: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Strict load that turns shape/key mismatches into one-line errors."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = [line.strip() for line in str(exc).splitlines() if line.strip()][1:2] or [str(exc)[:120]]
        raise MotionLCMError(f"{where}: weights do not match the model config ({first[0][:160]})") from None


def default_scheduler(config: dict[str, Any]):
    """The sampler a checkpoint config implies (also for folders saved before schedulers were a
    component): LCM on the noise schedule for students (and ControlNets on one), DDIM otherwise."""
    from .diffusion import NoiseSchedule, make_ddim_scheduler, make_lcm_scheduler

    schedule = NoiseSchedule.from_dict(config.get("schedule"))
    if config.get("kind") == "lcm" or (config.get("kind") == "control" and config.get("base_kind", "lcm") == "lcm"):
        return make_lcm_scheduler(schedule, int((config.get("lcm") or {}).get("num_ddim_timesteps", 10)))
    return make_ddim_scheduler(schedule)


def build_scheduler(ckpt: Checkpoint):
    """The checkpoint's saved sampler (``scheduler/scheduler_config.json``), else :func:`default_scheduler`."""
    import json

    from .diffusion.schedule import scheduler_class

    path = ckpt.path / SCHEDULER_DIR / SCHEDULER_FILE
    if not path.is_file():
        return default_scheduler(ckpt.config)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MotionLCMError(f"{path}: unreadable scheduler config ({str(exc)[:100]})") from None
    if not isinstance(saved, dict):
        raise MotionLCMError(f"{path}: the scheduler config must be a JSON object")
    cls = scheduler_class(saved.get("_class_name"), str(path))
    return cls.from_config(saved)


def build_vae(ckpt: Checkpoint):
    """The checkpoint's VAE with its weights, in eval mode."""
    from .models import motion_vae_from_config

    vae = motion_vae_from_config(ckpt.config["vae"])
    load_state(vae, ckpt.sub_state("vae"), str(ckpt.path))
    return vae.eval()


def build_denoiser(ckpt: Checkpoint):
    """The checkpoint's denoiser (an MLD teacher or an LCM student) with its weights, in eval mode."""
    from .models import DenoiserConfig, LatentDenoiser

    denoiser = LatentDenoiser(DenoiserConfig.from_dict(ckpt.config["denoiser"]))
    load_state(denoiser, ckpt.sub_state("denoiser"), str(ckpt.path))
    return denoiser.eval()
