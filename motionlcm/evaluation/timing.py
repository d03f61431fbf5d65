"""`motionlcm bench`: per-component latency of MLD (DDIM + CFG) and MotionLCM (1/2/4 steps).

Each component (text encoding, denoising, VAE decoding, features -> joints) and the whole
text -> joints call is timed separately: a few warm-up calls, then the median of ``repeats``
calls, with CUDA synchronised around every measurement. Timings do not depend on the weights,
so without checkpoints the benchmark builds the configured architecture with random weights.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..errors import MotionLCMError

COMPONENTS = ("text", "denoise", "decode", "joints", "total")


@dataclass
class BenchRow:
    method: str  # "MLD-50 (CFG)" or "LCM-1" ...
    steps: int
    batch: int
    median_ms: dict[str, float] = field(default_factory=dict)  # per component

    def per_motion_ms(self) -> float:
        return self.median_ms["total"] / self.batch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int) -> float:
    """Median wall time of ``fn()`` in milliseconds after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def random_pipeline(model: dict[str, Any], kind: str, device: torch.device, seed: int = 0):
    """A :class:`MotionPipeline` with random weights for a model config (``configs/model/*.yaml``)."""
    from ..diffusion import NoiseSchedule, make_ddim_scheduler, make_lcm_scheduler
    from ..models import DenoiserConfig, LatentDenoiser, motion_vae_from_config
    from ..models.denoiser import text_condition_dim
    from ..models.text_encoder import load_text_encoder
    from ..pipeline import MotionPipeline

    torch.manual_seed(seed)
    vae = motion_vae_from_config(model["vae"]).eval()
    text_encoder = load_text_encoder(model["text_encoder"], device=device)
    denoiser_cfg = {**model["denoiser"], "latent_shape": list(vae.config.latent_shape),
                    "text_dim": text_condition_dim(text_encoder, model["denoiser"].get("text_conditioning", "pooled"))}
    if kind == "lcm":
        denoiser_cfg["guidance_embed_dim"] = 256
    denoiser = LatentDenoiser(DenoiserConfig.from_dict(denoiser_cfg)).eval()
    schedule = NoiseSchedule.from_dict(model.get("schedule"))
    scheduler = make_lcm_scheduler(schedule) if kind == "lcm" else make_ddim_scheduler(schedule)
    config = {"kind": kind, "sampling": {}}
    zeros, ones = np.zeros(263, np.float32), np.ones(263, np.float32)
    return MotionPipeline(vae.to(device), denoiser.to(device), text_encoder, scheduler, zeros, ones, config, device, "random")


def compile_pipeline(pipe, mode: str | None) -> None:
    """``torch.compile`` the denoiser and the VAE decoder (``mode="reduce-overhead"`` uses CUDA graphs)."""
    pipe.denoiser = torch.compile(pipe.denoiser, mode=mode, dynamic=False)
    pipe.vae.decode = torch.compile(pipe.vae.decode, mode=mode, dynamic=False)


def bench_pipeline(pipe, method: str, steps: int, guidance: float, batch: int, frames: int, repeats: int,
                   warmup: int) -> BenchRow:
    """Time each component of ``pipe`` at one batch size, and the full call."""
    from ..motion.features import features_to_joints

    device = pipe.device
    texts = [f"a person walks forward and then jumps {i}" for i in range(batch)]
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn((batch, *pipe.denoiser.config.latent_shape), generator=generator)
    mask = torch.ones(batch, frames, dtype=torch.bool, device=device)
    row = BenchRow(method, steps, batch)
    with torch.inference_mode():
        prompt = pipe.encode_prompt(texts, guidance)
        latent = pipe.denoise_latents(noise, prompt, steps, guidance, generator)
        features = pipe.vae.decode(latent, mask) * pipe.std + pipe.mean
        row.median_ms["text"] = median_ms(lambda: pipe.text_encoder.encode(texts), device, repeats, warmup)
        row.median_ms["denoise"] = median_ms(lambda: pipe.denoise_latents(noise, prompt, steps, guidance, generator),
                                             device, repeats, warmup)
        row.median_ms["decode"] = median_ms(lambda: pipe.vae.decode(latent, mask), device, repeats, warmup)
        row.median_ms["joints"] = median_ms(lambda: features_to_joints(features.double(), mask), device, repeats, warmup)
    row.median_ms["total"] = median_ms(lambda: pipe(texts, frames, num_steps=steps, guidance=guidance, seed=0),
                                       device, repeats, warmup)
    return row


def machine_description(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
    }
    try:
        info["cpu_count"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        info["cpu_count"] = os.cpu_count()
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def run_benchmark(mld, lcm, batch_sizes: list[int], frames: int, repeats: int, warmup: int, mld_steps: int = 50,
                  mld_guidance: float = 7.5, lcm_steps: tuple[int, ...] = (1, 2, 4),
                  progress: Callable[[str], None] | None = None) -> list[BenchRow]:
    from ..diffusion import lcm_default_guidance

    if not batch_sizes or min(batch_sizes) < 1:
        raise MotionLCMError("batch sizes must be positive integers")
    rows = []
    for batch in batch_sizes:
        plans = [(mld, f"MLD-{mld_steps} (CFG {mld_guidance:g})", mld_steps, mld_guidance)] if mld is not None else []
        plans += [(lcm, f"MotionLCM-{n}", n, lcm_default_guidance(n)) for n in lcm_steps] if lcm is not None else []
        for pipe, name, steps, guidance in plans:
            if progress:
                progress(f"{name}, batch {batch}")
            rows.append(bench_pipeline(pipe, name, steps, guidance, batch, frames, repeats, warmup))
    return rows


# (label, joints, density) of the control timings: the papers' joints alone and together, and
# the pelvis at every density the control protocol uses.
CONTROL_PLANS = (
    ("pelvis 100%", (0,), "100%"), ("pelvis 25%", (0,), "25%"), ("pelvis 5 frames", (0,), 5),
    ("pelvis 1 frame", (0,), 1), ("left foot 25%", (10,), "25%"), ("head 25%", (15,), "25%"),
    ("right wrist 25%", (21,), "25%"), ("all six 25%", (0, 10, 11, 15, 20, 21), "25%"),
)


def run_control_benchmark(pipe, frames: int, repeats: int, warmup: int, steps: int = 1,
                          progress: Callable[[str], None] | None = None) -> list[BenchRow]:
    """Text -> joints under control with exact hints (control/exact.py), batch 1, per joint set and density.

    The hints are the uncontrolled motion's own joints moved 10 cm (so every hint needs a correction).
    """
    from ..control.hints import spatial_mask

    text = "a person walks forward and then jumps"
    guidance = pipe.guidance_for(steps)  # the checkpoint's default, as `generate` uses it
    base = pipe([text], frames, num_steps=steps, guidance=guidance, seed=0).joints[0]
    rows = []
    for label, joints, density in CONTROL_PLANS:
        if progress:
            progress(f"control {label}")
        mask = spatial_mask(frames, joints, density, generator=torch.Generator().manual_seed(0)).numpy()
        hints = np.where(mask[..., None], base + np.array([0.1, 0.0, 0.05], np.float32), 0.0).astype(np.float32)
        def call():
            return pipe([text], frames, num_steps=steps, guidance=guidance, seed=0, control=(hints, mask))

        call()  # the first call also loads a companion ControlNet: the parts are read off the second
        out = call()
        steered = " + companion ControlNet" if getattr(out, "controlnet", None) and pipe.controlnet is None else ""
        row = BenchRow(f"MotionLCM-{steps}{steered} + exact hints, {label}", steps, 1)
        row.median_ms["total"] = median_ms(call, pipe.device, repeats, warmup)
        for part in ("text", "denoise", "decode", "joints", "exact_hints"):
            row.median_ms[part] = 1000.0 * out.timings.get(part, 0.0)
        row.median_ms["max_error_mm"] = 1000.0 * max(e["max_after"] for e in out.hint_errors if e)
        rows.append(row)
    return rows


def format_control_table(rows: list[BenchRow]) -> str:
    lines = ["| control (batch 1) | denoise ms | exact hints ms | total ms | largest hint error (mm) |", "|---|---|---|---|---|"]
    for r in rows:
        m = r.median_ms
        lines.append(f"| {r.method} | {m['denoise']:.1f} | {m['exact_hints']:.1f} | {m['total']:.1f} | {m['max_error_mm']:.2f} |")
    return "\n".join(lines)


def format_table(rows: list[BenchRow]) -> str:
    """Markdown table: one row per method and batch size, medians in ms."""
    head = "| method | batch | text ms | denoise ms | decode ms | joints ms | total ms | ms / motion |"
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        m = r.median_ms
        lines.append(f"| {r.method} | {r.batch} | {m['text']:.1f} | {m['denoise']:.1f} | {m['decode']:.1f} | "
                     f"{m['joints']:.1f} | {m['total']:.1f} | {r.per_motion_ms():.2f} |")
    return "\n".join(lines)


def speedups(rows: list[BenchRow]) -> dict[str, float]:
    """Denoising speed-up of each LCM row over the MLD row of the same batch size."""
    out = {}
    for r in rows:
        if r.method.startswith("MotionLCM"):
            base = next((b for b in rows if b.batch == r.batch and b.method.startswith("MLD")), None)
            if base is not None:
                out[f"{r.method} batch {r.batch}"] = base.median_ms["denoise"] / r.median_ms["denoise"]
    return out


def write_json(path: str | Path, rows: list[BenchRow], machine: dict[str, Any], settings: dict[str, Any]) -> None:
    from ..io import write_text

    payload = {"machine": machine, "settings": settings, "rows": [asdict(r) for r in rows], "denoise_speedup": speedups(rows)}
    write_text(path, json.dumps(payload, indent=2))
