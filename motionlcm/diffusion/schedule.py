"""Noise schedule settings (REFERENCE.md section 2) and the diffusers schedulers built from them."""
from __future__ import annotations

import functools
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


# MotionLCM's per-step-count defaults (REFERENCE.md section 2).
LCM_TIMESTEPS: dict[int, list[int]] = {1: [799], 2: [699, 299], 4: [699, 399, 299, 299]}
LCM_GUIDANCE: dict[int, float] = {1: 8.0, 2: 12.5, 4: 13.5}


def lcm_default_guidance(num_steps: int) -> float:
    """The published scale for 1/2/4 steps; other counts take the nearest published one."""
    nearest = min(LCM_GUIDANCE, key=lambda n: (abs(n - num_steps), n))
    return LCM_GUIDANCE[nearest]


@functools.lru_cache(maxsize=None)
def _motion_lcm_scheduler_class():
    """diffusers' LCMScheduler plus MotionLCM's schedules (built once; diffusers is imported lazily)."""
    from diffusers import LCMScheduler

    class MotionLCMScheduler(LCMScheduler):
        """Accepts MotionLCM's 4-step schedule ``[699, 399, 299, 299]``.

        diffusers requires strictly descending custom timesteps; the published 4-step schedule
        repeats 299 (denoise, then re-noise at the same level), so custom lists are set directly.
        """

        def set_custom_timesteps(self, timesteps: list[int], device=None) -> None:
            import torch

            if not timesteps or any(not 0 <= int(t) < self.config.num_train_timesteps for t in timesteps):
                raise MotionLCMError(f"LCM timesteps must lie in 0..{self.config.num_train_timesteps - 1}, got {timesteps}")
            if any(b > a for a, b in zip(timesteps, timesteps[1:])):
                raise MotionLCMError(f"LCM timesteps must not increase, got {timesteps}")
            self.timesteps = torch.tensor([int(t) for t in timesteps], dtype=torch.long, device=device)
            self.num_inference_steps = len(timesteps)
            self.custom_timesteps = True
            self._step_index = None
            self._begin_index = None

    return MotionLCMScheduler


def scheduler_class(name: str | None, where: str = "scheduler config"):
    """The scheduler class a saved ``_class_name`` names (DDIM for the teacher, LCM for students)."""
    from diffusers import DDIMScheduler

    classes = {"DDIMScheduler": DDIMScheduler, "LCMScheduler": _motion_lcm_scheduler_class(),
               "MotionLCMScheduler": _motion_lcm_scheduler_class()}
    if name not in classes:
        raise MotionLCMError(f"{where}: unknown scheduler {name!r}; expected one of {', '.join(sorted(classes))}")
    return classes[name]


def is_lcm_scheduler(scheduler) -> bool:
    """Few-step consistency sampling (a MotionLCM student) rather than DDIM + CFG (an MLD teacher)."""
    from diffusers import LCMScheduler

    return isinstance(scheduler, LCMScheduler)


def make_lcm_scheduler(schedule: NoiseSchedule, num_ddim_timesteps: int = 10):
    """diffusers' LCMScheduler on the teacher's noise schedule; the distillation grid is ``original_inference_steps``."""
    return _motion_lcm_scheduler_class()(**_common_kwargs(schedule), set_alpha_to_one=schedule.set_alpha_to_one,
                                         steps_offset=schedule.steps_offset, original_inference_steps=num_ddim_timesteps,
                                         timestep_scaling=10.0)
