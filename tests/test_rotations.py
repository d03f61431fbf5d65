import math

import numpy as np
import pytest
import torch

from motionlcm.motion import rotations as R


def test_qrot_quarter_turn_about_y_maps_z_to_x():
    q = np.array([math.cos(math.pi / 4), 0.0, math.sin(math.pi / 4), 0.0])
    np.testing.assert_allclose(R.qrot(q, np.array([0.0, 0.0, 1.0])), [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(R.qrot(q, np.array([1.0, 0.0, 0.0])), [0.0, 0.0, -1.0], atol=1e-12)


def test_qmul_composes_like_matrices():
    rng = np.random.default_rng(0)
    q, r = R.qnormalize(rng.normal(size=(5, 4))), R.qnormalize(rng.normal(size=(5, 4)))
    np.testing.assert_allclose(R.quat_to_matrix(R.qmul(q, r)), R.quat_to_matrix(q) @ R.quat_to_matrix(r), atol=1e-12)
    v = rng.normal(size=(5, 3))
    np.testing.assert_allclose(R.qrot(R.qinv(q), R.qrot(q, v)), v, atol=1e-12)


@pytest.mark.parametrize("v0,v1", [((1.0, 0, 0), (0, 1.0, 0)), ((0, 0, 2.0), (0, 0, 3.0)), ((0, 1.0, 0), (0, -1.0, 0)), ((1.0, 0, 0), (-1.0, 0, 0))])
def test_qbetween_maps_direction_even_when_opposite(v0, v1):
    q = R.qbetween(np.array(v0), np.array(v1))
    assert np.isfinite(q).all()
    out = R.qrot(q, np.array(v0))
    np.testing.assert_allclose(out / np.linalg.norm(out), np.array(v1) / np.linalg.norm(v1), atol=1e-9)


def test_matrix_quat_6d_round_trips():
    rng = np.random.default_rng(1)
    q = R.qnormalize(rng.normal(size=(100, 4)))
    q = np.where(q[:, :1] < 0, -q, q)
    m = R.quat_to_matrix(q)
    np.testing.assert_allclose(R.matrix_to_quat(m), q, atol=1e-10)
    np.testing.assert_allclose(R.cont6d_to_matrix(R.matrix_to_cont6d(m)), m, atol=1e-12)
    # HumanML3D's 6D layout is the first two matrix columns.
    np.testing.assert_allclose(R.quat_to_cont6d(q)[:, :3], m[:, :, 0], atol=1e-12)
    np.testing.assert_allclose(R.quat_to_cont6d(q)[:, 3:], m[:, :, 1], atol=1e-12)


def test_axis_angle_round_trip_and_known_value():
    aa = np.array([0.0, math.pi / 2, 0.0])
    np.testing.assert_allclose(R.axis_angle_to_matrix(aa) @ np.array([0, 0, 1.0]), [1.0, 0, 0], atol=1e-12)
    rng = np.random.default_rng(2)
    vecs = rng.normal(size=(50, 3)) * 0.9
    np.testing.assert_allclose(R.matrix_to_axis_angle(R.axis_angle_to_matrix(vecs)), vecs, atol=1e-9)
    np.testing.assert_allclose(R.axis_angle_to_matrix(np.zeros(3)), np.eye(3), atol=1e-12)


def test_numpy_in_numpy_out_and_torch_gradients():
    out = R.qrot(np.array([1.0, 0, 0, 0], dtype=np.float32), np.ones(3, dtype=np.float32))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    d6 = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    R.cont6d_to_matrix(d6).sum().backward()
    assert d6.grad is not None and torch.isfinite(d6.grad).all()


def test_qfix_removes_sign_flips():
    q = np.tile(np.array([[0.9, 0.1, 0.3, 0.0]]), (6, 1))
    q[[2, 3, 5]] *= -1
    fixed = R.qfix(q)
    assert (np.sum(fixed[1:] * fixed[:-1], axis=-1) > 0).all()
