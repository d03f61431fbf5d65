"""Animated GLB (binary glTF 2.0) of SMPL-22 joint motions, playable in browsers (three.js,
Babylon.js / gradio ``Model3D``) and DCC tools.

The file holds a node per joint, nested like the skeleton (``motionlcm.motion.skeleton``
names), each carrying a rigid low-poly mesh: a sphere at the joint and a limb cylinder to
each child, coloured blue (left), red (right) or grey (centre) like the stick renderer.
One animation ("motion") drives the pelvis translation and every joint's rotation with
one LINEAR keyframe per motion frame at ``frame / fps`` seconds; rotations come from the
inverse kinematics of :mod:`motionlcm.body.smpl_pose` onto its one export rig
(:func:`~motionlcm.body.smpl_pose.rig_offsets`), whose T-pose sets the static node translations. glTF is Y up, metres, facing +Z, like the motions.

The file is assembled by hand (JSON chunk + one binary chunk): the format is small and
fully specified, and writing it directly keeps a glTF library out of the runtime
dependencies; the tests read the files back with pygltflib and trimesh.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..body.smpl_pose import CHILDREN, fit_rig, validate_joints
from ..errors import MotionLCMError
from ..io import atomic_path
from ..motion import FPS
from ..motion.skeleton import JOINT_NAMES, NUM_JOINTS

JOINT_RADIUS = 0.03
LIMB_RADIUS = 0.02
HEAD_RADIUS = 0.09
COLOURS = {"left": (0.12, 0.35, 0.86, 1.0), "right": (0.88, 0.2, 0.16, 1.0), "centre": (0.45, 0.45, 0.45, 1.0)}
_FLOAT, _UINT16 = 5126, 5123
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_GLB_MAGIC, _GLB_VERSION, _CHUNK_JSON, _CHUNK_BIN = 0x46546C67, 2, 0x4E4F534A, 0x004E4942


def save_glb(path: str | Path, joints, fps: float = FPS, rig=None) -> Path:
    """Write joints (T, 22, 3) in metres (Y up) as an animated GLB, atomically; returns the path.

    ``rig``: ``fit_rig(joints)``'s result when the caller already has it (several formats of one clip).
    """
    joints = validate_joints(joints)
    if not np.isfinite(fps) or fps <= 0:
        raise MotionLCMError(f"fps must be a positive number, got {fps}")
    params, _ = rig or fit_rig(joints)  # the model's one rig (smpl_pose.rig_offsets), as BVH and NPZ
    quats = Rotation.from_matrix(params.local_rotations.reshape(-1, 3, 3)).as_quat()  # (x, y, z, w) like glTF
    quats = _continuous(quats.reshape(len(joints), NUM_JOINTS, 4))
    gltf, binary = _build_gltf(params.transl, quats, params.offsets, fps)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(_glb_bytes(gltf, binary))
    return path


class _BufferBuilder:
    """Collects binary data, buffer views and accessors of one glTF buffer."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, accessor_type: str, target: int | None = None, bounds: bool = False) -> int:
        """Append an array as a new view and accessor; returns the accessor index."""
        component = _UINT16 if array.dtype == np.uint16 else _FLOAT
        array = np.ascontiguousarray(array, dtype=np.uint16 if component == _UINT16 else np.float32)
        view = {"buffer": 0, "byteOffset": len(self.data), "byteLength": array.nbytes}
        if target is not None:
            view["target"] = target
        self.views.append(view)
        self.data += array.tobytes()
        self.data += b"\x00" * (-len(self.data) % 4)  # keep every view 4-byte aligned
        accessor = {"bufferView": len(self.views) - 1, "componentType": component,
                    "count": int(array.shape[0]), "type": accessor_type}
        if bounds:  # required for POSITION and animation inputs
            flat = array.reshape(array.shape[0], -1)
            accessor["min"] = flat.min(axis=0).tolist()
            accessor["max"] = flat.max(axis=0).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def _build_gltf(transl: np.ndarray, quats: np.ndarray, offsets: np.ndarray, fps: float) -> tuple[dict, bytes]:
    buf = _BufferBuilder()
    materials = [{"name": side, "pbrMetallicRoughness": {"baseColorFactor": list(rgba), "metallicFactor": 0.0,
                                                          "roughnessFactor": 0.8}}
                 for side, rgba in COLOURS.items()]
    material_index = {side: i for i, side in enumerate(COLOURS)}
    meshes, nodes = [], []
    for j in range(NUM_JOINTS):
        primitives = [_primitive(buf, *part, material_index) for part in _joint_parts(j, offsets)]
        meshes.append({"name": JOINT_NAMES[j], "primitives": primitives})
        node = {"name": JOINT_NAMES[j], "mesh": j, "translation": offsets[j].tolist() if j else transl[0].tolist(),
                "rotation": quats[0, j].tolist()}
        if CHILDREN[j]:
            node["children"] = list(CHILDREN[j])
        nodes.append(node)
    times = buf.add(np.arange(len(transl), dtype=np.float32) / np.float32(fps), "SCALAR", bounds=True)
    samplers = [{"input": times, "output": buf.add(transl, "VEC3"), "interpolation": "LINEAR"}]
    channels = [{"sampler": 0, "target": {"node": 0, "path": "translation"}}]
    for j in range(NUM_JOINTS):
        samplers.append({"input": times, "output": buf.add(quats[:, j], "VEC4"), "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": j, "path": "rotation"}})
    gltf = {
        "asset": {"version": "2.0", "generator": "motionlcm"},
        "scene": 0,
        "scenes": [{"name": "motion", "nodes": [0]}],
        "nodes": nodes,
        "meshes": meshes,
        "materials": materials,
        "animations": [{"name": "motion", "samplers": samplers, "channels": channels}],
        "buffers": [{"byteLength": len(buf.data)}],
        "bufferViews": buf.views,
        "accessors": buf.accessors,
    }
    return gltf, bytes(buf.data)


def _primitive(buf: _BufferBuilder, positions: np.ndarray, normals: np.ndarray, faces: np.ndarray,
               side: str, material_index: dict) -> dict:
    return {
        "attributes": {"POSITION": buf.add(positions, "VEC3", _ARRAY_BUFFER, bounds=True),
                       "NORMAL": buf.add(normals, "VEC3", _ARRAY_BUFFER)},
        "indices": buf.add(faces.reshape(-1).astype(np.uint16), "SCALAR", _ELEMENT_ARRAY_BUFFER),
        "material": material_index[side],
    }


def _joint_parts(joint: int, offsets: np.ndarray) -> list[tuple]:
    """Geometry in the joint's local frame: its sphere, then a limb to each child."""
    if JOINT_NAMES[joint] == "head":  # the head joint sits at the skull base; put the head above it
        parts = [(*_sphere(HEAD_RADIUS, np.array([0.0, 0.6 * HEAD_RADIUS, 0.0])), _side(joint))]
    else:
        parts = [(*_sphere(JOINT_RADIUS, np.zeros(3)), _side(joint))]
    for child in CHILDREN[joint]:
        parts.append((*_cylinder(LIMB_RADIUS, offsets[child]), _side(child)))
    return parts


def _side(joint: int) -> str:
    name = JOINT_NAMES[joint]
    return "left" if name.startswith("left") else "right" if name.startswith("right") else "centre"


def _sphere(radius: float, centre: np.ndarray, rings: int = 8, segments: int = 12):
    """UV sphere: positions (N, 3), normals (N, 3), triangles (F, 3)."""
    theta = np.linspace(0.0, np.pi, rings + 1)[:, None]
    phi = np.linspace(0.0, 2 * np.pi, segments + 1)[None, :]
    normals = np.stack(np.broadcast_arrays(np.sin(theta) * np.sin(phi), np.cos(theta), np.sin(theta) * np.cos(phi)), -1)
    normals = normals.reshape(-1, 3)
    return centre + radius * normals, normals, _grid_faces(rings, segments)


def _cylinder(radius: float, end: np.ndarray, segments: int = 10):
    """Open cylinder from the origin to ``end``: positions, normals, triangles."""
    length = float(np.linalg.norm(end))
    axis = end / max(length, 1e-12)
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    phi = np.linspace(0.0, 2 * np.pi, segments + 1)[:, None]
    ring = np.cos(phi) * u + np.sin(phi) * v  # (segments + 1, 3)
    positions = np.concatenate([radius * ring, radius * ring + end])
    normals = np.concatenate([ring, ring])
    return positions, normals, _grid_faces(1, segments)[:, ::-1]  # the ring runs clockwise about the axis


def _grid_faces(rows: int, cols: int) -> np.ndarray:
    """Two counter-clockwise triangles per cell of a (rows + 1) x (cols + 1) vertex grid."""
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    a = (r * (cols + 1) + c).ravel()
    b, d = a + cols + 1, a + 1
    return np.concatenate([np.stack([a, b, d], 1), np.stack([d, b, b + 1], 1)])


def _continuous(quats: np.ndarray) -> np.ndarray:
    """Flip signs of quaternions (T, J, 4) so consecutive keys agree: players slerp between
    keys, and some take the long way round between q and a nearby -q."""
    flips = np.cumsum((quats[1:] * quats[:-1]).sum(-1) < 0, axis=0) % 2
    sign = 1.0 - 2.0 * np.concatenate([np.zeros((1, quats.shape[1])), flips])
    return quats * sign[..., None]


def _glb_bytes(gltf: dict, binary: bytes) -> bytes:
    text = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary += b"\x00" * (-len(binary) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join([struct.pack("<III", _GLB_MAGIC, _GLB_VERSION, total),
                     struct.pack("<II", len(text), _CHUNK_JSON), text,
                     struct.pack("<II", len(binary), _CHUNK_BIN), binary])


__all__ = ["save_glb"]
