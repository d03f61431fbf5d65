"""Batch generation from a prompts file: formats, manifest, reruns, malformed lines, per-item seeds."""
import json
import shutil

import numpy as np
import pytest

from motionlcm.batch import parse_formats, parse_prompt_lines
from motionlcm.cli import main
from motionlcm.errors import MotionLCMError


def test_prompt_lines_with_and_without_lengths():
    items, problems = parse_prompt_lines(["a person jumps#52", "", "# a comment", "walks forward", "bad#12", "#40",
                                          "runs#3.5s", "x#abc"], default_frames=80)
    assert [(i.line, i.text, i.frames) for i in items] == [(1, "a person jumps", 52), (4, "walks forward", 80),
                                                          (7, "runs", 70)]
    assert [p.split(":")[0] for p in problems] == ["line 5", "line 8"]  # 12 frames too short; 'abc' not a length
    assert "outside 16-196" in problems[0]


def test_the_fixture_prompts_all_parse(fixtures):
    items, problems = parse_prompt_lines((fixtures / "example_prompts.txt").read_text().splitlines(), 80)
    assert len(items) == 12 and not problems  # 12 lines, the last without a newline
    assert items[4].text == "a person jumps up and then lands." and items[4].frames == 52


def test_formats_are_validated():
    assert parse_formats("npz, BVH,npz") == ("npz", "bvh")
    with pytest.raises(MotionLCMError, match="unknown format"):
        parse_formats("npz,fbx")


def test_batch_generation_writes_every_format_and_resumes(trained, tmp_path, capsys):
    import pybvh
    import trimesh

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a person jumps#40\nwalks in a circle\nnonsense#5\na person waves#2s\n")
    out = tmp_path / "out"
    argv = ["generate", "--prompts", str(prompts), "--ckpt", str(trained["lcm"]), "--out", str(out), "--formats",
            "npz,bvh,glb,mp4", "--batch-size", "2", "--length", "1s", "--seed", "100"]
    assert main(argv) == 1  # malformed line reported -> exit 1, valid lines done
    captured = capsys.readouterr()
    assert "line 3:" in captured.err and "3 generated, 0 already done, 1 malformed" in captured.out
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["items"]) == 3
    entries = sorted(manifest["items"].values(), key=lambda e: e["line"])
    assert [(e["line"], e["frames"], e["seed"]) for e in entries] == [(1, 40, 101), (2, 20, 102), (4, 40, 104)]
    for entry in entries:
        files = {fmt: out / name for fmt, name in entry["files"].items()}
        assert all(p.is_file() for p in files.values())
        with np.load(files["npz"]) as data:
            assert data["joints"].shape == (entry["frames"], 22, 3) and str(data["text"]) == entry["text"]
        assert pybvh.read_bvh_file(str(files["bvh"])).frame_count == entry["frames"]
        assert isinstance(trimesh.load(files["glb"]), trimesh.Scene)
    assert not list(out.glob(".*tmp*"))  # no half-written files left
    # A rerun skips finished items; a deleted output is regenerated identically.
    first_npz = out / entries[0]["files"]["npz"]
    before = np.load(first_npz)["joints"]
    first_npz.unlink()
    assert main(argv) == 1
    assert "1 generated, 2 already done" in capsys.readouterr().out
    np.testing.assert_allclose(np.load(first_npz)["joints"], before, atol=1e-5)


def test_per_item_seeds_do_not_depend_on_the_batch(trained):
    from motionlcm.pipeline import MotionPipeline

    pipe = MotionPipeline.from_pretrained(trained["lcm"], device="cpu")
    alone = pipe(["a person kicks"], [40], num_steps=2, seed=[5])
    together = pipe(["a person runs", "a person kicks"], [60, 40], num_steps=2, seed=[9, 5])
    np.testing.assert_allclose(together.joints[1, :40], alone.joints[0], atol=1e-5)
    assert together.seed_of(1) == 5


def test_generate_single_prompt_to_bvh(trained, tmp_path, capsys):
    import pybvh

    out = tmp_path / "jump.bvh"
    assert main(["generate", "a person jumps", "--ckpt", str(trained["lcm"]), "--length", "30", "--seed", "1",
                 "--out", str(out)]) == 0
    assert pybvh.read_bvh_file(str(out)).frame_count == 30
    assert main(["generate", "a person jumps", "--ckpt", str(trained["lcm"]), "--out", str(tmp_path / "x.fbx")]) == 2
    assert "must end in one of" in capsys.readouterr().err
    assert main(["generate", "--ckpt", str(trained["lcm"])]) == 2
    assert "either a PROMPT or --prompts" in capsys.readouterr().err


def test_bench_runs_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--batch-sizes", "1", "--repeats", "1", "--warmup", "0", "--mld-steps", "2", "--lcm-steps", "1",
                 "--length", "40", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| MLD-2 (CFG 7.5) | 1 |" in table and "| MotionLCM-1 | 1 |" in table
    payload = json.loads(out.read_text())
    methods = [r["method"] for r in payload["rows"]]
    assert methods[:2] == ["MLD-2 (CFG 7.5)", "MotionLCM-1"]
    # then the control timings: exact hints per joint set and density, each with its largest hint error
    control = payload["rows"][2:]
    assert [m.split(", ", 1)[1] for m in methods[2:]] == ["pelvis 100%", "pelvis 25%", "pelvis 5 frames", "pelvis 1 frame",
                                                          "left foot 25%", "head 25%", "right wrist 25%", "all six 25%"]
    # (random weights here: the motions are not human, so only that the error is measured, not its size)
    assert all(r["median_ms"]["total"] > 0 and np.isfinite(r["median_ms"]["max_error_mm"]) for r in control)
    assert set(payload["rows"][0]["median_ms"]) == {"text", "denoise", "decode", "joints", "total"}
    assert payload["machine"]["device"] == "cpu" and "MotionLCM-1 batch 1" in payload["denoise_speedup"]
    assert main(["bench", "--batch-sizes", "0"]) == 2


def test_generate_mp4_with_the_mannequin_body(trained, tmp_path, capsys):
    import imageio.v3 as iio

    out = tmp_path / "m.mp4"
    assert main(["generate", "a person jumps", "--ckpt", str(trained["lcm"]), "--length", "16", "--seed", "1",
                 "--body", "mannequin", "--out", str(out)]) == 0
    frames = iio.imread(out)
    assert len(frames) == 16 and frames.std() > 5  # 16 rendered, non-blank frames
    assert main(["generate", "a person jumps", "--ckpt", str(trained["lcm"]), "--body", "smpl", "--smpl-dir",
                 str(tmp_path / "nowhere"), "--out", str(tmp_path / "s.mp4")]) == 2
    assert "SMPL" in capsys.readouterr().err
