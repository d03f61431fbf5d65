"""Where the Hydra configs live (training and evaluation both compose from them)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import MotionLCMError


def config_dir() -> Path:
    """The Hydra config folder: $MOTIONLCM_CONFIG_DIR, else ``configs/`` of the source checkout."""
    env = os.environ.get("MOTIONLCM_CONFIG_DIR")
    path = Path(env) if env else Path(__file__).resolve().parents[1] / "configs"
    if not (path / "train.yaml").is_file():
        raise MotionLCMError(f"training configs not found in {path}; install from a source checkout or set MOTIONLCM_CONFIG_DIR")
    return path


# Named model presets (``MotionVAE.from_config("v2")``, ``VAEConfig.preset``): the model config,
# configs/model/NAME.yaml, each one stands for. The sizes themselves live only in those files.
MODEL_PRESETS = {"v2": "humanml3d_v2", "v1": "humanml3d_v1", "embedded": "embedded_transformer"}


def model_config(name: str) -> dict:
    """The whole model config (configs/model/NAME.yaml) a preset name stands for."""
    import yaml

    if name not in MODEL_PRESETS:
        raise MotionLCMError(f"unknown model preset {name!r}; choose one of {sorted(MODEL_PRESETS)}")
    path = config_dir() / "model" / f"{MODEL_PRESETS[name]}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def model_preset(name: str, section: str, config: dict | None = None) -> dict:
    """One section (``vae``, ``denoiser``, ...) of the model config a preset name stands for
    (``config``: that config, already read)."""
    values = (model_config(name) if config is None else config).get(section)
    if not isinstance(values, dict):
        raise MotionLCMError(f"{config_dir() / 'model' / (MODEL_PRESETS[name] + '.yaml')}: no {section} section")
    return values
