"""Render the README's and the app's example prompts and check, from the joints alone, that they
do what they say.

    python scripts/readme_examples.py [--ckpt DIR] [--seeds 8] [--steps 1] [--gifs docs/media]

Every prompt carries the actions it asks for in the corpus' metadata form (family, its
parameters, a share of the clip); ``--seeds`` motions are generated (seeds 0..N-1) and each is
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

FPS = 20
# (prompt, seconds, [(share of the clip, action), ...]); shares are turned into metadata frames
PROMPTS = [
    ("a person walks forward", 4.0, [(1.0, {"family": "walk", "kind": "walk", "direction": "forward", "path": "straight"})]),
    ("a person walks in a clockwise circle", 6.0, [(1.0, {"family": "walk", "kind": "walk", "direction": "forward",
                                                         "path": "circle_cw"})]),
    ("a person runs forward", 4.0, [(1.0, {"family": "run", "kind": "run", "direction": "forward", "path": "straight"})]),
    ("a person walks backwards", 4.0, [(1.0, {"family": "walk", "kind": "walk", "direction": "backward",
                                              "path": "straight"})]),
    ("a person jumps up three times", 4.5, [(1.0, {"family": "jump", "count": 3, "forward": False})]),
    ("a person turns around to the left", 3.0, [(1.0, {"family": "turn", "direction": "left", "degrees": 180.0})]),
    ("a person kicks with the right leg", 2.5, [(1.0, {"family": "kick", "leg": "right", "count": 1})]),
    ("a person waves with the left hand", 3.5, [(1.0, {"family": "wave", "hands": "left", "overhead": False})]),
    ("a person sits down on the ground and stands back up", 6.0, [(1.0, {"family": "sit"})]),
    ("a person takes two side steps to the left", 4.0, [(1.0, {"family": "side_step", "direction": "left", "count": 2})]),
    ("a person squats down three times", 6.0, [(1.0, {"family": "squat", "count": 3})]),
    ("a person claps three times", 3.0, [(1.0, {"family": "clap", "count": 3})]),
    ("a person drops to their left knee and rises again", 5.0, [(1.0, {"family": "kneel", "side": "left"})]),
    ("a person does a full turn to the right", 2.5, [(1.0, {"family": "spin", "direction": "right", "turns": 1})]),
    ("a person walks forward, then jumps", 5.0, [(0.6, {"family": "walk", "kind": "walk", "direction": "forward",
                                                         "path": "straight"}),
                                                  (0.4, {"family": "jump", "count": 1, "forward": False})]),
]
LOCOMOTION = {"walk", "jog", "run", "side_step", "march", "hop"}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def metadata(seconds: float, parts) -> tuple[int, list[dict]]:
    """Clip frames and the actions with metadata frame counts (the metadata has one frame more than the clip)."""
    frames = int(round(seconds * FPS))
    counts = [int(round(share * (frames + 1))) for share, _ in parts]
    counts[-1] = frames + 1 - sum(counts[:-1])
    return frames, [{**action, "frames": n} for n, (_, action) in zip(counts, parts)]


def main() -> None:
    from motionlcm.evaluation.prompt_checks import check_actions
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
    for text, seconds, parts in PROMPTS:
        frames, actions = metadata(seconds, parts)
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
    print(f"overall: {np.mean(rates):.3f} of {len(PROMPTS)} prompts x {args.seeds} seeds pass every check")


if __name__ == "__main__":
    main()
