"""The shipped evaluator must not be fooled: corrupted real motions score worse FID and R-precision.

Real motions are the corpus's own test-split motions regenerated with
:func:`motionlcm.data.synth.dataset.make_motion` (seed 0, the split of ``split_ids``: held out from
the evaluator's training, and no dependence on ``data/``), each with its first caption. Real and
corrupted clips take the same path to the evaluator (joints -> dataset features -> the evaluator's
Mean/Std, :func:`motionlcm.evaluation.corruptions.embed_joints`), and each corruption is scored as
a generated method is by the runner: FID against the real embeddings of the same motions,
R-precision in groups of 32.

Measured with the shipped evaluator (trained with hard negatives, see
``motionlcm/training/evaluator_stage.py``; numbers fixed by the seeds), this file's 256 motions,
whole, first caption. The previous evaluator (in-batch negatives only) in brackets:

=================  ===============  ===============  ===============
set                FID              R@1              R@3
=================  ===============  ===============  ===============
real               0     (0)        0.945 (0.867)    0.996 (0.988)
freeze_legs        0.566 (0.441)    0.594 (0.586)    0.754 (0.758)
jitter (2 cm)      1.195 (0.381)    0.789 (0.781)    0.965 (0.980)
reverse_root       0.255 (0.152)    0.645 (0.699)    0.824 (0.855)
swap_left_right    0.045 (0.015)    0.801 (0.816)    0.949 (0.973)
=================  ===============  ===============  ===============

FID margin: two *disjoint* sets of 256 real test motions are 0.052 apart (0.042 with the previous
evaluator), so a corruption has to move the distribution at least about twice as far as drawing
other real motions does: FID > 0.10. R-precision must drop clearly: R@1 at least 0.05 below the
real motions' (R@3 is saturated near 1).

Mirroring cannot be caught by FID on this corpus, with any evaluator: the corpus is left/right
symmetric (5194 "left" / 5105 "right" in its captions), so the mirrored set has the real
distribution (FID 0.045, at the real-vs-real floor); that test is a strict xfail documenting it.
What catches a mirror is text: for captions that name a side, the shipped evaluator puts the
caption nearer the real motion than its mirror for 95 % of them (the previous one: 74 %), and
R@1 drops from 0.945 to 0.801.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from motionlcm.evaluation import corruptions as C
from motionlcm.evaluation import metrics as M
from tests.control_helpers import single_thread  # noqa: F401 (fixture: the small evaluator runs faster on one thread)

REPO = Path(__file__).resolve().parents[1]
SHIPPED_EVALUATOR = REPO / "assets" / "checkpoints" / "evaluator"
CORPUS_SEED, CORPUS_SIZE = 0, 4000  # data/corpus/synth_meta.json: seed 0, 4000 motions
NUM_MOTIONS = 256
GROUP_SIZE = 32  # the protocol's R-precision groups
MAX_JOINT_FRAMES = 197  # -> at most 196 feature frames, HumanML3D's maximum test length
FID_MARGIN = 0.10  # about twice the FID of two disjoint sets of 256 real motions (0.042 here, 0.050 runner protocol)
R_AT_1_DROP = 0.05  # a corruption must cost at least this much R@1
SIDE_PREFERENCE = 0.90  # a side-aware evaluator prefers the real motion over its mirror for almost every side caption
SIDE_WORDS = re.compile(r"\b(left|right)\b", re.IGNORECASE)

MIRROR_FID_REASON = ("on this left/right symmetric corpus the mirrored set has the real distribution, so FID cannot "
                     "catch a mirror with any evaluator (measured 0.045, at the 0.052 real-vs-real floor); R-precision "
                     "and test_evaluator_tells_a_side_caption_from_the_mirror catch it")


# ------------------------------------------------------------------------------------------------
# unit tests of the corruptions
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def motion() -> dict:
    """A corpus motion that walks (its pelvis travels), in the dataset's frame."""
    from motionlcm.data.synth.dataset import make_motion

    for index in range(50):
        m = make_motion(CORPUS_SEED, index)
        if "walk" in m["meta"]["families"]:
            return m
    raise AssertionError("no walking motion among the first 50")


def test_leg_joints_are_hips_knees_ankles_and_feet():
    from motionlcm.motion.skeleton import JOINT_NAMES

    names = sorted(JOINT_NAMES[j] for j in C.LEG_JOINTS)
    assert names == sorted(f"{s}_{p}" for s in ("left", "right") for p in ("hip", "knee", "ankle", "foot"))


def test_freeze_legs_keeps_the_leg_offsets_of_frame_0_and_moves_the_rest_as_before(motion):
    joints = motion["joints"].astype(np.float64)
    before = joints.copy()
    out = C.freeze_legs(joints)
    legs = list(C.LEG_JOINTS)
    offsets = out[:, legs] - out[:, :1]
    np.testing.assert_allclose(offsets, np.broadcast_to(joints[0, legs] - joints[0, :1], offsets.shape), atol=1e-12)
    others = [j for j in range(22) if j not in legs]
    np.testing.assert_array_equal(out[:, others], joints[:, others])  # pelvis and upper body unchanged
    np.testing.assert_array_equal(joints, before)  # the input is not modified
    assert np.linalg.norm(out[-1, 0, [0, 2]] - out[0, 0, [0, 2]]) > 0.5  # the root still travels: a glide
    # the real legs did move relative to the pelvis
    assert np.abs((joints[:, legs] - joints[:, :1]) - (joints[0, legs] - joints[0, :1])).max() > 0.1


def test_jitter_has_the_requested_std_and_is_iid_and_seeded(motion):
    joints = motion["joints"].astype(np.float64)
    noise = C.add_jitter(joints, std=0.02, seed=3) - joints
    assert abs(noise.std() - 0.02) < 0.02 * 0.03  # about 3.6e4 samples: the estimate is within 1%
    assert abs(noise.mean()) < 3 * 0.02 / np.sqrt(noise.size)
    frames = noise.reshape(len(noise), -1)
    assert abs(np.corrcoef(frames[1:].ravel(), frames[:-1].ravel())[0, 1]) < 0.05  # no correlation across frames
    np.testing.assert_array_equal(C.add_jitter(joints, std=0.02, seed=3), joints + noise)
    assert not np.allclose(C.add_jitter(joints, std=0.02, seed=4), joints + noise)
    np.testing.assert_allclose(C.add_jitter(joints, std=0.005, seed=0) - joints, 0.25 * (C.add_jitter(joints, 0.02, 0) - joints))
    np.testing.assert_array_equal(C.add_jitter(joints, std=0.0), joints)


def test_reverse_root_negates_the_horizontal_displacement_and_keeps_the_pose(motion):
    joints = motion["joints"].astype(np.float64)
    out = C.reverse_root(joints)
    np.testing.assert_allclose(out[:, 0, [0, 2]] - out[0, 0, [0, 2]], -(joints[:, 0, [0, 2]] - joints[0, 0, [0, 2]]), atol=1e-12)
    np.testing.assert_allclose(out - out[:, :1], joints - joints[:, :1], atol=1e-12)  # the pose relative to the pelvis
    np.testing.assert_array_equal(out[:, :, 1], joints[:, :, 1])  # heights
    np.testing.assert_array_equal(out[0], joints[0])
    np.testing.assert_allclose(C.reverse_root(out), joints, atol=1e-12)  # twice is the identity


def test_swap_left_right_mirrors_and_is_an_involution(motion):
    from motionlcm.motion.mirror import mirror_joints
    from motionlcm.motion.skeleton import JOINT_INDEX

    joints = motion["joints"].astype(np.float64)
    out = C.swap_left_right(joints)
    np.testing.assert_array_equal(out, mirror_joints(joints))
    left, right = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]
    np.testing.assert_array_equal(out[:, left], joints[:, right] * [-1.0, 1.0, 1.0])
    np.testing.assert_array_equal(C.swap_left_right(out), joints)


def test_corruptions_keep_the_input_type_and_shape(motion):
    joints = motion["joints"]  # float32 numpy
    for name, corrupt in C.CORRUPTIONS.items():
        out = corrupt(joints)
        assert isinstance(out, np.ndarray) and out.shape == joints.shape and out.dtype == joints.dtype, name
        tensor = corrupt(torch.as_tensor(joints, dtype=torch.float64))
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float64, name
        np.testing.assert_allclose(tensor.numpy(), out, atol=1e-5, err_msg=name)
    with pytest.raises(Exception):
        C.freeze_legs(np.zeros((10, 21, 3)))


def test_evaluator_input_of_real_joints_is_the_dataset_features(motion):
    """The helper's path is the dataset's: real joints give back the stored features (one frame fewer)."""
    from motionlcm.data.synth.dataset import make_motion

    other = make_motion(CORPUS_SEED, 1)
    features, lengths = C.joints_to_evaluator_input([motion["joints"], other["joints"]])
    assert features.dtype == np.float32 and features.shape[-1] == 263
    assert lengths.tolist() == [len(motion["features"]) - 1, len(other["features"]) - 1]
    np.testing.assert_allclose(features[0, : lengths[0]], motion["features"][:-1], atol=1e-4)
    np.testing.assert_allclose(features[1, : lengths[1]], other["features"][:-1], atol=1e-4)
    assert not features[int(np.argmin(lengths)), int(lengths.min()) :].any()  # zero padding


# ------------------------------------------------------------------------------------------------
# the shipped evaluator against the corruptions
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scored(single_thread) -> dict:
    """Embeddings and metrics of real and corrupted held-out corpus motions under the shipped evaluator."""
    if not (SHIPPED_EVALUATOR / "config.yaml").is_file():
        pytest.fail(f"shipped evaluator not found at {SHIPPED_EVALUATOR}")
    from motionlcm.data.humanml3d import parse_caption_line
    from motionlcm.data.synth.dataset import make_motion, motion_id, split_ids
    from motionlcm.evaluation.runner import load_eval_evaluator

    evaluator = load_eval_evaluator(SHIPPED_EVALUATOR)  # the runner's loader and embedding path
    test_ids = split_ids([motion_id(i) for i in range(CORPUS_SIZE)], CORPUS_SEED)["test"][:NUM_MOTIONS]
    clips, captions = [], []
    for name in test_ids:
        m = make_motion(CORPUS_SEED, int(name))
        clips.append(m["joints"][:MAX_JOINT_FRAMES].astype(np.float64))
        captions.append(parse_caption_line(m["lines"][0]))
    text = evaluator.embed_captions(captions)
    real = C.embed_joints(evaluator, clips, batch_size=GROUP_SIZE)
    sets = {"real": real}
    for name, corrupt in C.CORRUPTIONS.items():
        sets[name] = C.embed_joints(evaluator, [corrupt(c) for c in clips], batch_size=GROUP_SIZE)
    table = {}
    for name, emb in sets.items():
        r = M.r_precision(text, emb, group_size=GROUP_SIZE)
        table[name] = {"FID": max(M.fid(emb, real), 0.0), "R@1": float(r[0]), "R@3": float(r[2])}
    side = np.array([bool(SIDE_WORDS.search(c.text)) for c in captions])
    return {"table": table, "text": text, "sets": sets, "side": side, "evaluator": evaluator, "clips": clips}


def _row(scored, name) -> str:
    return " | ".join(f"{k} {v:.4f}" for k, v in scored["table"][name].items())


def _corruption_params():
    for name in C.CORRUPTIONS:
        marks = [pytest.mark.xfail(strict=True, reason=MIRROR_FID_REASON)] if name == "swap_left_right" else []
        yield pytest.param(name, marks=marks, id=name)


def test_real_motions_are_retrieved_by_their_captions(scored):
    real = scored["table"]["real"]
    assert real["FID"] < 1e-6
    assert real["R@1"] > 0.85 and real["R@3"] > 0.95, _row(scored, "real")  # measured 0.945 / 0.996


def test_embeddings_do_not_depend_on_batch_mates(scored):
    """embed_joints batches by length; each row must be the motion's embedding on its own (the runner's path)."""
    evaluator, clips = scored["evaluator"], scored["clips"][:5]
    for row, clip in enumerate(clips):
        features, lengths = C.joints_to_evaluator_input([clip])
        alone = evaluator.embed_motion(features, lengths)
        torch.testing.assert_close(scored["sets"]["real"][row : row + 1], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list(_corruption_params()))
def test_corruption_scores_clearly_worse_fid(scored, name):
    fid, real = scored["table"][name]["FID"], scored["table"]["real"]["FID"]
    assert fid > real + FID_MARGIN, f"{name}: {_row(scored, name)}; real: {_row(scored, 'real')}"


@pytest.mark.parametrize("name", list(C.CORRUPTIONS))
def test_corruption_r_precision_is_clearly_worse_than_real(scored, name):
    row, real = scored["table"][name], scored["table"]["real"]
    assert row["R@1"] <= real["R@1"] - R_AT_1_DROP and row["R@3"] <= real["R@3"], f"{name}: {_row(scored, name)}; real: {_row(scored, 'real')}"


def test_evaluator_tells_a_side_caption_from_the_mirror(scored):
    """For captions naming a side, the real motion must be nearer the caption than its mirror."""
    text, side = scored["text"].double(), torch.as_tensor(scored["side"])
    assert int(side.sum()) >= 100  # 159 of the 256 captions name a side
    real = (text - scored["sets"]["real"].double()).norm(dim=-1)
    mirrored = (text - scored["sets"]["swap_left_right"].double()).norm(dim=-1)
    preferred = float((real < mirrored)[side].double().mean())
    assert preferred >= SIDE_PREFERENCE, f"real preferred over its mirror for {preferred:.1%} of side captions"
