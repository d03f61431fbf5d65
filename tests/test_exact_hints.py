"""Exact hints by motion-space correction (motionlcm/control/exact.py), on real HumanML3D joints."""
import numpy as np
import pytest

from motionlcm.control.exact import SUPPORTED, displacement_field, meet_hints, two_bone_ik
from motionlcm.errors import MotionLCMError
from motionlcm.motion.features import features_to_joints
from motionlcm.motion.skeleton import bone_lengths


@pytest.fixture(scope="module")
def motion(fixtures):
    return features_to_joints(np.load(fixtures / "new_joint_vecs" / "000612.npy").astype(np.float64))[:120]


def test_displacement_field_is_exact_at_hints_and_fades_away():
    frames = 60
    hinted = np.zeros(frames, bool)
    hinted[[10, 30]] = True
    residual = np.zeros((frames, 3))
    residual[10], residual[30] = (0.2, 0.0, 0.0), (0.0, -0.1, 0.05)
    field = displacement_field(residual, hinted, decay_frames=8.0)
    np.testing.assert_array_equal(field[hinted], residual[hinted])
    # One hint: the field decays over about 3 x decay_frames (by solving the same system by hand: 0.57, 0.18, 0.00).
    single = np.zeros(frames, bool)
    single[10] = True
    one = displacement_field(np.ones((frames, 1)), single, decay_frames=10.0)[:, 0]
    assert one[20] == pytest.approx(0.568, abs=0.01) and one[30] == pytest.approx(0.183, abs=0.01) and abs(one[40]) < 0.01
    assert np.abs(np.diff(field, 2, axis=0)).max() < 0.02  # smooth: no kink at the hinted frames
    np.testing.assert_array_equal(displacement_field(residual, np.zeros(frames, bool)), 0.0)
    every = np.ones(frames, bool)
    np.testing.assert_array_equal(displacement_field(residual, every), residual)


def test_two_bone_ik_known_answers():
    a = np.zeros((2, 3))
    b = np.array([[0.0, -0.3, 0.0]] * 2)
    c = np.array([[0.0, -0.6, 0.0]] * 2)
    target = np.array([[0.3, -0.3, 0.0], [0.0, 0.0, 5.0]])  # reachable; 5 m away
    new_b, new_c, reached = two_bone_ik(a, b, c, target)
    assert reached.tolist() == [True, False]
    np.testing.assert_allclose(new_c[0], target[0], atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(new_b - a, axis=-1), 0.3, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(new_c - new_b, axis=-1), 0.3, atol=1e-9)
    # Unreachable: the limb points straight at the target, fully stretched.
    np.testing.assert_allclose(new_c[1], [0.0, 0.0, 0.6], atol=1e-6)


def test_two_bone_ik_keeps_a_nearly_straight_limb_bending_one_way_over_time():
    """A 0.3 + 0.3 m limb, almost straight (target 0.58 m away), whose middle joint sits 1 mm to +x of
    the axis on every frame but one (1 mm to -x): solved frame by frame, that frame's elbow swings to
    the other side (about 15 cm); with the clip's frames given, the bend plane is smoothed and the
    elbow stays on +x. Both meet the target with both bone lengths kept."""
    frames = np.arange(21)
    a = np.zeros((21, 3))
    b = np.tile([0.001, -0.3, 0.0], (21, 1))
    b[10, 0] = -0.001
    c = np.tile([0.0, -0.6, 0.0], (21, 1))
    target = np.tile([0.0, -0.58, 0.0], (21, 1))
    per_frame, _, _ = two_bone_ik(a, b, c, target)
    smoothed, end, reached = two_bone_ik(a, b, c, target, frames)
    assert np.linalg.norm(per_frame[10] - per_frame[9]) > 0.1  # the flip
    assert np.linalg.norm(np.diff(smoothed, axis=0), axis=-1).max() < 1e-6 and (smoothed[:, 0] > 0.05).all()
    assert reached.all()
    np.testing.assert_allclose(end, target, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(smoothed - a, axis=-1), np.linalg.norm(b - a, axis=-1), atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(end - smoothed, axis=-1), np.linalg.norm(c - b, axis=-1), atol=1e-9)
    # runs are smoothed separately: frames 0-9 (bent to +x) and 30-40 (bent to +z, 100x more) do
    # not average into each other, so the first run's elbow stays in its x-y plane
    split = np.r_[np.arange(10), np.arange(30, 41)]
    b2 = np.tile([0.001, -0.3, 0.0], (21, 1))
    b2[10:] = [0.0, -0.3, 0.1]
    two_runs, _, _ = two_bone_ik(a, b2, c, target, split)
    assert np.abs(two_runs[:10, 2]).max() < 1e-9 and (two_runs[:10, 0] > 0.05).all()
    assert (two_runs[10:, 2] > 0.05).all()


def _hints(motion, joints, frames, offset):
    hints = np.zeros_like(motion)
    mask = np.zeros(motion.shape[:2], bool)
    for j in joints:
        hints[frames, j] = motion[frames, j] + offset
        mask[frames, j] = True
    return hints, mask


DENSITIES = {"100%": np.arange(120), "25%": np.arange(0, 120, 4), "5 frames": np.array([0, 30, 60, 90, 119]),
             "2 frames": np.array([0, 119]), "1 frame": np.array([55])}


@pytest.mark.parametrize("density", list(DENSITIES))
def test_pelvis_hints_met_at_every_density_with_bones_unchanged(motion, density):
    frames = DENSITIES[density]
    hints, mask = _hints(motion, [0], frames, np.array([0.12, 0.0, -0.08]))
    corrected, report = meet_hints(motion, hints, mask)
    error = np.linalg.norm(corrected - hints, axis=-1)[mask]
    assert report.mean_before == pytest.approx(np.hypot(0.12, 0.08))
    assert error.max() < 1e-9 and report.max_after < 1e-9 and report.unreachable == 0
    np.testing.assert_allclose(bone_lengths(corrected), bone_lengths(motion), atol=1e-9)


@pytest.mark.parametrize("joint_set", [[0], [10], [11], [15], [20], [21], list(SUPPORTED)])
def test_each_joint_alone_and_all_together(motion, joint_set):
    frames = np.array([0, 40, 80, 119])  # first and last frames included
    hints, mask = _hints(motion, joint_set, frames, np.array([0.05, 0.04, 0.06]))
    corrected, report = meet_hints(motion, hints, mask)
    error = np.linalg.norm(corrected - hints, axis=-1)[mask]
    assert error.mean() <= 0.01 and error.max() <= 0.03  # the targets; in fact ~0
    # Exact, except where the chain cannot reach (a head lifted 4 cm above a straight spine): counted.
    assert (error > 1e-4).sum() <= report.unreachable
    np.testing.assert_allclose(bone_lengths(corrected), bone_lengths(motion), atol=1e-9)
    # No acceleration spike at the hinted frames.
    accel = np.linalg.norm(np.diff(corrected, 2, axis=0), axis=-1).max(-1)
    near = max(accel[max(0, f - 3): f + 2].max() for f in frames)
    assert near <= 1.5 * np.percentile(accel, 95)


def test_unreachable_hint_is_best_effort_and_never_nan(motion):
    # a wrist 3 m out while the pelvis is pinned where it is: out of the arm's reach
    hints, mask = _hints(motion, [20], np.array([50]), np.array([3.0, 0.0, 0.0]))
    hints[50, 0], mask[50, 0] = motion[50, 0], True
    corrected, report = meet_hints(motion, hints, mask)
    assert np.isfinite(corrected).all() and report.unreachable == 1
    assert report.max_after < report.max_before  # as close as the stretched arm gets
    arm = np.linalg.norm(motion[50, 18] - motion[50, 16]) + np.linalg.norm(motion[50, 20] - motion[50, 18])
    assert np.linalg.norm(corrected[50, 20] - corrected[50, 16]) == pytest.approx(arm, rel=1e-6)


def test_a_far_wrist_alone_moves_the_whole_body(motion):
    # the same wrist 3 m out with the pelvis free: the least change is the clip shifted 3 m
    hints, mask = _hints(motion, [20], np.array([50]), np.array([3.0, 0.0, 0.0]))
    corrected, report = meet_hints(motion, hints, mask)
    assert report.unreachable == 0 and report.max_after < 1e-9
    np.testing.assert_allclose(corrected, motion + [3.0, 0.0, 0.0], atol=1e-9)


@pytest.mark.parametrize("joint", [15, 20, 10])
def test_far_hints_without_the_pelvis_carry_the_body(motion, joint):
    """Hints 1-1.6 m from where a joint is, in different directions at three frames (no rigid move
    fits them): the body walks there, the hints are met, bones keep their lengths and the unhinted
    feet stay on or above the floor."""
    frames = np.array([10, 60, 110])
    offsets = np.array([[1.0, 0.0, 0.3], [-0.6, 0.0, 1.2], [1.5, 0.0, -0.4]])
    hints = np.zeros_like(motion)
    mask = np.zeros(motion.shape[:2], bool)
    hints[frames, joint] = motion[frames, joint] + offsets
    mask[frames, joint] = True
    corrected, report = meet_hints(motion, hints, mask)
    assert report.unreachable == 0 and report.max_after < 1e-4
    np.testing.assert_allclose(bone_lengths(corrected), bone_lengths(motion), atol=1e-9)
    floor = motion[:, [7, 8, 10, 11], 1].min()
    feet = [7, 8, 10, 11] if joint != 10 else [8, 11]
    assert corrected[:, feet, 1].min() >= floor - 0.01
    moved = np.linalg.norm((corrected[frames, 0] - motion[frames, 0])[:, [0, 2]], axis=-1)
    assert (moved > np.linalg.norm(offsets, axis=-1) - 0.8).all()  # the body went, not only a limb (reach < 0.8 m)


def test_a_wrist_far_below_the_shoulder_lowers_the_body_and_the_feet_stay_up(motion):
    # 0.75 m under the shoulder: more than the arm's 0.5 m; the pelvis goes down, the knees bend
    frame = 60
    hints, mask = np.zeros_like(motion), np.zeros(motion.shape[:2], bool)
    hints[frame, 20] = motion[frame, 16] + [0.0, -0.75, 0.1]
    mask[frame, 20] = True
    corrected, report = meet_hints(motion, hints, mask)
    assert report.unreachable == 0 and report.max_after < 1e-6
    assert corrected[frame, 0, 1] < motion[frame, 0, 1] - 0.1
    for ankle in (7, 8):
        assert corrected[frame, ankle, 1] >= motion[frame, ankle, 1] - 1e-6
    np.testing.assert_allclose(bone_lengths(corrected), bone_lengths(motion), atol=1e-9)


def test_unsupported_joint_and_bad_shapes_are_clear_errors(motion):
    hints, mask = _hints(motion, [18], np.array([3]), np.zeros(3))  # an elbow
    with pytest.raises(MotionLCMError, match="support the joints"):
        meet_hints(motion, hints, mask)
    with pytest.raises(MotionLCMError, match="must be"):
        meet_hints(motion[:, :21], hints, mask)


def test_pelvis_correction_keeps_planted_feet(motion):
    """Shifting the pelvis 6 cm sideways must not drag a planted foot along."""
    hints, mask = _hints(motion, [0], np.arange(120), np.array([0.06, 0.0, 0.0]))
    corrected, _ = meet_hints(motion, hints, mask, align=False)  # (aligned, the shift would move everything rigidly)
    from motionlcm.control.exact import _contacts

    planted = _contacts(motion)[:, 0] >= 1.0
    assert planted.sum() > 10
    drift = np.linalg.norm(corrected[planted, 7] - motion[planted, 7], axis=-1)
    assert np.median(drift) < 0.005  # vs 6 cm without re-planting


def test_ground_alignment_recovers_a_known_turn_and_shift(motion):
    from scipy.spatial.transform import Rotation

    from motionlcm.control.exact import ground_alignment

    rot = Rotation.from_euler("y", 40, degrees=True).as_matrix()
    shift = np.array([0.7, 0.0, -1.2])
    pelvis = motion[::10, 0]
    rot_fit, shift_fit = ground_alignment(pelvis, pelvis @ rot.T + shift)
    np.testing.assert_allclose(rot_fit, rot, atol=1e-9)
    np.testing.assert_allclose(shift_fit, shift, atol=1e-9)
    # A single target: only the shift is determined.
    rot_one, shift_one = ground_alignment(pelvis[:1], pelvis[:1] + shift)
    np.testing.assert_allclose(rot_one, np.eye(3)) and np.testing.assert_allclose(shift_one, shift, atol=1e-12)


def test_a_turned_trajectory_is_met_by_alignment_alone(motion):
    """Hints that are the motion's own pelvis turned 90 degrees and moved: the rigid ground
    alignment takes the whole miss, so no joint moves relative to the others."""
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_euler("y", 90, degrees=True).as_matrix()
    hints = np.zeros_like(motion)
    mask = np.zeros(motion.shape[:2], bool)
    frames = np.arange(0, 120, 4)
    hints[frames, 0] = motion[frames, 0] @ rot.T + [1.0, 0.0, 2.0]
    mask[frames, 0] = True
    corrected, report = meet_hints(motion, hints, mask)
    assert report.mean_before > 1.0 and report.max_after < 1e-9
    np.testing.assert_allclose(corrected - corrected[:, :1], (motion - motion[:, :1]) @ rot.T, atol=1e-9)


def _walker(path: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """A rigid stand-in body (T, 22, 3): every joint on the pelvis except the head, 10 cm ahead along ``facing``."""
    joints = np.repeat(path[:, None], 22, axis=1).copy()
    joints[:, 15] += 0.1 * facing
    return joints


def test_heading_warp_turns_the_body_with_its_path():
    from motionlcm.control.exact import heading_warp

    frames = np.arange(40)[:, None]
    north = np.concatenate([np.zeros((40, 2)), 0.05 * frames], axis=1)  # along +Z, 1 m/s
    east = np.concatenate([0.05 * frames, np.zeros((40, 2))], axis=1)  # along +X
    joints = _walker(east, np.array([0.0, 0.0, 1.0]))  # moved onto the new path, still facing +Z
    turn = heading_warp(joints, north, east)
    np.testing.assert_allclose(turn, np.pi / 2, atol=1e-9)  # +Z -> +X is +90 degrees about +y
    np.testing.assert_allclose(joints[:, 15] - east, np.tile([0.1, 0.0, 0.0], (40, 1)), atol=1e-9)
    np.testing.assert_allclose(joints[:, 0], east, atol=1e-12)  # the pelvis (the hints) stays put

    # a path that bends halfway: no turn before the bend, a quarter turn after it
    bent = north.copy()
    bent[20:, 0] = 0.05 * np.arange(20)
    bent[20:, 2] = bent[19, 2]
    turn = heading_warp(_walker(bent, np.array([0.0, 0.0, 1.0])), north, bent)
    assert abs(turn[:10]).max() < 1e-3 and abs(turn[30:] - np.pi / 2).max() < 1e-3  # sigma 3 frames each side
    assert np.all(np.diff(turn) >= -1e-9)  # it turns one way, smoothly

    # standing still on both paths: no direction of travel, no turn (and no NaN)
    still = np.zeros((40, 3))
    assert np.array_equal(heading_warp(_walker(still, np.array([0.0, 0.0, 1.0])), still, still), np.zeros(40))


def test_large_pelvis_moves_replant_feet_where_the_body_now_is(motion):
    """A trajectory pulled 60 cm sideways: each planted foot stays still during its contact, near the moved body."""
    from motionlcm.control.exact import _contacts

    ramp = np.linspace(0.0, 0.6, len(motion))[:, None] * np.array([1.0, 0.0, 0.0])
    hints = np.zeros_like(motion)
    hints[:, 0] = motion[:, 0] + ramp
    mask = np.zeros(motion.shape[:2], bool)
    mask[:, 0] = True
    corrected, report = meet_hints(motion, hints, mask, align=False)
    assert report.max_after < 1e-9
    planted = _contacts(motion)[:, 0] >= 1.0
    runs = np.split(np.flatnonzero(planted), np.flatnonzero(np.diff(np.flatnonzero(planted)) > 1) + 1)
    runs = [r for r in runs if len(r) >= 4]
    assert runs
    for run in runs:
        ankle = corrected[run, 7]
        assert np.linalg.norm(ankle - ankle.mean(0), axis=-1).max() < 0.01  # still while planted
        # under the moved body (hips), not left behind at the old spot
        assert np.linalg.norm((ankle - corrected[run, 1])[:, [0, 2]], axis=-1).max() < 0.5


def test_a_toe_beyond_the_legs_reach_is_met_by_pointing_the_foot(motion):
    """Pelvis fixed where it is (hinted at its own positions) and the left toe hinted straight below
    the hip, further than the stretched leg with the foot as it is reaches, at frames 40-55: the foot
    turns to point (at most its length more reach) and the toe meets the hint exactly; bones and
    the pelvis stay as they were."""
    frames = np.arange(40, 56)
    hip, knee, ankle, toe = 1, 4, 7, 10
    leg = np.linalg.norm(motion[0, knee] - motion[0, hip]) + np.linalg.norm(motion[0, ankle] - motion[0, knee])
    foot = np.linalg.norm(motion[0, toe] - motion[0, ankle])
    hints = np.zeros_like(motion)
    mask = np.zeros(motion.shape[:2], bool)
    hints[:, 0], mask[:, 0] = motion[:, 0], True
    down = np.array([0.0, -1.0, 0.0])
    # straight below the hip, as far as the leg and 0.7 of the foot reach when the foot points down
    hints[frames, toe] = motion[frames, hip] + (leg + 0.7 * foot) * down
    mask[frames, toe] = True
    foot_now = motion[frames, toe] - motion[frames, ankle]
    ankle_reach = np.linalg.norm(hints[frames, toe] - foot_now - motion[frames, hip], axis=-1)
    assert (ankle_reach > leg + 0.02).all()  # with the foot as it is, the ankle would be out of reach
    corrected, report = meet_hints(motion, hints, mask)
    assert report.unreachable == 0 and report.max_after < 1e-6
    np.testing.assert_allclose(corrected[:, 0], motion[:, 0], atol=1e-9)
    np.testing.assert_allclose(bone_lengths(corrected), bone_lengths(motion), atol=1e-6)


def test_a_wrist_beyond_reach_with_the_head_hinted_is_met_by_turning_the_shoulders(motion):
    """Pelvis and head fixed (hinted where they are), the right wrist hinted 12 cm beyond the
    stretched arm, in front of the chest at shoulder height (frames 50-69): the spine cannot lean
    (the head is fixed), so the shoulder girdle turns about the spine and the wrist gets there; the
    head stays put and bone lengths are kept."""
    frames = np.arange(50, 70)
    shoulder, elbow, wrist = 17, 19, 21
    arm = np.linalg.norm(motion[0, elbow] - motion[0, shoulder]) + np.linalg.norm(motion[0, wrist] - motion[0, elbow])
    hints = np.zeros_like(motion)
    mask = np.zeros(motion.shape[:2], bool)
    for j in (0, 15):
        hints[:, j], mask[:, j] = motion[:, j], True
    across = motion[frames, 17] - motion[frames, 16]  # left to right shoulder
    across /= np.linalg.norm(across, axis=-1, keepdims=True)
    forward = np.cross(np.array([0.0, 1.0, 0.0]), across)
    forward /= np.linalg.norm(forward, axis=-1, keepdims=True)
    hints[frames, wrist] = motion[frames, shoulder] + (arm + 0.12) * forward
    mask[frames, wrist] = True
    corrected, report = meet_hints(motion, hints, mask)
    assert report.unreachable == 0 and report.max_after < 1e-6
    np.testing.assert_allclose(corrected[:, 15], motion[:, 15], atol=1e-6)
    np.testing.assert_allclose(bone_lengths(corrected), bone_lengths(motion), atol=1e-6)


def test_dense_hints_fill_short_gaps_from_the_interpolated_miss():
    """Between hinted frames at most max_gap apart the target is the joint plus the PCHIP of its
    misses: a constant miss gives joint + that miss; a longer gap and unhinted joints stay open."""
    from motionlcm.control.exact import densify_hints

    frames = 40
    joints = np.zeros((frames, 22, 3))
    joints[:, 0, 0] = np.sin(np.arange(frames) / 3.0)  # detail between hints that the fill keeps
    hints, mask = np.zeros_like(joints), np.zeros((frames, 22), bool)
    hinted = [0, 3, 6, 9, 30]  # gaps of 3 frames, then one of 21
    mask[hinted, 0] = True
    hints[hinted, 0] = joints[hinted, 0] + [0.5, 0.0, -0.2]
    dense, dense_mask = densify_hints(hints, mask, max_gap=6, joints=joints)
    assert dense_mask[:10, 0].all() and not dense_mask[10:30, 0].any() and dense_mask.sum() == 11
    np.testing.assert_allclose(dense[:10, 0], joints[:10, 0] + [0.5, 0.0, -0.2], atol=1e-12)
    np.testing.assert_array_equal(dense[hinted, 0], hints[hinted, 0])
    assert not mask[1, 0] and dense_mask[1, 0]  # the inputs are not changed


def test_dense_hints_change_nothing_that_already_meets_them(motion):
    rng = np.random.default_rng(4)
    mask = np.zeros(motion.shape[:2], bool)
    mask[np.sort(rng.choice(len(motion), len(motion) // 4, replace=False))[:, None], list(SUPPORTED)] = True
    corrected, report = meet_hints(motion, motion, mask)
    assert report.max_after < 1e-9
    np.testing.assert_allclose(corrected, motion, atol=1e-9)


def test_a_knee_bends_over_its_toes():
    """Leg IK with a preferred bend direction: the knee ends on that side of the hip-ankle line,
    whatever side the knee started on."""
    hip = np.array([[0.0, 1.0, 0.0]])
    knee = np.array([[0.0, 0.55, -0.05]])  # bent backwards
    ankle = np.array([[0.0, 0.1, 0.0]])
    target = np.array([[0.0, 0.2, 0.0]])
    new_knee, new_ankle, reached = two_bone_ik(hip, knee, ankle, target, pole_hint=np.array([[0.0, 0.0, 1.0]]))
    assert reached.all() and new_knee[0, 2] > 0.05
    np.testing.assert_allclose(new_ankle, target, atol=1e-9)
    assert np.isclose(np.linalg.norm(new_knee - hip), np.linalg.norm(knee - hip))
    # a hint along the limb says nothing: the knee keeps its own side
    along = two_bone_ik(hip, knee, ankle, target, pole_hint=np.array([[0.0, 1.0, 0.0]]))[0]
    assert along[0, 2] < -0.05


@pytest.mark.parametrize("toe", [10, 11])
def test_a_moved_foot_at_a_quarter_of_the_frames_is_met_where_the_body_must_shift(motion, toe):
    """The toe moved 10 cm at 25 % of the frames, pelvis free: where the leg falls short the body
    shifts; the shift between those frames must not pull another hinted frame out of reach."""
    rng = np.random.default_rng(0)
    mask = np.zeros(motion.shape[:2], bool)
    mask[np.sort(rng.choice(len(motion), len(motion) // 4, replace=False)), toe] = True
    hints = np.where(mask[..., None], motion + [0.1, 0.0, 0.05], 0.0)
    corrected, report = meet_hints(motion, hints, mask)
    assert report.max_after < 1e-6, report
    np.testing.assert_allclose(bone_lengths(corrected), bone_lengths(motion), atol=1e-6)


def test_feet_pushed_through_the_floor_are_lifted_onto_it(motion):
    """The sampler's motion sinks 6 cm through the floor over frames 40-70 (as a redrawn crouch did);
    a pelvis hint elsewhere: both unhinted feet end on the floor there, nothing else moves, bones kept.
    A hinted foot goes where its hint says, floor or not."""
    sunk = motion.copy()
    dip = np.zeros(len(motion))
    dip[40:71] = 0.06 * np.sin(np.linspace(0, np.pi, 31))
    sunk[:, :, 1] -= dip[:, None]
    floor_before = sunk[:, [7, 8, 10, 11], 1].min()
    assert floor_before < motion[:, [7, 8, 10, 11], 1].min() - 0.04
    hints, mask = _hints(sunk, [0], np.array([0, 119]), np.zeros(3))
    corrected, report = meet_hints(sunk, hints, mask, align=False)
    assert report.max_after < 1e-9
    assert corrected[:, [7, 8, 10, 11], 1].min() >= -1e-6
    np.testing.assert_allclose(corrected[:, 0], sunk[:, 0], atol=1e-9)  # the pelvis stays: the knees bend
    np.testing.assert_allclose(corrected[:30], sunk[:30], atol=1e-9)  # away from the dip nothing changes
    np.testing.assert_allclose(bone_lengths(corrected), bone_lengths(sunk), atol=1e-9)
    off, _ = meet_hints(sunk, hints, mask, align=False, keep_above_floor=False)
    assert off[:, [7, 8, 10, 11], 1].min() == pytest.approx(floor_before)
    toe_hints, toe_mask = _hints(sunk, [10], np.array([55]), np.array([0.0, -0.05, 0.0]))
    below, report = meet_hints(sunk, toe_hints, toe_mask, align=False)
    assert report.max_after < 1e-6 and below[55, 10, 1] < -0.01  # the hint decides for its foot
    assert below[:, [8, 11], 1].min() >= -1e-6  # the other foot is still lifted
