"""The one set of checks and limits for what users pass in: the CLI (single prompt and batch
mode) and the app call these before any model loads, so the same input gets the same answer
everywhere. Each check returns the cleaned value or raises :class:`MotionLCMError` with a
one-line message meant for the user.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import MotionLCMError
from .motion import FPS

MIN_FRAMES, MAX_FRAMES = 16, 196  # 0.8-9.8 s; 196 is HumanML3D's longest motion
MIN_SECONDS, MAX_SECONDS = MIN_FRAMES / FPS, MAX_FRAMES / FPS
MAX_PROMPT_CHARS = 300
MAX_SEED = 2**31 - 1  # also exact in a browser's JavaScript numbers
MAX_STEPS = 1000  # the noise schedule's number of timesteps
MAX_GUIDANCE = 20.0
MAX_BATCH_SIZE = 1024
MAX_CONTROL_BYTES = 1_000_000
MAX_TUNING_STEPS = 400  # MotionLCM's consistency latent tuning uses 400 Adam steps


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise MotionLCMError(f"{what} must be a number, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise MotionLCMError(f"{what} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise MotionLCMError(f"{what} must be a finite number, got {value!r}.")
    return number


def _whole(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        whole = value  # exact, also beyond float precision
    else:
        number = _number(value, what)
        if not number.is_integer():
            raise MotionLCMError(f"{what} must be a whole number from {low} to {high}, got {value!r}.")
        whole = int(number)
    if not low <= whole <= high:
        raise MotionLCMError(f"{what} must be a whole number from {low} to {high}, got {value!r}.")
    return whole


def check_prompt(text: Any) -> str:
    prompt = " ".join(str(text or "").split())
    if not prompt:
        raise MotionLCMError("Please describe a motion, e.g. 'a person walks forward'.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise MotionLCMError(f"The prompt has {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}.")
    return prompt


def check_seconds(value: Any) -> float:
    seconds = _number(value, "The length")
    if not MIN_SECONDS - 1e-6 <= seconds <= MAX_SECONDS + 1e-6:
        raise MotionLCMError(f"The length must be between {MIN_SECONDS:g} and {MAX_SECONDS:g} seconds, got {seconds:g}.")
    return seconds


def check_seed(value: Any) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MotionLCMError("Please enter a seed, or press 'Random seed'.")
    return _whole(value, "The seed", 0, MAX_SEED)


def check_steps(value: Any, choices: tuple[int, ...] | None = None) -> int:
    """Denoising steps: a whole number 1..1000 (digit strings too), one of ``choices`` when given."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    steps = _whole(value, "Steps", 1, MAX_STEPS)
    if choices is not None and steps not in choices:
        raise MotionLCMError(f"Steps must be one of {', '.join(map(str, choices))}, got {value!r}.")
    return steps


def check_guidance(value: Any) -> float:
    guidance = _number(value, "The guidance")
    if not 0.0 <= guidance <= MAX_GUIDANCE:
        raise MotionLCMError(f"The guidance must be between 0 and {MAX_GUIDANCE:g}, got {guidance:g}.")
    return guidance


def check_count(value: Any, what: str, high: int, low: int = 1) -> int:
    """A whole number in ``[low, high]`` (samples, batch size, tuning steps)."""
    return _whole(value, what, low, high)


def check_control_size(size: int) -> None:
    if size > MAX_CONTROL_BYTES:
        raise MotionLCMError(f"The control file is larger than {MAX_CONTROL_BYTES // 1000} kB.")


def check_output_file(path: str | os.PathLike, formats: tuple[str, ...]) -> Path:
    """An output file the run can write: a known suffix, not a folder, in a writable folder
    (created when missing). Checked before any model loads, so a long run is never wasted."""
    out = Path(path)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in formats:
        raise MotionLCMError(f"{out}: output must end in one of {', '.join('.' + f for f in formats)}")
    if out.is_dir():
        raise MotionLCMError(f"{out}: is a folder; give a file name such as {out / ('motion.' + fmt)}")
    check_output_folder(out.parent if str(out.parent) else Path("."))
    return out


def check_output_folder(folder: str | os.PathLike) -> Path:
    """A folder the run can write into (created when missing)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise MotionLCMError(f"{folder}: exists and is not a folder")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise MotionLCMError(f"{folder}: {existing} is not a folder")
    # Probe with a real file: os.access says yes to root everywhere, also where writes fail.
    try:
        fd, probe = tempfile.mkstemp(prefix=".motionlcm-write-check.", dir=existing)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise MotionLCMError(f"{folder}: cannot write there ({reason.lower()})") from None
    os.close(fd)
    os.unlink(probe)
    return folder


__all__ = [
    "FPS", "MIN_FRAMES", "MAX_FRAMES", "MIN_SECONDS", "MAX_SECONDS", "MAX_PROMPT_CHARS", "MAX_SEED", "MAX_STEPS",
    "MAX_GUIDANCE", "MAX_BATCH_SIZE", "MAX_CONTROL_BYTES", "MAX_TUNING_STEPS", "check_prompt", "check_seconds",
    "check_seed", "check_steps", "check_guidance", "check_count", "check_control_size", "check_output_file",
    "check_output_folder",
]
