"""SMPL-style pose parameters from joint positions (motionlcm.body.smpl_pose) and the NPZ export."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motionlcm.body.smpl_pose import (
    LEAF_JOINTS,
    fk_from_smpl_params,
    joints_to_smpl_params,
    rest_offsets_from_joints,
    rig_offsets,
    symmetric_offsets,
)
from motionlcm.errors import MotionLCMError
from motionlcm.export.npz import load_motion_npz, save_motion_npz
from motionlcm.motion.features import features_to_joints
from motionlcm.motion.skeleton import bone_lengths
from motionlcm.pipeline import MotionOutput


def fixture_motions(fixtures):
    """The two real HumanML3D test motions as joints (T, 22, 3), metres."""
    return {
        "012314": np.load(fixtures / "new_joints" / "012314.npy").astype(np.float64),
        "000612": features_to_joints(np.load(fixtures / "new_joint_vecs" / "000612.npy").astype(np.float64)),
    }


def repose(params):
    return fk_from_smpl_params(params.transl, params.global_orient, params.body_pose, params.offsets)


@pytest.mark.parametrize("motion_id", ["012314", "000612"])
def test_reposed_joints_match_real_motion(fixtures, motion_id):
    joints = fixture_motions(fixtures)[motion_id]
    params = joints_to_smpl_params(joints)
    err = np.linalg.norm(repose(params) - joints, axis=-1)
    assert err.mean() < 0.02  # the target; HumanML3D skeletons are rigid, so it is near exact
    assert err.mean() < 1e-4 and err.max() < 1e-3
    frames = len(joints)
    assert params.transl.shape == (frames, 3) and params.global_orient.shape == (frames, 3)
    assert params.body_pose.shape == (frames, 21, 3) and params.offsets.shape == (22, 3)
    np.testing.assert_array_equal(params.betas, np.zeros(10))
    np.testing.assert_allclose(params.transl, joints[:, 0])


def test_rest_offsets_keep_the_motions_bone_lengths(fixtures):
    joints = fixture_motions(fixtures)["012314"]
    offsets = rest_offsets_from_joints(joints)
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=-1), np.median(bone_lengths(joints), axis=0), atol=1e-9)
    np.testing.assert_array_equal(offsets[0], 0.0)
    # T-pose: legs down, spine up, left arm along +X, right arm along -X.
    assert offsets[4, 1] < 0 and offsets[7, 1] < 0 and offsets[6, 1] > 0
    assert offsets[18, 0] > 0 and offsets[19, 0] < 0
    assert offsets[1, 0] > 0 > offsets[2, 0]  # left hip on +X


def test_leaf_joints_have_identity_rotation(fixtures):
    params = joints_to_smpl_params(fixture_motions(fixtures)["000612"])
    for leaf in LEAF_JOINTS:
        np.testing.assert_array_equal(params.body_pose[:, leaf - 1], 0.0)


def test_rest_pose_gives_zero_rotations(fixtures):
    offsets = rest_offsets_from_joints(fixture_motions(fixtures)["012314"])
    transl = np.array([[0.1, 0.9, -0.2], [0.3, 0.95, 0.4]])
    joints = fk_from_smpl_params(transl, np.zeros((2, 3)), np.zeros((2, 21, 3)), offsets)
    # Independent FK of the rest pose: each joint is its parent plus its offset.
    from motionlcm.motion.skeleton import PARENTS
    expected = np.zeros((2, 22, 3))
    expected[:, 0] = transl
    for j in range(1, 22):
        expected[:, j] = expected[:, PARENTS[j]] + offsets[j]
    np.testing.assert_allclose(joints, expected, atol=1e-12)
    params = joints_to_smpl_params(joints, offsets=offsets)
    np.testing.assert_allclose(params.global_orient, 0.0, atol=1e-7)
    np.testing.assert_allclose(params.body_pose, 0.0, atol=1e-7)


def test_known_knee_bend_is_recovered(fixtures):
    offsets = rest_offsets_from_joints(fixture_motions(fixtures)["012314"])
    body_pose = np.zeros((1, 21, 3))
    body_pose[0, 4 - 1] = [np.pi / 2, 0.0, 0.0]  # left knee flexed 90 degrees about X
    joints = fk_from_smpl_params(np.zeros((1, 3)), np.zeros((1, 3)), body_pose, offsets)
    knee, shin = joints[0, 4], np.linalg.norm(offsets[7])
    np.testing.assert_allclose(joints[0, 7], knee + [0.0, 0.0, -shin], atol=1e-12)  # ankle swings backwards
    params = joints_to_smpl_params(joints, offsets=offsets)
    np.testing.assert_allclose(params.body_pose, body_pose, atol=1e-6)


def test_turning_the_motion_only_changes_global_orient(fixtures):
    joints = fixture_motions(fixtures)["000612"]
    yaw = Rotation.from_euler("y", 70, degrees=True)
    turned = yaw.apply(joints.reshape(-1, 3)).reshape(joints.shape)
    a, b = joints_to_smpl_params(joints), joints_to_smpl_params(turned)
    np.testing.assert_allclose(b.body_pose, a.body_pose, atol=1e-5)
    expected = (yaw * Rotation.from_rotvec(a.global_orient)).as_matrix()
    np.testing.assert_allclose(Rotation.from_rotvec(b.global_orient).as_matrix(), expected, atol=1e-6)


def test_noisy_joints_stay_close(fixtures):
    """Generated motions are not exactly rigid: errors must not pile up down the chains."""
    joints = fixture_motions(fixtures)["012314"]
    noisy = joints + np.random.default_rng(0).normal(0.0, 0.01, joints.shape)
    reposed = repose(joints_to_smpl_params(noisy))
    assert np.linalg.norm(reposed - noisy, axis=-1).mean() < 0.02
    assert np.linalg.norm(reposed - joints, axis=-1).mean() < np.linalg.norm(noisy - joints, axis=-1).mean()


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.zeros((10, 21, 3)), "shape"),
        (np.zeros((22, 3)), "shape"),
        (np.zeros((0, 22, 3)), "no frames"),
        (np.full((5, 22, 3), np.nan), "NaN"),
        (np.zeros((5, 22, 3)), "zero length"),
    ],
)
def test_bad_joints_raise_a_clear_error(bad, words):
    with pytest.raises(MotionLCMError, match=words) as info:
        joints_to_smpl_params(bad)
    assert "\n" not in str(info.value)


def test_fk_rejects_mismatched_shapes():
    with pytest.raises(MotionLCMError, match="body_pose"):
        fk_from_smpl_params(np.zeros((4, 3)), np.zeros((4, 3)), np.zeros((4, 23, 3)), np.zeros((22, 3)))


def test_npz_round_trip_holds_smpl_params(fixtures, tmp_path):
    joints = fixture_motions(fixtures)["012314"].astype(np.float32)
    features = np.load(fixtures / "new_joint_vecs" / "012314.npy").astype(np.float32)
    result = MotionOutput(features=features[None], joints=joints[None], lengths=np.array([len(joints)]),
                          texts=["a person walks"], seed=3, steps=1, guidance=8.0)
    path = save_motion_npz(tmp_path / "m.npz", result, 0, model_id="ckpt")
    data = load_motion_npz(path)
    for key in ("joints", "features", "text", "fps", "length", "seed", "sample_index", "steps", "guidance", "model_id"):
        assert key in data
    frames = len(joints)
    assert data["transl"].shape == (frames, 3) and data["global_orient"].shape == (frames, 3)
    assert data["body_pose"].shape == (frames, 21, 3) and data["rest_offsets"].shape == (22, 3)
    np.testing.assert_array_equal(data["betas"], np.zeros(10))
    reposed = fk_from_smpl_params(data["transl"], data["global_orient"], data["body_pose"], data["rest_offsets"])
    # The stored joints are the rig posed by the stored rotations, exactly (float32 rounding) ...
    assert np.linalg.norm(reposed - data["joints"], axis=-1).max() < 1e-5
    np.testing.assert_allclose(data["rest_offsets"], rig_offsets(), atol=1e-7)
    np.testing.assert_array_equal(data["joints_predicted"], joints.astype(np.float32))
    # ... and follow the model's joints: this real clip is on HumanML3D's skeleton, the rig is its
    # symmetric version (pelvis and collar layouts differ by up to 2.8 cm from the asymmetric original).
    err = np.linalg.norm(data["joints"] - joints, axis=-1)
    assert err.max() < 0.02 and err.mean() < 0.006
    lengths = bone_lengths(data["joints"])[:, 1:]
    assert np.ptp(lengths, axis=0).max() < 1e-5  # every bone keeps its length in every frame
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary files left


def test_rig_is_symmetric_and_keeps_the_reference_bone_lengths():
    from motionlcm.motion.skeleton import MIRROR_PERMUTATION, REFERENCE_JOINTS

    rig = rig_offsets()
    mirrored = rig[list(MIRROR_PERMUTATION)] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(rig, mirrored, atol=1e-12)
    # Bones whose two sides are equal in HumanML3D's target skeleton keep that length exactly.
    reference = bone_lengths(REFERENCE_JOINTS)
    left_knee_to_ankle = np.linalg.norm(rig[7])
    assert left_knee_to_ankle == pytest.approx((reference[7] + reference[8]) / 2, abs=1e-9)
    # symmetric_offsets by hand on one pair: (x, y, z) and (-x', y', z') average to mirrors.
    offsets = np.zeros((22, 3))
    offsets[16], offsets[17] = (0.10, 0.02, 0.0), (-0.14, 0.0, 0.04)
    sym = symmetric_offsets(offsets)
    np.testing.assert_allclose(sym[16], (0.12, 0.01, 0.02))
    np.testing.assert_allclose(sym[17], (-0.12, 0.01, 0.02))


def test_hinge_twist_changes_at_most_20_degrees_a_frame_and_keeps_positions():
    """A forearm whose bend plane flips each frame (bent 40 degrees, the wrong way): the upper
    arm's twist used to follow every flip; now it changes by at most MAX_TWIST_STEP a frame."""
    from scipy.spatial.transform import Rotation

    from motionlcm.body.smpl_pose import MAX_TWIST_STEP, forward_kinematics

    frames = 12
    local = np.tile(np.eye(3), (frames, 22, 1, 1))
    for t in range(frames):
        phi = np.radians(140.0 if t % 2 else -140.0)  # bend direction about the arm, from the hinge
        axis = np.array([0.0, np.cos(phi), np.sin(phi)])
        local[t, 18] = Rotation.from_rotvec(axis * np.radians(40.0)).as_matrix()  # left elbow (SMPL 18)
    joints = forward_kinematics(local, np.tile([0.0, 0.9, 0.0], (frames, 1)), rig_offsets())
    params = joints_to_smpl_params(joints, offsets=rig_offsets())
    assert np.linalg.norm(repose(params) - joints, axis=-1).max() < 1e-9  # twist never moves a joint
    shoulder = params.local_rotations[:, 16]
    step = np.linalg.norm(Rotation.from_matrix(np.swapaxes(shoulder[:-1], 1, 2) @ shoulder[1:]).as_rotvec(), axis=-1)
    assert step.max() <= MAX_TWIST_STEP + 1e-9
