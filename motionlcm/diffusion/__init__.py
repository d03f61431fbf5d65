"""Noise schedules and samplers: DDPM training noise, DDIM + CFG (teacher), LCM few-step sampling (student)."""
from .lcm_sampling import lcm_sample, lcm_timesteps
from .sampling import ddim_sample
from .schedule import (LCM_GUIDANCE, LCM_TIMESTEPS, NoiseSchedule, lcm_default_guidance, make_ddim_scheduler,
                       make_ddpm_scheduler, make_lcm_scheduler)

__all__ = ["NoiseSchedule", "make_ddim_scheduler", "make_ddpm_scheduler", "make_lcm_scheduler", "ddim_sample",
           "lcm_sample", "lcm_timesteps", "LCM_GUIDANCE", "LCM_TIMESTEPS", "lcm_default_guidance"]
