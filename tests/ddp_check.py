"""Run by test_training: 3 VAE steps with DDP over two CPU processes (gloo); each rank writes
checksums of its initial and final weights. Lightning re-launches this script for rank 1."""
import sys
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from motionlcm.training.run import compose_config, train


def checksum(module: torch.nn.Module) -> str:
    return f"{sum(float(p.double().abs().sum()) for p in module.parameters()):.12e}"


class RankWeights(Callback):
    def __init__(self, out: Path):
        self.out, self.initial = out, ""

    def on_train_start(self, trainer, pl_module):
        self.initial = checksum(pl_module.vae)

    def on_train_end(self, trainer, pl_module):
        (self.out / f"rank{trainer.global_rank}_weights.txt").write_text(f"{self.initial} {checksum(pl_module.vae)}\n")


if __name__ == "__main__":
    dataset, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    cfg = compose_config([
        "stage=vae", "experiment=embedded", f"data.root={dataset}", "data.batch_size=1", "data.num_workers=0",
        f"output_dir={out}", "trainer.max_steps=3", "trainer.val_check_interval=100", "trainer.limit_val_batches=0",
        "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp", "stage.optim.warmup_steps=0",
        "model.vae.width=32", "model.vae.num_blocks=2",
    ])
    train(cfg, [RankWeights(out)])
