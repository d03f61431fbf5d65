"""The pipeline in diffusers' shape: saved scheduler component, the steps of a call, one validation."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from motionlcm.checkpoint import SCHEDULER_DIR, SCHEDULER_FILE, build_scheduler, load_checkpoint, save_checkpoint
from motionlcm.errors import MotionLCMError
from motionlcm.pipeline import MotionPipeline

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "checkpoints"


@pytest.fixture(scope="module")
def student():
    return MotionPipeline.from_pretrained(SHIPPED / "motionlcm", device="cpu")


def _copy_without_scheduler(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(SCHEDULER_DIR))
    return dst


@pytest.mark.parametrize("name, expected", [("mld", "DDIMScheduler"), ("motionlcm", "MotionLCMScheduler"),
                                            ("control_pelvis", "MotionLCMScheduler")])
def test_saved_checkpoints_carry_their_scheduler_and_old_folders_still_load(tmp_path, name, expected):
    ckpt = load_checkpoint(SHIPPED / name)
    old = load_checkpoint(_copy_without_scheduler(SHIPPED / name, tmp_path / "old"))
    # a folder saved before schedulers were components gets the one implied by its config
    assert type(build_scheduler(old)).__name__ == expected
    config = {k: v for k, v in ckpt.config.items() if k not in ("format_version", "kind")}
    out = save_checkpoint(tmp_path / "new", ckpt.kind, config, {}, ckpt.mean, ckpt.std)
    saved = json.loads((out / SCHEDULER_DIR / SCHEDULER_FILE).read_text())
    assert saved["_class_name"] == expected
    assert saved["num_train_timesteps"] == 1000 and saved["beta_schedule"] == "scaled_linear"
    if expected == "MotionLCMScheduler":  # the distillation grid travels with the student
        assert saved["original_inference_steps"] == ckpt.config.get("lcm", {}).get("num_ddim_timesteps", 10)


def test_the_saved_scheduler_decides_how_a_checkpoint_samples(tmp_path, student):
    folder = shutil.copytree(SHIPPED / "motionlcm", tmp_path / "as_ddim")
    ddim = json.loads((SHIPPED / "mld" / SCHEDULER_DIR / SCHEDULER_FILE).read_text())
    (folder / SCHEDULER_DIR / SCHEDULER_FILE).write_text(json.dumps(ddim))
    pipe = MotionPipeline.from_pretrained(folder, device="cpu")
    assert pipe.kind == "lcm" and pipe.sampler_kind == "mld" and student.sampler_kind == "lcm"
    (folder / SCHEDULER_DIR / SCHEDULER_FILE).write_text(json.dumps({**ddim, "_class_name": "EulerScheduler"}))
    with pytest.raises(MotionLCMError, match="unknown scheduler 'EulerScheduler'"):
        MotionPipeline.from_pretrained(folder, device="cpu")
    (folder / SCHEDULER_DIR / SCHEDULER_FILE).write_text("{not json")
    with pytest.raises(MotionLCMError, match="unreadable scheduler config"):
        MotionPipeline.from_pretrained(folder, device="cpu")


def test_a_call_is_its_steps_in_order(student):
    texts, lengths = ["a person walks forward", "a person jumps in place"], [60, 44]
    out = student(texts, lengths, num_steps=2, guidance=4.0, seed=[3, 9])
    inputs = student.check_inputs(texts, lengths, 2, 4.0, [3, 9])
    generator = inputs.generator()
    with torch.no_grad():
        prompt = student.encode_prompt(inputs.texts, inputs.guidance)
        assert prompt.uncond is None  # a student takes guidance as an embedding: no CFG batch
        latents = student.prepare_latents(2, generator)
        clean = student.denoise_latents(latents, prompt, inputs.steps, inputs.guidance, generator)
        mask = torch.arange(60)[None] < torch.tensor(lengths)[:, None]
        features = student.decode_latents(clean, mask)
    np.testing.assert_allclose(out.features, features.numpy(), atol=1e-5)
    assert set(student.components) == {"vae", "denoiser", "text_encoder", "scheduler", "controlnet", "traj_encoder"}
    assert student.components["controlnet"] is None


def test_a_teacher_encodes_the_empty_text_for_cfg_only_when_guided():
    teacher = MotionPipeline.from_pretrained(SHIPPED / "mld", device="cpu")
    assert teacher.encode_prompt(["a person waves"], 3.0).uncond is not None
    assert teacher.encode_prompt(["a person waves"], 1.0).uncond is None


@pytest.mark.parametrize("kwargs, message", [
    ({"guidance": 25.0}, "guidance must be between 0 and 20"),
    ({"guidance": float("nan")}, "guidance must be a finite number"),
    ({"num_steps": 1001}, "steps must be between 1 and 1000"),
    ({"lengths": 300}, "outside 16-196"),
    ({"seed": [1, 2, 3]}, "1 prompts but 3 seeds"),
    ({"latent_tuning_steps": 5}, "latent tuning needs control hints"),
    ({"latent_tuning_steps": 401, "control": {"joint": "pelvis"}}, "tuning steps must be a whole number from 0 to 400"),
    ({"texts": ["  "]}, "empty prompt"),
])
def test_check_inputs_is_the_one_validation_before_any_model_runs(student, kwargs, message):
    args = {"texts": ["a person walks"], **kwargs}
    calls = []
    original = student.denoiser.forward
    student.denoiser.forward = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        with pytest.raises(MotionLCMError, match=message):
            student(**args)
    finally:
        student.denoiser.forward = original
    assert not calls


def test_projection_round_inside_the_sampler_keeps_hints_exact_and_is_deterministic(student):
    frames = 60
    path = np.zeros((frames, 22, 3), np.float32)
    path[:, 0, 0] = np.linspace(0.0, 1.5, frames)  # pelvis 1.5 m to the side, at hip height
    path[:, 0, 1] = 0.95
    mask = np.zeros((frames, 22), bool)
    mask[::3, 0] = True
    args = dict(num_steps=1, seed=5, control=(path, mask))
    refined = student(["a person walks forward"], frames, **args)
    again = student(["a person walks forward"], frames, **args)
    plain = student(["a person walks forward"], frames, hint_refinement=False, **args)
    np.testing.assert_array_equal(refined.joints, again.joints)
    for out in (refined, plain):
        np.testing.assert_allclose(out.joints[0][mask], path[mask], atol=1e-4)
    assert np.abs(refined.joints - plain.joints).max() > 0.01  # the round changed the motion


def test_head_hints_alone_far_from_the_sample_are_met_with_the_projection_round(student):
    """A head 2 m to the side at three frames, the pelvis free: the body is carried there, the
    projection round runs (no foot hints) and the hints are met; bones keep their lengths."""
    from motionlcm.motion.skeleton import bone_lengths

    frames = 60
    free = student(["a person walks forward"], frames, num_steps=1, seed=3)
    hints = np.zeros((frames, 22, 3), np.float32)
    mask = np.zeros((frames, 22), bool)
    for f in (0, 30, 59):
        hints[f, 15] = free.joints[0][f, 15] + np.array([2.0, -0.1, 0.5], np.float32)
        mask[f, 15] = True
    args = dict(num_steps=1, seed=3, control=(hints, mask))
    refined = student(["a person walks forward"], frames, **args)
    plain = student(["a person walks forward"], frames, hint_refinement=False, **args)
    for out in (refined, plain):
        np.testing.assert_allclose(out.joints[0][mask], hints[mask], atol=1e-3)
        lengths = bone_lengths(out.joints[0].astype(np.float64))
        assert np.ptp(lengths, axis=0).max() < 1e-4  # on the export rig: rigid bones
    assert np.abs(refined.joints - plain.joints).max() > 0.01  # the round ran


def test_the_smoothing_pass_after_six_joint_hints_removes_the_ik_jitter_and_keeps_them_met(student):
    """Fresh corpus motions, their six joints at 25 % of the frames: the per-frame IK leaves jitter
    (2-5x the real motion's); the smoothing passes take it to the real motion's level (measured
    0.018 -> 0.007 and 0.042 -> 0.009, real 0.007 / 0.008); hints met, bones rigid."""
    from motionlcm.control.hints import spatial_mask
    from motionlcm.data.synth.dataset import make_motion
    from motionlcm.evaluation.joint_quality import high_frequency_share
    from motionlcm.motion.skeleton import bone_lengths

    for index in (0, 1):
        motion = make_motion(20261205, index)
        real, text = motion["joints"][:196], motion["lines"][0].split("#")[0]
        mask = spatial_mask(len(real), (0, 10, 11, 15, 20, 21), "25%",
                            generator=torch.Generator().manual_seed(index)).numpy()
        hints = np.where(mask[..., None], real, 0.0).astype(np.float32)
        args = dict(num_steps=1, seed=0, control=(hints, mask), hint_candidates=1)  # the measured sample
        smooth = student([text], len(real), **args)
        rough = student([text], len(real), hint_smoothing=False, **args)
        jitter = {"real": high_frequency_share([real]), "smooth": high_frequency_share([smooth.joints[0]]),
                  "rough": high_frequency_share([rough.joints[0]])}
        assert jitter["smooth"] < 0.6 * jitter["rough"] and jitter["smooth"] < 1.5 * jitter["real"], jitter
        for out in (smooth, rough):
            errors = np.linalg.norm(out.joints[0][mask] - hints[mask], axis=-1)
            assert errors.mean() < 0.01 and errors.max() < 0.03
            assert np.ptp(bone_lengths(out.joints[0].astype(np.float64)), axis=0).max() < 1e-4
