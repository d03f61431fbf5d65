"""Noise schedules and samplers: DDPM training noise, DDIM + classifier-free guidance (teacher)."""
from .schedule import NoiseSchedule, make_ddim_scheduler, make_ddpm_scheduler
from .sampling import ddim_sample

__all__ = ["NoiseSchedule", "make_ddim_scheduler", "make_ddpm_scheduler", "ddim_sample"]
