"""The evaluation runner and `motionlcm eval`: protocol bookkeeping on the tiny fixture dataset.

The 'all' split of the fixture dataset has 5 samples, so R-precision uses one group of 5 (groups of
min(32, N)), Diversity 5 pairs and MultiModality 5 captions; a tiny evaluator (hash:32 text encoder)
is trained through the real config path, as the tiny generators of the `trained` fixture are.
"""
import argparse
import json
import re
import shutil

import numpy as np
import pytest
import torch

from motionlcm.data.humanml3d import Caption
from motionlcm.errors import MotionLCMError
from motionlcm.evaluation import metrics as M
from motionlcm.evaluation.cli import add_eval_parser, default_run_name
from motionlcm.evaluation.runner import (
    TABLE_COLUMNS,
    EvalEvaluator,
    effective_sizes,
    evaluate_text_to_motion,
    format_table,
    load_eval_evaluator,
    plan_replication,
    write_results,
)

TINY_EVALUATOR = ["stage.text_encoder=hash:32", "stage.evaluator.width=32", "stage.evaluator.num_layers=1",
                  "stage.evaluator.num_heads=2", "stage.evaluator.ffn_dim=64", "stage.evaluator.text_hidden=32",
                  "stage.evaluator.embed_dim=16", "stage.evaluator.dropout=0.0"]
SPLIT = "all"  # 5 samples; the fixture's test split has a single one


@pytest.fixture(scope="module")
def evaluator_dir(trained):
    from motionlcm.training.run import compose_config, train
    from tests.training_helpers import common

    out = trained["base"] / "evaluator"
    return train(compose_config(["stage=evaluator", *common(trained["dataset"], out, steps=2), *TINY_EVALUATOR]))


@pytest.fixture(scope="module")
def quick_results(trained, evaluator_dir):
    from motionlcm.pipeline import MotionPipeline

    mld = MotionPipeline.from_pretrained(trained["mld"], device="cpu")
    methods = ["gt", "vae", ("MLD-2", mld, 2, 7.5), "ckpt"]
    return evaluate_text_to_motion(methods, trained["dataset"], evaluator_dir, split=SPLIT, quick=True, num_steps=1,
                                   ckpt=trained["lcm"], progress=False, device="cpu")


def crops(samples, items):
    """Padded raw crops of a replication's items, built here independently of the runner."""
    lengths = np.array([it.length for it in items])
    motion = np.zeros((len(items), lengths.max(), 263), np.float32)
    for row, it in enumerate(items):
        motion[row, : it.length] = samples[it.sample].motion[it.start : it.start + it.length]
    return motion, lengths


def test_gt_against_itself_gives_zero_fid_and_the_metric_functions_r_precision(trained, evaluator_dir):
    from motionlcm.data.humanml3d import HumanML3DDataset
    from motionlcm.models.evaluator import load_evaluator

    results = evaluate_text_to_motion("gt", trained["dataset"], evaluator_dir, split=SPLIT, replications=3, seed=7,
                                      progress=False, device="cpu")
    assert [m["name"] for m in results["methods"]] == ["GT"]
    reps = results["methods"][0]["replications"]
    assert all(len(values) == 3 for values in reps.values()) and "MModality" not in reps  # one motion per caption
    assert results["settings"]["group_size"] == 5 and results["settings"]["samples"] == 5
    assert results["settings"]["warnings"] == []  # the evaluator was trained on this dataset

    samples = HumanML3DDataset(trained["dataset"], SPLIT, mode="eval").samples
    evaluator = load_evaluator(evaluator_dir)
    for replication in range(3):
        items = plan_replication(samples, 7, replication)
        motion, lengths = crops(samples, items)
        text = evaluator.embed_text([it.caption.text for it in items])
        real = evaluator.embed_motion(motion, lengths)
        expected = M.r_precision(text, real, group_size=5)
        assert [reps["R@1"][replication], reps["R@2"][replication], reps["R@3"][replication]] == pytest.approx(expected.tolist())
        assert reps["MM-Dist"][replication] == pytest.approx(M.mm_dist(text, real), rel=1e-5)
        scale = float(real.double().square().sum(1).mean())
        assert 0.0 <= reps["FID"][replication] < 1e-6 * scale
    assert plan_replication(samples, 7, 0) == plan_replication(samples, 7, 0) != plan_replication(samples, 7, 1)
    for name, (mean, interval) in results["metrics"].items():
        assert (mean, interval) == pytest.approx(M.mean_and_interval(reps[name]))
    assert all(it.length % 4 == 0 and it.length <= 196 for it in plan_replication(samples, 7, 0))


def test_quick_run_of_several_methods(quick_results):
    methods = {m["name"]: m for m in quick_results["methods"]}
    assert list(methods) == ["GT", "VAE", "MLD-2", "MotionLCM-1"]
    settings = quick_results["settings"]
    assert settings["replications"] == 2 and settings["quick"] and settings["mm_captions"] == 5
    assert settings["mm_repeats"] == 5 and settings["mm_pairs"] == 5 and settings["diversity_pairs"] == 5
    assert quick_results["cost_s"] > 0 and "metrics" not in quick_results  # several methods: no top-level metrics
    for m in methods.values():
        assert all(len(v) == 2 for v in m["replications"].values())
        for mean, interval in m["metrics"].values():
            assert np.isfinite(mean) and np.isfinite(interval) and interval >= 0
        r = [m["metrics"][f"R@{k}"][0] for k in (1, 2, 3)]
        assert 0.0 <= r[0] <= r[1] <= r[2] <= 1.0
    vae = methods["VAE"]["metrics"]
    assert all(vae[name][0] > 0 for name in ("MPJPE", "PA-MPJPE", "AccelErr"))
    for name in ("MLD-2", "MotionLCM-1"):
        assert methods[name]["metrics"]["MModality"][0] >= 0 and methods[name]["aits"] > 0
        assert methods[name]["steps"] == int(name.split("-")[1])
    for name in ("GT", "VAE"):
        assert "MModality" not in methods[name]["metrics"] and "aits" not in methods[name]


def test_table_and_files(quick_results, tmp_path):
    table = format_table(quick_results)
    lines = table.splitlines()
    assert lines[0] == "| Method | " + " | ".join(TABLE_COLUMNS) + " |"
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines[2:6]}
    assert list(rows) == ["GT", "VAE", "MLD-2", "MotionLCM-1"]
    fid_cell = rows["VAE"][TABLE_COLUMNS.index("FID")]
    mean, interval = (float(x) for x in re.fullmatch(r"(-?[\d.]+)±([\d.]+)", fid_cell).groups())
    assert (mean, interval) == pytest.approx(quick_results["methods"][1]["metrics"]["FID"], abs=6e-4)
    assert rows["GT"][TABLE_COLUMNS.index("MModality")] == "-" and rows["GT"][TABLE_COLUMNS.index("AITS")] == "-"
    assert "MPJPE (mm)" in table  # the reconstruction table for the VAE row

    paths = write_results(tmp_path / "out", quick_results)
    data = json.loads(paths["json"].read_text())
    assert [m["name"] for m in data["methods"]] == ["GT", "VAE", "MLD-2", "MotionLCM-1"]
    assert data["methods"][1]["metrics"]["MPJPE"] == pytest.approx(list(quick_results["methods"][1]["metrics"]["MPJPE"]))
    assert data["settings"]["evaluator"]["kind"] == "trained"
    markdown = paths["markdown"].read_text()
    assert table in markdown and "2 replication(s)" in markdown
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["results.json", "results.md"]  # no temp files left


def test_small_sets_shrink_the_groups():
    sizes = effective_sizes(5, 32, 300, 100, 30, 10)
    assert (sizes.group_size, sizes.diversity_pairs, sizes.mm_captions, sizes.mm_repeats, sizes.mm_pairs) == (5, 5, 5, 30, 10)
    full = effective_sizes(4384, 32, 300, 100, 30, 10)
    assert (full.group_size, full.diversity_pairs, full.mm_captions) == (32, 300, 100)
    with pytest.raises(MotionLCMError, match="at least 2 test samples"):
        effective_sizes(1, 32, 300, 100, 30, 10)


def eval_args(*overrides):
    parser = argparse.ArgumentParser(prog="motionlcm")
    add_eval_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["eval", *overrides])


def test_cli_writes_the_table_and_files(trained, evaluator_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    methods = f"methods=[gt,vae,{{name:LCM,ckpt:'{trained['lcm']}',steps:[1,2]}}]"
    args = eval_args(f"vae={trained['vae']}", f"data.root={trained['dataset']}", f"data.split={SPLIT}",
                     f"evaluator={evaluator_dir}", "replications=1", "mm=false", methods, f"out={out}", "progress=false")
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "| Method | R@1" in printed and "| LCM-2 |" in printed and f"wrote {out / 'results.json'}" in printed
    data = json.loads((out / "results.json").read_text())
    assert [m["name"] for m in data["methods"]] == ["GT", "VAE", "LCM-1", "LCM-2"]
    assert data["settings"]["replications"] == 1 and not data["settings"]["mm"]
    assert (out / "results.md").read_text().startswith("# Text-to-motion evaluation")
    assert default_run_name({"ckpt": str(trained["lcm"])}) == f"{trained['base'].name}-lcm"


class StubOfficialEvaluator:
    """Stands in for the official network (20M parameters): records what it is asked to embed."""

    def __init__(self):
        self.mean, self.std, self.captions = torch.zeros(263), torch.ones(263), []

    def embed_text(self, captions):
        self.captions.extend(captions)
        return torch.tensor([[float(len(c)), float(len(" ".join(c))), 0.0, 1.0] for c in captions])

    def embed_motion(self, features, lengths):
        valid = (torch.arange(features.shape[1])[None] < lengths[:, None]).float()[..., None]
        return (features[..., :4] * valid).sum(1) / valid.sum(1)


def test_official_layout_is_detected_and_gets_the_caption_tokens(trained, tmp_path, monkeypatch):
    from motionlcm.models import t2m_evaluator as T

    stub = StubOfficialEvaluator()
    monkeypatch.setattr(T, "load_official_evaluator", lambda directory, device: stub)
    (tmp_path / "deps" / "t2m").mkdir(parents=True)
    results = evaluate_text_to_motion("gt", trained["dataset"], tmp_path / "deps", split=SPLIT, replications=1,
                                      progress=False, device="cpu")
    assert results["settings"]["evaluator"]["kind"] == "official"
    assert ("a/DET", "short/ADJ", "clip/NOUN") in stub.captions and all(isinstance(c, tuple) for c in stub.captions)
    # a caption line without tokens falls back to its text (tagged by the evaluator)
    evaluator = EvalEvaluator(stub, "official", tmp_path)
    evaluator.embed_captions([Caption("a person waves", ())])
    assert stub.captions[-1] == "a person waves"


@pytest.fixture()
def wrong_evaluators(evaluator_dir, tmp_path):
    """Copies of the tiny evaluator with a 10-d normalisation, and with another dataset's statistics."""
    bad_size, other_stats = tmp_path / "bad_size", tmp_path / "other_stats"
    for folder in (bad_size, other_stats):
        shutil.copytree(evaluator_dir, folder)
    np.save(bad_size / "Mean.npy", np.zeros(10, np.float32))
    np.save(bad_size / "Std.npy", np.ones(10, np.float32))
    np.save(other_stats / "Mean.npy", np.load(evaluator_dir / "Mean.npy") + 1.0)
    return {"bad_size": bad_size, "other_stats": other_stats}


def test_an_evaluator_trained_on_other_data_is_flagged(trained, wrong_evaluators):
    results = evaluate_text_to_motion("gt", trained["dataset"], wrong_evaluators["other_stats"], split=SPLIT,
                                      replications=1, progress=False, device="cpu")
    assert len(results["settings"]["warnings"]) == 1 and "differ from the dataset" in results["settings"]["warnings"][0]


@pytest.mark.parametrize("override, message", [
    ("evaluator={missing}", "evaluator folder not found"),
    ("evaluator=null", "no evaluator given"),
    ("evaluator={empty}", "not an evaluator"),
    ("evaluator={official_incomplete}", "official evaluator files missing"),
    ("evaluator={bad_size}", "normalisation has shape"),
    ("data.root={missing}", "dataset folder not found"),
    ("ckpt={missing}", "ckpt checkpoint folder not found"),
    ("ckpt={evaluator}", "this needs 'mld' or 'lcm'"),
    ("ckpt=null", "no checkpoint is given"),
    ("replications=0", "replications must be a positive integer"),
    ("batch_size=many", "batch_size must be a positive integer"),
    ("methods=[gt,bogus]", "unknown method 'bogus'"),
    ("steps=[1,0]", "steps must be a positive integer"),
    ("device=tpu9", "unknown device"),
    ("colour=blue", "bad eval config"),
])
def test_user_errors_are_one_line(trained, evaluator_dir, wrong_evaluators, tmp_path, override, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "official_incomplete" / "t2m").mkdir(parents=True)
    paths = {"missing": tmp_path / "nowhere", "empty": tmp_path / "empty", "evaluator": evaluator_dir,
             "official_incomplete": tmp_path / "official_incomplete", **wrong_evaluators}
    base = {"ckpt": trained["lcm"], "data.root": trained["dataset"], "data.split": SPLIT, "evaluator": evaluator_dir,
            "replications": 1, "mm": "false", "methods": "[gt,ckpt]", "out": tmp_path / "out", "progress": "false"}
    key = override.split("=", 1)[0]
    overrides = [f"{k}={v}" for k, v in base.items() if k != key] + [override.format(**paths)]
    args = eval_args(*overrides)
    with pytest.raises(MotionLCMError, match=re.escape(message)) as info:
        args.func(args)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_load_eval_evaluator_checks_the_folder(tmp_path):
    with pytest.raises(MotionLCMError, match="evaluator folder not found"):
        load_eval_evaluator(tmp_path / "nope")
    with pytest.raises(MotionLCMError, match="no evaluator given"):
        load_eval_evaluator(None)


class OffsetControlPipe:
    """Stands in for a control checkpoint: returns the hints shifted by a known offset at every controlled point."""

    controlnet, sampler_kind, kind, name, default_steps = object(), "lcm", "control", "fake", 1

    def __init__(self, offset):
        self.offset, self.calls = np.asarray(offset, np.float32), []

    def guidance_for(self, steps):
        return 1.0

    def __call__(self, texts, lengths, num_steps, guidance, seed, control, latent_tuning_steps, exact_hints=True,
                 hint_refinement=True):
        from motionlcm.pipeline import MotionOutput

        hints, mask = control
        self.calls.append((hints, mask, list(lengths)))
        joints = np.where(mask[..., None], hints + self.offset, 0.0).astype(np.float32)
        features = np.zeros((len(texts), hints.shape[1], 263), np.float32)
        return MotionOutput(features, joints, np.array(lengths), list(texts), seed, 1, 1.0, {"total": 0.1})


def test_controlled_generator_hints_and_errors(trained):
    from motionlcm.data.humanml3d import HumanML3DDataset
    from motionlcm.evaluation.runner import ControlledGenerator, make_batch, sample_seeds
    from motionlcm.motion.features import features_to_joints

    samples = HumanML3DDataset(trained["dataset"], SPLIT, mode="eval").samples
    items = plan_replication(samples, 3, 0)
    batch = make_batch(samples, items, sample_seeds(3, 0, 0, len(items)))
    pipe = OffsetControlPipe([0.3, 0.0, 0.0])
    out = ControlledGenerator(pipe, 1, None, "pelvis", 2, exact=False).generate(batch)
    hints, mask, lengths = pipe.calls[0]
    assert lengths == [it.length for it in items]
    assert (mask.sum((1, 2)) == 2).all() and not mask[..., 1:].any()  # two pelvis frames per crop
    frame_mask = torch.arange(batch.motion.shape[1])[None] < torch.as_tensor(batch.lengths)[:, None]
    truth = features_to_joints(torch.as_tensor(batch.motion, dtype=torch.float64), frame_mask).numpy()
    np.testing.assert_allclose(hints[mask], truth[mask], atol=1e-5)
    # every controlled point 30 cm off: under 50 cm, over 20 cm
    assert out.control["avg_err"] == pytest.approx(0.3, abs=1e-6)
    assert out.control["traj_err_50cm"] == 0.0 and out.control["loc_err_50cm"] == 0.0
    assert out.control["traj_err_20cm"] == 1.0 and out.control["loc_err_20cm"] == 1.0
    again = OffsetControlPipe([0.0, 0.0, 0.0])
    ControlledGenerator(again, 1, None, "pelvis", 2, exact=False).generate(batch)
    np.testing.assert_array_equal(again.calls[0][1], mask)  # same seeds, same controlled frames
    assert ControlledGenerator(pipe, 1, None, "all", "25%", tune_steps=5).default_name == "MotionLCM-Control-1 all 25% +LT5 +exact"


def test_control_rows_through_the_runner(trained, evaluator_dir):
    spec = {"ckpt": trained["lcm"], "steps": 1, "control": {"joints": "pelvis", "density": ["100%", 2]}, "tune_steps": 2,
            "exact": False}
    results = evaluate_text_to_motion(["gt", spec], trained["dataset"], evaluator_dir, split=SPLIT, quick=True,
                                      progress=False, device="cpu")
    methods = {m["name"]: m for m in results["methods"]}
    assert list(methods) == ["GT", "MotionLCM-1 pelvis 100% +LT2", "MotionLCM-1 pelvis 2 +LT2"]
    for name in list(methods)[1:]:
        metrics = methods[name]["metrics"]
        assert "MModality" not in metrics and methods[name]["tune_steps"] == 2
        assert all(len(methods[name]["replications"][c]) == 2 for c in ("avg_err", "traj_err_50cm", "skating"))
        assert metrics["avg_err"][0] > 0 and 0 <= metrics["traj_err_50cm"][0] <= 1
    assert "Avg. err (m)" in format_table(results) and "MotionLCM-1 pelvis 2 +LT2 |" in format_table(results)
    exact = evaluate_text_to_motion([{**spec, "tune_steps": 0, "exact": True}], trained["dataset"], evaluator_dir,
                                    split=SPLIT, quick=True, progress=False, device="cpu")
    row = exact["methods"][0]
    assert row["name"] == "MotionLCM-1 pelvis 100% +exact" and row["exact_hints"] is True
    assert row["metrics"]["avg_err"][0] < 1e-4  # met by construction, without a ControlNet or tuning
    with pytest.raises(MotionLCMError, match="needs a control checkpoint, tune_steps > 0 or exact hints"):
        evaluate_text_to_motion([{**spec, "tune_steps": 0}], trained["dataset"], evaluator_dir, split=SPLIT, quick=True,
                                progress=False, device="cpu")
    with pytest.raises(MotionLCMError, match="unknown key"):
        evaluate_text_to_motion([{**spec, "control": {"joint": "pelvis"}}], trained["dataset"], evaluator_dir,
                                split=SPLIT, quick=True, progress=False, device="cpu")
    with pytest.raises(MotionLCMError, match=r"refine must be true or false, got \['maybe'\]"):
        evaluate_text_to_motion([{**spec, "refine": "maybe"}], trained["dataset"], evaluator_dir,
                                split=SPLIT, quick=True, progress=False, device="cpu")


def test_aits_counts_latent_tuning_but_not_joint_recovery():
    from motionlcm.evaluation.runner import average_time_per_sentence

    calls = [{"text": 9.0, "denoise": 9.0, "decode": 9.0, "joints": 9.0, "tuning": 9.0},  # warm-up: left out
             {"text": 0.01, "denoise": 0.002, "decode": 0.02, "joints": 0.001, "tuning": 0.5}]
    parts = average_time_per_sentence(calls, [True, True])
    assert parts["aits"] == pytest.approx(0.532) and parts["joints"] == pytest.approx(0.001)
    plain = average_time_per_sentence([{"text": 0.01, "denoise": 0.002, "decode": 0.02}], [True])
    assert plain["aits"] == pytest.approx(0.032)


class RootHeightShiftVAE(torch.nn.Module):
    """Stands in for a VAE: the latent is the normalised features; decoding lifts the root by ``lift`` metres."""

    def __init__(self, lift: float, std: np.ndarray) -> None:
        super().__init__()
        from types import SimpleNamespace

        self.config = SimpleNamespace(feature_dim=263, max_frames=196)
        self.lift = lift / float(std[3])  # feature 3 is the root height (raw metres)

    def encode(self, features, mask, sample=True):
        return features, None

    def decode(self, z, mask):
        shifted = z.clone()
        shifted[..., 3] += self.lift
        return shifted


@pytest.mark.parametrize("lift, avg_err, traj_20cm", [(0.0, 0.0, 0.0), (0.3, 0.3, 1.0)])
def test_controlled_reconstruction_scores_the_vae_on_the_control_points(trained, lift, avg_err, traj_20cm):
    from motionlcm.data.humanml3d import HumanML3DDataset
    from motionlcm.evaluation.runner import (
        ControlledGenerator,
        ControlledReconstruction,
        VAEReconstruction,
        make_batch,
        sample_seeds,
    )

    dataset = HumanML3DDataset(trained["dataset"], SPLIT, mode="eval")
    mean, std = np.load(trained["dataset"] / "Mean.npy"), np.load(trained["dataset"] / "Std.npy")
    items = plan_replication(dataset.samples, 3, 0)
    batch = make_batch(dataset.samples, items, sample_seeds(3, 0, 0, len(items)))
    fake = VAEReconstruction(RootHeightShiftVAE(lift, std), mean, std, torch.device("cpu"), "fake")
    recon = ControlledReconstruction(fake, "pelvis", 2)
    out = recon.generate(batch)
    # the whole body moves with the root: every controlled pelvis point is exactly `lift` off
    assert out.control["avg_err"] == pytest.approx(avg_err, abs=1e-4)
    assert out.control["traj_err_50cm"] == 0.0 and out.control["traj_err_20cm"] == traj_20cm
    pipe = OffsetControlPipe([0.0, 0.0, 0.0])
    ControlledGenerator(pipe, 1, None, "pelvis", 2).generate(batch)
    generated_mask = pipe.calls[0][1]
    assert generated_mask.sum() == 2 * len(items)  # the same two frames per crop as the generators get
    assert recon.variant == "pelvis 2" and recon.describe()["control"]["density"] == 2


def test_vae_control_rows_through_the_runner(trained, evaluator_dir):
    spec = {"name": "VAE", "vae": trained["lcm"], "control": {"joints": "pelvis", "density": ["100%", 2]}}
    results = evaluate_text_to_motion(["gt", spec], trained["dataset"], evaluator_dir, split=SPLIT, quick=True,
                                      progress=False, device="cpu")
    methods = {m["name"]: m for m in results["methods"]}
    assert list(methods) == ["GT", "VAE pelvis 100%", "VAE pelvis 2"]
    for name in ("VAE pelvis 100%", "VAE pelvis 2"):
        assert methods[name]["metrics"]["avg_err"][0] > 0 and "MPJPE" in methods[name]["metrics"]
    with pytest.raises(MotionLCMError, match="a 'vae' method reconstructs, it takes no steps"):
        evaluate_text_to_motion([{**spec, "steps": 1}], trained["dataset"], evaluator_dir, split=SPLIT, quick=True,
                                progress=False, device="cpu")


def test_crop_actions_cuts_the_actions_a_crop_sees():
    from motionlcm.evaluation.runner import crop_actions

    actions = [{"family": "walk", "frames": 100}, {"family": "jump", "frames": 40, "count": 1}]
    assert crop_actions(actions, 0, 140) == actions
    assert crop_actions(actions, 4, 132) == [{"family": "walk", "frames": 96}, {"family": "jump", "frames": 36, "count": 1}]
    assert crop_actions(actions, 100, 40) == [{"family": "jump", "frames": 40, "count": 1}]
    assert crop_actions(actions, 0, 120) is None  # half the jump is cut: its count no longer holds


class _FrozenPose:
    """A 'generator' that holds each crop's first pose: no motion at all."""

    default_name, samples_motion, reconstructs = "Frozen", False, False

    def generate(self, batch):
        from motionlcm.evaluation.runner import Generated

        return Generated(np.repeat(batch.motion[:, :1], batch.motion.shape[1], axis=1) * (
            np.arange(batch.motion.shape[1])[None, :, None] < batch.lengths[:, None, None]))

    def describe(self):
        return {"name": self.default_name}


def test_joint_quality_and_prompt_checks_in_every_row(evaluator_dir, tmp_path):
    """On a synth corpus, ground truth passes its rule-based checks and a frozen pose fails them;
    every row gets the physical measures."""
    from motionlcm.data.synth.dataset import synthesize_dataset

    root = tmp_path / "corpus"
    synthesize_dataset(root, num=40, seed=3, progress=False, workers=1)
    results = evaluate_text_to_motion(["gt", _FrozenPose()], root, evaluator_dir, split="test", replications=1,
                                      mm=False, progress=False, device="cpu")
    gt, frozen = (m["metrics"] for m in results["methods"])
    assert gt["prompt_ok"][0] >= 0.95 and frozen["prompt_ok"][0] < 0.2
    assert gt["foot_lifts_per_s"][0] > 0.3 and frozen["foot_lifts_per_s"][0] == 0.0
    assert gt["bone_std_cm"][0] < 0.01 and gt["jitter"][0] < 0.1
    assert any(k.startswith("prompt_ok/") for k in gt)
    table = format_table(results)
    assert "Prompt checks" in table and "Foot lifts" in table


class FixedMotionPipe:
    """Stands in for a generator checkpoint: returns given joints with all-zero features."""

    controlnet, sampler_kind, kind, name, default_steps = None, "lcm", "lcm", "fixed", 1

    def __init__(self, joints):
        self.joints = joints

    def guidance_for(self, steps):
        return 1.0

    def __call__(self, texts, lengths, num_steps, guidance, seed):
        from motionlcm.pipeline import MotionOutput

        joints = np.zeros((len(texts), max(lengths), 22, 3), np.float32)
        for i, n in enumerate(lengths):
            joints[i, :n] = self.joints[:n]
        return MotionOutput(np.zeros(joints.shape[:2] + (263,), np.float32), joints, np.array(lengths), list(texts),
                            seed, 1, 1.0, {"total": 0.1})


def test_exported_features_are_those_of_the_rig_whatever_the_placement(fixtures):
    """Features of joints already on the export rig, turned 37 deg about the vertical and moved 2 m,
    are the rig motion's own: the rig fit is exact on its own skeleton and features are relative to
    the first frame. A row with features: model keeps what the model decoded (here zeros)."""
    from motionlcm.body.smpl_pose import fit_rig
    from motionlcm.evaluation.runner import EvalBatch, PipelineGenerator
    from motionlcm.motion.features import features_to_joints, joints_to_features

    raw = np.load(fixtures / "new_joint_vecs" / "012314.npy").astype(np.float64)[:60]
    joints = features_to_joints(torch.as_tensor(raw)[None], torch.ones(1, 60, dtype=torch.bool))[0].numpy()
    _, on_rig = fit_rig(joints)
    expected = joints_to_features(torch.as_tensor(on_rig), retarget=False).numpy()
    angle = np.deg2rad(37.0)
    turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    placed = on_rig @ turn.T + np.array([2.0, 0.0, -1.0])
    batch = EvalBatch([Caption("a person walks", ())] * 2, np.array([60, 40]), np.zeros((2, 60, 263), np.float32), [0, 1])
    exported = PipelineGenerator(FixedMotionPipe(placed), 1, features="exported").generate(batch).features
    np.testing.assert_allclose(exported[0, :59], expected, atol=2e-4)
    np.testing.assert_allclose(exported[0, 59], expected[-1], atol=2e-4)  # the last frame repeats the one before
    assert np.abs(exported[1, 40:]).max() == 0  # zero past the length
    own = PipelineGenerator(FixedMotionPipe(placed), 1).generate(batch).features
    assert np.abs(own).max() == 0
    assert PipelineGenerator(FixedMotionPipe(placed), 1, features="exported").variant == "1 exported"
    from motionlcm.evaluation.runner import exported_features

    with pytest.raises(MotionLCMError, match="at least 2 frames per motion, got 1"):
        exported_features(placed[None, :3], [1])


def test_an_unknown_feature_source_fails_before_loading(trained, evaluator_dir, tmp_path):
    with pytest.raises(MotionLCMError, match="method features must be one of model, exported, got 'rig'"):
        evaluate_text_to_motion([{"ckpt": tmp_path / "missing", "steps": 1, "features": "rig"}], trained["dataset"],
                                evaluator_dir, split=SPLIT, quick=True, progress=False, device="cpu")
    with pytest.raises(MotionLCMError, match="takes no features"):
        evaluate_text_to_motion([{"vae": trained["lcm"], "features": "exported"}], trained["dataset"], evaluator_dir,
                                split=SPLIT, quick=True, progress=False, device="cpu")


def test_prompt_checks_judge_the_drawn_caption():
    """A motion turned the other way passes under its caption "turns around" and fails under
    "turns around to the left" (the corpus records which captions leave the side open)."""
    from motionlcm.data.humanml3d import MotionSample
    from motionlcm.data.synth.compose import synthesize_motion
    from motionlcm.evaluation.runner import EvalItem, PromptChecker
    from motionlcm.motion.mirror import mirror_joints

    for seed in range(200):
        joints, _, meta = synthesize_motion(np.random.default_rng([21, seed]), family="turn", num_actions=1)
        if len(meta["actions"]) == 1 and meta["actions"][0]["degrees"] == 180.0:
            break
    side = meta["actions"][0]["direction"]
    meta["captions"] = [{"text": "a person turns around", "sideless": [0]},
                        {"text": f"a person turns around to the {side}", "sideless": []}]
    frames = len(joints) - 1
    sample = MotionSample("000001", np.zeros((frames, 263), np.float32),
                          [Caption(c["text"], ()) for c in meta["captions"]])
    checker = PromptChecker([sample], {"000001": meta})
    other_way = np.asarray(mirror_joints(joints[:frames].astype(np.float32)))
    open_caption, named_caption = (EvalItem(0, c, 0, frames) for c in sample.captions)
    assert checker([open_caption], [other_way])["prompt_ok"] == 1.0
    assert checker([named_caption], [other_way])["prompt_ok"] == 0.0
    assert checker([named_caption], [joints[:frames]])["prompt_ok"] == 1.0
