"""``motionlcm train``: compose the Hydra config, build data + stage + trainer, fit, export."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ..errors import MotionLCMError
from ..checkpoint import save_checkpoint
from ..configs import config_dir

STAGES = ("vae", "mld", "lcm", "evaluator", "control")


def compose_config(overrides: list[str]):
    """Hydra's compose API with user errors turned into one-line messages."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    stage = next((o.split("=", 1)[1] for o in overrides if o.startswith("stage=")), None)
    if stage is not None and stage not in STAGES:
        raise MotionLCMError(f"unknown stage {stage!r}; choose one of: {', '.join(STAGES)}")
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
            return compose(config_name="train", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        raise MotionLCMError(f"bad training config: {str(exc).splitlines()[0]}") from None


class ExportCheckpoint(Callback):
    """Writes the inference checkpoint (safetensors + config + Mean/Std) whenever Lightning saves, and at the end."""

    def __init__(self, directory: Path):
        self.directory = directory

    def _export(self, trainer: L.Trainer, stage) -> None:
        if trainer.is_global_zero:
            mean, std = stage.mean.cpu().numpy(), stage.std.cpu().numpy()
            save_checkpoint(self.directory, stage.kind, {**stage.export_config(), "trained_steps": trainer.global_step},
                            stage.export_modules(), mean, std)

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._export(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self._export(trainer, pl_module)


def _build_stage(cfg, datamodule):
    from omegaconf import OmegaConf

    from .stages import LCMStage, MLDStage, VAEStage

    plain: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    name = plain["stage"]["name"]
    mean, std = datamodule.mean, datamodule.std
    if name == "vae":
        return VAEStage(plain["model"]["vae"], plain["stage"]["optim"], plain["stage"]["loss_weights"], mean, std)
    if name == "mld":
        if not plain.get("vae"):
            raise MotionLCMError("the mld stage needs a trained VAE: add vae=PATH (a folder written by stage=vae)")
        return MLDStage(plain["vae"], plain["model"]["denoiser"], plain["model"]["text_encoder"], plain["model"]["schedule"],
                        plain["stage"]["optim"], plain["stage"]["cfg_dropout"], plain["model"]["sampling"], mean, std,
                        plain["stage"].get("snr_gamma"))
    if name == "lcm":
        if not plain.get("teacher"):
            raise MotionLCMError("the lcm stage needs a trained teacher: add teacher=PATH (a folder written by stage=mld)")
        return LCMStage(plain["teacher"], plain["stage"]["optim"], plain["stage"]["lcm"], plain["stage"]["sampling"], mean, std)
    if name == "evaluator":
        from .evaluator_stage import EvaluatorStage

        stage = plain["stage"]
        return EvaluatorStage(stage["evaluator"], stage["text_encoder"], stage["optim"], stage["loss_weights"],
                              stage["margin"], mean, std, stage.get("hard_negatives"))
    if name == "control":
        from .control_stage import build_control_stage

        return build_control_stage(plain, datamodule)
    raise MotionLCMError(f"unknown stage {name!r}; choose one of: {', '.join(STAGES)}")


def build_stage(cfg, datamodule):
    """The LightningModule of ``cfg.stage.name``, with the latent cache of the frozen-VAE stages switched on."""
    stage = _build_stage(cfg, datamodule)
    init = cfg.get("init")
    if init:
        if not hasattr(stage, "load_initial_weights"):
            raise MotionLCMError(f"init= is supported by the mld stage, not by stage={cfg.stage.name}")
        stage.load_initial_weights(str(init))
    if stage.frozen_vae:
        stage.use_latent_cache(cfg.stage.get("latent_cache"))
    return stage


def build_trainer(cfg, output_dir: Path, extra_callbacks: list[Callback] | None = None) -> L.Trainer:
    from omegaconf import OmegaConf

    kwargs: dict[str, Any] = OmegaConf.to_container(cfg.trainer, resolve=True)  # type: ignore[assignment]
    every = int(kwargs.pop("checkpoint_every_n_steps", 1000))
    callbacks: list[Callback] = [
        ModelCheckpoint(dirpath=output_dir / "checkpoints", filename="step{step}", auto_insert_metric_name=False,
                        every_n_train_steps=every, save_last=True, save_top_k=-1),
        ExportCheckpoint(output_dir / "export"),
        LearningRateMonitor(logging_interval="step"),
        TQDMProgressBar(refresh_rate=int(kwargs.pop("progress_refresh_rate", 10))),
        *(extra_callbacks or []),
    ]
    loggers = [TensorBoardLogger(output_dir, name="tensorboard", version=""), CSVLogger(output_dir, name="csv", version="")]
    return L.Trainer(default_root_dir=output_dir, callbacks=callbacks, logger=loggers, **kwargs)


def _instantiate(instantiate, node):
    """Hydra wraps errors raised by the target; surface our own user errors unwrapped."""
    from hydra.errors import InstantiationException

    try:
        return instantiate(node)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, MotionLCMError):
            raise exc.__cause__ from None
        raise


def train(cfg, extra_callbacks: list[Callback] | None = None) -> Path:
    """Run one stage from a composed config; returns the export folder."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    output_dir = Path(cfg.output_dir)
    resume = cfg.get("resume")
    if resume and not Path(resume).is_file():
        raise MotionLCMError(f"resume checkpoint not found: {resume}")
    # data and stage first: a config error (a missing data.root, a bad checkpoint) writes nothing
    datamodule = _instantiate(instantiate, cfg.data)
    stage = build_stage(cfg, datamodule)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "train_config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    trainer = build_trainer(cfg, output_dir, extra_callbacks)
    trainer.fit(stage, datamodule=datamodule, ckpt_path=resume or None)
    return output_dir / "export"
