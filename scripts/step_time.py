"""Seconds per training step of each stage on real batches (forward + backward + optimizer step).

    python scripts/step_time.py --data data/corpus --vae runs/embedded/vae/export --teacher runs/embedded/mld/export

Builds each stage exactly as `motionlcm train ... experiment=embedded` does and times a few
steps after warm-up, outside Lightning (no logging or checkpoint cost). Used for the README.
"""
import argparse
import statistics
import time

import torch
from omegaconf import OmegaConf

from motionlcm.training.run import build_stage, compose_config


def time_stage(overrides: list[str], steps: int, warmup: int) -> float:
    from hydra.utils import instantiate

    cfg = compose_config(overrides)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    stage = build_stage(cfg, datamodule)
    stage.on_fit_start() if hasattr(stage, "_text") else None
    stage.train()
    params = [p for p in stage.trained_network().parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    loader = iter(datamodule.train_dataloader())
    times = []
    for i in range(warmup + steps):
        batch = next(loader)
        start = time.perf_counter()
        loss = stage.training_step(batch, i)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[warmup:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/corpus")
    parser.add_argument("--vae")
    parser.add_argument("--teacher")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    common = ["experiment=embedded", f"data.root={args.data}", "data.num_workers=0"]
    plans = [("vae", ["stage=vae"])]
    if args.vae:
        plans.append(("mld", ["stage=mld", f"vae={args.vae}"]))
    if args.teacher:
        plans.append(("lcm", ["stage=lcm", f"teacher={args.teacher}"]))
    plans.append(("evaluator", ["stage=evaluator", "stage.evaluator.width=128", "stage.evaluator.num_layers=2",
                                "stage.evaluator.ffn_dim=256", "stage.evaluator.dropout=0.0", "stage.evaluator.text_hidden=256",
                                "stage.evaluator.embed_dim=256"]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, extra in plans:
        seconds = time_stage([*extra, *common], args.steps, args.warmup)
        print(f"{name}: {seconds:.2f} s/step (batch 64, median of {args.steps})")


if __name__ == "__main__":
    main()
