"""``motionlcm train``: compose the Hydra config, build data + stage + callbacks + loggers + trainer, fit, export.

Everything is built from the composed config with ``hydra.utils.instantiate``: ``data`` (configs/data),
the stage's LightningModule (``stage._target_`` in configs/stage/*.yaml), and the ``callbacks`` and
``logger`` groups (configs/callbacks, configs/logger: one ``_target_`` per name).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

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

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.exported = False

    def _export(self, trainer: L.Trainer, stage) -> None:
        self.exported = True
        if trainer.is_global_zero:
            mean, std = stage.mean.cpu().numpy(), stage.std.cpu().numpy()
            save_checkpoint(self.directory, stage.kind, {**stage.export_config(), "trained_steps": trainer.global_step},
                            stage.export_modules(), mean, std)

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._export(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self._export(trainer, pl_module)

    def on_fit_end(self, trainer, pl_module) -> None:
        # resume= from a checkpoint already at max_steps runs no training loop (no on_train_end):
        # export its weights all the same, so `resume=ckpt trainer.max_steps=<its step>` exports it.
        if not self.exported:
            self._export(trainer, pl_module)


# Keys of ``cfg.stage`` the runner reads itself; every other key is a keyword argument of its ``_target_``.
RUNNER_KEYS = ("name", "latent_cache")
# Trainer-group keys read by configs/callbacks/default.yaml, not Trainer arguments.
TRAINER_EXTRA_KEYS = ("checkpoint_every_n_steps", "progress_refresh_rate")


def _plain(node, where: str) -> Any:
    """A config node as plain containers, interpolations resolved; a bad interpolation is a one-line error."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_container(node, resolve=True)
    except OmegaConfBaseException as exc:
        raise MotionLCMError(f"bad training config: {where}: {str(exc).splitlines()[0]}") from None


def _check_arguments(node: dict[str, Any], where: str, supplied: tuple[str, ...] = ()) -> None:
    """The keys of ``node`` must be exactly the keyword arguments its ``_target_`` takes (bar ``supplied``)."""
    import inspect

    from hydra.utils import get_object

    try:
        target = get_object(str(node["_target_"]))
        parameters = inspect.signature(target).parameters.values()
    except (ImportError, AttributeError, ValueError, TypeError) as exc:  # not importable, or no signature
        raise MotionLCMError(f"bad training config: {where}._target_ {node['_target_']!r}: {exc}") from None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    given = {key for key in node if not (key.startswith("_") and key.endswith("_"))}
    unknown = sorted(given - set(names))
    missing = [p.name for p in parameters if p.default is p.empty and p.name in names
               and p.name not in given and p.name not in supplied]
    if unknown or missing:
        problems = ([f"unknown option(s) {', '.join(f'{where}.{k}' for k in unknown)}"] if unknown else []) + (
            [f"missing option(s) {', '.join(f'{where}.{k}' for k in missing)}"] if missing else [])
        known = ", ".join(n for n in names if n not in supplied)
        raise MotionLCMError(f"bad training config: {'; '.join(problems)} (known: {known})")


def _instantiate(node, where: str, **kwargs):
    """``hydra.utils.instantiate`` with our user errors unwrapped and the others on one line."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(node, **kwargs)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, MotionLCMError):
            raise exc.__cause__ from None
        # Hydra's message is "Error in call to target 'X':" / "Error loading 'X':", then the cause
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise MotionLCMError(f"bad training config: {where}: {' '.join(lines[:2])}") from None


def build_stage(cfg, datamodule):
    """The LightningModule ``cfg.stage._target_`` (the other stage keys, bar ``RUNNER_KEYS``, are its keyword
    arguments; the dataset's Mean/Std come from ``datamodule``), then ``init=`` weights and the latent cache
    of the frozen-VAE stages."""
    node: dict[str, Any] = _plain(cfg.stage, "stage")
    name = node.get("name")
    if not node.get("_target_"):
        raise MotionLCMError(f"bad training config: stage {name!r} names no _target_ (its LightningModule)")
    arguments = {key: value for key, value in node.items() if key not in RUNNER_KEYS}
    _check_arguments(arguments, "stage", supplied=("mean", "std"))
    # _partial_: the arrays go in as plain call arguments, and the stage's own errors come out unwrapped
    factory = _instantiate(arguments, "stage", _partial_=True, _convert_="all")
    stage = factory(mean=datamodule.mean, std=datamodule.std)
    init = cfg.get("init")
    if init:
        if not hasattr(stage, "load_initial_weights"):
            raise MotionLCMError(f"init= is supported by the vae, mld and lcm stages, not by stage={name}")
        stage.load_initial_weights(str(init))
    stage.param_groups(1.0)  # optim.lr_scale errors now, before the run writes anything
    if stage.frozen_vae:
        stage.use_latent_cache(node.get("latent_cache"))
    return stage


def _build_group(cfg, group: str) -> list:
    """The objects of a ``callbacks`` / ``logger`` group, in config order (a null entry is skipped)."""
    from omegaconf import OmegaConf

    nodes = cfg.get(group) or {}
    built = []
    for name in nodes:
        node = nodes[name]
        if node is None:
            continue
        if not OmegaConf.is_dict(node) or "_target_" not in node:
            raise MotionLCMError(f"bad training config: {group}.{name} has no _target_")
        built.append(_instantiate(node, f"{group}.{name}"))
    return built


def build_callbacks(cfg, extra_callbacks: list[Callback] | None = None) -> list[Callback]:
    """``cfg.callbacks`` (configs/callbacks/*.yaml), then ``extra_callbacks``."""
    return [*_build_group(cfg, "callbacks"), *(extra_callbacks or [])]


def build_loggers(cfg) -> list:
    """``cfg.logger`` (configs/logger/*.yaml)."""
    return _build_group(cfg, "logger")


def build_trainer(cfg, output_dir: Path, callbacks: list[Callback], loggers: list) -> L.Trainer:
    from omegaconf import OmegaConf

    kwargs: dict[str, Any] = OmegaConf.to_container(cfg.trainer, resolve=True)  # type: ignore[assignment]
    for key in TRAINER_EXTRA_KEYS:
        kwargs.pop(key, None)
    return L.Trainer(default_root_dir=output_dir, callbacks=callbacks, logger=loggers or False, **kwargs)


def train(cfg, extra_callbacks: list[Callback] | None = None) -> Path:
    """Run one stage from a composed config; returns the export folder."""
    from omegaconf import OmegaConf

    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    output_dir = Path(cfg.output_dir)
    resume = cfg.get("resume")
    if resume and not Path(resume).is_file():
        raise MotionLCMError(f"resume checkpoint not found: {resume}")
    # data, stage, callbacks and loggers first: a config error (a missing data.root, a bad checkpoint) writes nothing
    datamodule = _instantiate(cfg.data, "data")
    stage = build_stage(cfg, datamodule)
    callbacks, loggers = build_callbacks(cfg, extra_callbacks), build_loggers(cfg)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "train_config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    trainer = build_trainer(cfg, output_dir, callbacks, loggers)
    trainer.fit(stage, datamodule=datamodule, ckpt_path=resume or None)
    return output_dir / "export"
