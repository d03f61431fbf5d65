"""The ``control`` training stage through the real config path, its export, and controlled generation."""
import numpy as np
import pytest
import torch

from motionlcm.errors import MotionLCMError
from tests.control_helpers import pelvis_error, pelvis_line_hints, save_tiny_lcm, single_thread  # noqa: F401
from tests.training_helpers import common, stage_section

pytestmark = pytest.mark.usefixtures("single_thread")
TRAIN_STEPS = 16


@pytest.fixture(scope="module")
def setup(tmp_path_factory, fixtures):
    from motionlcm.data.stats import dataset_stats
    from tests.conftest import build_small_dataset

    base = tmp_path_factory.mktemp("control")
    dataset = build_small_dataset(base / "ds", fixtures)
    stats = dataset_stats(dataset)
    for name in ("Mean_raw.npy", "Std_raw.npy"):
        np.save(dataset / name, stats[name])
    mean, std = np.load(dataset / "Mean.npy"), np.load(dataset / "Std.npy")
    return {"base": base, "dataset": dataset, "lcm": save_tiny_lcm(base / "lcm", mean, std),
            "mld": save_tiny_lcm(base / "mld", mean, std, kind="mld")}


@pytest.fixture(scope="module")
def trained_control(setup):
    from motionlcm.training.run import compose_config, train

    overrides = ["stage=control", f"base={setup['lcm']}", *common(setup["dataset"], setup["base"] / "run", TRAIN_STEPS),
                 "trainer.val_check_interval=8", "stage.optim.lr=1e-3"]
    return train(compose_config(overrides))


def fresh_stage(setup, base_key="lcm", control=None, **loss):
    from motionlcm.control import load_joint_stats
    from motionlcm.data.humanml3d import load_mean_std
    from motionlcm.training.control_stage import ControlStage

    mean, std = load_mean_std(setup["dataset"])
    joint_mean, joint_std = load_joint_stats(setup["dataset"])
    control = {**stage_section("control", "control"), **(control or {})}
    loss = {**stage_section("control", "loss"), **loss}
    return ControlStage(str(setup[base_key]), control, stage_section("control", "controlnet"), {}, loss, {"lr": 1e-3},
                        joint_mean, joint_std, mean, std).eval()


def train_batch(setup):
    from motionlcm.data.humanml3d import HumanML3DDataset, collate_motions

    ds = HumanML3DDataset(setup["dataset"], "train", mode="eval")
    return collate_motions([ds[i] for i in range(len(ds))])


def fixed_control_loss(stage, batch) -> float:
    """Control loss at 100 % pelvis density over fixed noise, timesteps and guidance draws."""
    with torch.no_grad():
        return float(np.mean([stage.losses(batch, torch.Generator().manual_seed(s), "100%", one_joint=False)["control"]
                              for s in range(8)]))


def test_export_holds_every_module_and_keeps_the_base_frozen(setup, trained_control):
    from motionlcm.checkpoint import load_checkpoint

    ckpt = load_checkpoint(trained_control)
    base = load_checkpoint(setup["lcm"])
    assert ckpt.kind == "control" and ckpt.config["base_kind"] == "lcm" and ckpt.config["trained_steps"] == TRAIN_STEPS
    assert {k.split(".")[0] for k in ckpt.weights} == {"vae", "denoiser", "controlnet", "traj_encoder"}
    for key, value in base.weights.items():  # VAE and base denoiser exported untouched
        assert torch.equal(ckpt.weights[key], value), key
    assert ckpt.config["control"]["joints"] == [0] and ckpt.config["control"]["density"] == "random"
    np.testing.assert_allclose(ckpt.weights["traj_encoder.hint_mean"].numpy(), np.load(setup["dataset"] / "Mean_raw.npy"))
    assert ckpt.weights["controlnet.residual_projections.0.weight"].abs().sum() > 0  # trained away from zero
    header = (trained_control.parent / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert "train/control" in header and "val/control" in header and "train/diffusion" in header


def test_a_few_steps_lower_the_control_loss(setup, trained_control):
    from motionlcm.checkpoint import load_checkpoint

    batch = train_batch(setup)
    stage = fresh_stage(setup)  # zero-initialised: exactly the base model
    before = fixed_control_loss(stage, batch)
    ckpt = load_checkpoint(trained_control)
    stage.trainable["controlnet"].load_state_dict(ckpt.sub_state("controlnet"))
    stage.trainable["traj_encoder"].load_state_dict(ckpt.sub_state("traj_encoder"))
    after = fixed_control_loss(stage, batch)
    print(f"control loss (smooth-L1, m) on the tiny set: {before:.4f} -> {after:.4f} after {TRAIN_STEPS} steps")
    assert after < 0.95 * before


def test_pipeline_follows_hints_better_with_latent_tuning(setup, trained_control):
    from motionlcm.pipeline import MotionPipeline

    pipe = MotionPipeline.from_pretrained(trained_control, device="cpu")
    assert pipe.kind == "control" and pipe.sampler_kind == "lcm" and pipe.default_steps == 1
    hints, mask = pelvis_line_hints(40, every=2)
    # exact_hints=False: this measures what the ControlNet and the tuning do by themselves
    controlled = pipe("a person walks forward", 40, seed=5, control=(hints, mask), exact_hints=False)
    tuned = pipe("a person walks forward", 40, seed=5, control=(hints, mask), latent_tuning_steps=60, exact_hints=False)
    before, after = pelvis_error(controlled.joints[0], hints, mask), pelvis_error(tuned.joints[0], hints, mask)
    print(f"pipeline with ControlNet: pelvis error {before:.3f} m, with 60 tuning steps {after:.3f} m")
    assert after < 0.8 * before
    assert tuned.tuning["steps"] == 60 and tuned.timings["tuning"] > 0
    # Without control the base denoiser runs alone: the same motion as the base checkpoint.
    base = MotionPipeline.from_pretrained(setup["lcm"], device="cpu")
    np.testing.assert_array_equal(pipe("a person walks", 40, seed=2).joints, base("a person walks", 40, seed=2).joints)
    # A control spec file and several samples of different lengths.
    spec = {"joints": {"pelvis": {"path": {"type": "circle", "center": [1, 0.95, 0], "radius": 1, "start_angle": 180}}}}
    out = pipe(["walks in a circle", "circles"], [40, 60], seed=[1, 2], control=spec, num_steps=2)
    assert out.hint_mask.shape == (2, 60, 22) and out.hint_mask[0, 40:].sum() == 0 and out.hint_mask[1, :, 0].all()
    assert np.isfinite(out.joints).all()


def test_mld_base_controlnet_starts_as_the_teacher(setup, tmp_path):
    """On an MLD base (DDIM + CFG, control tokens doubled with the batch) a fresh ControlNet changes nothing."""
    from motionlcm.pipeline import MotionPipeline
    from motionlcm.checkpoint import save_checkpoint

    stage = fresh_stage(setup, "mld", cfg_dropout=0.5)
    losses = stage.losses(train_batch(setup), torch.Generator().manual_seed(0), drop_text=True)
    assert all(torch.isfinite(v) for v in losses.values())
    export = save_checkpoint(tmp_path / "ctl", "control", stage.export_config(), stage.export_modules(),
                             stage.mean.numpy(), stage.std.numpy())
    pipe, base = MotionPipeline.from_pretrained(export, device="cpu"), MotionPipeline.from_pretrained(setup["mld"], device="cpu")
    assert pipe.sampler_kind == "mld" and pipe.default_steps == 10
    hints, mask = pelvis_line_hints(40, every=4)
    controlled = pipe("a person walks", 40, seed=4, control=(hints, mask), exact_hints=False)
    np.testing.assert_array_equal(controlled.joints, base("a person walks", 40, seed=4).joints)
    with pytest.raises(MotionLCMError, match="latent tuning needs a MotionLCM"):
        pipe("a person walks", 40, seed=4, control=(hints, mask), latent_tuning_steps=3)


def test_temporal_and_six_joint_training_hints(setup):
    batch = train_batch(setup)
    lengths = batch["lengths"].tolist()
    temporal = fresh_stage(setup, control={"temporal": "prefix", "density": "25%"})
    joints, hints, mask = temporal.make_hints(batch)
    for i, length in enumerate(lengths):  # all 22 joints on the first quarter of each motion
        assert mask[i].any(-1).nonzero().flatten().tolist() == list(range(length * 25 // 100))
        assert mask[i].sum() == 22 * (length * 25 // 100)
    assert torch.equal(hints[mask], joints[mask])
    six = fresh_stage(setup, control={"joints": "all"})
    _, _, mask = six.make_hints(batch, generator=torch.Generator().manual_seed(0))
    assert (mask.any(1).sum(-1) == 1).all()  # training: one joint of the six per sample
    losses = temporal.losses(batch, torch.Generator().manual_seed(1))
    assert all(torch.isfinite(v) for v in losses.values())


def test_configuration_errors(setup, tmp_path):
    from motionlcm.checkpoint import load_checkpoint, save_checkpoint
    from motionlcm.training.run import compose_config, train
    from tests.control_helpers import tiny_vae

    lcm = load_checkpoint(setup["lcm"])
    vae_only = save_checkpoint(tmp_path / "vae", "vae", {"vae": lcm.config["vae"]}, {"vae": tiny_vae()}, lcm.mean, lcm.std)
    run_args = common(setup["dataset"], tmp_path / "run", 1)
    cases = [
        ([], "needs a base model"),
        ([f"base={vae_only}"], "'vae' checkpoint; this needs 'lcm' or 'mld'"),
        ([f"base={setup['lcm']}", f"stage.control.joint_stats={tmp_path}"], "motionlcm data stats"),
        ([f"base={setup['lcm']}", "+stage.control.joint=pelvis"], "unknown control option"),
        ([f"base={setup['lcm']}", "stage.control.density=lots"], "control density 'lots' not understood"),
    ]
    for extra, message in cases:
        with pytest.raises(MotionLCMError, match=message):
            train(compose_config(["stage=control", *run_args, *extra]))


def test_validation_reports_the_one_step_control_error(setup, trained_control):
    import csv

    rows = list(csv.DictReader((trained_control.parent / "csv" / "metrics.csv").open()))
    errors = [float(r["val/avg_err_m"]) for r in rows if r.get("val/avg_err_m")]
    assert len(errors) == 2 and all(0 < e < 10 for e in errors)  # validated at steps 8 and 16, in metres
    value = fresh_stage(setup).one_step_control_error(train_batch(setup), torch.Generator().manual_seed(0))
    assert torch.isfinite(value) and value > 0


def test_control_samples_limits_the_decoded_rows(setup):
    batch = train_batch(setup)
    full, every, first = fresh_stage(setup), fresh_stage(setup, control_samples=64), fresh_stage(setup, control_samples=1)
    rows = []
    original = first.vae.decode
    first.vae.decode = lambda z, mask: rows.append(len(z)) or original(z, mask)
    draws = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    reference, same, sampled = full.losses(batch, draws()), every.losses(batch, draws()), first.losses(batch, draws())
    assert rows == [1] and len(batch["mask"]) > 1
    assert torch.equal(reference["control"], same["control"]) and torch.equal(reference["diffusion"], sampled["diffusion"])
    assert not torch.equal(reference["control"], sampled["control"])
    with pytest.raises(MotionLCMError, match="control_samples must be a positive integer"):
        fresh_stage(setup, control_samples=0)


def test_sampler_timesteps_train_only_where_the_few_step_sampler_runs(setup):
    from motionlcm.diffusion import LCM_TIMESTEPS

    stage = fresh_stage(setup, control={"timesteps": "sampler"})
    steps, w = stage._noise_level(512, torch.Generator().manual_seed(0))
    assert set(steps.tolist()) == {t for ts in LCM_TIMESTEPS.values() for t in ts} == {299, 399, 699, 799}
    assert w is not None and len(w) == 512
    grid_steps, _ = fresh_stage(setup)._noise_level(512, torch.Generator().manual_seed(0))
    assert len(set(grid_steps.tolist())) > 4  # the default grid spans the skipping grid
    with pytest.raises(MotionLCMError, match="grid, uniform, sampler"):
        fresh_stage(setup, control={"timesteps": "late"})


def test_a_conv_trajectory_encoder_trains_through_the_config_path(setup, tmp_path):
    from motionlcm.checkpoint import load_checkpoint
    from motionlcm.models.controlnet import ConvTrajectoryEncoder, build_control_modules
    from motionlcm.training.run import compose_config, train

    overrides = ["stage=control", f"base={setup['lcm']}", *common(setup["dataset"], tmp_path / "run", 2),
                 "+stage.traj_encoder.architecture=conv", "+stage.traj_encoder.num_blocks=2"]
    export = train(compose_config(overrides))
    ckpt = load_checkpoint(export)
    assert ckpt.config["traj_encoder"]["architecture"] == "conv" and ckpt.config["traj_encoder"]["num_blocks"] == 2
    _, encoder = build_control_modules(ckpt)
    assert isinstance(encoder, ConvTrajectoryEncoder)


def test_rollout_loss_trains_the_one_step_sampler_from_noise(setup):
    """The rollout term is the control loss of one-step samples from pure noise; optimising it alone
    brings those samples (the validation's one-step error) closer to the hints."""
    batch = train_batch(setup)
    plain, rollout = fresh_stage(setup), fresh_stage(setup, rollout=1.0, diffusion=0.0)
    rollout.loss_cfg["control"] = 0.0  # (fresh_stage's own `control` argument is the control section)
    draws = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    assert "rollout" not in plain.losses(batch, draws())
    losses = rollout.losses(batch, draws(), "100%", one_joint=False)
    assert torch.equal(losses["total"], losses["rollout"]) and losses["rollout"] > 0
    before = float(rollout.one_step_control_error(batch, draws()))
    optimiser = torch.optim.Adam(rollout.trainable.parameters(), lr=1e-3)
    for step in range(12):
        optimiser.zero_grad()
        rollout.losses(batch, torch.Generator().manual_seed(100 + step), "100%", one_joint=False)["total"].backward()
        optimiser.step()
    after = float(rollout.one_step_control_error(batch, draws()))
    print(f"one-step pelvis error on the tiny set: {before:.3f} -> {after:.3f} m after 12 rollout steps")
    assert after < 0.9 * before


def test_rollout_options_are_checked(setup):
    rows = []
    one = fresh_stage(setup, rollout=0.5, rollout_samples=1, control_samples=2)
    original = one.vae.decode
    one.vae.decode = lambda z, mask: rows.append(len(z)) or original(z, mask)
    one.losses(train_batch(setup), torch.Generator().manual_seed(0))
    assert rows == [2, 1]  # the control loss's rows, then the rollout's
    for value, message in ((-1.0, "rollout must be a number >= 0"), ("yes", "rollout must be a number >= 0")):
        with pytest.raises(MotionLCMError, match=message):
            fresh_stage(setup, rollout=value)
    with pytest.raises(MotionLCMError, match="rollout_samples must be a positive integer"):
        fresh_stage(setup, rollout=1.0, rollout_samples=0)
    with pytest.raises(MotionLCMError, match="rollout needs an lcm base"):
        fresh_stage(setup, "mld", rollout=1.0)
