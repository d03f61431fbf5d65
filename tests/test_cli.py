"""The `motionlcm data` commands, through main() and through the installed console script."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from motionlcm.cli import main


def test_to_features_and_back_on_real_joints(fixtures, tmp_path, capsys):
    src = tmp_path / "joints"
    src.mkdir()
    shutil.copy(fixtures / "new_joints" / "012314.npy", src / "a.npy")
    np.save(src / "b.npy", np.load(fixtures / "new_joints" / "012314.npy")[:50])
    np.save(src / "broken.npy", np.zeros((30, 21, 3)))
    assert main(["data", "to-features", str(src), str(tmp_path / "feats"), "-q"]) == 1
    out = capsys.readouterr()
    assert "wrote 2 feature file(s); 1 failed" in out.out and "broken.npy: expected 22 joints" in out.err
    assert not (tmp_path / "feats" / "broken.npy").exists()
    feats = np.load(tmp_path / "feats" / "a.npy")
    vecs = np.load(fixtures / "new_joint_vecs" / "012314.npy")
    assert feats.shape == (169, 263) and np.abs(feats[:100] - vecs[:100]).max() <= 1e-4

    assert main(["data", "to-joints", str(fixtures / "new_joint_vecs" / "012314.npy"), str(tmp_path / "j.npy"), "-q"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "j.npy"), np.load(fixtures / "new_joints" / "012314.npy"), atol=1e-5)
    assert main(["data", "to-joints", str(fixtures / "new_joint_vecs" / "012314.npy"), str(tmp_path / "fk.npy"), "--fk", "-q"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "fk.npy"), np.load(tmp_path / "j.npy"), atol=1e-5)


def test_stats_match_direct_computation(small_dataset, tmp_path, capsys):
    out = tmp_path / "stats"
    assert main(["data", "stats", str(small_dataset), "--out", str(out), "-q"]) == 0
    train = [np.load(small_dataset / "new_joint_vecs" / f"{i}.npy") for i in ("012314", "000612")]
    frames = np.concatenate(train).astype(np.float64)
    np.testing.assert_allclose(np.load(out / "Mean.npy"), frames.mean(0), rtol=1e-5, atol=1e-6)
    std = np.load(out / "Std.npy")
    # HumanML3D's group averaging: all 63 ric dims share the mean of their stds.
    np.testing.assert_allclose(std[4:67], frames[:, 4:67].std(0).mean(), rtol=1e-5)
    np.testing.assert_allclose(std[3], frames[:, 3].std(), rtol=1e-5)
    joints = np.concatenate([np.load(small_dataset / "new_joints" / f"{i}.npy") for i in ("012314", "000612")])
    np.testing.assert_allclose(np.load(out / "Mean_raw.npy"), joints.mean(0), rtol=1e-5, atol=1e-6)
    assert np.load(out / "Std_raw.npy").shape == (22, 3)
    # Existing statistics are never overwritten silently.
    before = (small_dataset / "Mean.npy").read_bytes()
    assert main(["data", "stats", str(small_dataset), "-q"]) == 2
    assert "already exist; use --force" in capsys.readouterr().err
    assert (small_dataset / "Mean.npy").read_bytes() == before


def test_user_errors_are_one_line_without_traceback(tmp_path):
    missing = tmp_path / "missing"
    result = subprocess.run([sys.executable, "-m", "motionlcm.cli", "data", "check", str(missing)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == f"motionlcm: error: dataset directory not found: {missing}"
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"\x00" * 20)
    result = subprocess.run([sys.executable, "-m", "motionlcm.cli", "data", "to-joints", str(garbage), str(tmp_path / "o.npy")], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"motionlcm: error: {garbage}: not a .npy file"
    assert not (tmp_path / "o.npy").exists()


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "motionlcm"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("motionlcm ")


@pytest.mark.parametrize("args, message", [
    (["x" * 301], "301 characters; the limit is 300"),
    (["   "], "describe a motion"),
    (["a person walks", "--seed", str(2**70)], "seed must be a whole number from 0 to 2147483647"),
    (["a person walks", "--seed", "-1"], "seed must be a whole number"),
    (["a person walks", "--steps", "0"], "Steps must be a whole number from 1 to 1000"),
    (["a person walks", "--guidance", "nan"], "guidance must be a finite number"),
    (["a person walks", "--num-samples", "0"], "--num-samples must be a whole number"),
])
def test_generate_input_errors_are_reported_before_the_model_loads(args, message, tmp_path, capsys, monkeypatch):
    """One line, a non-zero exit, nothing written - and the model is never loaded for input the line itself shows is wrong."""
    from motionlcm import cli
    from motionlcm.pipeline import MotionPipeline

    def no_model(*a, **k):
        raise AssertionError("the model must not load for a bad input")

    monkeypatch.setattr(MotionPipeline, "from_pretrained", no_model)
    out = tmp_path / "motion.npz"
    assert cli.main(["generate", *args, "--out", str(out)]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]
    assert not out.exists()


def test_generate_output_problems_are_reported_before_the_model_loads(tmp_path, capsys, monkeypatch):
    from motionlcm import cli
    from motionlcm.pipeline import MotionPipeline

    monkeypatch.setattr(MotionPipeline, "from_pretrained", lambda *a, **k: (_ for _ in ()).throw(AssertionError("loaded")))
    folder = tmp_path / "clip.npz"
    folder.mkdir()
    assert cli.main(["generate", "a person walks", "--out", str(folder)]) == cli.EXIT_USER_ERROR
    assert "is a folder" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["generate", "a person walks", "--out", str(blocker / "sub" / "m.npz")]) == cli.EXIT_USER_ERROR
    assert "not a folder" in capsys.readouterr().err


# sysfs refuses new files to every user, root included: a folder where os.access says "writable"
# to root but every write fails, as on a read-only mount.
UNWRITABLE = Path("/sys")
FIXTURE_JOINTS = Path(__file__).parent / "data" / "humanml3d" / "new_joints" / "012314.npy"


@pytest.mark.skipif(not UNWRITABLE.is_dir(), reason="needs /sys")
@pytest.mark.parametrize("command", [
    ["generate", "a person walks", "--out", str(UNWRITABLE / "m.mp4")],
    ["generate", "a person walks", "--out", str(UNWRITABLE / "m.bvh")],
    ["viz", str(FIXTURE_JOINTS), "--out", str(UNWRITABLE / "v.mp4")],
    ["viz", str(FIXTURE_JOINTS), "--out", str(UNWRITABLE / "v.gif")],
])
def test_unwritable_output_folder_is_one_line_before_any_work(command, capsys, monkeypatch):
    from motionlcm import cli
    from motionlcm.pipeline import MotionPipeline
    from motionlcm.render import stick

    monkeypatch.setattr(MotionPipeline, "from_pretrained", lambda *a, **k: (_ for _ in ()).throw(AssertionError("loaded")))
    monkeypatch.setattr(stick, "render_frames", lambda *a, **k: (_ for _ in ()).throw(AssertionError("rendered")))
    assert cli.main(command) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write there" in err[0] and "ffmpeg" not in err[0]


@pytest.mark.skipif(not UNWRITABLE.is_dir(), reason="needs /sys")
def test_mp4_writer_reports_a_failed_ffmpeg_in_one_line():
    """Past every check (e.g. the folder turned read-only meanwhile): ffmpeg exits, silently."""
    import numpy as np

    from motionlcm.errors import MotionLCMError
    from motionlcm.render.video import mp4_writer

    with pytest.raises(MotionLCMError, match="wrote no video") as info:
        with mp4_writer(UNWRITABLE / "z.mp4", (32, 32), 20) as write:
            for _ in range(3):
                write(np.zeros((32, 32, 3), np.uint8))
    assert "\n" not in str(info.value)
