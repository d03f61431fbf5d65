"""Render the README's example prompts and check, with the trained evaluator, that they do what they say.

    python scripts/readme_examples.py [--ckpt DIR] [--evaluator DIR] [--seeds 8] [--gifs docs/media]

For every prompt, ``--seeds`` motions are generated (seeds 0..N-1); each motion is embedded by the
evaluator and matched against the embeddings of all the prompts. Printed: how often a prompt's
motions retrieve their own prompt first (chance: 1 / number of prompts), per prompt and overall.
Seed 0 of each prompt is written as a stick-figure GIF.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import torch

PROMPTS = [
    ("a person walks forward, then jumps", "4s"),
    ("a person jumps up three times", "4s"),
    ("a person walks in a clockwise circle", "6s"),
    ("a person kicks with the right leg", "3s"),
    ("a person waves with the left hand", "4s"),
    ("a person runs forward", "4s"),
    ("a person sits down", "4s"),
    ("a person sidesteps to the left", "4s"),
]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def main() -> None:
    from motionlcm.models.evaluator import load_evaluator
    from motionlcm.pipeline import MotionPipeline
    from motionlcm.render.stick import render_stick_figure

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default=None, help="generator checkpoint (default: the shipped MotionLCM)")
    parser.add_argument("--evaluator", default="assets/checkpoints/evaluator")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--gifs", default=None, help="folder for one GIF per prompt (seed 0)")
    args = parser.parse_args()

    pipe = MotionPipeline.from_pretrained(args.ckpt)
    evaluator = load_evaluator(args.evaluator)
    texts = [p for p, _ in PROMPTS]
    with torch.no_grad():
        prompt_emb = torch.nn.functional.normalize(evaluator.embed_text(texts), dim=-1)
    hits = []
    for index, (text, length) in enumerate(PROMPTS):
        out = pipe([text] * args.seeds, [length] * args.seeds, num_steps=args.steps, seed=list(range(args.seeds)))
        with torch.no_grad():
            motion_emb = torch.nn.functional.normalize(evaluator.embed_motion(out.features, out.lengths), dim=-1)
        ranked = (motion_emb @ prompt_emb.T).argsort(dim=-1, descending=True)
        top1 = float((ranked[:, 0] == index).float().mean())
        top3 = float((ranked[:, :3] == index).any(-1).float().mean())
        hits.append((top1, top3))
        print(f"{text!r:45} top-1 {top1:.2f}  top-3 {top3:.2f}")
        if args.gifs:
            path = Path(args.gifs) / f"example_{slug(text)}.gif"
            render_stick_figure(out.motion(0)[1], path, title=text, size=(260, 260))
            print(f"    wrote {path}")
    top1, top3 = np.mean(hits, axis=0)
    print(f"overall: top-1 {top1:.3f}, top-3 {top3:.3f} among {len(PROMPTS)} prompts "
          f"(chance {1 / len(PROMPTS):.3f} / {3 / len(PROMPTS):.3f}), {args.seeds} seeds each")


if __name__ == "__main__":
    main()
