"""The ``motionlcm`` command.

User errors (bad files, options, datasets) print one line ``motionlcm: error: ...`` and exit
with status 2; ``data check`` exits 1 when it found problems. Imports of heavy modules happen
inside the commands so that ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .errors import MotionLCMError

EXIT_PROBLEMS = 1
EXIT_USER_ERROR = 2


def _cmd_data_check(args: argparse.Namespace) -> int:
    from .data.check import check_dataset

    report = check_dataset(args.dir, progress=not args.quiet)
    for problem in report.problems:
        print(problem)
    sizes = ", ".join(f"{k} {v}" for k, v in report.split_sizes.items())
    summary = f"{report.motions} motions ({sizes}); {report.samples} samples with {report.captions} captions after the 40-199 frame filter"
    if report.problems:
        print(f"{len(report.problems)} problem(s) found in {args.dir}. {summary}")
        return EXIT_PROBLEMS
    print(f"OK: {args.dir}: {summary}")
    return 0


def _cmd_data_stats(args: argparse.Namespace) -> int:
    import numpy as np

    from .data.stats import dataset_stats
    from .io import save_npy

    out = Path(args.out or args.dir)
    stats = dataset_stats(args.dir, split=args.split, progress=not args.quiet)
    existing = [name for name in stats if (out / name).exists()]
    if existing and not args.force:
        raise MotionLCMError(f"{out}: {', '.join(existing)} already exist; use --force to overwrite or --out DIR")
    for name, array in stats.items():
        save_npy(out / name, array)
    std = stats["Std.npy"]
    print(f"wrote {', '.join(stats)} to {out} (feature std range {float(np.min(std)):.4f}..{float(np.max(std)):.4f})")
    return 0


def _report_conversion(report, what: str) -> int:
    for message in report.failed:
        print(f"skipped: {message}", file=sys.stderr)
    print(f"wrote {len(report.written)} {what} file(s)" + (f"; {len(report.failed)} failed" if report.failed else ""))
    return EXIT_PROBLEMS if report.failed else 0


def _cmd_to_features(args: argparse.Namespace) -> int:
    from .data.convert import convert, joints_file_to_features

    report = convert(args.input, args.output, lambda p: joints_file_to_features(p, retarget=not args.no_retarget), progress=not args.quiet)
    return _report_conversion(report, "feature")


def _cmd_to_joints(args: argparse.Namespace) -> int:
    from .data.convert import convert, features_file_to_joints

    report = convert(args.input, args.output, lambda p: features_file_to_joints(p, use_rotations=args.fk), progress=not args.quiet)
    return _report_conversion(report, "joint")


def _cmd_data_synth(args: argparse.Namespace) -> int:
    from .data.synth import synthesize_dataset

    report = synthesize_dataset(args.out, num=args.num, seed=args.seed, progress=not args.quiet, workers=args.workers)
    print(json.dumps(report, indent=2, default=str))
    return 0


def _cmd_viz(args: argparse.Namespace) -> int:
    from .render.stick import load_joints_for_viz, render_stick_figure

    from .inputs import check_output_file

    out = check_output_file(args.out, ("gif", "mp4"))  # before any rendering
    joints, title = load_joints_for_viz(args.source, dataset_dir=args.data)
    render_stick_figure(joints, out, fps=args.fps, title=args.title or title, size=(args.size, args.size))
    print(f"wrote {out} ({len(joints)} frames)")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .training.run import compose_config, train

    cfg = compose_config(list(args.overrides))
    export = train(cfg)
    print(f"exported {export}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from .pipeline import MotionPipeline, parse_length

    from . import inputs

    if (args.prompt is None) == (args.prompts is None):
        raise MotionLCMError("give either a PROMPT or --prompts FILE")
    # every input is checked here, before the model loads (the same checks as the app's)
    if args.prompt is not None:
        args.prompt = inputs.check_prompt(args.prompt)
    args.num_samples = inputs.check_count(args.num_samples, "--num-samples", 64)
    args.batch_size = inputs.check_count(args.batch_size, "--batch-size", inputs.MAX_BATCH_SIZE)
    if args.seed is not None:
        args.seed = inputs.check_seed(args.seed)
    if args.steps is not None:
        args.steps = inputs.check_steps(args.steps)
    if args.guidance is not None:
        args.guidance = inputs.check_guidance(args.guidance)
    if args.control and Path(args.control).is_file():
        inputs.check_control_size(Path(args.control).stat().st_size)
    frames = parse_length(args.length)
    if args.control and args.prompts:
        raise MotionLCMError("--control works with a single PROMPT, not with --prompts")
    if args.tune_steps < 0:
        raise MotionLCMError("--tune-steps must be >= 0")
    if args.tune_steps and not args.control:
        raise MotionLCMError("--tune-steps needs --control SPEC")
    if args.candidates is not None:
        from .pipeline import MAX_HINT_CANDIDATES

        args.candidates = inputs.check_count(args.candidates, "--candidates", MAX_HINT_CANDIDATES)
        if not args.control:
            raise MotionLCMError("--candidates needs --control SPEC")
    if args.control:
        from .control import load_control_spec

        load_control_spec(args.control, frames)  # spec errors before the model loads
    if args.prompts:
        return _generate_from_file(args, frames)
    from .batch import PromptItem, write_outputs
    from .export.files import FORMATS

    out = inputs.check_output_file(args.out or "motion.npz", FORMATS)
    fmt = out.suffix.lstrip(".").lower()
    pipe = MotionPipeline.from_pretrained(args.ckpt, device=args.device)
    result = pipe([args.prompt] * args.num_samples, frames, num_steps=args.steps, guidance=args.guidance, seed=args.seed,
                  control=args.control, latent_tuning_steps=args.tune_steps, tuning_progress=_tuning_bar(args.tune_steps),
                  exact_hints=not args.no_exact_hints, companion_controlnet=not args.no_controlnet,
                  **({} if args.candidates is None else {"hint_candidates": args.candidates}))
    paths = []
    for i in range(args.num_samples):
        path = out if args.num_samples == 1 else out.with_name(f"{out.stem}_{i}{out.suffix}")
        item = PromptItem(0, args.prompt, frames)
        written = write_outputs(result, i, item, path.parent, (fmt,), str(args.ckpt or "embedded"),
                                video=_video_writer(args.body, args.smpl_dir), stem=path.stem)
        paths.append(str(path.parent / written[fmt]))
    t = result.timings
    print(f"wrote {', '.join(paths)} ({frames} frames, {result.steps} steps, guidance {result.guidance:g}, seed {result.seed}; "
          f"{t['total'] * 1000:.0f} ms: text {t['text'] * 1000:.0f}, denoise {t['denoise'] * 1000:.0f}, decode {t['decode'] * 1000:.0f})")
    if result.hint_mask is not None:
        from .evaluation.metrics import control_errors

        errors = control_errors(result.joints, result.hints, result.hint_mask)
        tuned = f"; {result.tuning['steps']} tuning steps in {result.tuning['seconds']:.1f} s" if result.tuning else ""
        exact = result.hint_errors[0] if result.hint_errors and result.hint_errors[0] else None
        before = (f" (the sampled motion missed them by {exact['mean_before'] * 100:.1f} cm on average; corrected)"
                  if exact else "")
        steered = f"; steered by the ControlNet in {result.controlnet}" if result.controlnet else ""
        print(f"control: {int(result.hint_mask[0].sum())} hinted joint positions, mean error "
              f"{errors['avg_err'] * 100:.1f} cm{before}{tuned}{steered}")
    return 0


def _video_writer(body: str, smpl_dir: str | None):
    """MP4 writer for ``--body``: None keeps the fast stick figure; mesh bodies render with pyrender."""
    if body == "stick":
        if smpl_dir:
            raise MotionLCMError("--smpl-dir needs --body smpl")
        return None
    if body == "smpl":
        from .body.mesh import find_smpl_model_file

        find_smpl_model_file(smpl_dir)  # a missing SMPL file is reported before generating
    from .render.mesh_video import render_motion_video

    return lambda path, joints, title: render_motion_video(path, joints, body=body, smpl_dir=smpl_dir, title=title)


def _tuning_bar(steps: int):
    """A tqdm bar for latent tuning (None when not tuning)."""
    if steps <= 0:
        return None
    from tqdm import tqdm

    bar = tqdm(total=steps, desc="latent tuning", unit="step", leave=False)

    def update(step: int, total: int, hint_loss: float) -> None:
        bar.update(1)
        bar.set_postfix(hint_loss=f"{hint_loss:.4f}")
        if step == total:
            bar.close()

    return update


def _generate_from_file(args: argparse.Namespace, default_frames: int) -> int:
    from .batch import generate_batch, parse_formats, parse_prompt_lines
    from .pipeline import MotionPipeline

    source = Path(args.prompts)
    if not source.is_file():
        raise MotionLCMError(f"prompts file not found: {source}")
    if not args.out:
        raise MotionLCMError("--prompts needs --out DIR (the output folder)")
    from .inputs import check_output_folder

    check_output_folder(args.out)
    formats = parse_formats(args.formats)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise MotionLCMError(f"{source}: not a UTF-8 text file") from None
    items, problems = parse_prompt_lines(lines, default_frames)
    for problem in problems:
        print(f"{source}: {problem}", file=sys.stderr)
    if not items:
        raise MotionLCMError(f"{source}: no valid prompt lines")
    pipe = MotionPipeline.from_pretrained(args.ckpt, device=args.device)
    report = generate_batch(pipe, items, args.out, formats, batch_size=args.batch_size, steps=args.steps,
                            guidance=args.guidance, seed=args.seed or 0, model_id=str(args.ckpt or "embedded"),
                            video=_video_writer(args.body, args.smpl_dir))
    print(f"{report['generated']} generated, {report['skipped']} already done, {len(problems)} malformed line(s); "
          f"manifest {report['manifest']}")
    return EXIT_PROBLEMS if problems else 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import torch
    import yaml

    from .evaluation.timing import (compile_pipeline, format_control_table, format_table, machine_description, random_pipeline,
                                    run_benchmark, run_control_benchmark, speedups, write_json)
    from .pipeline import MotionPipeline, parse_length, pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    frames = parse_length(args.length)
    batches = _int_list(args.batch_sizes, "--batch-sizes")
    lcm_steps = tuple(_int_list(args.lcm_steps, "--lcm-steps"))
    if args.mld or args.lcm:
        mld = MotionPipeline.from_pretrained(args.mld, device) if args.mld else None
        lcm = MotionPipeline.from_pretrained(args.lcm, device) if args.lcm else None
        source = f"checkpoints mld={args.mld} lcm={args.lcm}"
    else:
        from .configs import config_dir

        path = config_dir() / "model" / f"{args.model}.yaml"
        if not path.is_file():
            raise MotionLCMError(f"unknown model config {args.model!r} (looked for {path})")
        model = yaml.safe_load(path.read_text(encoding="utf-8"))
        mld, lcm = random_pipeline(model, "mld", device), random_pipeline(model, "lcm", device)
        source = f"model config {args.model} with random weights"
    if args.compile:
        for pipe in (mld, lcm):
            if pipe is not None:
                compile_pipeline(pipe, "reduce-overhead" if args.cuda_graphs else None)
    machine = machine_description(device)
    print(f"benchmark on {machine}: {source}, {frames} frames, median of {args.repeats} after {args.warmup} warm-up",
          file=sys.stderr)
    rows = run_benchmark(mld, lcm, batches, frames, args.repeats, args.warmup, args.mld_steps, args.mld_guidance, lcm_steps,
                         progress=lambda what: print(f"  timing {what} ...", file=sys.stderr))
    print(format_table(rows))
    for name, factor in speedups(rows).items():
        print(f"denoising speed-up of {name} over MLD: {factor:.0f}x")
    if lcm is not None and not args.no_control:
        control_rows = run_control_benchmark(lcm, frames, args.repeats, args.warmup,
                                             progress=lambda what: print(f"  timing {what} ...", file=sys.stderr))
        print(format_control_table(control_rows))
        rows += control_rows
    if args.out:
        settings = {"source": source, "frames": frames, "repeats": args.repeats, "warmup": args.warmup,
                    "compile": args.compile, "cuda_graphs": args.cuda_graphs}
        write_json(args.out, rows, machine, settings)
        print(f"wrote {args.out}")
    return 0


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise MotionLCMError(f"{option}: expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise MotionLCMError(f"{option}: expected positive integers, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="motionlcm", description="Real-time, controllable text-to-motion generation (MotionLCM).")
    parser.add_argument("--version", action="version", version=f"motionlcm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    data = commands.add_parser("data", help="prepare, check and synthesise HumanML3D-layout datasets")
    data_cmds = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    p = data_cmds.add_parser("check", help="validate a dataset and list every problem (exit 1 if any)")
    p.add_argument("dir", help="dataset root (new_joint_vecs/, texts/, Mean.npy, Std.npy, split files)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_data_check)

    p = data_cmds.add_parser("stats", help="compute Mean/Std of features and per-joint position mean/std")
    p.add_argument("dir", help="dataset root")
    p.add_argument("--split", default="train", help="split to compute statistics on (default: train)")
    p.add_argument("--out", help="where to write Mean.npy, Std.npy, Mean_raw.npy, Std_raw.npy (default: the dataset root)")
    p.add_argument("--force", action="store_true", help="overwrite existing statistics files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_data_stats)

    p = data_cmds.add_parser("to-features", help="joint positions (T, 22, 3) .npy file or folder -> 263-d features")
    p.add_argument("input", help="a joints .npy file or a folder of them (SMPL 24/52/55-joint layouts keep the first 22)")
    p.add_argument("output", help="output .npy file, or folder")
    p.add_argument("--no-retarget", action="store_true", help="skip retargeting to the HumanML3D skeleton")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_to_features)

    p = data_cmds.add_parser("to-joints", help="263-d features .npy file or folder -> joint positions (T, 22, 3)")
    p.add_argument("input", help="a features .npy file or a folder of them")
    p.add_argument("output", help="output .npy file, or folder")
    p.add_argument("--fk", action="store_true", help="use forward kinematics of the 6D rotations instead of the ric positions")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_to_joints)

    p = data_cmds.add_parser("synth", help="generate the procedural text-labelled motion corpus")
    p.add_argument("--out", required=True, help="output dataset folder (must not exist or be empty)")
    p.add_argument("--num", type=int, default=4000, help="number of motions (default 4000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: up to 8, one per CPU)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_data_synth)

    p = commands.add_parser("train", help="train a stage: motionlcm train stage=vae|mld|lcm|control|evaluator experiment=embedded [key=value ...]")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. stage=vae experiment=embedded data.root=DIR trainer.max_steps=300")
    p.set_defaults(func=_cmd_train)

    p = commands.add_parser("generate", help="generate motions from text (one prompt, or a prompts file)")
    p.add_argument("prompt", nargs="?", help="what the person does, e.g. 'a person jumps'")
    p.add_argument("--prompts", help="file of prompts, one per line: 'text#frames' or plain text (uses --length)")
    p.add_argument("--formats", default="npz", help="with --prompts: comma-separated npz,bvh,glb,mp4 (default npz)")
    p.add_argument("--batch-size", type=int, default=32, help="with --prompts: motions per model call (default 32)")
    p.add_argument("--ckpt", default=None, help="checkpoint folder (an export/ written by `motionlcm train`; default: the shipped embedded model)")
    p.add_argument("--length", default="4s", help="seconds ('4s') or frames ('80'); 0.8-9.8 s (default 4s)")
    p.add_argument("--out", default=None, help="output file .npz/.bvh/.glb/.mp4 (default motion.npz); with --prompts, a folder")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: the checkpoint's)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (default: the checkpoint's)")
    p.add_argument("--seed", type=int, default=None, help="random seed 0-2147483647 (default: random, printed; with --prompts, line n uses seed+n)")
    p.add_argument("--num-samples", type=int, default=1, help="motions to generate for the prompt")
    p.add_argument("--body", choices=("stick", "mannequin", "smpl"), default="stick",
                   help="body drawn in .mp4 outputs: stick figure (fast), mannequin mesh, or SMPL (needs --smpl-dir)")
    p.add_argument("--smpl-dir", default=None, help="folder with SMPL model files (or set MOTIONLCM_SMPL_DIR)")
    p.add_argument("--control", default=None, metavar="SPEC",
                   help="JSON control spec: joint points, paths and keyframes to follow (docs/control_spec.md)")
    p.add_argument("--tune-steps", type=int, default=0, metavar="N",
                   help="consistency latent tuning steps towards the --control hints (MotionLCM: 400; LCM-based checkpoints)")
    p.add_argument("--no-exact-hints", action="store_true",
                   help="skip the motion-space correction that makes the joints meet the hints exactly")
    p.add_argument("--no-controlnet", action="store_true",
                   help="do not sample through the companion ControlNet the model lists for the hinted joints "
                        "(the default model: its pelvis ControlNet under pelvis-only hints)")
    p.add_argument("--candidates", type=int, default=None, metavar="N",
                   help="with --control: samples drawn, the one passing nearest the hints kept (default: the pipeline's)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.set_defaults(func=_cmd_generate)

    p = commands.add_parser("bench", help="time text encoding, denoising and decoding of MLD and MotionLCM")
    p.add_argument("--mld", help="MLD checkpoint folder (default: random weights of --model)")
    p.add_argument("--lcm", help="MotionLCM checkpoint folder (default: random weights of --model)")
    p.add_argument("--model", default="embedded", help="model config for random weights: embedded, humanml3d_v2, humanml3d_v1")
    p.add_argument("--batch-sizes", default="1,32", help="comma-separated batch sizes (default 1,32)")
    p.add_argument("--length", default="196", help="motion length, frames or seconds (default 196 frames)")
    p.add_argument("--mld-steps", type=int, default=50)
    p.add_argument("--mld-guidance", type=float, default=7.5)
    p.add_argument("--lcm-steps", default="1,2,4", help="comma-separated LCM step counts (default 1,2,4)")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per measurement; the median is reported")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls first")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--compile", action="store_true", help="torch.compile the denoiser and the VAE decoder")
    p.add_argument("--cuda-graphs", action="store_true", help="with --compile: mode reduce-overhead (CUDA graphs)")
    p.add_argument("--no-control", action="store_true", help="skip the control timings (exact hints per joint set)")
    p.add_argument("--out", help="also write the results as JSON")
    p.set_defaults(func=_cmd_bench)

    from .app import add_app_parser
    from .convert import add_convert_parser
    from .evaluation.cli import add_eval_parser

    add_eval_parser(commands)
    add_app_parser(commands)
    add_convert_parser(commands)

    p = commands.add_parser("viz", help="render joints as a stick-figure GIF or MP4")
    p.add_argument("source", help="a joints or features .npy, an .npz with 'joints', or a dataset id with --data")
    p.add_argument("--data", help="dataset root, when SOURCE is a motion id")
    p.add_argument("--out", required=True, help="output .gif or .mp4")
    p.add_argument("--fps", type=int, default=20)
    p.add_argument("--size", type=int, default=480, help="frame width and height in pixels")
    p.add_argument("--title", help="caption drawn on the frames")
    p.set_defaults(func=_cmd_viz)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MotionLCMError as exc:
        print(f"motionlcm: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("motionlcm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
