"""Evaluation metrics against hand-computed or closed-form answers."""
import math

import numpy as np
import pytest
import torch

from motionlcm.evaluation import metrics as M


def rotation_matrix(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


def samples_with_exact_statistics(mean, cov, n, seed):
    """n samples whose empirical mean and (unbiased) covariance are exactly ``mean`` and ``cov``."""
    z = np.random.default_rng(seed).normal(size=(n, len(mean)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # whitened: cov(z) = I
    return z @ np.linalg.cholesky(cov).T + mean


# ------------------------------------------------------------------------------------------------ FID
def test_fid_of_a_set_with_itself_is_zero():
    emb = np.random.default_rng(0).normal(size=(300, 16))
    assert abs(M.fid(emb, emb)) < 1e-8
    assert abs(M.fid(torch.tensor(emb, dtype=torch.float32), emb)) < 1e-4


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    # ||mu1 - mu2||^2 + sum (sqrt(v1) - sqrt(v2))^2 = 5 + (1 + 1 + 4)
    assert M.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(11.0, abs=1e-10)


def test_fid_of_two_sampled_gaussians_equals_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 4))
    cov1 = a @ a.T + np.eye(4)
    cov2 = 2.5 * cov1  # commuting covariances: sqrtm(cov1 cov2) = sqrt(2.5) cov1
    mu1, mu2 = np.zeros(4), np.array([1.0, -2.0, 0.5, 0.0])
    expected = mu2 @ mu2 + np.trace(cov1) * (1 + 2.5 - 2 * math.sqrt(2.5))
    x = samples_with_exact_statistics(mu1, cov1, 200, seed=2)
    y = samples_with_exact_statistics(mu2, cov2, 150, seed=3)
    assert M.fid(x, y) == pytest.approx(expected, rel=1e-8)
    assert M.fid(y, x) == pytest.approx(expected, rel=1e-8)


# ------------------------------------------------------------------------------------------------ matching
def texts_for_ranks(ranks):
    """Motions are one-hot vectors e_j; text i = sum_j w_ij e_j, so motion j's distance to text i
    decreases with w_ij. Row i puts its own motion behind exactly ranks[i] others."""
    n = len(ranks)
    motions = np.eye(n)
    texts = np.zeros((n, n))
    for i, rank in enumerate(ranks):
        others = [j for j in range(n) if j != i]
        texts[i, i] = 1.0
        texts[i, others[:rank]] = 2.0
    return texts, motions


def test_r_precision_counts_the_rank_of_the_true_pair_within_groups():
    # two groups of 4 (block-diagonal construction), group 1 ranks [0,1,2,3], group 2 ranks [0,0,3,1]
    t1, m1 = texts_for_ranks([0, 1, 2, 3])
    t2, m2 = texts_for_ranks([0, 0, 3, 1])
    texts = np.block([[t1, np.zeros((4, 4))], [np.zeros((4, 4)), t2]])
    motions = np.block([[m1, np.zeros((4, 4))], [np.zeros((4, 4)), m2]])
    acc = M.r_precision(texts, motions, group_size=4, top_k=3)
    np.testing.assert_allclose(acc.numpy(), [3 / 8, 5 / 8, 6 / 8])
    # an incomplete last group is dropped
    extra_t, extra_m = np.vstack([texts, np.full((1, 8), 9.0)]), np.vstack([motions, np.zeros((1, 8))])
    np.testing.assert_allclose(M.r_precision(extra_t, extra_m, group_size=4, top_k=3).numpy(), [3 / 8, 5 / 8, 6 / 8])
    # perfect matching gives 1 for every k, shuffled or not
    g = torch.Generator().manual_seed(0)
    assert M.r_precision(motions, motions, group_size=4, top_k=2, shuffle=True, generator=g).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        M.r_precision(texts[:3], motions[:3], group_size=4)


def test_mm_dist_is_the_mean_matched_distance():
    assert M.mm_dist([[0.0, 0.0], [1.0, 1.0]], [[3.0, 4.0], [1.0, 2.0]]) == pytest.approx((5.0 + 1.0) / 2)


def test_diversity_on_known_points():
    g = lambda: torch.Generator().manual_seed(7)
    assert M.diversity(np.ones((50, 3)), num_pairs=20, generator=g()) == 0.0
    # two points 5 apart: both draws are permutations of {0, 1}, so pairs are all equal or all swapped
    assert M.diversity([[0.0, 0.0], [3.0, 4.0]], num_pairs=2, generator=g()) in (0.0, 5.0)
    # translation-invariant and scales linearly (same random pairs for the same seed)
    base = np.random.default_rng(0).normal(size=(40, 5))
    d = M.diversity(base, num_pairs=30, generator=g())
    assert M.diversity(3.0 * base + 7.0, num_pairs=30, generator=g()) == pytest.approx(3.0 * d)
    # two clusters 2 apart: a random pair straddles them with probability 1/2 -> expected 1.0
    clusters = np.zeros((4000, 2))
    clusters[2000:, 0] = 2.0
    assert M.diversity(clusters, num_pairs=4000, generator=g()) == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ValueError):
        M.diversity(base, num_pairs=300)


def test_multimodality_on_constructed_groups():
    g = lambda: torch.Generator().manual_seed(3)
    # identical generations per caption -> 0, however far apart the captions are
    same = np.repeat(np.arange(5.0)[:, None, None] * 100, 12, axis=1).repeat(4, axis=2)
    assert M.multimodality(same, num_pairs=10, generator=g()) == 0.0
    # captions whose generations are scaled copies of one pattern: MM scales with the mean factor
    pattern = np.random.default_rng(1).normal(size=(12, 4))
    scales = np.array([1.0, 2.0, 6.0])
    groups = scales[:, None, None] * pattern[None]
    base = M.multimodality(pattern[None], num_pairs=10, generator=g())
    assert base > 0
    assert M.multimodality(groups, num_pairs=10, generator=g()) == pytest.approx(scales.mean() * base)
    # generations split between two points 2 apart: expected distance 1.0
    split = np.zeros((200, 30, 2))
    split[:, 15:, 0] = 2.0
    assert M.multimodality(split, num_pairs=30, generator=g()) == pytest.approx(1.0, abs=0.25)


def test_mean_and_interval_by_hand():
    mean, interval = M.mean_and_interval([1.0, 2.0, 3.0, 4.0])
    assert mean == pytest.approx(2.5)
    assert interval == pytest.approx(1.96 * math.sqrt(1.25) / 2.0)  # population std / sqrt(4)
    means, intervals = M.mean_and_interval(np.array([[1.0, 10.0], [3.0, 10.0]]))
    np.testing.assert_allclose(means, [2.0, 10.0])
    np.testing.assert_allclose(intervals, [1.96 * 1.0 / math.sqrt(2), 0.0])


# ------------------------------------------------------------------------------------------------ reconstruction
def test_mpjpe_is_root_aligned_and_masked():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(2, 5, 22, 3))
    shifted = target + rng.normal(size=(2, 5, 1, 3))  # every frame translated: no error after root alignment
    assert M.mpjpe(shifted, target) == pytest.approx(0.0, abs=1e-12)
    assert M.mpjpe(shifted, target, align_root=False) > 0.1
    pred = target.copy()
    pred[0, 2, 7] += [0.0, 0.22, 0.0]  # one joint of one frame off by 22 cm -> 1 cm on that frame
    assert M.mpjpe(pred, target) == pytest.approx(0.01 / 10)  # averaged over 10 frames
    mask = np.zeros((2, 5), bool)
    mask[0, :4] = True
    assert M.mpjpe(pred, target, mask) == pytest.approx(0.01 / 4)


def test_pa_mpjpe_removes_rotation_scale_and_translation():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(3, 22, 3))
    rotation = rotation_matrix([1.0, 2.0, 0.5], 0.9)
    pred = 1.7 * target @ rotation.T + np.array([0.3, -1.0, 2.0])
    assert M.pa_mpjpe(pred, target) == pytest.approx(0.0, abs=1e-10)
    assert M.mpjpe(pred, target) > 0.5
    # a mirrored copy cannot be aligned by a rotation: the error stays
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    assert M.pa_mpjpe(mirrored, target) > 0.1
    # noise on the prediction: PA-MPJPE never exceeds the plain root-aligned error
    noisy = target + 0.05 * rng.normal(size=target.shape)
    assert M.pa_mpjpe(noisy, target) <= M.mpjpe(noisy, target) + 1e-12


def test_acceleration_error_of_a_one_frame_bump():
    target = np.zeros((10, 4, 3))
    pred = target.copy()
    pred[5, 2, 1] = 0.3  # accelerations at frames 4, 5, 6: +0.3, -0.6, +0.3
    expected = (0.3 + 0.6 + 0.3) / (8 * 4)  # 8 interior frames x 4 joints
    assert M.acceleration_error(pred, target) == pytest.approx(expected)
    assert M.acceleration_error(pred, target, fps=20) == pytest.approx(expected * 400)
    mask = np.ones(10, bool)
    mask[7:] = False  # interior frames with both neighbours valid: 1..5
    assert M.acceleration_error(pred, target, mask) == pytest.approx((0.3 + 0.6) / (5 * 4))


# ------------------------------------------------------------------------------------------------ control
def test_control_errors_on_constructed_trajectories():
    joints = np.zeros((2, 4, 22, 3))
    hints = np.zeros((2, 4, 22, 3))
    mask = np.zeros((2, 4, 22), bool)
    # sequence 0: pelvis controlled at 3 frames with errors 0.1, 0.3, 0.0
    for frame, err in zip((0, 1, 3), (0.1, 0.3, 0.0)):
        mask[0, frame, 0] = True
        hints[0, frame, 0] = [err, 0.0, 0.0]
    # sequence 1: left wrist at 2 frames with errors 0.6, 0.1; an uncontrolled point far off is ignored
    for frame, err in zip((1, 2), (0.6, 0.1)):
        mask[1, frame, 20] = True
        hints[1, frame, 20] = [0.0, 0.0, err]
    hints[1, 0, 5] = [9.0, 9.0, 9.0]
    out = M.control_errors(joints, hints, mask)
    assert out["traj_err_20cm"] == pytest.approx(1.0)
    assert out["traj_err_50cm"] == pytest.approx(0.5)
    assert out["loc_err_20cm"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert out["loc_err_50cm"] == pytest.approx((0 + 1 / 2) / 2)
    assert out["avg_err"] == pytest.approx((0.4 / 3 + 0.7 / 2) / 2)
    assert out["max_err"] == pytest.approx((0.3 + 0.6) / 2)  # each sequence's worst point, averaged
    # the reference code's per-coordinate (…, 3) mask gives the same numbers
    assert M.control_errors(joints, hints, np.repeat(mask[..., None], 3, -1).astype(float)) == pytest.approx(out)


# ------------------------------------------------------------------------------------------------ skating
def feet_path(frames, left_xyz, right_xyz):
    joints = np.zeros((frames, 22, 3))
    joints[:, 0, 1] = 1.0
    joints[:, 10] = left_xyz
    joints[:, 11] = right_xyz
    return joints


def test_foot_skating_ratio_on_constructed_foot_paths():
    t = np.arange(21)[:, None]
    still_up = np.array([0.3, 0.5, 0.0])
    sliding = np.hstack([0.05 * t, np.full_like(t, 0.01, dtype=float), np.zeros_like(t, dtype=float)])  # 1 m/s on the floor
    for window in (1, 5):
        assert M.foot_skating_ratio(feet_path(21, sliding, still_up), average_window=window) == pytest.approx(1.0)
    # the same slide with the foot 6 cm up, or on the floor at 0.4 m/s: no skating
    lifted = sliding + [0.0, 0.05, 0.0]
    assert M.foot_skating_ratio(feet_path(21, lifted, still_up)) == 0.0
    slow = sliding * [0.4, 1.0, 1.0]
    assert M.foot_skating_ratio(feet_path(21, slow, still_up)) == 0.0
    # slide for the first 10 of 20 transitions, then stand still on the floor -> 0.5
    half = sliding.copy()
    half[11:, 0] = half[10, 0]
    for window in (1, 5):
        assert M.foot_skating_ratio(feet_path(21, still_up, half), average_window=window) == pytest.approx(0.5)
    # lifting above 5 cm at frame 5 breaks the two transitions that touch it
    hop = sliding.copy()
    hop[5, 1] = 0.2
    assert M.foot_skating_ratio(feet_path(21, hop, still_up), average_window=1) == pytest.approx(18 / 20)
    # batched with lengths: the sliding sequence counted on its first 11 frames only
    batch = np.stack([feet_path(21, sliding, still_up), feet_path(21, still_up, still_up)])
    assert M.foot_skating_ratio(batch, lengths=[11, 21], average_window=1) == pytest.approx(0.5)


# ------------------------------------------------------------------------------------------------ accumulation
def test_embedding_accumulator_concatenates_local_batches():
    acc = M.EmbeddingAccumulator()
    acc.update(text=torch.ones(2, 3), motion=torch.zeros(2, 3))
    acc.update(text=torch.full((1, 3), 2.0), motion=torch.ones(1, 3))
    assert len(acc) == 3
    assert acc.gather("text").tolist() == [[1.0] * 3, [1.0] * 3, [2.0] * 3]
    acc.reset()
    assert len(acc) == 0
    with pytest.raises(KeyError):
        acc.gather("text")


def _gather_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        acc = M.EmbeddingAccumulator()
        acc.update(x=torch.full((rank + 1, 2), float(rank)))  # ranks hold 1 and 2 rows
        torch.save(acc.gather("x"), f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_embedding_accumulator_gathers_uneven_rows_across_ranks(tmp_path):
    import torch.multiprocessing as mp

    # fork: the workers reuse the imported modules, which keeps this test fast
    mp.start_processes(_gather_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True,
                       start_method="fork")
    for rank in range(2):
        gathered = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert gathered.tolist() == [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]


def test_r_precision_counts_ties_against_the_match():
    """A collapsed generator (every motion the same) must not look like perfect retrieval."""
    from motionlcm.evaluation.metrics import r_precision

    texts = torch.randn(64, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    collapsed = torch.zeros(64, 8, dtype=torch.float64)
    assert r_precision(texts, collapsed, group_size=32).tolist() == [0.0, 0.0, 0.0]
    # one other motion exactly as far as the true one: the true motion ranks second
    t = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], dtype=torch.float64)
    m = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.0, 9.0]], dtype=torch.float64)
    m_tied = m.clone()
    m_tied[1] = torch.tensor([-1.0, 0.0])  # text 0: motions 0 and 1 both at distance 1 (a tie: rank 2)
    assert r_precision(t, m, group_size=3).tolist() == [1.0, 1.0, 1.0]
    # text 0 tied (rank 2), text 1 now has motion 0 nearer (9 < 11: rank 2), text 2 still first
    top1, top2, _ = r_precision(t, m_tied, group_size=3).tolist()
    assert top1 == pytest.approx(1 / 3) and top2 == 1.0


def test_control_errors_leave_out_sequences_without_hints_and_are_nan_without_any():
    from motionlcm.evaluation.metrics import control_errors

    joints = torch.zeros(3, 4, 22, 3, dtype=torch.float64)
    hints = joints.clone()
    hints[0, :, 0, 0] = 0.3  # sequence 0: pelvis hints 30 cm off
    mask = torch.zeros(3, 4, 22, dtype=torch.bool)
    mask[0, :, 0] = True
    mask[1, 2, 0] = True  # sequence 1: one exact hint; sequence 2: none
    both = control_errors(joints, hints, mask)
    assert both["avg_err"] == pytest.approx(0.15) and both["traj_err_20cm"] == pytest.approx(0.5)
    assert control_errors(joints[:2], hints[:2], mask[:2]) == both  # the hint-less sequence changes nothing
    empty = control_errors(joints, hints, torch.zeros_like(mask))
    assert set(empty) == set(both) and all(math.isnan(v) for v in empty.values())


def test_hint_acceleration_spike_known_answers():
    """A sine-swinging joint: the peak near a hint over the clip's 95th percentile is about 1; a
    5 cm jump at a hinted frame makes it the jump's second difference over that percentile."""
    from motionlcm.evaluation.metrics import hint_acceleration_spike

    frames = 100
    t = np.arange(frames)
    joints = np.zeros((frames, 22, 3))
    joints[:, :, 0] = 0.1 * np.sin(2 * np.pi * t / 20)[:, None]  # the whole body swings
    mask = np.zeros((frames, 22), bool)
    mask[[20, 50, 80], 20] = True
    accel = np.abs(np.diff(joints[:, 20, 0], 2))
    p95 = np.percentile(accel, 95)
    near = [accel[f - 1 + o] for f in (20, 50, 80) for o in range(-2, 3)]
    assert hint_acceleration_spike(joints, mask) == pytest.approx(max(near) / p95)
    assert hint_acceleration_spike(joints, mask) <= 1.05
    jumped = joints.copy()
    jumped[50, 20, 2] += 0.05  # off the swing's axis: the second difference there is 2 x 5 cm
    expected = np.linalg.norm(np.diff(jumped, 2, axis=0), axis=-1)  # (98, 22): the percentile is the clip's
    assert hint_acceleration_spike(jumped, mask) == pytest.approx(expected[49, 20] / np.percentile(expected, 95))
    assert hint_acceleration_spike(jumped, mask) > 8
    far = np.zeros_like(mask)
    far[[10, 90], 20] = True  # the jump is 40 frames from any hint: not counted
    assert hint_acceleration_spike(jumped, far) <= 1.05
    # batches: lengths cut each sequence; a sequence without hints is left out
    batch = np.stack([jumped, joints])
    masks = np.stack([mask, np.zeros_like(mask)])
    assert hint_acceleration_spike(batch, masks, lengths=[100, 100]) == pytest.approx(hint_acceleration_spike(jumped, mask))
    assert np.isnan(hint_acceleration_spike(joints, np.zeros_like(mask)))
