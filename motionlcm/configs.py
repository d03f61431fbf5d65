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
