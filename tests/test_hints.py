"""Hint construction: joint sets, densities (exact counts), temporal masks, normalisation, statistics files."""
import numpy as np
import pytest
import torch

from motionlcm.control.hints import (JOINT_SETS, batch_hint_masks, count_control_frames, denormalize_hints,
                                     hints_from_joints, keyframe_mask, load_joint_stats, normalize_hints, parse_density,
                                     parse_joint_set, prefix_mask, spatial_mask, suffix_mask, temporal_mask)
from motionlcm.errors import MotionLCMError


def test_joint_sets_are_motionlcms():
    assert parse_joint_set("pelvis") == (0,)
    assert parse_joint_set("all") == (0, 10, 11, 15, 20, 21) == JOINT_SETS["all"]
    assert parse_joint_set(["right_wrist", 0, "head"]) == (0, 15, 21)
    with pytest.raises(MotionLCMError, match="unknown control joint"):
        parse_joint_set(["pelvis", "tail"])
    with pytest.raises(MotionLCMError, match="unknown control joint"):
        parse_joint_set(22)


def test_density_parsing_follows_motionlcms_numbers():
    assert parse_density("random") == ("random", 0.0)
    assert parse_density("25%") == ("percent", 25.0)
    assert parse_density(100) == ("percent", 100.0)
    assert [parse_density(n) for n in (1, 2, 5)] == [("frames", 1.0), ("frames", 2.0), ("frames", 5.0)]
    assert parse_density("10 frames") == ("frames", 10.0) and parse_density("3f") == ("frames", 3.0)
    for bad in ("lots", "0%", "150%", "2.5f"):
        with pytest.raises(MotionLCMError):
            parse_density(bad)


@pytest.mark.parametrize("density, length, expected", [
    ("100%", 80, 80), ("25%", 80, 20), ("25%", 78, 19),  # int(78 * 25 / 100) = 19, as MotionLCM
    (5, 80, 5), (2, 80, 2), (1, 80, 1), ("5f", 3, 3),  # never more frames than the motion has
])
def test_densities_control_exactly_that_many_frames(density, length, expected):
    assert count_control_frames(length, density) == expected
    mask = spatial_mask(length, JOINT_SETS["all"], density, torch.Generator().manual_seed(0))
    assert mask.shape == (length, 22)
    assert int(mask.any(-1).sum()) == expected
    # evaluation: every joint of the set on every chosen frame, nothing else
    assert set(mask.any(0).nonzero().flatten().tolist()) == set(JOINT_SETS["all"])
    assert int(mask.sum()) == expected * 6


def test_random_density_covers_1_to_length_minus_1():
    g = torch.Generator().manual_seed(0)
    counts = {count_control_frames(6, "random", g) for _ in range(200)}
    assert counts == {1, 2, 3, 4, 5}


def test_training_controls_one_joint_of_the_set_per_sample():
    g = torch.Generator().manual_seed(3)
    masks = batch_hint_masks([40, 60, 50, 45] * 5, 60, JOINT_SETS["all"], "random", one_joint=True, generator=g)
    joints_per_sample = masks.any(1).sum(-1)
    assert (joints_per_sample == 1).all()
    assert set(masks.any(1).nonzero()[:, 1].tolist()) <= set(JOINT_SETS["all"])
    assert len(set(masks.any(1).nonzero()[:, 1].tolist())) > 1  # different joints get drawn


def test_padded_frames_are_never_controlled():
    masks = batch_hint_masks([10, 30], 30, (0,), "100%")
    assert masks[0, :10, 0].all() and not masks[0, 10:].any()
    assert masks[1, :, 0].all()


def test_temporal_masks_cover_all_joints():
    assert keyframe_mask(10, [0, 4, 9]).any(-1).nonzero().flatten().tolist() == [0, 4, 9]
    assert keyframe_mask(10, [4]).sum() == 22
    assert prefix_mask(10, 3).any(-1).tolist() == [True] * 3 + [False] * 7
    assert suffix_mask(10, 2).any(-1).tolist() == [False] * 8 + [True] * 2
    assert prefix_mask(10, 3).all(-1).sum() == 3  # all 22 joints on those frames
    assert temporal_mask(80, "prefix", "25%").any(-1).nonzero().flatten().tolist() == list(range(20))
    assert temporal_mask(80, "suffix", 5).any(-1).nonzero().flatten().tolist() == list(range(75, 80))
    keys = temporal_mask(80, "keyframes", 2, torch.Generator().manual_seed(0))
    assert int(keys.any(-1).sum()) == 2 and int(keys.sum()) == 44
    with pytest.raises(MotionLCMError, match="outside the motion"):
        keyframe_mask(10, [10])
    with pytest.raises(MotionLCMError, match="unknown temporal"):
        temporal_mask(10, "middle", 2)
    mixed = batch_hint_masks([20] * 12, 20, density="4f", temporal="mixed", generator=torch.Generator().manual_seed(1))
    assert (mixed.any(-1).sum(-1) == 4).all() and (mixed.sum((1, 2)) == 4 * 22).all()


def test_hints_normalise_and_denormalise():
    g = torch.Generator().manual_seed(0)
    joints = torch.randn(2, 5, 22, 3, generator=g)
    mask = torch.rand(2, 5, 22, generator=g) < 0.3
    hints = hints_from_joints(joints, mask)
    assert torch.equal(hints[mask], joints[mask]) and torch.count_nonzero(hints[~mask]) == 0
    mean, std = torch.randn(22, 3, generator=g), torch.rand(22, 3, generator=g) + 0.5
    normalised = normalize_hints(hints, mask, mean, std)
    assert normalised.shape == (2, 5, 66)
    b, t, j = mask.nonzero()[0].tolist()
    assert torch.allclose(normalised[b, t, 3 * j:3 * j + 3], (joints[b, t, j] - mean[j]) / std[j])
    assert torch.allclose(denormalize_hints(normalised, mask, mean, std), hints, atol=1e-6)


def test_joint_statistics_files(tmp_path):
    with pytest.raises(MotionLCMError, match="motionlcm data stats"):
        load_joint_stats(tmp_path)
    np.save(tmp_path / "Mean_raw.npy", np.arange(66, dtype=np.float32))  # MotionLCM ships (66,)
    np.save(tmp_path / "Std_raw.npy", np.ones((22, 3), np.float32))      # ours writes (22, 3)
    mean, std = load_joint_stats(tmp_path)
    assert mean.shape == std.shape == (22, 3) and mean[1, 0] == 3.0
    np.save(tmp_path / "Std_raw.npy", np.zeros((22, 3), np.float32))
    with pytest.raises(MotionLCMError, match="zero or negative"):
        load_joint_stats(tmp_path)


def test_stats_module_writes_what_the_hints_read(small_dataset):
    from motionlcm.data.stats import dataset_stats

    stats = dataset_stats(small_dataset)
    for name in ("Mean_raw.npy", "Std_raw.npy"):
        np.save(small_dataset / name, stats[name])
    mean, std = load_joint_stats(small_dataset)
    assert mean.shape == (22, 3) and (std > 0).all()
    assert 0.7 < mean[0, 1] < 1.2  # pelvis height in metres
