"""Body meshes from joint motions: the mannequin (mannequin-x) and SMPL (smplx, synthetic model file)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from motionlcm.body.mesh import (
    SMPL_DIR_ENV,
    MannequinBody,
    SmplBody,
    joint_alignment_error,
    load_body_model,
    offsets_from_rest_joints,
    pose_arrays,
)
from motionlcm.body.smpl_pose import fk_from_smpl_params, rest_offsets_from_joints
from motionlcm.errors import MotionLCMError
from motionlcm.motion.skeleton import PARENTS

# Measured on fixture 012314 (170 frames): mean 1.73 cm / max 6.3 cm with the shape fit,
# mean 2.49 cm / max 7.8 cm without; the bounds leave a little room for library updates.
FITTED_MEAN_M, FITTED_MAX_M = 0.022, 0.075
UNFITTED_MEAN_M = 0.030
# Every joint lies inside the body, at most ~11 cm (spine3, in the chest) from the surface.
JOINT_TO_SURFACE_M = 0.15


@pytest.fixture(scope="module")
def motion(fixtures) -> np.ndarray:
    return np.load(fixtures / "new_joints" / "012314.npy").astype(np.float64)


@pytest.fixture(scope="module")
def mannequin() -> MannequinBody:
    return MannequinBody()


# -- mannequin -------------------------------------------------------------------------------
def test_mannequin_mesh_shapes_and_values(mannequin, motion):
    vertices = mannequin.mesh_from_joints(motion[:30])
    assert vertices.shape == (30, mannequin.num_vertices, 3)
    assert vertices.dtype == np.float32 and np.isfinite(vertices).all()
    faces = mannequin.faces
    assert faces.ndim == 2 and faces.shape[1] == 3 and faces.dtype == np.int32
    assert faces.min() == 0 and faces.max() == mannequin.num_vertices - 1
    # A standing adult: about as tall as the motion, feet near its floor.
    height = vertices[..., 1].max(1) - vertices[..., 1].min(1)
    motion_height = motion[:30, ..., 1].max(1) - motion[:30, ..., 1].min(1)
    assert np.all(np.abs(height - motion_height) < 0.25)
    assert abs(float(vertices[..., 1].min()) - float(motion[:30, ..., 1].min())) < 0.06


def test_mannequin_mesh_moves_with_the_root(mannequin, motion):
    shift = np.array([1.5, 0.2, -0.7])
    clip = motion[:12]
    base = mannequin.mesh_from_joints(clip)
    moved = mannequin.mesh_from_joints(clip + shift)
    np.testing.assert_allclose(moved - base, np.broadcast_to(shift, base.shape), atol=1e-4)


def test_mannequin_joints_align_with_the_motion(mannequin, motion):
    fitted = joint_alignment_error(mannequin, motion, fit_shape=True)
    assert fitted[:, 0].max() < 1e-6  # the pelvis is placed exactly
    assert fitted.mean() < FITTED_MEAN_M and fitted.max() < FITTED_MAX_M
    mannequin.set_betas(np.zeros(10))
    plain = joint_alignment_error(mannequin, motion, fit_shape=False)
    assert plain.mean() < UNFITTED_MEAN_M
    assert fitted.mean() < plain.mean()  # the shape fit helps


def test_mannequin_surface_surrounds_the_joints(mannequin, motion):
    vertices = mannequin.mesh_from_joints(motion)
    for t in range(0, len(motion), 17):
        distance, _ = cKDTree(vertices[t]).query(motion[t])
        assert distance.max() < JOINT_TO_SURFACE_M, (t, distance.round(3))


def test_fast_skinning_matches_the_package(mannequin, motion):
    from mannequin import Mannequin

    params = mannequin.params_from_joints(motion[::40])
    reference = Mannequin("wooden", shape=mannequin.betas.astype(np.float32))
    pose = reference.rest_pose(batch_dims=(len(params.transl),), dtype=np.float64)
    pose["body_pose"][:] = params.body_pose
    pose["pelvis_rotation"][:] = params.global_orient
    pose["global_translation"][:] = params.transl - mannequin.rest_joints[0]
    np.testing.assert_allclose(mannequin.vertices(params), reference.vertices(pose), atol=1e-4)


def test_mannequin_accepts_a_parameter_dict_and_the_convex_kind(motion):
    convex = load_body_model("mannequin", kind="convex")
    params = convex.params_from_joints(motion[:5])
    vertices = convex.vertices(params.as_dict())
    assert vertices.shape == (5, convex.num_vertices, 3) and np.isfinite(vertices).all()


def test_bad_inputs_are_one_line_errors(mannequin):
    with pytest.raises(MotionLCMError, match="unknown mannequin kind"):
        MannequinBody("marble")
    with pytest.raises(MotionLCMError, match="unknown body model"):
        load_body_model("robot")
    with pytest.raises(MotionLCMError, match="body_pose"):
        pose_arrays({"transl": np.zeros((2, 3)), "global_orient": np.zeros((2, 3)), "body_pose": np.zeros((2, 20, 3))})
    with pytest.raises(MotionLCMError, match="missing 'transl'"):
        pose_arrays({"global_orient": np.zeros((2, 3))})
    with pytest.raises(MotionLCMError, match="betas"):
        mannequin.set_betas(np.zeros(3))
    with pytest.raises(MotionLCMError, match="22, 3"):
        mannequin.mesh_from_joints(np.zeros((4, 21, 3)))


# -- SMPL through smplx ----------------------------------------------------------------------
def synthetic_smpl_arrays(rest_joints_22: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """An SMPL-format model (6890 vertices, 24 joints) whose joints regress to ``rest_joints_22``.

    Vertex i belongs to joint i % 24: it sits within 3 cm of that joint, is skinned to it
    alone, and the joint regressor averages the joint's vertices, so the rest joints are
    exact. Faces join vertices of the same joint; shape directions are small and random.
    """
    rng = np.random.default_rng(seed)
    joints = np.zeros((24, 3))
    joints[:22] = rest_joints_22
    joints[22:] = rest_joints_22[[20, 21]] + np.array([[0.08, 0.0, 0.0], [-0.08, 0.0, 0.0]])  # hands
    owner = np.arange(6890) % 24
    jitter = rng.uniform(-0.03, 0.03, size=(6890, 3))
    for j in range(24):  # zero-mean jitter per joint keeps the regressed joint exact
        jitter[owner == j] -= jitter[owner == j].mean(0)
    regressor = np.zeros((24, 6890))
    regressor[owner, np.arange(6890)] = 1.0
    regressor /= regressor.sum(1, keepdims=True)
    clusters = [np.flatnonzero(owner == j) for j in range(24)]
    faces = np.concatenate([c[rng.integers(0, len(c), size=(13776 // 24, 3))] for c in clusters])
    parents = np.array([0, *PARENTS[1:], 20, 21])
    return {
        "v_template": joints[owner] + jitter,
        "shapedirs": rng.normal(scale=0.01, size=(6890, 3, 10)),
        "posedirs": rng.normal(scale=1e-4, size=(6890, 3, 207)),
        "J_regressor": regressor,
        "weights": np.eye(24)[owner],
        "kintree_table": np.stack([np.where(np.arange(24) == 0, 2**32 - 1, parents), np.arange(24)]).astype(np.int64),
        "f": faces.astype(np.uint32),
    }


@pytest.fixture(scope="module")
def smpl_dir(tmp_path_factory, motion):
    rest = fk_from_smpl_params(np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 21, 3)), rest_offsets_from_joints(motion))[0]
    folder = tmp_path_factory.mktemp("smpl")
    np.savez(folder / "SMPL_NEUTRAL.npz", **synthetic_smpl_arrays(rest + np.array([0.0, -0.2, 0.0])))
    return folder


def test_smpl_mesh_from_a_synthetic_model_file(smpl_dir, motion):
    body = SmplBody(smpl_dir=smpl_dir)
    assert body.num_vertices == 6890 and body.faces.shape == (13776, 3)
    clip = motion[:20]
    vertices = body.mesh_from_joints(clip, fit_shape=False)
    assert vertices.shape == (20, 6890, 3) and np.isfinite(vertices).all()
    # The synthetic rest skeleton is the motion's own, so the posed SMPL joints are the motion's.
    np.testing.assert_allclose(body.joints(body.params_from_joints(clip)), clip, atol=2e-3)
    np.testing.assert_allclose(body.rest_offsets, offsets_from_rest_joints(body.rest_joints))


def test_smpl_pose_and_shape_change_the_mesh(smpl_dir, motion):
    body = SmplBody(smpl_dir=smpl_dir)
    params = body.params_from_joints(motion[:1])
    rest = body.vertices(params)
    bent = params.as_dict()
    bent["body_pose"] = params.body_pose.copy()
    bent["body_pose"][0, 3] += np.array([1.2, 0.0, 0.0])  # left knee (SMPL joint 4)
    moved = np.linalg.norm(body.vertices(bent) - rest, axis=-1)[0]
    owner = np.arange(6890) % 24
    below_knee = np.isin(owner, [7, 10])  # left ankle and foot follow the knee
    assert moved[below_knee].min() > 0.05
    assert moved[~np.isin(owner, [4, 7, 10])].max() < 0.01  # nothing else moves (only tiny pose blend shapes)
    body.set_betas(np.full(10, 2.0))
    assert np.abs(body.vertices(params) - rest).max() > 0.01


def test_smpl_dir_from_the_environment(smpl_dir, monkeypatch):
    monkeypatch.setenv(SMPL_DIR_ENV, str(smpl_dir))
    assert load_body_model("smpl").model_file == smpl_dir / "SMPL_NEUTRAL.npz"


def test_missing_smpl_files_say_where_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv(SMPL_DIR_ENV, raising=False)
    with pytest.raises(MotionLCMError, match=r"smpl\.is\.tue\.mpg\.de") as info:
        SmplBody()
    assert "SMPL_NEUTRAL.npz" in str(info.value) and SMPL_DIR_ENV in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(MotionLCMError, match="does not exist"):
        SmplBody(smpl_dir=tmp_path / "nowhere")
    with pytest.raises(MotionLCMError, match="no SMPL_FEMALE.npz or SMPL_FEMALE.pkl"):
        SmplBody(smpl_dir=tmp_path, gender="female")


def test_pickled_and_malformed_model_files_are_refused(tmp_path):
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(b"never unpickled")
    with pytest.raises(MotionLCMError, match="pickle"):
        SmplBody(smpl_dir=tmp_path, allow_pickle=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    np.savez(bad / "SMPL_NEUTRAL.npz", v_template=np.zeros((10, 3)))
    with pytest.raises(MotionLCMError, match="not an SMPL model file"):
        SmplBody(smpl_dir=bad)
