"""Quaternion and rotation-matrix helpers, written once in torch and usable from numpy.

Conventions follow HumanML3D: quaternions are ``(w, x, y, z)``, rotation matrices act on
column vectors, and the continuous 6D representation is the first two *columns* of the
rotation matrix concatenated (Zhou et al. 2019, as used by HumanML3D).

Every public function accepts torch tensors (any leading batch shape, differentiable) or
numpy arrays; numpy in gives numpy out with the input's float dtype. The helpers are hand
written rather than taken from pytorch3d/roma because those packages are heavy or absent on
CPU-only installs, and HumanML3D's exact conventions (quaternion order, 6D layout) matter.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

__all__ = [
    "numpy_compatible",
    "qnormalize",
    "qmul",
    "qinv",
    "qrot",
    "qbetween",
    "qfix",
    "yaw_quaternion",
    "quat_to_matrix",
    "matrix_to_quat",
    "matrix_to_cont6d",
    "cont6d_to_matrix",
    "quat_to_cont6d",
    "cont6d_to_quat",
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
]


def numpy_compatible(fn):
    """Let a torch function take numpy arrays: converts them in and the results back out."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        used_numpy = any(isinstance(a, np.ndarray) for a in list(args) + list(kwargs.values()))
        if not used_numpy:
            return fn(*args, **kwargs)
        conv = lambda a: torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
        out = fn(*[conv(a) for a in args], **{k: conv(v) for k, v in kwargs.items()})
        back = lambda t: t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t
        if isinstance(out, tuple):
            return tuple(back(t) for t in out)
        return back(out)

    return wrapper


@numpy_compatible
def qnormalize(q: torch.Tensor) -> torch.Tensor:
    return q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)


@numpy_compatible
def qmul(q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``q * r`` (apply r first, then q)."""
    q, r = torch.broadcast_tensors(q, r)
    w1, x1, y1, z1 = q.unbind(-1)
    w2, x2, y2, z2 = r.unbind(-1)
    return torch.stack(
        (
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ),
        dim=-1,
    )


@numpy_compatible
def qinv(q: torch.Tensor) -> torch.Tensor:
    """Inverse of a unit quaternion (its conjugate)."""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


@numpy_compatible
def qrot(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)`` (broadcasting)."""
    shape = torch.broadcast_shapes(q.shape[:-1], v.shape[:-1])
    q = q.expand(shape + (4,))
    v = v.expand(shape + (3,))
    qvec = q[..., 1:]
    uv = torch.linalg.cross(qvec, v, dim=-1)
    uuv = torch.linalg.cross(qvec, uv, dim=-1)
    return v + 2.0 * (q[..., :1] * uv + uuv)


@numpy_compatible
def qbetween(v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    """Shortest-arc rotation taking direction ``v0`` to direction ``v1``.

    Same formula as HumanML3D; unlike it, opposite directions give a 180 degree turn about a
    perpendicular axis instead of NaN.
    """
    v0, v1 = torch.broadcast_tensors(v0, v1)
    axis = torch.linalg.cross(v0, v1, dim=-1)
    norms = torch.sqrt((v0**2).sum(-1, keepdim=True) * (v1**2).sum(-1, keepdim=True))
    w = norms + (v0 * v1).sum(-1, keepdim=True)
    opposite = w <= 1e-9 * norms.clamp_min(1e-30)
    if bool(opposite.any()):
        # Any axis perpendicular to v0 works: cross with x, or with y if v0 is along x.
        ex = torch.zeros_like(v0)
        ex[..., 0] = 1.0
        ey = torch.zeros_like(v0)
        ey[..., 1] = 1.0
        perp = torch.linalg.cross(v0, ex, dim=-1)
        perp = torch.where(perp.norm(dim=-1, keepdim=True) < 1e-6 * norms.sqrt(), torch.linalg.cross(v0, ey, dim=-1), perp)
        axis = torch.where(opposite, perp, axis)
        w = torch.where(opposite, torch.zeros_like(w), w)
    return qnormalize(torch.cat((w, axis), dim=-1))


@numpy_compatible
def qfix(q: torch.Tensor) -> torch.Tensor:
    """Flip quaternion signs along the time axis (dim 0) so consecutive ones agree."""
    if q.shape[0] < 2:
        return q
    dots = (q[1:] * q[:-1]).sum(-1)
    flips = torch.cumsum((dots < 0).to(torch.int64), dim=0) % 2
    sign = torch.cat((torch.zeros_like(flips[:1]), flips), dim=0)
    return q * (1 - 2 * sign.to(q.dtype)).unsqueeze(-1)


@numpy_compatible
def yaw_quaternion(angle: torch.Tensor) -> torch.Tensor:
    """Rotation by ``angle`` radians about +Y."""
    zeros = torch.zeros_like(angle)
    return torch.stack((torch.cos(angle / 2), zeros, torch.sin(angle / 2), zeros), dim=-1)


@numpy_compatible
def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    w, x, y, z = qnormalize(q).unbind(-1)
    two = 2.0
    m = torch.stack(
        (
            1 - two * (y * y + z * z), two * (x * y - w * z), two * (x * z + w * y),
            two * (x * y + w * z), 1 - two * (x * x + z * z), two * (y * z - w * x),
            two * (x * z - w * y), two * (y * z + w * x), 1 - two * (x * x + y * y),
        ),
        dim=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


@numpy_compatible
def matrix_to_quat(m: torch.Tensor) -> torch.Tensor:
    """Rotation matrices to unit quaternions with ``w >= 0`` (numerically stable branch choice)."""
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # Four candidate solutions; pick the one with the largest (best conditioned) diagonal term.
    sq = torch.stack(
        (1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22), dim=-1
    ).clamp_min(0.0)
    r = torch.sqrt(sq.clamp_min(1e-20))
    cands = torch.stack(
        (
            torch.stack((r[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01), -1) / (2 * r[..., 0:1]),
            torch.stack((m21 - m12, r[..., 1] ** 2, m10 + m01, m02 + m20), -1) / (2 * r[..., 1:2]),
            torch.stack((m02 - m20, m10 + m01, r[..., 2] ** 2, m12 + m21), -1) / (2 * r[..., 2:3]),
            torch.stack((m10 - m01, m20 + m02, m21 + m12, r[..., 3] ** 2), -1) / (2 * r[..., 3:4]),
        ),
        dim=-2,
    )
    best = sq.argmax(dim=-1)
    q = torch.gather(cands, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = qnormalize(q)
    return torch.where(q[..., :1] < 0, -q, q)


@numpy_compatible
def matrix_to_cont6d(m: torch.Tensor) -> torch.Tensor:
    """First two columns of the rotation matrix, HumanML3D's 6D layout."""
    return torch.cat((m[..., :, 0], m[..., :, 1]), dim=-1)


@numpy_compatible
def cont6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt of the two columns back to a rotation matrix (differentiable)."""
    x_raw, y_raw = d6[..., 0:3], d6[..., 3:6]
    x = x_raw / x_raw.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    z = torch.linalg.cross(x, y_raw, dim=-1)
    z = z / z.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    y = torch.linalg.cross(z, x, dim=-1)
    return torch.stack((x, y, z), dim=-1)


@numpy_compatible
def quat_to_cont6d(q: torch.Tensor) -> torch.Tensor:
    return matrix_to_cont6d(quat_to_matrix(q))


@numpy_compatible
def cont6d_to_quat(d6: torch.Tensor) -> torch.Tensor:
    return matrix_to_quat(cont6d_to_matrix(d6))


@numpy_compatible
def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula; stable near zero angle."""
    angle = aa.norm(dim=-1, keepdim=True)
    small = angle < 1e-8
    safe = torch.where(small, torch.ones_like(angle), angle)
    half = angle / 2
    sin_half_over_angle = torch.where(small, 0.5 - angle**2 / 48, torch.sin(half) / safe)
    q = torch.cat((torch.cos(half), aa * sin_half_over_angle), dim=-1)
    return quat_to_matrix(q)


@numpy_compatible
def matrix_to_axis_angle(m: torch.Tensor) -> torch.Tensor:
    q = matrix_to_quat(m)
    vec = q[..., 1:]
    sin_half = vec.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(sin_half, q[..., :1])
    scale = torch.where(sin_half < 1e-8, 2.0 / q[..., :1].clamp_min(1e-12), angle / sin_half.clamp_min(1e-12))
    return vec * scale
