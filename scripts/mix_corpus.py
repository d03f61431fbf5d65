"""One training corpus from two `motionlcm data synth` corpora, without copying files.

    python scripts/mix_corpus.py --base data/corpus --extra data/extra --out data/vaemix --families clap,wave,punch,hop

The output folder links every file of BASE and the motions of EXTRA (all of them, or those with
an action of one of ``--families``) under an ``x`` prefix; Mean/Std, the val and test splits and
synth_meta.json are BASE's (so models trained on it keep BASE's normalisation and are evaluated
on BASE's test split); ``train.txt`` is BASE's plus the linked EXTRA motions. The shipped VAE was
fine-tuned on such a mix (fast hand motion over-represented), the teacher of an earlier release
on the whole of EXTRA (``data/big``, no ``--families``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from motionlcm.evaluation.prompt_checks import FAMILIES, load_synth_meta

FOLDERS = {"new_joint_vecs": ".npy", "new_joints": ".npy", "texts": ".txt"}
FROM_BASE = ("Mean.npy", "Std.npy", "Mean_raw.npy", "Std_raw.npy", "val.txt", "test.txt", "synth_meta.json")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--extra", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--families", default="", help="comma-separated action families (default: every motion of EXTRA)")
    args = parser.parse_args(argv)
    families = {f for f in args.families.split(",") if f}
    unknown = families - set(FAMILIES)
    if unknown:
        print(f"mix_corpus: unknown families {sorted(unknown)}; known: {', '.join(FAMILIES)}", file=sys.stderr)
        return 2
    if args.out.exists():
        print(f"mix_corpus: {args.out} exists; choose a new folder", file=sys.stderr)
        return 2
    extra = load_synth_meta(args.extra)
    picked = sorted(n for n, m in extra.items() if not families or set(m["families"]) & families)
    base_train = (args.base / "train.txt").read_text().split()
    for folder, ext in FOLDERS.items():
        out = args.out / folder
        out.mkdir(parents=True)
        for f in sorted(os.listdir(args.base / folder)):
            os.symlink(os.path.relpath(args.base / folder / f, out), out / f)
        for n in picked:
            os.symlink(os.path.relpath(args.extra / folder / f"{n}{ext}", out), out / f"x{n}{ext}")
    for f in FROM_BASE:
        if (args.base / f).exists():
            os.symlink(os.path.relpath(args.base / f, args.out), args.out / f)
    train = base_train + [f"x{n}" for n in picked]
    (args.out / "train.txt").write_text("\n".join(train) + "\n")
    held_out = (args.base / "val.txt").read_text().split() + (args.base / "test.txt").read_text().split()
    (args.out / "all.txt").write_text("\n".join(train + held_out) + "\n")
    print(f"{args.out}: {len(base_train)} + {len(picked)} training motions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
