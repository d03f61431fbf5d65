"""Bodies for joint motions: SMPL-style pose parameters by IK, and meshes (mannequin-x, or SMPL via smplx)."""
from .smpl_pose import SmplParams, fk_from_smpl_params, joints_to_smpl_params, rest_offsets_from_joints

__all__ = ["SmplParams", "fk_from_smpl_params", "joints_to_smpl_params", "rest_offsets_from_joints", "load_body_model"]


def load_body_model(*args, **kwargs):
    """See :func:`motionlcm.body.mesh.load_body_model` (imported lazily: mannequin-x / smplx are heavy)."""
    from .mesh import load_body_model as _load

    return _load(*args, **kwargs)
