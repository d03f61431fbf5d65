"""Best of N samples for hinted prompts (``hint_candidates``): the sample kept passes at least as
near its hints as the first candidate (the one a single draw gives), unhinted samples are untouched."""
from pathlib import Path

import numpy as np
import pytest

from motionlcm.errors import MotionLCMError
from motionlcm.pipeline import MotionPipeline

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "checkpoints"
FRAMES = 60


@pytest.fixture(scope="module")
def student():
    return MotionPipeline.from_pretrained(SHIPPED / "motionlcm", device="cpu")


def _pelvis_keyframes():
    """The pelvis 1.5 m to the left of the start after 2.5 s, hinted at 3 frames."""
    hints = np.zeros((FRAMES, 22, 3), np.float32)
    hints[:, 0] = np.linspace([0.0, 0.93, 0.0], [1.5, 0.93, 0.6], FRAMES)
    mask = np.zeros((FRAMES, 22), bool)
    mask[[0, 30, 59], 0] = True
    return hints, mask


def _distance(joints, hints, mask):
    return float(np.linalg.norm(joints[mask] - hints[mask], axis=-1).mean())


def test_the_kept_candidate_is_nearest_and_unhinted_samples_are_untouched(student):
    hints, mask = _pelvis_keyframes()
    texts = ["a person walks forward", "a person walks forward", "a person jumps"]
    none = np.zeros_like(mask)
    control = (np.stack([hints, hints, hints]), np.stack([mask, mask, none]))
    raw = dict(num_steps=1, seed=[3, 8, 5], exact_hints=False, hint_refinement=False)
    one = student(texts, FRAMES, control=control, hint_candidates=1, **raw)
    many = student(texts, FRAMES, control=control, hint_candidates=6, **raw)
    again = student(texts, FRAMES, control=control, hint_candidates=6, **raw)
    np.testing.assert_array_equal(many.joints, again.joints)  # deterministic
    near = [_distance(many.joints[i], hints, mask) for i in (0, 1)]
    first = [_distance(one.joints[i], hints, mask) for i in (0, 1)]
    assert all(n <= f + 1e-6 for n, f in zip(near, first)), (near, first)
    assert min(f - n for n, f in zip(near, first)) >= 0 and max(f - n for n, f in zip(near, first)) > 0.01
    np.testing.assert_allclose(many.joints[2], one.joints[2], atol=1e-6)  # no hints: its own first draw
    alone = student(texts[:1], FRAMES, control=(hints, mask), hint_candidates=6, **{**raw, "seed": [3]})
    np.testing.assert_allclose(alone.joints[0], many.joints[0], atol=1e-5)  # whatever else is in the batch


def test_candidates_then_exact_hints_meet_them(student):
    hints, mask = _pelvis_keyframes()
    out = student(["a person walks forward"], FRAMES, num_steps=1, seed=1, control=(hints, mask), hint_candidates=4)
    np.testing.assert_allclose(out.joints[0][mask], hints[mask], atol=1e-4)


@pytest.mark.parametrize("bad", [0, -2, 65, 2.5, "four", True])
def test_bad_candidate_counts_are_refused(student, bad):
    hints, mask = _pelvis_keyframes()
    with pytest.raises(MotionLCMError, match="[Hh]int candidates"):
        student(["a person walks"], FRAMES, num_steps=1, control=(hints, mask), hint_candidates=bad)


def test_cli_candidates_flag(tmp_path, capsys):
    from motionlcm import cli

    spec = str(Path(__file__).resolve().parents[1] / "examples" / "control" / "line.json")
    args = ["generate", "a person walks forward", "--length", "60", "--seed", "1", "--control", spec]
    assert cli.main([*args, "--candidates", "1", "--out", str(tmp_path / "one.npz")]) == 0
    assert cli.main([*args, "--candidates", "5", "--out", str(tmp_path / "five.npz")]) == 0
    one, five = np.load(tmp_path / "one.npz")["joints"], np.load(tmp_path / "five.npz")["joints"]
    assert one.shape == five.shape and np.abs(one - five).max() > 0.01
    capsys.readouterr()
    assert cli.main([*args, "--candidates", "0", "--out", str(tmp_path / "zero.npz")]) != 0
    assert "--candidates" in capsys.readouterr().err and not (tmp_path / "zero.npz").exists()
    assert cli.main(["generate", "a person walks", "--candidates", "3", "--out", str(tmp_path / "x.npz")]) != 0
    assert "needs --control" in capsys.readouterr().err


def test_eval_control_rows_take_a_candidate_count():
    from motionlcm.evaluation.runner import resolve_methods

    control = {"joints": "pelvis", "density": 5}
    rows = resolve_methods([{"ckpt": str(SHIPPED / "motionlcm"), "steps": 1, "control": control, "candidates": 4}])
    assert rows[0].generator.candidates == 4 and "best-of-4" in rows[0].name
    assert rows[0].generator.describe()["hint_candidates"] == 4
    with pytest.raises(MotionLCMError, match="[Hh]int candidates"):
        resolve_methods([{"ckpt": str(SHIPPED / "motionlcm"), "steps": 1, "control": control, "candidates": 0}])


def test_eval_rows_pass_an_explicit_single_candidate_and_default_to_the_pipeline(monkeypatch):
    """``candidates: 1`` is sent to the pipeline (its default is 4); no key means the pipeline's default."""
    import torch

    from motionlcm.evaluation import runner
    from motionlcm.pipeline import HINT_CANDIDATES

    control = {"joints": "pelvis", "density": 5}
    one, default = runner.resolve_methods([
        {"ckpt": str(SHIPPED / "motionlcm"), "steps": 1, "control": control, "candidates": 1, "name": "One"},
        {"ckpt": str(SHIPPED / "motionlcm"), "steps": 1, "control": control, "name": "Default"}])
    assert one.generator.describe()["hint_candidates"] == 1 and default.generator.describe()["hint_candidates"] == HINT_CANDIDATES
    hints, mask = _pelvis_keyframes()
    monkeypatch.setattr(runner, "crop_hints", lambda batch, joints, density: (torch.as_tensor(hints)[None],
                                                                             torch.as_tensor(mask)[None]))
    sent = []

    def recording_pipe(*args, **kwargs):
        sent.append(kwargs.get("hint_candidates"))
        raise StopIteration

    batch = type("Batch", (), {"lengths": [FRAMES], "texts": ["a person walks"], "seeds": [0]})()
    for row in (one, default):
        row.generator.pipe = recording_pipe
        with pytest.raises(StopIteration):
            row.generator.generate(batch)
    assert sent == [1, None]
