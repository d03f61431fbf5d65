"""Render the README's and the app's example prompts and check, from the joints alone, that they
do what they say.

    python scripts/readme_examples.py [--ckpt DIR] [--seeds 8] [--steps 1] [--gifs docs/media]

Every candidate prompt (``motionlcm/examples.py``) carries the actions it asks for in the
corpus' metadata form (family, its parameters, a share of the clip); ``--seeds`` motions are generated (seeds 0..N-1) and each is
judged by the rule-based checks of :mod:`motionlcm.evaluation.prompt_checks` (no learned model).
Printed: the pass rate per prompt and overall, and the first failing check's reason. With
``--gifs``, seed 0 of each prompt that passes is written as a stick-figure GIF (front view) and,
for locomotion, a side view that shows the legs stepping.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import torch

LOCOMOTION = {"walk", "jog", "run", "side_step", "march", "hop"}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def main() -> None:
    from motionlcm.evaluation.prompt_checks import check_actions
    from motionlcm.examples import CANDIDATES
    from motionlcm.pipeline import MotionPipeline
    from motionlcm.render.stick import render_stick_figure

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default=None, help="generator checkpoint (default: the shipped MotionLCM)")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--gifs", default=None, help="folder for the GIFs of the prompts that pass (seed 0)")
    args = parser.parse_args()

    pipe = MotionPipeline.from_pretrained(args.ckpt)
    rates = []
    for example in CANDIDATES:
        text, frames, actions = example.text, example.frames, example.metadata()
        with torch.no_grad():
            out = pipe([text] * args.seeds, [frames] * args.seeds, num_steps=args.steps, seed=list(range(args.seeds)))
        verdicts = [check_actions(out.motion(i)[1], actions) for i in range(args.seeds)]
        passed = [all(c.passed for c in checks) for checks in verdicts]
        rates.append(float(np.mean(passed)))
        failing = next((c for checks in verdicts for c in checks if not c.passed), None)
        print(f"{text!r:58} pass {np.mean(passed):.2f}" + (f"   e.g. {failing.family}: {failing.detail}" if failing else ""))
        if args.gifs and passed[0]:
            joints = out.motion(0)[1]
            path = Path(args.gifs) / f"example_{slug(text)}.gif"
            render_stick_figure(joints, path, title=text, size=(260, 260))
            print(f"    wrote {path}")
            if any(a["family"] in LOCOMOTION for a in actions):
                side = Path(args.gifs) / f"example_{slug(text)}_side.gif"
                render_stick_figure(joints, side, title=text + " (side)", size=(260, 260), azimuth_deg=90.0, elevation_deg=5.0)
                print(f"    wrote {side}")
    print(f"overall: {np.mean(rates):.3f} of {len(CANDIDATES)} prompts x {args.seeds} seeds pass every check")


if __name__ == "__main__":
    main()
