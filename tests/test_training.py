"""Training stages through the real CLI/config path, checkpoints, resume, generation and errors."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from motionlcm.cli import main
from motionlcm.errors import MotionLCMError
from motionlcm.checkpoint import load_checkpoint
from motionlcm.training.run import compose_config, train
from tests.training_helpers import TINY_DENOISER, TINY_VAE, StepRecorder, common, stage_section

def test_vae_stage_exports_a_complete_checkpoint(trained):
    export = trained["vae"]
    assert trained["vae_steps"].end_step == 4
    ckpt = load_checkpoint(export)
    assert ckpt.kind == "vae" and ckpt.config["trained_steps"] == 4
    np.testing.assert_array_equal(ckpt.mean, np.load(trained["dataset"] / "Mean.npy"))
    assert {p.name for p in export.iterdir()} >= {"config.yaml", "model.safetensors", "Mean.npy", "Std.npy"}
    run_dir = export.parent
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list((run_dir / "csv").glob("metrics.csv")) and list((run_dir / "tensorboard").glob("events.*"))
    header = (run_dir / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert "val/mpjpe_mm" in header and "train/total" in header


def test_saved_vae_reproduces_the_trained_network(trained):
    from motionlcm.models import motion_vae_from_config
    from motionlcm.checkpoint import load_state
    from motionlcm.training.stages import VAEStage

    ckpt = load_checkpoint(trained["vae"])
    vae = motion_vae_from_config(ckpt.config["vae"]).eval()
    load_state(vae, ckpt.sub_state("vae"), "test")
    state = torch.load(trained["base"] / "vae" / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["state_dict"]
    trained_vae = motion_vae_from_config(ckpt.config["vae"]).eval()
    trained_vae.load_state_dict({k[len("vae."):]: v for k, v in state.items() if k.startswith("vae.")})
    x = torch.randn(2, 50, 263)
    mask = torch.ones(2, 50, dtype=torch.bool)
    for key, value in trained_vae.state_dict().items():  # the exported weights are the trained ones, bit for bit
        torch.testing.assert_close(vae.state_dict()[key], value, rtol=0, atol=0)
    # outputs up to float rounding: two copies of one weight set may take differently aligned BLAS kernels
    torch.testing.assert_close(vae.decode(vae.encode(x, mask, sample=False)[0], mask),
                               trained_vae.decode(trained_vae.encode(x, mask, sample=False)[0], mask), rtol=0, atol=1e-5)
    assert VAEStage.kind == "vae"


def test_resume_continues_at_the_saved_step(trained, tmp_path):
    run = trained["base"] / "vae"
    step2 = run / "checkpoints" / "step2.ckpt"
    assert step2.is_file()
    rec = StepRecorder()
    cfg = compose_config(["stage=vae", *common(trained["dataset"], tmp_path / "resumed", steps=6), *TINY_VAE, f"resume={step2}"])
    train(cfg, [rec])
    assert (rec.start_step, rec.end_step) == (2, 6)


def test_resuming_a_checkpoint_at_max_steps_exports_its_weights(trained, tmp_path):
    """resume=ckpt trainer.max_steps=<its step> runs no step but exports that checkpoint's weights."""
    from safetensors.torch import load_file

    step2 = trained["base"] / "vae" / "checkpoints" / "step2.ckpt"
    cfg = compose_config(["stage=vae", *common(trained["dataset"], tmp_path / "at2", steps=2), *TINY_VAE, f"resume={step2}"])
    export = Path(train(cfg))
    assert (export / "config.yaml").is_file()
    saved = torch.load(step2, map_location="cpu", weights_only=False)["state_dict"]  # our own test checkpoint
    weights = load_file(export / "model.safetensors")
    vae_keys = [k for k in weights if k.startswith("vae.")]
    assert vae_keys
    for key in vae_keys:
        torch.testing.assert_close(weights[key], saved[key], rtol=0, atol=0)


def test_mld_step_lowers_the_loss_on_a_tiny_set(trained):
    from motionlcm.data.humanml3d import HumanML3DDataset, collate_motions
    from motionlcm.training.stages import MLDStage

    ds = HumanML3DDataset(trained["dataset"], "train", mode="eval")
    batch = collate_motions([ds[i] for i in range(len(ds))])
    torch.manual_seed(0)
    stage = MLDStage(str(trained["vae"]), {"width": 32, "num_layers": 3, "ffn_dim": 64, "dropout": 0.0}, "hash:32", {},
                     {"lr": 1e-3}, 0.0, {}, ds.mean, ds.std)
    optimizer = torch.optim.Adam(stage.denoiser.parameters(), lr=1e-3)

    def fixed_loss():
        torch.manual_seed(123)  # same latent sample, noise and timesteps every time
        return stage.diffusion_loss(batch, stage.denoiser, drop_text=False)

    before = fixed_loss().item()
    for _ in range(30):
        optimizer.zero_grad()
        fixed_loss().backward()
        optimizer.step()
    assert fixed_loss().item() < 0.7 * before


def test_pipeline_generates_deterministically(trained):
    from motionlcm.motion.features import features_to_joints
    from motionlcm.pipeline import MotionPipeline

    pipe = MotionPipeline.from_pretrained(trained["mld"], device="cpu")
    a = pipe(["a person walks", "a person jumps"], [40, "3s"], num_steps=5, seed=3)
    b = pipe(["a person walks", "a person jumps"], [40, "3s"], num_steps=5, seed=3)
    c = pipe(["a person walks", "a person jumps"], [40, "3s"], num_steps=5, seed=4)
    assert a.features.shape == (2, 60, 263) and a.joints.shape == (2, 60, 22, 3)
    assert a.lengths.tolist() == [40, 60]
    np.testing.assert_array_equal(a.joints, b.joints)
    assert not np.allclose(a.joints, c.joints)
    assert np.abs(a.joints[0, 40:]).max() == 0
    np.testing.assert_allclose(a.joints[1], features_to_joints(a.features[1].astype(np.float64)), atol=1e-4)
    assert set(a.timings) == {"text", "denoise", "decode", "joints", "total"}
    assert a.timings["total"] >= a.timings["text"] + a.timings["denoise"] + a.timings["decode"]


def test_generate_cli_writes_npz(trained, tmp_path, capsys):
    out = tmp_path / "jump.npz"
    assert main(["generate", "a person jumps", "--ckpt", str(trained["mld"]), "--length", "2.5s", "--steps", "3",
                 "--seed", "7", "--out", str(out)]) == 0
    with np.load(out, allow_pickle=False) as data:
        assert data["joints"].shape == (50, 22, 3) and data["features"].shape == (50, 263)
        assert str(data["text"]) == "a person jumps" and int(data["seed"]) == 7 and int(data["steps"]) == 3
        assert int(data["fps"]) == 20 and int(data["length"]) == 50
    assert "seed 7" in capsys.readouterr().out


def test_clear_errors(trained, tmp_path, capsys):
    cases = [
        (["train", "stage=foo"], "unknown stage 'foo'"),
        (["train", "stage=vae", *common(tmp_path / "nope", tmp_path / "x")], "dataset directory not found"),
        (["train", "stage=mld", *common(trained["dataset"], tmp_path / "y")], "needs a trained VAE"),
        (["train", "stage=vae", "trainer.max_stepz=3"], "bad training config"),
        (["generate", "a person jumps", "--ckpt", str(trained["vae"])], "is a 'vae' checkpoint"),
        (["generate", "a person jumps", "--ckpt", str(tmp_path)], "not a motionlcm checkpoint"),
        (["generate", "a person jumps", "--ckpt", str(trained["mld"]), "--length", "30s"], "outside 16-196"),
        (["generate", "  ", "--ckpt", str(trained["mld"])], "describe a motion"),
        (["train", "stage=lcm", *common(trained["dataset"], tmp_path / "z")], "needs a trained teacher"),
        (["train", "stage=lcm", f"teacher={trained['vae']}", *common(trained["dataset"], tmp_path / "w")], "is a 'vae' checkpoint"),
        (["train", "stage=mld", f"vae={trained['vae']}", f"init={tmp_path / 'none'}", *common(trained["dataset"], tmp_path / "i")],
         f"init={tmp_path / 'none'}: checkpoint folder not found"),
        (["train", "stage=mld", f"vae={trained['vae']}", f"init={trained['vae']}", *common(trained["dataset"], tmp_path / "j")],
         "is a 'vae' checkpoint; this needs 'mld'"),
        (["train", "stage=lcm", f"teacher={trained['mld']}", f"init={trained['mld']}",
          *common(trained["dataset"], tmp_path / "k"), *TINY_VAE, *TINY_DENOISER],
         "is a 'mld' checkpoint; this needs 'lcm'"),
        (["train", "stage=vae", f"init={trained['mld']}", "model.vae.width=16", *common(trained["dataset"], tmp_path / "l")],
         "its VAE does not fit this config"),
        (["train", "stage=vae", "++stage.optim.lr_scale={nope_: 10}",
          *common(trained["dataset"], tmp_path / "m")],
         "stage.optim.lr_scale names no parameters of the trained network: nope_"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, (argv, err)
    for failed in ("x", "y", "z", "w", "i", "j", "k", "l", "m"):  # a train that fails on its config leaves nothing behind
        assert not (tmp_path / failed).exists(), failed


def test_callbacks_and_loggers_come_from_their_config_groups(trained, tmp_path):
    default = (trained["vae"].parent / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert any(column.startswith("lr-") for column in default)  # callbacks.lr_monitor
    out = tmp_path / "picked"
    train(compose_config(["stage=vae", *common(trained["dataset"], out, steps=2), *TINY_VAE, "~callbacks.lr_monitor",
                          "~logger.tensorboard"]))
    assert (out / "export" / "config.yaml").is_file() and (out / "checkpoints" / "last.ckpt").is_file()
    assert not (out / "tensorboard").exists()
    header = (out / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "train/total" in header and not any(column.startswith("lr-") for column in header)


def test_experiment_stage_settings_only_reach_their_stage():
    mld = compose_config(["stage=mld", "experiment=humanml3d_v1"])
    assert "lcm" not in mld.stage and "control" not in mld.stage and mld.stage.sampling == mld.model.sampling
    lcm = compose_config(["stage=lcm", "experiment=humanml3d_v1", "stage.lcm.huber_c=0.01"])
    assert (lcm.stage.lcm.num_ddim_timesteps, lcm.stage.lcm.huber_c, lcm.stage.sampling.guidance) == (50, 0.01, 7.5)
    assert "control" not in lcm.stage and compose_config(["stage=lcm"]).stage.lcm.num_ddim_timesteps == 10


def test_ddp_two_cpu_processes_end_with_identical_weights(trained, tmp_path):
    script = Path(__file__).with_name("ddp_check.py")
    result = subprocess.run([sys.executable, str(script), str(trained["dataset"]), str(tmp_path / "ddp")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    sums = sorted((tmp_path / "ddp").glob("rank*_weights.txt"))
    assert [p.name for p in sums] == ["rank0_weights.txt", "rank1_weights.txt"]
    r0, r1 = (p.read_text().split() for p in sums)
    assert r0 == r1  # same final weights on both ranks
    assert r0[1] != r0[0]  # and they did change during training (initial vs final checksum)


def test_ema_weights_are_exported(trained, tmp_path):
    out = tmp_path / "ema"
    train(compose_config(["stage=vae", *common(trained["dataset"], out), *TINY_VAE, "stage.optim.ema_decay=0.5"]))
    exported = load_checkpoint(out / "export").sub_state("vae")
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["state_dict"]
    raw = {k[len("vae."):]: v for k, v in state.items() if k.startswith("vae.")}
    ema = {k[len("ema.module."):]: v for k, v in state.items() if k.startswith("ema.module.")}
    key = "decoder_output.weight"  # the conv VAE's last layer
    torch.testing.assert_close(exported[key], ema[key], rtol=0, atol=0)
    assert not torch.equal(ema[key], raw[key])


def _tiny_batch(trained):
    from motionlcm.data.humanml3d import HumanML3DDataset, collate_motions

    ds = HumanML3DDataset(trained["dataset"], "train", mode="eval")
    return ds, collate_motions([ds[i] for i in range(len(ds))])


def test_lcm_student_starts_as_the_teacher(trained):
    from motionlcm.training.stages import LCMStage

    ds, _ = _tiny_batch(trained)
    stage = LCMStage(str(trained["mld"]), {"lr": 1e-3}, stage_section("lcm", "lcm"), {}, ds.mean, ds.std).eval()
    x, t = torch.randn(2, 16, 32), torch.tensor([999, 99])
    text = torch.randn(2, 5, 32) if stage.teacher.uses_text_tokens else torch.randn(2, 32)  # token states or pooled
    # Float rounding only: separate copies of the same weights can take differently aligned BLAS kernels
    # (CI measured 7e-7); a guidance branch that were not zero-initialised would differ by ~0.1.
    with torch.no_grad():
        teacher = stage.teacher(x, t, text)
        torch.testing.assert_close(stage.student(x, t, text, torch.tensor([4.0, 14.0])), teacher, rtol=0, atol=1e-5)
        torch.testing.assert_close(stage.target(x, t, text, torch.tensor([4.0, 14.0])), teacher, rtol=0, atol=1e-5)


def test_an_lcm_init_continues_that_student(trained):
    """init= on the lcm stage: student and consistency target start as the exported student (not the
    teacher); a student distilled on another VAE is refused."""
    from motionlcm.checkpoint import build_denoiser, build_vae, save_checkpoint
    from motionlcm.training.stages import LCMStage

    ds, _ = _tiny_batch(trained)
    stage = LCMStage(str(trained["mld"]), {"lr": 1e-3}, stage_section("lcm", "lcm"), {}, ds.mean, ds.std).eval()
    exported = load_checkpoint(trained["lcm"]).sub_state("denoiser")
    assert any(not torch.equal(v, exported[k]) for k, v in stage.student.state_dict().items())  # starts as the teacher
    stage.load_initial_weights(str(trained["lcm"]))
    for network in (stage.student, stage.target):
        for key, value in network.state_dict().items():
            assert torch.equal(value, exported[key]), key
    ckpt = load_checkpoint(trained["lcm"])
    vae, denoiser = build_vae(ckpt), build_denoiser(ckpt)
    with torch.no_grad():
        next(vae.parameters()).add_(0.01)
    other = save_checkpoint(trained["dataset"].parent / "lcm_other_vae", "lcm", ckpt.config,
                            {"vae": vae, "denoiser": denoiser}, ckpt.mean, ckpt.std)
    with pytest.raises(MotionLCMError, match="distilled on another VAE"):
        stage.load_initial_weights(str(other))


def test_distillation_loss_falls_on_a_small_teacher(trained):
    from motionlcm.training.stages import LCMStage

    ds, batch = _tiny_batch(trained)
    torch.manual_seed(0)
    stage = LCMStage(str(trained["mld"]), {"lr": 1e-3}, stage_section("lcm", "lcm", "stage.lcm.target_ema=0.5"), {}, ds.mean,
                     ds.std).eval()  # no dropout noise
    optimizer = torch.optim.Adam(stage.student.parameters(), lr=1e-3)

    def fixed_loss():
        return stage.distillation_loss(batch, torch.Generator().manual_seed(7))

    before = fixed_loss().item()
    for _ in range(80):
        optimizer.zero_grad()
        fixed_loss().backward()
        optimizer.step()
        with torch.no_grad():  # the stage's EMA target update
            torch._foreach_lerp_(list(stage.target.parameters()), list(stage.student.parameters()), 0.5)
    assert fixed_loss().item() < 0.5 * before


def test_endpoint_term_brings_one_step_samples_to_the_teachers_solution(trained):
    """stage.endpoint: optimised alone, one student step from noise approaches the teacher's DDIM + CFG
    solution from the same noise (the term's target), which the consistency loss never states."""
    from motionlcm.diffusion import ddim_sample
    from motionlcm.diffusion.consistency import consistency_function
    from motionlcm.training.stages import LCMStage

    ds, batch = _tiny_batch(trained)
    torch.manual_seed(0)
    endpoint = {"weight": 1.0, "samples": 2, "teacher_steps": 4}
    lcm = stage_section("lcm", "lcm", "stage.lcm.w_min=3", "stage.lcm.w_max=3")  # guidance scale 4 throughout
    stage = LCMStage(str(trained["mld"]), {"lr": 1e-3}, lcm, {}, ds.mean, ds.std, endpoint=endpoint).eval()
    texts = list(batch["text"])[:3]
    assert stage.one_step_timestep() == 799  # MotionLCM-V2's one-step schedule when the stage sets none

    def one_step_error():  # fresh noise, a fixed guidance scale: MSE to the teacher's 4-step DDIM solution
        generator = torch.Generator().manual_seed(1000)  # not among the training seeds
        noise = torch.randn((2, *stage.student.config.latent_shape), generator=generator)
        with torch.no_grad():
            cond = stage._conditions(texts[:2], stage.device)
            teacher = ddim_sample(lambda x, t, c: stage.teacher(x, t, c), stage.ddim_scheduler, cond,
                                  stage._conditions.empty(2, stage.device), tuple(noise.shape[1:]), num_steps=4,
                                  guidance=4.0, initial_noise=noise)
            step = torch.full((2,), 799)
            student = consistency_function(stage.student(noise, step, cond, torch.full((2,), 3.0)), noise, step,
                                           stage.alphas_cumprod)
        return torch.nn.functional.mse_loss(student, teacher).item()

    before = one_step_error()
    optimizer = torch.optim.Adam(stage.student.parameters(), lr=1e-3)
    for i in range(60):
        optimizer.zero_grad()
        stage.endpoint_loss(texts, torch.Generator().manual_seed(i)).backward()  # 2 of the 3 captions each step
        optimizer.step()
    assert one_step_error() < 0.5 * before


def test_endpoint_options_are_checked(trained):
    from motionlcm.training.stages import LCMStage, checked_endpoint

    assert checked_endpoint(None) == {"weight": 0.0, "samples": 8, "teacher_steps": 10}  # off unless asked
    assert stage_section("lcm", "endpoint") == {"weight": 0.0, "samples": 8, "teacher_steps": 10}
    for bad, message in [({"weight": -1, "samples": 8, "teacher_steps": 10}, "weight must be a number >= 0"),
                         ({"weight": "1", "samples": 8, "teacher_steps": 10}, "weight must be a number >= 0"),
                         ({"weight": 1, "samples": 0, "teacher_steps": 10}, "samples must be a positive integer"),
                         ({"weight": 1, "samples": 8, "teacher_steps": 2.5}, "teacher_steps must be a positive integer"),
                         ({"weight": 1, "samples": 8}, "missing endpoint option"),
                         ({"weight": 1, "samples": 8, "teacher_steps": 10, "steps": 1}, "unknown endpoint option")]:
        with pytest.raises(MotionLCMError, match=message):
            checked_endpoint(bad)
    ds, _ = _tiny_batch(trained)
    with pytest.raises(MotionLCMError, match="samples must be a positive integer"):
        LCMStage(str(trained["mld"]), {"lr": 1e-3}, stage_section("lcm", "lcm"), {}, ds.mean, ds.std,
                 endpoint={"weight": 1, "samples": -2, "teacher_steps": 10})


def test_endpoint_term_trains_through_the_cli_config(trained, tmp_path):
    cfg = compose_config(["stage=lcm", f"teacher={trained['mld']}", *common(trained["dataset"], tmp_path / "lcm_endpoint", steps=2),
                          *TINY_VAE, "stage.endpoint.weight=0.5", "stage.endpoint.samples=2", "stage.endpoint.teacher_steps=2"])
    train(cfg, [])
    header = (tmp_path / "lcm_endpoint" / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert "train/endpoint" in header and "val/endpoint" in header


def test_lcm_checkpoint_drives_the_pipeline_and_cli(trained, tmp_path):
    from motionlcm.pipeline import MotionPipeline

    ckpt = load_checkpoint(trained["lcm"])
    assert ckpt.kind == "lcm" and ckpt.config["denoiser"]["guidance_embed_dim"] == 256
    assert "denoiser.guidance_proj.weight" in ckpt.weights
    assert ckpt.config["lcm"]["num_ddim_timesteps"] == 10
    pipe = MotionPipeline.from_pretrained(trained["lcm"], device="cpu")
    one = pipe("a person jumps", 40, seed=1)
    assert one.steps == 1 and one.guidance == 8.0 and one.joints.shape == (1, 40, 22, 3)
    four = pipe("a person jumps", 40, num_steps=4, seed=1)
    assert four.guidance == 13.5 and np.isfinite(four.joints).all()
    np.testing.assert_array_equal(four.joints, pipe("a person jumps", 40, num_steps=4, seed=1).joints)
    out = tmp_path / "lcm.npz"
    assert main(["generate", "a person jumps", "--ckpt", str(trained["lcm"]), "--length", "2s", "--steps", "2",
                 "--guidance", "6", "--out", str(out)]) == 0
    with np.load(out) as data:
        assert int(data["steps"]) == 2 and float(data["guidance"]) == 6.0


def test_latent_cache_returns_the_vaes_posterior_per_crop(small_dataset):
    from motionlcm.data.humanml3d import HumanML3DDataset, collate_motions
    from motionlcm.training.stages import LatentCache
    from tests.control_helpers import tiny_vae

    torch.manual_seed(0)
    ds = HumanML3DDataset(small_dataset, "train", mode="text")
    vae = tiny_vae().eval()
    batch = collate_motions([ds[i] for i in range(len(ds))])
    cache = LatentCache(max_entries=100)
    first = cache(vae, batch)
    with torch.no_grad():
        _, direct = vae.encode(batch["motion"], batch["mask"], sample=False)
    torch.testing.assert_close(first.mu, direct.mu, atol=1e-5, rtol=1e-5)  # rows encoded in their own padding
    torch.testing.assert_close(first.logvar, direct.logvar, atol=1e-5, rtol=1e-5)
    assert (cache.hits, cache.misses) == (0, len(ds))
    vae.latent_down.weight.data.zero_()  # a changed VAE would change the posterior: the cache must not ask it again
    again = cache(vae, batch)
    assert (cache.hits, cache.misses) == (len(ds), len(ds)) and torch.equal(again.mu, first.mu)
    shifted = dict(batch, start=batch["start"] + 1)  # another crop of the same motions: not a hit
    cache(vae, shifted)
    assert cache.misses == 2 * len(ds)
    small = LatentCache(max_entries=len(ds))  # full: cleared, then refilled with the batch
    small(vae, batch)
    small(vae, shifted)
    assert len(small.table) == len(ds)


def test_a_bad_latent_cache_size_is_a_one_line_error(trained, tmp_path):
    from tests.training_helpers import TINY_DENOISER

    overrides = ["stage=mld", f"vae={trained['vae']}", *common(trained["dataset"], tmp_path / "mld", 1), *TINY_VAE,
                 *TINY_DENOISER, "stage.latent_cache=-1"]
    with pytest.raises(MotionLCMError, match="stage.latent_cache must be a number of crops >= 0"):
        train(compose_config(overrides))


def test_vae_fine_tune_adds_the_phase_path_and_carries_the_teacher_over(trained, tmp_path):
    """init= a trained VAE into a config with the phase path: the loaded weights are where training
    starts (step 0 reproduces them), the anchor loss is logged; the MLD teacher then refuses the new
    VAE under init= unless stage.init_any_vae says so."""
    from motionlcm.checkpoint import build_vae

    phase = ["model.vae.phase_periods=[4,8]", "model.vae.phase_channels=2"]
    from lightning.pytorch.callbacks import Callback

    class GroupRecorder(Callback):
        def on_train_start(self, trainer, pl_module):
            self.groups = [(len(g["params"]), g["initial_lr"]) for g in trainer.optimizers[0].param_groups]

    out, groups = tmp_path / "tuned", GroupRecorder()
    export = train(compose_config(["stage=vae", *common(trained["dataset"], out, steps=2), *TINY_VAE, *phase,
                                   f"init={trained['vae']}", "stage.anchor_weight=1.0", "stage.optim.lr=1e-3",
                                   "++stage.optim.lr_scale={encoder_phase_: 10, decoder_phase_: 10}"]), [groups])
    # the phase path's 8 tensors learn 10x faster than the rest
    n_plain = sum(1 for n, _ in build_vae(load_checkpoint(trained["vae"])).named_parameters())
    assert groups.groups == [(n_plain, pytest.approx(1e-3)), (8, pytest.approx(1e-2))]
    header = (out / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert "train/anchor" in header
    tuned, base = build_vae(load_checkpoint(export)), build_vae(load_checkpoint(trained["vae"]))
    assert tuned.config.phase_periods == (4.0, 8.0)
    assert tuned.state_dict()["encoder_phase_in.weight"].shape == (4, 32, 1)  # 2 periods x 2 channels
    changed = [k for k, v in base.state_dict().items() if not torch.equal(v, tuned.state_dict()[k])]
    assert changed  # it trained from the loaded weights ...
    drift = max((base.state_dict()[k] - tuned.state_dict()[k]).abs().max().item() for k in changed)
    assert drift < 0.05  # ... two small steps away from them, not from a fresh initialisation
    mld_args = ["stage=mld", f"vae={export}", f"init={trained['mld']}", *TINY_VAE, *phase, *TINY_DENOISER]
    with pytest.raises(MotionLCMError, match="trained on another VAE than vae="):
        train(compose_config([*mld_args, *common(trained["dataset"], tmp_path / "refused", steps=2)]))
    carried = train(compose_config([*mld_args, *common(trained["dataset"], tmp_path / "carried", steps=2),
                                    "stage.init_any_vae=true"]))
    assert load_checkpoint(carried).kind == "mld"
