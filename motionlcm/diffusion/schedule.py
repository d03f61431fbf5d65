"""Noise schedule settings (REFERENCE.md section 2) and the diffusers schedulers built from them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from ..errors import MotionLCMError


@dataclass(frozen=True)
class NoiseSchedule:
    """DDPM, 1000 steps, scaled-linear betas 0.00085 -> 0.012, epsilon prediction (MLD/MotionLCM)."""

    num_train_timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: str = "scaled_linear"
    prediction_type: str = "epsilon"
    clip_sample: bool = False
    set_alpha_to_one: bool = False
    steps_offset: int = 1

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "NoiseSchedule":
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise MotionLCMError(f"unknown noise schedule option(s): {', '.join(unknown)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _common_kwargs(schedule: NoiseSchedule) -> dict[str, Any]:
    return dict(
        num_train_timesteps=schedule.num_train_timesteps,
        beta_start=schedule.beta_start,
        beta_end=schedule.beta_end,
        beta_schedule=schedule.beta_schedule,
        prediction_type=schedule.prediction_type,
        clip_sample=schedule.clip_sample,
    )


def make_ddpm_scheduler(schedule: NoiseSchedule):
    """Training-time forward process (``add_noise``)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(**_common_kwargs(schedule), variance_type="fixed_small")


def make_ddim_scheduler(schedule: NoiseSchedule):
    """Teacher sampling (DDIM, eta 0)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(**_common_kwargs(schedule), set_alpha_to_one=schedule.set_alpha_to_one,
                         steps_offset=schedule.steps_offset)
