"""``motionlcm eval key=value ...``: the evaluation runner behind a Hydra config (``configs/eval.yaml``).

Wire it into the main parser with ``add_eval_parser(commands)``; the handler raises
:class:`~motionlcm.errors.MotionLCMError` for user errors, which the main CLI prints on one line.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import MotionLCMError

CONFIG_NAME = "eval"


def add_eval_parser(commands) -> argparse.ArgumentParser:
    """Register ``eval`` on an ``add_subparsers()`` object; returns the new parser."""
    p = commands.add_parser(
        "eval", help="evaluate text-to-motion (R-precision, FID, MM-Dist, Diversity, MModality, AITS)",
        description="Evaluate generators on a HumanML3D-layout split with the protocol of Guo et al. "
                    "Settings are Hydra overrides of configs/eval.yaml.")
    p.add_argument("overrides", nargs="*",
                   help="e.g. ckpt=DIR data.root=DIR evaluator=DIR replications=5 steps=[1,2,4] methods=[gt,vae,ckpt] quick=true")
    p.set_defaults(func=run_eval_command)
    return p


def compose_eval_config(overrides: list[str]) -> dict[str, Any]:
    """``configs/eval.yaml`` with the overrides applied, as plain resolved values."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from ..configs import config_dir

    folder = config_dir()
    if not (folder / f"{CONFIG_NAME}.yaml").is_file():
        raise MotionLCMError(f"evaluation config not found: {folder / (CONFIG_NAME + '.yaml')}")
    try:
        with initialize_config_dir(config_dir=str(folder), version_base=None):
            cfg = compose(config_name=CONFIG_NAME, overrides=list(overrides))
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except (HydraException, OmegaConfBaseException) as exc:
        raise MotionLCMError(f"bad eval config: {str(exc).strip().splitlines()[0]}") from None


def _needs_ckpt(methods) -> bool:
    listed = methods if isinstance(methods, list) else [methods]
    return any(isinstance(m, str) and m.strip().lower() == "ckpt" for m in listed)


def _needs_vae(methods) -> bool:
    listed = methods if isinstance(methods, list) else [methods]
    return any(isinstance(m, str) and m.strip().lower() == "vae" for m in listed)


def check_eval_config(cfg: dict[str, Any]) -> None:
    """Fail early, with one line, on what would otherwise fail after minutes of work."""
    for key in ("replications", "batch_size", "mm_captions", "mm_repeats", "mm_pairs", "diversity_pairs"):
        value = cfg.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise MotionLCMError(f"{key} must be a positive integer, got {value!r}")
    if cfg.get("max_samples") is not None and (not isinstance(cfg["max_samples"], int) or cfg["max_samples"] < 2):
        raise MotionLCMError(f"max_samples must be an integer >= 2 (or null), got {cfg['max_samples']!r}")
    methods = cfg.get("methods")
    if not methods:
        raise MotionLCMError("methods is empty; use e.g. methods=[gt,vae,ckpt]")
    if _needs_ckpt(methods) and not cfg.get("ckpt"):
        raise MotionLCMError("methods include 'ckpt' but no checkpoint is given: add ckpt=DIR (an mld or lcm export)")
    if _needs_vae(methods) and not (cfg.get("vae") or cfg.get("ckpt")):
        raise MotionLCMError("methods include 'vae' but no checkpoint is given: add vae=DIR or ckpt=DIR")
    for key in ("ckpt", "vae"):
        if cfg.get(key) and not Path(cfg[key]).is_dir():
            raise MotionLCMError(f"{key} checkpoint folder not found: {cfg[key]}")
    data = cfg.get("data") or {}
    if not data.get("root") or not Path(data["root"]).is_dir():
        raise MotionLCMError(f"dataset folder not found: {data.get('root')} (set data.root=DIR)")
    if not cfg.get("evaluator"):
        raise MotionLCMError("no evaluator given: add evaluator=DIR (an exported evaluator, or the official t2m/glove files)")
    if not Path(cfg["evaluator"]).is_dir():
        raise MotionLCMError(f"evaluator folder not found: {cfg['evaluator']}")


def resolve_device(name: str | None):
    import torch

    from ..pipeline import pick_device

    try:
        device = pick_device(name)
    except RuntimeError as exc:
        raise MotionLCMError(f"unknown device {name!r} ({str(exc).splitlines()[0]})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MotionLCMError(f"device {name!r} requested but CUDA is not available")
    return device


def default_run_name(cfg: dict[str, Any]) -> str:
    """``runs/embedded/lcm/export`` -> ``embedded-lcm``; another folder -> its name; no checkpoint -> ``gt``."""
    if cfg.get("name"):
        return str(cfg["name"])
    source = cfg.get("ckpt") or cfg.get("vae")
    if not source:
        return "gt"
    path = Path(source).resolve()
    if path.name == "export" and len(path.parents) >= 2:
        return f"{path.parent.parent.name}-{path.parent.name}"
    return path.name


def run_eval(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Path]]:
    """Evaluate as configured and write the results; returns (results, written paths)."""
    from .runner import evaluate_text_to_motion, write_results

    check_eval_config(cfg)
    device = resolve_device(cfg.get("device"))
    out = Path(cfg.get("out") or Path("runs") / "eval" / default_run_name(cfg))
    results = evaluate_text_to_motion(
        cfg["methods"], cfg["data"]["root"], cfg["evaluator"], split=str(cfg["data"].get("split") or "test"),
        replications=cfg["replications"], batch_size=cfg["batch_size"], num_steps=cfg.get("steps"),
        guidance=cfg.get("guidance"), mm=bool(cfg.get("mm", True)), mm_captions=cfg["mm_captions"],
        mm_repeats=cfg["mm_repeats"], mm_pairs=cfg["mm_pairs"], diversity_pairs=cfg["diversity_pairs"],
        seed=int(cfg.get("seed") or 0), quick=bool(cfg.get("quick")), progress=bool(cfg.get("progress", True)),
        ckpt=cfg.get("ckpt"), vae=cfg.get("vae"), device=device, max_samples=cfg.get("max_samples"))
    return results, write_results(out, results)


def run_eval_command(args: argparse.Namespace) -> int:
    from .runner import format_table

    results, paths = run_eval(compose_eval_config(list(args.overrides)))
    print(format_table(results))
    for warning in results["settings"]["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {paths['json']} and {paths['markdown']} ({results['cost_s']:.1f} s)")
    return 0


__all__ = ["add_eval_parser", "check_eval_config", "compose_eval_config", "run_eval", "run_eval_command"]
