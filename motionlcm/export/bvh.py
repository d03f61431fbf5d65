"""BVH export of SMPL-22 joint motions (Blender, Maya, MotionBuilder, most DCC tools read it).

Layout (REFERENCE.md section 5): joints ``Hips, LeftUpLeg, LeftLeg, LeftFoot, LeftToe,
RightUpLeg, ..., RightHand`` in that (depth-first) order; the root has the channels
``Xposition Yposition Zposition Zrotation Yrotation Xrotation``, every other joint
``Zrotation Yrotation Xrotation``, so each local rotation is ``Rz @ Ry @ Rx`` (degrees).
Leaves (toes, head, hands) end in an ``End Site``. Y is up and the rest pose is the T-pose
of :mod:`motionlcm.body.smpl_pose`, facing +Z. The skeleton is the package's one export rig
(:func:`~motionlcm.body.smpl_pose.rig_offsets`: HumanML3D's target skeleton, left/right
symmetric), the same for every clip; the motion it plays equals the ``joints`` of the NPZ
export of the same clip.

Units: centimetres by default (``units="cm"``), as in most mocap BVH files; in Blender's
BVH importer set Scale to 0.01 to get metres, or write with ``units="m"``. The root
OFFSET is zero, so the position channels are the pelvis position.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..body.smpl_pose import fit_rig, validate_joints
from ..errors import MotionLCMError
from ..io import atomic_path
from ..motion import FPS
from ..motion.skeleton import PARENTS

# BVH name of every SMPL-22 joint, in the order the joints are written (depth first).
BVH_JOINTS = (
    ("Hips", 0), ("LeftUpLeg", 1), ("LeftLeg", 4), ("LeftFoot", 7), ("LeftToe", 10),
    ("RightUpLeg", 2), ("RightLeg", 5), ("RightFoot", 8), ("RightToe", 11),
    ("Spine", 3), ("Spine1", 6), ("Spine2", 9), ("Neck", 12), ("Head", 15),
    ("LeftShoulder", 13), ("LeftArm", 16), ("LeftForeArm", 18), ("LeftHand", 20),
    ("RightShoulder", 14), ("RightArm", 17), ("RightForeArm", 19), ("RightHand", 21),
)
BVH_JOINT_NAMES = tuple(name for name, _ in BVH_JOINTS)
_BVH_NAME_OF = {smpl: name for name, smpl in BVH_JOINTS}
UNIT_SCALE = {"cm": 100.0, "m": 1.0}
EULER_ORDER = "ZYX"  # intrinsic, matches the channel order Zrotation Yrotation Xrotation
# End Site offsets of the leaves in metres, in the leaf's own rest frame (T-pose).
END_SITES = {10: (0.0, 0.0, 0.05), 11: (0.0, 0.0, 0.05), 15: (0.0, 0.10, 0.0),
             20: (0.08, 0.0, 0.0), 21: (-0.08, 0.0, 0.0)}


def save_bvh(path: str | Path, joints, fps: float = FPS, units: str = "cm", rig=None) -> Path:
    """Write joints (T, 22, 3) in metres (Y up) as a BVH file, atomically; returns the path.

    ``rig``: ``fit_rig(joints)``'s result when the caller already has it (several formats of one clip).
    """
    joints = validate_joints(joints)
    if units not in UNIT_SCALE:
        raise MotionLCMError(f"BVH units must be one of {sorted(UNIT_SCALE)}, got {units!r}")
    if not np.isfinite(fps) or fps <= 0:
        raise MotionLCMError(f"fps must be a positive number, got {fps}")
    params, _ = rig or fit_rig(joints)
    text = bvh_text(params.local_rotations, params.transl, params.offsets, fps, UNIT_SCALE[units])
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="ascii")
    return path


def bvh_text(local_rotations: np.ndarray, root_positions: np.ndarray, offsets: np.ndarray,
             fps: float, scale: float = 100.0) -> str:
    """BVH file contents from local rotation matrices (T, 22, 3, 3), root positions (T, 3) and
    rest offsets (22, 3), all in SMPL joint order; lengths are multiplied by ``scale``."""
    lines = ["HIERARCHY"]
    _write_joint(lines, 0, offsets, scale, depth=0)
    lines += ["MOTION", f"Frames: {len(root_positions)}", f"Frame Time: {1.0 / fps:.8g}"]
    order = [smpl for _, smpl in BVH_JOINTS]
    euler = _euler_degrees(local_rotations[:, order])
    values = np.concatenate([root_positions * scale, euler.reshape(len(euler), -1)], axis=1)
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    return "\n".join(lines) + "\n"


def _write_joint(lines: list[str], joint: int, offsets: np.ndarray, scale: float, depth: int) -> None:
    """Append the block of ``joint`` and its descendants; ``offsets`` in metres, times ``scale``."""
    pad = "\t" * depth
    name = _BVH_NAME_OF[joint]
    if joint == 0:
        lines += [f"ROOT {name}", "{", "\tOFFSET 0.000000 0.000000 0.000000",
                  "\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation"]
    else:
        lines += [f"{pad}JOINT {name}", f"{pad}{{", f"{pad}\tOFFSET {_vec(offsets[joint] * scale)}",
                  f"{pad}\tCHANNELS 3 Zrotation Yrotation Xrotation"]
    children = [smpl for _, smpl in BVH_JOINTS if smpl > 0 and PARENTS[smpl] == joint]
    for child in children:
        _write_joint(lines, child, offsets, scale, depth + 1)
    if not children:
        end = np.asarray(END_SITES[joint]) * scale
        lines += [f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {_vec(end)}", f"{pad}\t}}"]
    lines.append(f"{pad}}}")


def _euler_degrees(rotations: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3) -> (T, J, 3) Euler angles (z, y, x) in degrees, unwrapped over time.

    Adding 360 degrees to one angle gives the same rotation, so unwrapping each channel keeps
    the rotations and removes the +-180 jumps that make DCC tools interpolate the long way.
    """
    frames, count = rotations.shape[:2]
    angles = Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_euler(EULER_ORDER, degrees=False)
    angles = np.unwrap(angles.reshape(frames, count, 3), axis=0)
    return np.degrees(angles)


def _vec(v) -> str:
    return " ".join(f"{x:.6f}" for x in v)


__all__ = ["BVH_JOINTS", "BVH_JOINT_NAMES", "UNIT_SCALE", "bvh_text", "save_bvh"]
