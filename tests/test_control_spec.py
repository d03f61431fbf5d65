"""User control specs: points, seconds, parametric paths (hand-checked geometry), keyframes, every error."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from motionlcm.control.spec import control_batch, load_control_spec, parse_frame
from motionlcm.errors import MotionLCMError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "control"


def controlled(mask, joint=0):
    return np.flatnonzero(mask[:, joint]).tolist()


def test_points_take_frames_and_seconds():
    spec = {"joints": {"pelvis": {"points": [[0, 0, 0.9, 0], ["1.5s", 1, 0.9, 2], ["12f", 0.5, 0.9, 1], ["40", 0, 1, 0]]}}}
    hints, mask = load_control_spec(spec, 80)
    assert hints.shape == (80, 22, 3) and hints.dtype == np.float32 and mask.shape == (80, 22) and mask.dtype == bool
    assert controlled(mask) == [0, 12, 30, 40] and mask.sum() == 4
    np.testing.assert_allclose(hints[30, 0], [1, 0.9, 2])
    assert not hints[~mask].any()
    # the shorthand: a joint maps straight to its points list; joint names are case-insensitive, 'root' = pelvis
    h2, m2 = load_control_spec({"joints": {"ROOT": [["2s", 1, 2, 3]]}}, 80)
    assert controlled(m2) == [40] and h2[40, 0].tolist() == [1, 2, 3]
    assert parse_frame("0.05s") == 1 and parse_frame(7.0) == 7 and parse_frame(" 3 ") == 3


def test_line_to_a_target_and_along_a_direction():
    spec = {"joints": {"pelvis": {"path": {"type": "line", "origin": [0, 1, 0], "to": [0, 1, 3], "start": 0, "end": "3s",
                                           "every": 2}}}}
    hints, mask = load_control_spec(spec, 80)
    assert controlled(mask) == list(range(0, 61, 2))
    np.testing.assert_allclose(hints[30, 0], [0, 1, 1.5], atol=1e-6)  # half way at half time
    np.testing.assert_allclose(hints[60, 0], [0, 1, 3], atol=1e-6)
    # every 7 from 0 to 20: 0, 7, 14 and the end frame 20
    spec = {"joints": {"left_wrist": {"path": {"type": "line", "origin": [0, 1, 0], "direction": [0, 0, 2], "speed": 1.0,
                                               "end": 20, "every": 7}}}}
    hints, mask = load_control_spec(spec, 80)
    assert controlled(mask, 20) == [0, 7, 14, 20]
    np.testing.assert_allclose(hints[20, 20], [0, 1, 1.0], atol=1e-6)  # 1 m/s for 1 s along +Z


def test_circle_geometry_by_hand():
    base = {"type": "circle", "center": [1, 0.9, 0], "radius": 1.0, "start_angle": 180, "end": 40}
    hints, mask = load_control_spec({"joints": {"pelvis": {"path": base}}}, 41)
    assert controlled(mask) == list(range(41))
    # angle = 180 + 360 * frame / 40 degrees; position = center + r (cos a, 0, sin a)
    np.testing.assert_allclose(hints[0, 0], [0, 0.9, 0], atol=1e-6)    # 180 deg: the origin
    np.testing.assert_allclose(hints[10, 0], [1, 0.9, -1], atol=1e-6)  # 270 deg
    np.testing.assert_allclose(hints[20, 0], [2, 0.9, 0], atol=1e-6)   # 360 deg
    np.testing.assert_allclose(hints[30, 0], [1, 0.9, 1], atol=1e-6)   # 450 deg
    np.testing.assert_allclose(hints[40, 0], hints[0, 0], atol=1e-6)   # one full turn
    radii = np.linalg.norm(hints[:, 0] - np.array([1, 0.9, 0]), axis=-1)
    np.testing.assert_allclose(radii, 1.0, atol=1e-6)
    assert np.allclose(hints[:, 0, 1], 0.9)  # horizontal
    # counterclockwise (seen from above) goes the other way: 90 deg at frame 10
    ccw, _ = load_control_spec({"joints": {"pelvis": {"path": {**base, "direction": "counterclockwise"}}}}, 41)
    np.testing.assert_allclose(ccw[10, 0], [1, 0.9, 1], atol=1e-6)
    # by speed: pi m/s on radius 2 = 90 degrees per second; 1 s = 20 frames
    fast = {"type": "circle", "center": [0, 1, 0], "radius": 2.0, "speed": math.pi, "end": 20}
    hints, _ = load_control_spec({"joints": {"head": {"path": fast}}}, 41)
    np.testing.assert_allclose(hints[20, 15], [0, 1, 2], atol=1e-6)
    np.testing.assert_allclose(hints[0, 15], [2, 1, 0], atol=1e-6)


def test_s_curve_geometry_by_hand():
    path = {"type": "s_curve", "origin": [0, 1, 0], "length": 4.0, "amplitude": 0.5, "end": 40}
    hints, mask = load_control_spec({"joints": {"pelvis": {"path": path}}}, 41)
    # s = frame / 40; forward 4 s along +Z, sideways 0.5 sin(2 pi s) along +X
    np.testing.assert_allclose(hints[10, 0], [0.5, 1, 1], atol=1e-6)
    np.testing.assert_allclose(hints[20, 0], [0, 1, 2], atol=1e-6)
    np.testing.assert_allclose(hints[30, 0], [-0.5, 1, 3], atol=1e-6)
    np.testing.assert_allclose(hints[40, 0], [0, 1, 4], atol=1e-6)
    turned, _ = load_control_spec({"joints": {"pelvis": {"path": {**path, "heading": 90}}}}, 41)
    np.testing.assert_allclose(turned[10, 0], [1, 1, -0.5], atol=1e-6)  # forward +X, sideways -Z
    # a speed sets the duration: 2 m at 1 m/s = 2 s = 40 frames
    timed = {"type": "s_curve", "origin": [0, 1, 0], "length": 2.0, "speed": 1.0, "start": 5}
    _, mask = load_control_spec({"joints": {"pelvis": {"path": timed}}}, 80)
    assert controlled(mask)[0] == 5 and controlled(mask)[-1] == 45


def test_keyframes_control_whole_or_partial_poses():
    pose = [[j * 0.1, 1.0, 0.0] for j in range(22)]
    spec = {"keyframes": [{"frame": "1s", "pose": pose}, {"frame": 50, "pose": {"head": [0, 1.7, 1], "left_wrist": [0.3, 1, 1]}}]}
    hints, mask = load_control_spec(spec, 80)
    assert mask[20].all() and mask.sum() == 24
    np.testing.assert_allclose(hints[20, 21], [2.1, 1, 0], atol=1e-6)
    assert mask[50, 15] and mask[50, 20] and mask[50].sum() == 2
    # a keyframe may repeat a point given elsewhere, as long as it agrees
    spec["joints"] = {"head": {"points": [[50, 0, 1.7, 1]]}}
    assert load_control_spec(spec, 80)[1].sum() == 24


def test_the_shipped_examples_load_for_common_lengths():
    names = sorted(p.stem for p in EXAMPLES.glob("*.json"))
    assert names == ["circle", "line", "s_curve"]
    for name in names:
        for frames in (80, 120, 196):
            hints, mask = load_control_spec(EXAMPLES / f"{name}.json", frames)
            assert mask[:, 0].sum() > 10 and np.isfinite(hints).all()
            np.testing.assert_allclose(hints[0, 0], [0, 0.95, 0], atol=1e-6)  # all start at the origin


def write(tmp_path, text) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(text)
    return path


ERRORS = [
    ({"joints": {"left_hand": [[0, 0, 0, 0]]}}, "unknown joint 'left_hand'"),
    ({"joints": {"pelvis": [[80, 0, 0, 0]]}}, "frame 80 is beyond the motion's 80 frames"),
    ({"joints": {"pelvis": [["4.5s", 0, 0, 0]]}}, "frame 90 is beyond"),
    ({"joints": {"pelvis": [[0, 0, float("nan"), 0]]}}, "NaN"),
    ({"joints": {"pelvis": [[0, 0, float("inf"), 0]]}}, "infinite"),
    ({"joints": {"pelvis": [[i % 80, 0, 0, 0] for i in range(81)]}}, "too many points: 81"),
    ({"joints": {"pelvis": [[3, 0, 1, 0], ["0.15s", 0, 1.5, 0]]}}, "contradictory entries for pelvis at frame 3"),
    ({"joints": {"pelvis": {"path": {"type": "line", "origin": [0, 1, 0], "to": [0, 1, 3], "end": 10}}},
      "keyframes": [{"frame": 10, "pose": {"pelvis": [0, 1, 2]}}]}, "keyframe 1: contradictory entries for pelvis at frame 10"),
    ({"joints": {"pelvis": [[1.5, 0, 0, 0]]}}, "not a whole number"),
    ({"joints": {"pelvis": [[-1, 0, 0, 0]]}}, "negative"),
    ({"joints": {"pelvis": [[0, 0, 0]]}}, "must be \\[frame, x, y, z\\]"),
    ({"joints": {"pelvis": [["soon", 0, 0, 0]]}}, "not understood"),
    ({"joints": {"pelvis": {"path": {"type": "spiral"}}}}, "unknown path type 'spiral'"),
    ({"joints": {"pelvis": {"path": {"type": "circle", "center": [0, 1, 0], "radius": 1, "colour": "red"}}}},
     "unknown circle option"),
    ({"joints": {"pelvis": {"path": {"type": "circle", "center": [0, 1, 0], "radius": -1}}}}, "'radius' must be positive"),
    ({"joints": {"pelvis": {"path": {"type": "line", "origin": [0, 1, 0], "to": [1, 1, 1], "start": 20, "end": 10}}}},
     "before 'start'"),
    ({"joints": {"pelvis": {"path": {"type": "s_curve", "origin": [0, 1, 0], "length": 8, "speed": 1}}}},
     "ends at frame 160, beyond"),
    ({"joints": {"pelvis": {"path": {"type": "line", "origin": [0, 1, 0], "direction": [0, 0, 0], "speed": 1}}}},
     "must not be zero"),
    ({"joints": {"pelvis": {"path": {"type": "line", "origin": [0, 1], "to": [0, 1, 1]}}}}, "'origin' must be a list of 3"),
    ({"keyframes": [{"frame": 3, "pose": [[0, 0, 0]] * 21}]}, "22"),
    ({"joints": {}}, "controls nothing"),
    ({"joint": {}}, "unknown key"),
]


@pytest.mark.parametrize("spec, message", ERRORS, ids=[m[:30] for _, m in ERRORS])
def test_each_problem_is_one_clear_line(spec, message):
    with pytest.raises(MotionLCMError, match=message) as err:
        load_control_spec(spec, 80)
    assert "\n" not in str(err.value) and str(err.value).startswith("control spec: ")


def test_file_problems(tmp_path):
    with pytest.raises(MotionLCMError, match="invalid JSON at line 2 column") as err:
        load_control_spec(write(tmp_path, '{"joints":\n {"pelvis": [[0, 0, 0, 0],]}}'), 80)
    assert "\n" not in str(err.value)
    with pytest.raises(MotionLCMError, match="not found"):
        load_control_spec(tmp_path / "missing.json", 80)
    with pytest.raises(MotionLCMError, match="JSON object"):
        load_control_spec(write(tmp_path, "[1, 2]"), 80)
    # Python's json module accepts the NaN literal; the spec must not
    with pytest.raises(MotionLCMError, match=r"spec.json: joint 'pelvis' point 1: the position contains NaN"):
        load_control_spec(write(tmp_path, '{"joints": {"pelvis": [[0, 0, NaN, 0]]}}'), 80)
    good = write(tmp_path, json.dumps({"joints": {"pelvis": [[0, 0, 1, 0]]}}))
    assert load_control_spec(good, 80)[1].sum() == 1


def test_batches_of_specs_and_arrays():
    spec = {"joints": {"pelvis": [[0, 0, 1, 0], [39, 0, 1, 2]]}}
    hints, mask = control_batch(spec, [40, 60])
    assert hints.shape == (2, 60, 22, 3) and mask[:, :, 0].sum(1).tolist() == [2, 2]
    arrays = (np.ones((50, 22, 3)), np.zeros((50, 22), bool))
    arrays[1][45, 0] = True
    hints, mask = control_batch(arrays, [60, 50])  # shorter arrays are padded
    assert mask.sum() == 2 and hints[0, 45, 0].tolist() == [1, 1, 1] and hints[0, 10, 0].tolist() == [0, 0, 0]
    with pytest.raises(MotionLCMError, match="frame 45 is beyond the motion's 40 frames"):
        control_batch(arrays, [40])
    with pytest.raises(MotionLCMError, match="2 motions but 3 control entries"):
        control_batch([spec] * 3, [40, 40])
    nan = np.full((40, 22, 3), np.nan)
    with pytest.raises(MotionLCMError, match="NaN"):
        control_batch((nan, np.ones((40, 22), bool)), [40])
