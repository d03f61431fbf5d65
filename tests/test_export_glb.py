"""Animated GLB export, read back with pygltflib and trimesh."""
import struct

import numpy as np
import pygltflib
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from motionlcm.body.smpl_pose import fit_rig
from motionlcm.errors import MotionLCMError
from motionlcm.export.glb import save_glb
from motionlcm.motion.skeleton import JOINT_NAMES

NUMPY_TYPES = {pygltflib.FLOAT: np.float32, pygltflib.UNSIGNED_SHORT: np.uint16}
WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}


@pytest.fixture(scope="module")
def walk(fixtures):
    return np.load(fixtures / "new_joints" / "012314.npy")


@pytest.fixture(scope="module")
def walk_glb(tmp_path_factory, walk):
    return save_glb(tmp_path_factory.mktemp("glb") / "walk.glb", walk)


def accessor_data(gltf, index):
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    dtype = np.dtype(NUMPY_TYPES[acc.componentType])
    raw = gltf.binary_blob()[start:start + acc.count * WIDTH[acc.type] * dtype.itemsize]
    return np.frombuffer(raw, dtype=dtype).reshape(acc.count, -1)


def test_trimesh_loads_the_scene(walk_glb):
    scene = trimesh.load(walk_glb)
    assert isinstance(scene, trimesh.Scene)
    assert len(scene.geometry) >= 22
    assert 1.4 < scene.bounds[1, 1] - scene.bounds[0, 1] < 2.0  # a person-sized figure, Y up


def test_one_linear_keyframe_per_frame(walk_glb, walk):
    gltf = pygltflib.GLTF2().load(str(walk_glb))
    assert [n.name for n in gltf.nodes] == list(JOINT_NAMES)
    (animation,) = gltf.animations
    targets = {(c.target.node, c.target.path) for c in animation.channels}
    assert targets == {(0, "translation")} | {(j, "rotation") for j in range(22)}
    for sampler in animation.samplers:
        assert sampler.interpolation == "LINEAR"
        assert gltf.accessors[sampler.input].count == len(walk) == 170
        assert gltf.accessors[sampler.output].count == len(walk)
    times = accessor_data(gltf, animation.samplers[0].input)[:, 0]
    np.testing.assert_allclose(times, np.arange(170) / 20.0, atol=1e-6)
    assert gltf.accessors[animation.samplers[0].input].max == pytest.approx([169 / 20.0])


def test_animated_nodes_follow_the_motion(walk_glb, walk):
    """Independent glTF forward kinematics (parent world @ T @ R) reproduces the joints."""
    gltf = pygltflib.GLTF2().load(str(walk_glb))
    frames = len(walk)
    translation = {j: np.tile(node.translation, (frames, 1)) for j, node in enumerate(gltf.nodes)}
    rotation = {}
    for channel in gltf.animations[0].channels:
        data = accessor_data(gltf, gltf.animations[0].samplers[channel.sampler].output).astype(np.float64)
        (translation if channel.target.path == "translation" else rotation)[channel.target.node] = data
    world_pos, world_rot = {}, {}

    def visit(j, parent_pos, parent_rot):
        world_pos[j] = parent_pos + parent_rot.apply(translation[j])
        world_rot[j] = parent_rot * Rotation.from_quat(rotation[j])  # glTF stores (x, y, z, w) like scipy
        for child in gltf.nodes[j].children or []:
            visit(child, world_pos[j], world_rot[j])

    visit(0, np.zeros((frames, 3)), Rotation.identity(frames))
    positions = np.stack([world_pos[j] for j in range(22)], axis=1)
    # The GLB plays the one export rig (as BVH and NPZ do), posed after the clip.
    _, rig_joints = fit_rig(walk)
    assert np.linalg.norm(positions - rig_joints, axis=-1).max() < 1e-5
    err = np.linalg.norm(positions - walk, axis=-1)
    assert err.max() < 0.02 and err.mean() < 0.006


def test_glb_container(walk_glb):
    data = walk_glb.read_bytes()
    magic, version, length = struct.unpack("<4sII", data[:12])
    assert magic == b"glTF" and version == 2 and length == len(data) and length % 4 == 0


def test_single_frame_and_other_rate(tmp_path, walk):
    gltf = pygltflib.GLTF2().load(str(save_glb(tmp_path / "one.glb", walk[:1], fps=30)))
    assert gltf.accessors[gltf.animations[0].samplers[0].input].count == 1
    gltf = pygltflib.GLTF2().load(str(save_glb(tmp_path / "ten.glb", walk[:10], fps=30)))
    assert gltf.accessors[gltf.animations[0].samplers[0].input].max == pytest.approx([9 / 30])


@pytest.mark.parametrize(
    "bad, words",
    [(np.zeros((10, 22, 2)), "shape"), (np.full((3, 22, 3), np.inf), "NaN or Inf")],
)
def test_bad_input_raises_and_writes_nothing(tmp_path, bad, words):
    with pytest.raises(MotionLCMError, match=words):
        save_glb(tmp_path / "bad.glb", bad)
    assert list(tmp_path.iterdir()) == []
