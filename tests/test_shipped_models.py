"""The models shipped in assets/checkpoints, checked on fresh corpus motions (not the training data).

Fresh procedural motions go through the dataset processing (joints -> features -> joints); their
pelvis paths are the hints. The README's evaluation table is the measurement; these tests guard
the behaviour a release must keep.
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from motionlcm.data.synth import synthesize_motion
from motionlcm.motion.features import features_to_joints, joints_to_features

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "checkpoints"
VAE_MPJPE_LIMIT = 0.020  # metres, root-relative (model card: 13.1 mm on 300 unseen motions)
PROMPT_PASS_LIMIT = 0.30  # share of actions passing (measured 0.42 here; the gliding first release: 0.018)
FAMILIES = ["walk", "run", "side_step", "jump", "jog", "turn", "march", "hop"]  # movers: the pelvis travels


def fresh_pelvis_tasks(count: int, seed: int = 2026):
    """(captions, lengths, joints (B, T, 22, 3)) of new corpus motions in the dataset's frame."""
    texts, clips = [], []
    for i in range(count):
        family = FAMILIES[i % len(FAMILIES)]
        joints, captions, _ = synthesize_motion(np.random.default_rng([seed, i]), family=family, num_actions=1)
        features = joints_to_features(torch.as_tensor(joints[:121]))  # at most 6 s
        clips.append(features_to_joints(features).numpy().astype(np.float32))
        texts.append(captions[0][0])
    lengths = [len(c) for c in clips]
    padded = np.zeros((count, max(lengths), 22, 3), np.float32)
    for row, clip in enumerate(clips):
        padded[row, : len(clip)] = clip
    return texts, lengths, padded


def controlnet_pull(folder: str, joints: list[int]) -> tuple[float, float]:
    """Mean distance (m) to hints on ``joints`` at every frame of fresh motions, sampled without
    and with the ControlNet of ``folder`` (same seeds and text; no exact correction)."""
    from motionlcm.pipeline import MotionPipeline

    pipe = MotionPipeline.from_pretrained(SHIPPED / folder, device="cpu")
    texts, lengths, truth = fresh_pelvis_tasks(32)  # 8 were too few: one release read 1.03x on 8, 0.80x on 32
    mask = np.zeros(truth.shape[:3], bool)
    for row, n in enumerate(lengths):
        mask[row, :n, joints] = True
    hints = np.where(mask[..., None], truth, 0.0).astype(np.float32)
    seeds = list(range(len(texts)))
    free = pipe(texts, lengths, num_steps=1, seed=seeds)
    controlled = pipe(texts, lengths, num_steps=1, seed=seeds, control=(hints, mask), exact_hints=False)
    return (float(np.linalg.norm(free.joints - hints, axis=-1)[mask].mean()),
            float(np.linalg.norm(controlled.joints - hints, axis=-1)[mask].mean()))


@pytest.mark.skipif(not (SHIPPED / "control_pelvis" / "config.yaml").is_file(), reason="no shipped ControlNet")
def test_shipped_controlnet_pulls_the_pelvis_towards_its_hints():
    # Only the ControlNet differs. It pulls the pelvis part of the way (README: far from the
    # hints without the exact correction): measured 0.65 m against 0.77 m free (0.84x; 1,200 steps
    # on the current student). A ControlNet that ignored the hints would give 1.0x.
    free_err, controlled_err = controlnet_pull("control_pelvis", [0])
    assert controlled_err < 0.93 * free_err, (controlled_err, free_err)


@pytest.mark.skipif(not (SHIPPED / "control_all" / "config.yaml").is_file(), reason="no shipped all-joints ControlNet")
def test_shipped_all_joints_controlnet_pulls_the_six_joints_towards_their_hints():
    # The six joints of the papers hinted at every frame: measured 0.77 m against 0.84 m free (0.92x).
    free_err, controlled_err = controlnet_pull("control_all", [0, 10, 11, 15, 20, 21])
    assert controlled_err < 0.95 * free_err, (controlled_err, free_err)


def test_default_model_meets_hints_on_fresh_motions():
    """Issue "Exact control": the default model (no ControlNet) with exact hints, on corpus motions
    of an unseen seed, the six joints of the papers at sparse frames incl. the first and last."""
    from motionlcm.pipeline import MotionPipeline

    pipe = MotionPipeline.from_pretrained(device="cpu")
    texts, lengths, truth = fresh_pelvis_tasks(4)
    mask = np.zeros(truth.shape[:3], bool)
    for row, n in enumerate(lengths):
        frames = np.unique(np.r_[0, np.linspace(0, n - 1, 6).round().astype(int), n - 1])
        mask[row, frames[:, None], [0, 10, 11, 15, 20, 21]] = True
    hints = np.where(mask[..., None], truth, 0.0).astype(np.float32)
    out = pipe(texts, lengths, num_steps=1, seed=list(range(len(texts))), control=(hints, mask))
    error = np.linalg.norm(out.joints - hints, axis=-1)
    # These hints come from other motions (misses of ~1 m before the correction). Pelvis and head:
    # met exactly. Feet: within 3 cm (the correction runs on the symmetric export rig; the data's
    # skeleton differs by up to 2.8 cm at the hips). Wrists: where the head is hinted at the same
    # frame the spine is fixed by it, and a wrist beyond the arm's reach from there stays short.
    for joint in (0, 15):
        assert error[..., joint][mask[..., joint]].max() < 1e-4
    feet = error[..., [10, 11]][mask[..., [10, 11]]]
    wrists = error[..., [20, 21]][mask[..., [20, 21]]]
    assert feet.max() <= 0.03, feet.max()
    assert wrists.mean() <= 0.05 and np.median(wrists) <= 0.01, (wrists.mean(), np.median(wrists))
    assert error[mask].mean() <= 0.02
    assert np.isfinite(out.joints).all()


def fresh_motions(count: int, seed: int = 7):
    """(joints clips, features clips, actions) of new corpus motions (another seed than the training corpus)."""
    from motionlcm.data.synth.dataset import make_motion

    clips, feats, metas = [], [], []
    for i in range(count):
        motion = make_motion(seed, i)
        features = torch.from_numpy(motion["features"][:196])
        feats.append(features)
        clips.append(motion["joints"][:196].astype(np.float64))
        metas.append(motion["meta"])
    return clips, feats, metas


def test_shipped_vae_reconstructs_steps_on_fresh_motions():
    """The VAE targets (issue "Human motion"): small error, feet that step as often as the data's,
    no jitter, rigid bones - measured on 24 motions it never saw."""
    from motionlcm.evaluation.joint_quality import joint_quality
    from motionlcm.evaluation.metrics import mpjpe
    from motionlcm.checkpoint import build_vae, load_checkpoint

    ckpt = load_checkpoint(SHIPPED / "motionlcm")
    vae = build_vae(ckpt)
    mean, std = torch.from_numpy(ckpt.mean), torch.from_numpy(ckpt.std)
    clips, feats, _ = fresh_motions(24)
    recon = []
    with torch.no_grad():
        for f in feats:
            mask = torch.ones(1, len(f), dtype=torch.bool)
            z = vae.encode(((f - mean) / std)[None], mask, sample=False)[0]
            recon.append(features_to_joints(vae.decode(z, mask)[0] * std + mean).numpy())
    error = np.mean([mpjpe(r, c) for r, c in zip(recon, clips)])
    real, rebuilt = joint_quality(clips), joint_quality(recon)
    assert error < VAE_MPJPE_LIMIT, error
    assert 0.7 < rebuilt["foot_lifts_per_s"] / real["foot_lifts_per_s"] < 1.3, (rebuilt, real)
    assert rebuilt["jitter"] < 2 * real["jitter"] + 0.01, (rebuilt, real)
    assert rebuilt["bone_std_cm"] < 1.0, rebuilt


def test_shipped_vae_keeps_fast_hand_and_hop_motion():
    """Claps, waves, punches and hops of fresh corpus motions (whole clips, as the corpus makes them)
    come back countable: their rule-based checks pass on the reconstructions (the VAE before the
    phase path: claps 5 %, punches 49 %, hops 52 %, waves 31 % on 300 unseen motions; this one
    100 / 100 / 100 / 87 %, model card)."""
    from motionlcm.checkpoint import build_vae, load_checkpoint
    from motionlcm.data.synth.dataset import make_motion
    from motionlcm.evaluation.prompt_checks import check_actions

    ckpt = load_checkpoint(SHIPPED / "motionlcm")
    vae = build_vae(ckpt)
    mean, std = torch.from_numpy(ckpt.mean), torch.from_numpy(ckpt.std)
    fast = {"clap", "wave", "punch", "hop"}
    passed = {family: [] for family in fast}
    index = 0
    while min(len(v) for v in passed.values()) < 6:
        motion = make_motion(77, index)
        index += 1
        actions = motion["meta"]["actions"]
        if not fast & {a["family"] for a in actions} or len(motion["features"]) > 196:
            continue
        features = torch.as_tensor(motion["features"]).float()
        mask = torch.ones(1, len(features), dtype=torch.bool)
        with torch.no_grad():
            z = vae.encode(((features - mean) / std)[None], mask, sample=False)[0]
            recon = features_to_joints(vae.decode(z, mask)[0] * std + mean).numpy()
        for check in check_actions(recon, actions):
            if check.family in fast:
                passed[check.family].append(check.passed)
    rates = {family: float(np.mean(v)) for family, v in passed.items()}
    assert min(rates.values()) >= 0.5 and np.mean(list(rates.values())) >= 0.8, rates


def test_shipped_motionlcm_follows_prompts_and_steps():
    """One-step MotionLCM on the captions of fresh motions: the feet lift as the data's do (the
    first release glided: 0.003 lifts/s) and more actions pass their rule-based check than then
    (a regression guard: the 80 % target is far from met, see the model card)."""
    from motionlcm.data.synth.dataset import make_motion
    from motionlcm.evaluation.joint_quality import foot_lift_rate
    from motionlcm.evaluation.prompt_checks import prompt_following
    from motionlcm.pipeline import MotionPipeline

    pipe = MotionPipeline.from_pretrained(SHIPPED / "motionlcm", device="cpu")
    motions = [make_motion(11, i) for i in range(24)]
    texts = [m["lines"][0].split("#")[0] for m in motions]
    lengths = [min(len(m["features"]), 196) for m in motions]
    out = pipe(texts, lengths, num_steps=1, seed=list(range(len(texts))))
    clips = [out.motion(i)[1] for i in range(len(texts))]
    result = prompt_following(clips, [m["meta"] for m in motions])
    assert result["overall"] >= PROMPT_PASS_LIMIT, result
    assert foot_lift_rate(clips) > 0.3
