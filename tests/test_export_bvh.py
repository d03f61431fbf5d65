"""BVH export, read back with the third-party parser pybvh."""
import re

import numpy as np
import pybvh
import pytest

from motionlcm.errors import MotionLCMError
from motionlcm.body.smpl_pose import fit_rig
from motionlcm.export.bvh import save_bvh
from motionlcm.motion.features import features_to_joints

# REFERENCE.md section 5, with the SMPL-22 joint each name stands for.
EXPECTED = [
    ("Hips", 0), ("LeftUpLeg", 1), ("LeftLeg", 4), ("LeftFoot", 7), ("LeftToe", 10),
    ("RightUpLeg", 2), ("RightLeg", 5), ("RightFoot", 8), ("RightToe", 11),
    ("Spine", 3), ("Spine1", 6), ("Spine2", 9), ("Neck", 12), ("Head", 15),
    ("LeftShoulder", 13), ("LeftArm", 16), ("LeftForeArm", 18), ("LeftHand", 20),
    ("RightShoulder", 14), ("RightArm", 17), ("RightForeArm", 19), ("RightHand", 21),
]
NAMES = [name for name, _ in EXPECTED]
SMPL_INDEX = [index for _, index in EXPECTED]


@pytest.fixture(scope="module")
def walk(fixtures):
    return np.load(fixtures / "new_joints" / "012314.npy")


def read(path):
    return pybvh.read_bvh_file(path, world_up="+y")


def test_pybvh_positions_match_the_motion(tmp_path, walk):
    path = save_bvh(tmp_path / "walk.bvh", walk)
    bvh = read(path)
    assert bvh.joint_names == NAMES
    assert bvh.frame_count == len(walk) == 170
    assert bvh.frame_time == pytest.approx(0.05)
    world = bvh.joint_positions() / 100.0  # written in centimetres
    # Exactly the rig's joints (what the NPZ export stores as `joints`) ...
    _, rig_joints = fit_rig(walk)
    assert np.linalg.norm(world - rig_joints[:, SMPL_INDEX], axis=-1).max() < 1e-5
    # ... which follow this real clip to the difference between its skeleton and the symmetric rig.
    err = np.linalg.norm(world - walk[:, SMPL_INDEX], axis=-1)
    assert err.max() < 0.02 and err.mean() < 0.006


def _offsets(text):
    return re.findall(r"OFFSET (.*)", text)


def test_one_symmetric_rig_for_every_clip(tmp_path, walk, fixtures):
    other = features_to_joints(np.load(fixtures / "new_joint_vecs" / "000612.npy").astype(np.float64))
    stretched = walk * 1.1  # a clip with longer bones still gets the same rig
    texts = [save_bvh(tmp_path / f"{i}.bvh", m).read_text() for i, m in enumerate([walk, other, stretched])]
    assert _offsets(texts[0]) == _offsets(texts[1]) == _offsets(texts[2])
    bvh = read(tmp_path / "0.bvh")
    offsets = {node.name: np.array(node.offset) for node in bvh.nodes if not node.is_end_site()}
    for left in [n for n in NAMES if n.startswith("Left")]:
        right = offsets["Right" + left[4:]]
        np.testing.assert_allclose(offsets[left], right * [-1, 1, 1], atol=1e-5)


def test_second_fixture_in_metres(tmp_path, fixtures):
    joints = features_to_joints(np.load(fixtures / "new_joint_vecs" / "000612.npy").astype(np.float64))
    bvh = read(save_bvh(tmp_path / "m.bvh", joints, fps=20, units="m"))
    assert bvh.frame_count == 199
    err = np.linalg.norm(bvh.joint_positions() - joints[:, SMPL_INDEX], axis=-1)
    assert err.max() < 0.02


def test_file_layout(tmp_path, walk):
    text = save_bvh(tmp_path / "walk.bvh", walk).read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "HIERARCHY" and lines[1] == "ROOT Hips"
    assert re.findall(r"(?:ROOT|JOINT) (\w+)", text) == NAMES
    channels = [line for line in lines if line.startswith("CHANNELS")]
    assert channels[0] == "CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation"
    assert all(c == "CHANNELS 3 Zrotation Yrotation Xrotation" for c in channels[1:]) and len(channels) == 22
    assert lines.count("End Site") == 5
    assert "Frames: 170" in lines and "Frame Time: 0.05" in lines
    motion = lines[lines.index("Frame Time: 0.05") + 1:]
    assert len(motion) == 170 and all(len(row.split()) == 6 + 21 * 3 for row in motion)
    # Y up, centimetres: the first value triple is the pelvis position.
    np.testing.assert_allclose([float(v) for v in motion[0].split()[:3]], walk[0, 0] * 100, atol=1e-4)


def test_other_frame_rate(tmp_path, walk):
    bvh = read(save_bvh(tmp_path / "fast.bvh", walk[:30], fps=30))
    assert bvh.frame_count == 30 and bvh.frame_time == pytest.approx(1 / 30)


@pytest.mark.parametrize(
    "bad, words",
    [(np.zeros((10, 24, 3)), "shape"), (np.full((3, 22, 3), np.nan), "NaN")],
)
def test_bad_input_keeps_the_old_file(tmp_path, walk, bad, words):
    path = save_bvh(tmp_path / "keep.bvh", walk[:5])
    before = path.read_bytes()
    with pytest.raises(MotionLCMError, match=words):
        save_bvh(path, bad)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.bvh"]


def test_bad_options(tmp_path, walk):
    with pytest.raises(MotionLCMError, match="units"):
        save_bvh(tmp_path / "x.bvh", walk, units="inch")
    with pytest.raises(MotionLCMError, match="fps"):
        save_bvh(tmp_path / "x.bvh", walk, fps=0)
