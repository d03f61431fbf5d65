"""Tiny training runs shared by the training, generation and export tests."""
from pathlib import Path

from lightning.pytorch.callbacks import Callback

TINY_VAE = ["model.vae.width=32", "model.vae.num_blocks=2"]  # the embedded default: the conv VAE
TINY_DENOISER = ["model.denoiser.width=32", "model.denoiser.num_layers=3", "model.denoiser.ffn_dim=64", "model.text_encoder=hash:32"]


def common(dataset: Path, out: Path, steps: int = 4) -> list[str]:
    return [
        "experiment=embedded", f"data.root={dataset}", "data.batch_size=2", "data.eval_batch_size=2", "data.num_workers=0",
        f"output_dir={out}", f"trainer.max_steps={steps}", "trainer.val_check_interval=2", "trainer.limit_val_batches=1",
        "trainer.checkpoint_every_n_steps=2", "trainer.accelerator=cpu", "trainer.devices=1", "trainer.log_every_n_steps=1",
        "stage.optim.warmup_steps=0",
    ]


def stage_section(stage: str, key: str, *overrides: str) -> dict:
    """``stage.KEY`` of the composed ``stage=STAGE`` config as a plain dict: the YAML is the only source of
    the stages' settings, so tests that build a stage directly take them from there."""
    from omegaconf import OmegaConf

    from motionlcm.training.run import compose_config

    return OmegaConf.to_container(compose_config([f"stage={stage}", *overrides]).stage[key])


class StepRecorder(Callback):
    def __init__(self):
        self.start_step = None
        self.end_step = None

    def on_train_start(self, trainer, pl_module):
        self.start_step = trainer.global_step

    def on_train_end(self, trainer, pl_module):
        self.end_step = trainer.global_step


def train_tiny_models(base: Path, fixtures: Path) -> dict:
    """A tiny VAE, then a tiny MLD on top, then a tiny LCM student, a few steps each on real motions."""
    from motionlcm.training.run import compose_config, train
    from tests.conftest import build_small_dataset

    dataset = build_small_dataset(base / "ds", fixtures)
    vae_rec = StepRecorder()
    vae_export = train(compose_config(["stage=vae", *common(dataset, base / "vae"), *TINY_VAE]), [vae_rec])
    mld_export = train(compose_config(["stage=mld", f"vae={vae_export}", *common(dataset, base / "mld"), *TINY_VAE, *TINY_DENOISER]))
    lcm_export = train(compose_config(["stage=lcm", f"teacher={mld_export}", *common(dataset, base / "lcm"), *TINY_VAE,
                                       *TINY_DENOISER]))
    return {"dataset": dataset, "base": base, "vae": vae_export, "mld": mld_export, "lcm": lcm_export, "vae_steps": vae_rec}


