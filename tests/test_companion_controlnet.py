"""A model's companion ControlNet: the default model samples pelvis-only hints through its pelvis
ControlNet (config ``controlnets``), exactly as the ControlNet checkpoint itself would."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.torch import load_file, save_file

from motionlcm.errors import MotionLCMError
from motionlcm.pipeline import MotionPipeline

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "checkpoints"
FRAMES = 60


@pytest.fixture(scope="module")
def student():
    return MotionPipeline.from_pretrained(SHIPPED / "motionlcm", device="cpu")


def _hints(joint: int, offset=(1.2, 0.0, 0.4)):
    """A joint 1.3 m from the origin at every third frame, along a straight line."""
    hints = np.zeros((FRAMES, 22, 3), np.float32)
    hints[:, joint] = np.linspace([0.0, 0.95, 0.0], np.array([0.0, 0.95, 0.0]) + offset, FRAMES)
    mask = np.zeros((FRAMES, 22), bool)
    mask[::3, joint] = True
    return hints, mask


def _copy_listing(tmp_path: Path, companions) -> Path:
    folder = shutil.copytree(SHIPPED / "motionlcm", tmp_path / "motionlcm")
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["controlnets"] = companions
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def test_pelvis_hints_on_the_default_model_sample_as_its_pelvis_controlnet(student):
    hints, mask = _hints(0)
    args = dict(num_steps=1, seed=4, control=(hints, mask))
    out = student(["a person walks forward"], FRAMES, **args)
    control = MotionPipeline.from_pretrained(SHIPPED / "control_pelvis", device="cpu")
    direct = control(["a person walks forward"], FRAMES, **args)
    assert out.controlnet == str((SHIPPED / "control_pelvis").resolve())
    np.testing.assert_allclose(out.joints, direct.joints, atol=1e-5)
    alone = student(["a person walks forward"], FRAMES, companion_controlnet=False, **args)
    assert alone.controlnet is None and np.abs(alone.joints - out.joints).max() > 0.01
    for result in (out, alone):  # met exactly either way
        np.testing.assert_allclose(result.joints[0][mask], hints[mask], atol=1e-4)


def test_hints_on_other_joint_sets_do_not_use_a_controlnet_trained_for_another_set(student):
    hints, mask = _hints(21, offset=(0.3, 0.2, 0.3))
    wrist = student(["a person waves"], FRAMES, num_steps=1, seed=2, control=(hints, mask))
    assert wrist.controlnet is None
    both = mask.copy()
    both[::3, 0] = True  # pelvis and wrist: no ControlNet was trained for that set
    assert student(["a person waves"], FRAMES, num_steps=1, seed=2, control=(hints, both)).controlnet is None
    six = np.zeros_like(mask)
    six[::3, [0, 10, 11, 15, 20, 21]] = True  # exactly the all-joints ControlNet's set
    out = student(["a person waves"], FRAMES, num_steps=1, seed=2, control=(hints, six))
    assert out.controlnet == str((SHIPPED / "control_all").resolve())
    # without exact hints only the companion can follow: pelvis-only hints are allowed, a wrist is not
    student.check_inputs(["a person waves"], FRAMES, control=_hints(0), exact_hints=False)
    with pytest.raises(MotionLCMError, match="without a ControlNet for these joints"):
        student.check_inputs(["a person waves"], FRAMES, control=(hints, mask), exact_hints=False)


def test_a_companion_trained_on_other_weights_is_refused(tmp_path):
    other = shutil.copytree(SHIPPED / "control_pelvis", tmp_path / "other_pelvis")
    weights = load_file(str(other / "model.safetensors"))
    key = next(k for k in weights if k.startswith("denoiser."))
    weights[key] = weights[key] + 0.01
    save_file(weights, str(other / "model.safetensors"))
    pipe = MotionPipeline.from_pretrained(_copy_listing(tmp_path, ["../other_pelvis"]), device="cpu")
    with pytest.raises(MotionLCMError, match="trained on another model"):
        pipe(["a person walks"], FRAMES, seed=0, control=_hints(0))
    assert pipe(["a person walks"], FRAMES, seed=0).controlnet is None  # no hints: never loaded


@pytest.mark.parametrize("listed, message", [("../control_pelvis", "must be a list of folder paths"),
                                             (["../mld"], "is not a control checkpoint")])
def test_a_bad_controlnets_entry_is_a_one_line_error_when_the_model_loads(tmp_path, listed, message):
    shutil.copytree(SHIPPED / "mld", tmp_path / "mld", ignore=shutil.ignore_patterns("*.safetensors"))
    folder = _copy_listing(tmp_path, listed)
    with pytest.raises(MotionLCMError, match=message):
        MotionPipeline.from_pretrained(folder, device="cpu")


def test_a_model_folder_copied_without_its_companion_still_loads(tmp_path):
    folder = _copy_listing(tmp_path, ["../control_pelvis"])  # no control_pelvis beside the copy
    with pytest.warns(UserWarning, match="companion ControlNet '../control_pelvis' not found"):
        pipe = MotionPipeline.from_pretrained(folder, device="cpu")
    out = pipe(["a person walks"], FRAMES, seed=0, control=_hints(0))
    assert out.controlnet is None and pipe.companions == {}


def test_eval_control_rows_take_the_companion_by_default_and_controlnet_false_turns_it_off():
    from motionlcm.evaluation.runner import resolve_methods

    control = {"joints": "pelvis", "density": "25%"}
    rows = resolve_methods([{"ckpt": str(SHIPPED / "motionlcm"), "steps": 1, "control": control},
                            {"ckpt": str(SHIPPED / "motionlcm"), "steps": 1, "control": control, "controlnet": False}])
    assert [m.generator.companion for m in rows] == [True, False]
    assert rows[1].name.endswith("-controlnet") and rows[0].name != rows[1].name
    with pytest.raises(MotionLCMError, match="controlnet must be true or false"):
        resolve_methods([{"ckpt": str(SHIPPED / "motionlcm"), "control": control, "controlnet": "no"}])


def test_eval_control_rows_can_leave_out_the_smoothing_pass():
    from motionlcm.evaluation.runner import resolve_methods

    control = {"joints": "all", "density": "25%"}
    rows = resolve_methods([{"ckpt": str(SHIPPED / "motionlcm"), "steps": 1, "control": control, "smooth": False}])
    assert rows[0].generator.smooth is False and rows[0].name.endswith("-smooth")
    assert rows[0].generator.describe()["hint_smoothing"] is False


def test_cli_generate_with_a_pelvis_path_reports_the_controlnet_and_can_go_without(tmp_path, capsys):
    from motionlcm import cli

    spec = str(Path(__file__).resolve().parents[1] / "examples" / "control" / "line.json")
    args = ["generate", "a person walks forward", "--length", "60", "--seed", "1", "--control", spec]
    assert cli.main([*args, "--out", str(tmp_path / "with.npz")]) == 0
    assert "steered by the ControlNet in" in capsys.readouterr().out
    assert cli.main([*args, "--no-controlnet", "--out", str(tmp_path / "without.npz")]) == 0
    assert "steered by" not in capsys.readouterr().out
    with_cn, without = np.load(tmp_path / "with.npz"), np.load(tmp_path / "without.npz")
    assert np.abs(with_cn["joints"] - without["joints"]).max() > 0.01


def test_a_sample_gets_the_companion_of_its_own_joints_whatever_else_is_in_the_batch(student):
    """[pelvis, pelvis + wrist, no hints]: the first is steered by the pelvis ControlNet exactly as
    when alone, the others are not steered at all (as when alone)."""
    texts = ["a person walks forward", "a person waves", "a person jumps"]
    pelvis, pelvis_mask = _hints(0)
    wrist, wrist_mask = _hints(21, offset=(0.3, 0.2, 0.3))
    hints = np.stack([pelvis, pelvis + wrist, np.zeros_like(pelvis)])
    masks = np.stack([pelvis_mask, pelvis_mask | wrist_mask, np.zeros_like(pelvis_mask)])
    batch = student(texts, FRAMES, num_steps=1, seed=[4, 5, 6], control=(hints, masks))
    assert batch.controlnet == str((SHIPPED / "control_pelvis").resolve())
    for i in range(3):
        alone = student([texts[i]], FRAMES, num_steps=1, seed=[4 + i], control=(hints[i:i + 1], masks[i:i + 1]))
        np.testing.assert_allclose(batch.joints[i], alone.joints[0], atol=1e-4)
        assert (alone.controlnet is not None) == (i == 0)


def test_without_exact_hints_or_the_companion_pelvis_hints_are_refused_not_dropped(student):
    with pytest.raises(MotionLCMError, match="without a ControlNet for these joints"):
        student(["a person walks"], FRAMES, control=_hints(0), exact_hints=False, companion_controlnet=False)
    out = student(["a person walks"], FRAMES, seed=1, control=_hints(0), exact_hints=False)
    assert out.controlnet is not None
