"""Rule-based prompt following (motionlcm.evaluation.prompt_checks): known answers.

Ground truth comes from the package's own generator, so nothing here reads /work/main/data.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from motionlcm.data.synth.compose import synthesize_motion
from motionlcm.data.synth.dataset import make_motion
from motionlcm.errors import MotionLCMError
from motionlcm.evaluation.prompt_checks import (
    ActionCheck,
    action_segments,
    check_actions,
    load_synth_meta,
    prompt_following,
)
from motionlcm.motion.mirror import mirror_joints
from motionlcm.motion.skeleton import JOINT_INDEX

LEG_JOINTS = [JOINT_INDEX[n] for n in ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
                                       "left_foot", "right_foot")]


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    """40 motions exactly as the dataset stores them (joints -> features -> joints)."""
    return [make_motion(5, i) for i in range(40)]


def single(family: str, want: dict | None = None, start: int = 0, n: int = 1) -> list[tuple[np.ndarray, list[dict]]]:
    """``n`` generated motions whose first action is ``family`` with the ``want`` parameters."""
    out = []
    for seed in range(start, start + 400):
        joints, _, meta = synthesize_motion(np.random.default_rng([21, seed]), family=family, num_actions=1)
        first = meta["actions"][0]
        if all(first.get(k) == v for k, v in (want or {}).items()):
            out.append((joints, meta["actions"]))
            if len(out) == n:
                return out
    raise AssertionError(f"no {family} motion with {want} in 400 seeds")


def first_check(joints: np.ndarray, actions: list[dict]) -> ActionCheck:
    return check_actions(joints, actions)[0]


def mirrored(joints: np.ndarray) -> np.ndarray:
    return np.asarray(mirror_joints(np.asarray(joints, dtype=np.float32)), dtype=np.float64)


def frozen(joints: np.ndarray) -> np.ndarray:
    return np.repeat(joints[:1], len(joints), axis=0)


def reversed_travel(joints: np.ndarray) -> np.ndarray:
    """Same poses, the pelvis' ground displacement negated: the body moves the other way."""
    out = np.array(joints, dtype=np.float64)
    shift = out[:, 0, [0, 2]] - out[0, 0, [0, 2]]
    out[:, :, 0] -= 2 * shift[:, None, 0]
    out[:, :, 2] -= 2 * shift[:, None, 1]
    return out


def legs_frozen(joints: np.ndarray) -> np.ndarray:
    """The legs keep frame 0's pose relative to the pelvis (translated, not turned): gliding."""
    out = np.array(joints, dtype=np.float64)
    out[:, LEG_JOINTS] = out[:, :1] + (out[0, LEG_JOINTS] - out[0, 0])[None]
    return out


# --------------------------------------------------------------------------- ground truth
def test_generated_ground_truth_passes(corpus):
    result = prompt_following([m["joints"] for m in corpus], [m["meta"] for m in corpus])
    assert set(result) == {"overall", "motions", "families", "counts"}
    assert result["overall"] >= 0.9, result
    assert result["motions"] >= 0.85, result
    assert sum(result["counts"].values()) == sum(len(m["meta"]["actions"]) for m in corpus)
    assert set(result["families"]) == set(result["counts"])
    assert all(0.0 <= v <= 1.0 for v in result["families"].values())


def test_shuffled_pairs_fail(corpus):
    """Each motion judged against the next one's metadata: prompt following collapses."""
    joints = [m["joints"] for m in corpus]
    metas = [m["meta"] for m in corpus[1:] + corpus[:1]]
    assert prompt_following(joints, metas)["overall"] <= 0.3


def test_each_check_returns_a_reason(corpus):
    checks = check_actions(corpus[0]["joints"], corpus[0]["meta"]["actions"])
    assert len(checks) == len(corpus[0]["meta"]["actions"])
    for check, action in zip(checks, corpus[0]["meta"]["actions"]):
        assert isinstance(check, ActionCheck) and check.family == action["family"]
        assert isinstance(check.passed, bool) and check.detail and "\n" not in check.detail


# --------------------------------------------------------------------------- corruptions
LR_CASES = [
    ("turn", {}),
    ("spin", {}),
    ("side_step", {}),
    ("hop", {}),
    ("kick", {}),
    ("kneel", {}),
    ("walk", {"direction": "left"}),
    ("jog", {"path": "curve_right"}),
    ("run", {"path": "circle_ccw"}),
    ("wave", {"hands": "right"}),
    ("raise_arms", {"hands": "left"}),
    ("punch", {"hands": "both"}),
    ("idle", {"look": True}),
]


@pytest.mark.parametrize("family,want", LR_CASES)
def test_mirrored_motion_fails_left_right_checks(family, want):
    for joints, actions in single(family, want, n=2):
        assert first_check(joints, actions).passed, first_check(joints, actions).detail
        check = first_check(mirrored(joints), actions)
        assert not check.passed, f"mirrored {actions[0]} passed: {check.detail}"


@pytest.mark.parametrize("family,want", [("jump", {}), ("squat", {}), ("clap", {}), ("march", {}), ("bow", {}),
                                         ("walk", {"direction": "forward", "path": "straight"})])
def test_mirrored_symmetric_actions_still_pass(family, want):
    """Mirroring itself breaks nothing: actions with no side keep passing."""
    for joints, actions in single(family, want, n=2):
        check = first_check(mirrored(joints), actions)
        assert check.passed, check.detail


@pytest.mark.parametrize("family", ["walk", "jog", "run", "side_step", "march", "turn", "spin", "jump", "hop", "kick",
                                    "squat", "crouch", "sit", "kneel", "bow", "wave", "raise_arms", "clap", "punch"])
def test_frozen_pose_fails(family):
    joints, actions = single(family)[0]
    assert first_check(joints, actions).passed
    check = first_check(frozen(joints), actions)
    assert not check.passed, check.detail


def test_frozen_pose_passes_idle():
    joints, actions = single("idle", {"look": False})[0]
    assert first_check(frozen(joints), actions).passed


@pytest.mark.parametrize("family", ["walk", "jog", "run", "side_step", "turn", "jump", "hop", "squat", "march"])
def test_legs_frozen_while_root_moves_fails(family):
    joints, actions = single(family)[0]
    check = first_check(legs_frozen(joints), actions)
    assert not check.passed, check.detail


@pytest.mark.parametrize("direction", ["forward", "backward", "left", "right"])
def test_walk_direction_reversed_in_time_or_space_fails(direction):
    joints, actions = single("walk", {"direction": direction, "path": "straight"})[0]
    ok = first_check(joints, actions)
    assert ok.passed and f"wanted {direction}" in ok.detail, ok.detail
    opposite = {"forward": "backward", "backward": "forward", "left": "right", "right": "left"}[direction]
    for corrupt in (lambda j: j[::-1].copy(), reversed_travel):
        check = first_check(corrupt(joints), actions)
        assert not check.passed
        assert f"travelled {opposite}" in check.detail, check.detail


def test_wrong_parameters_fail():
    joints, actions = single("jump", {"count": 2})[0]
    assert first_check(joints, actions).passed
    for wrong in ({"count": 1}, {"count": 3}):
        assert not first_check(joints, [{**actions[0], **wrong}]).passed
    joints, actions = single("kick", {"leg": "left"})[0]
    assert not first_check(joints, [{**actions[0], "leg": "right"}]).passed
    joints, actions = single("raise_arms", {"hands": "both", "direction": "up"})[0]
    assert not first_check(joints, [{**actions[0], "direction": "forward"}]).passed
    joints, actions = single("run", {"path": "straight"})[0]
    assert not first_check(joints, [{**actions[0], "family": "walk", "kind": "walk"}]).passed


# --------------------------------------------------------------------------- a hand-built turn
def _stepping_turn(degrees: float, frames: int = 60) -> np.ndarray:
    """Stand (the generator's first frame), step each foot once and turn ``degrees`` (+ = left)."""
    joints, _, _ = synthesize_motion(np.random.default_rng([3, 0]), family="idle", num_actions=1)
    pose = np.repeat(joints[:1], frames, axis=0).astype(np.float64)
    t = np.arange(frames)
    for side, (a, b) in enumerate(((10, 25), (30, 45))):
        lift = 0.08 * np.clip(np.sin(np.pi * (t - a) / (b - a)), 0, None) * ((t >= a) & (t <= b))
        for name in (("left_ankle", "left_foot"), ("right_ankle", "right_foot"))[side]:
            pose[:, JOINT_INDEX[name], 1] += lift
    s = np.clip((t - 5) / (frames - 15), 0, 1)
    yaw = np.radians(degrees) * s * s * (3 - 2 * s)
    c, sn = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x, z = pose[..., 0] - pose[:1, :1, 0], pose[..., 2] - pose[:1, :1, 2]
    pose[..., 0], pose[..., 2] = x * c + z * sn, -x * sn + z * c  # about +Y: +Z toward +X, to the left
    return pose


@pytest.mark.parametrize("degrees", [90.0, -135.0, 45.0])
def test_hand_built_turn_reports_its_angle(degrees):
    joints = _stepping_turn(degrees)
    side = "left" if degrees > 0 else "right"
    action = {"family": "turn", "frames": len(joints) + 1, "direction": side, "degrees": abs(degrees)}
    check = first_check(joints, [action])
    assert check.passed, check.detail
    measured = re.search(r"turned (\d+) deg (left|right)", check.detail)
    assert measured, check.detail
    assert abs(int(measured.group(1)) - abs(degrees)) <= 2 and measured.group(2) == side
    other = "right" if side == "left" else "left"
    assert not first_check(joints, [{**action, "direction": other}]).passed
    assert not first_check(joints, [{**action, "degrees": 180.0 if abs(degrees) < 135 else 45.0}]).passed


def test_hand_built_turn_without_steps_fails():
    joints = _stepping_turn(90.0)
    for name in ("left_ankle", "left_foot", "right_ankle", "right_foot"):
        joints[:, JOINT_INDEX[name], 1] = joints[0, JOINT_INDEX[name], 1]  # feet never leave the floor
    check = first_check(joints, [{"family": "turn", "frames": len(joints) + 1, "direction": "left", "degrees": 90}])
    assert not check.passed and "steps" in check.detail


# --------------------------------------------------------------------------- timing
def test_segments_follow_the_metadata_and_scale():
    actions = [{"family": "walk", "frames": 60}, {"family": "idle", "frames": 41}]
    assert action_segments(100, actions) == [(0, 60), (60, 100)]  # one frame fewer than the sum
    assert action_segments(101, actions) == [(0, 60), (60, 101)]
    assert action_segments(200, actions) == [(0, 120), (120, 200)]  # a clip twice as long
    assert action_segments(150, actions, fps=30.0) == [(0, 90), (90, 150)]
    long = [{"family": "walk", "frames": 150}, {"family": "idle", "frames": 90}]
    assert action_segments(196, long) == [(0, 150), (150, 196)]  # cut at 196: timing kept


def test_stretched_clip_is_judged_proportionally():
    joints, actions = single("jump", {"count": 2})[0]
    n = len(joints)
    t = np.linspace(0, n - 1, int(n * 1.5))
    i = np.floor(t).astype(int)
    w = (t - i)[:, None, None]
    slow = joints[i] * (1 - w) + joints[np.minimum(i + 1, n - 1)] * w
    assert first_check(slow, actions).passed


def test_cut_clip_fails_missing_action():
    joints, actions = single("squat")[0]
    too_long = actions + [{"family": "clap", "frames": 300, "count": 3}]
    padded = np.concatenate([joints, np.repeat(joints[-1:], 196 - len(joints), axis=0)])
    checks = check_actions(padded, too_long)
    assert checks[0].passed and not checks[-1].passed


# --------------------------------------------------------------------------- errors
def test_load_synth_meta(tmp_path):
    with pytest.raises(MotionLCMError, match="synth_meta.json") as err:
        load_synth_meta(tmp_path)
    assert "\n" not in str(err.value)
    (tmp_path / "synth_meta.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(MotionLCMError, match="cannot read"):
        load_synth_meta(tmp_path)
    (tmp_path / "synth_meta.json").write_text(json.dumps({"motions": [1, 2]}), encoding="utf-8")
    with pytest.raises(MotionLCMError, match="not a synth metadata"):
        load_synth_meta(tmp_path)
    meta = {"motions": {"000000": {"families": ["idle"], "actions": [{"family": "idle", "frames": 41}]}}}
    (tmp_path / "synth_meta.json").write_text(json.dumps(meta), encoding="utf-8")
    assert load_synth_meta(tmp_path) == meta["motions"]
    assert load_synth_meta(tmp_path / "synth_meta.json") == meta["motions"]


def test_bad_inputs_raise_user_errors():
    joints, actions = single("idle")[0]
    with pytest.raises(MotionLCMError, match="family"):
        check_actions(joints, [{"family": "backflip", "frames": len(joints)}])
    with pytest.raises(MotionLCMError, match="frames"):
        check_actions(joints, [{"family": "idle"}])
    with pytest.raises(MotionLCMError, match="22, 3"):
        check_actions(joints[:, :20], actions)
    with pytest.raises(MotionLCMError, match="metadata"):
        prompt_following([joints], [])


@pytest.mark.parametrize("family, want",
                         [("turn", {"degrees": 180.0}), ("spin", {}), ("kneel", {}), ("jog", {"path": "circle_ccw"})])
def test_a_caption_that_names_no_side_accepts_either_side(family, want):
    """"turns around" / "kneels on one knee" / "jogs in a circle": the mirrored motion fails the
    metadata's side but passes once the caption leaves it open; the amount still counts."""
    from motionlcm.evaluation.prompt_checks import caption_actions

    joints, actions = single(family, want)[0]
    assert first_check(joints, actions).passed
    assert not first_check(mirrored(joints), actions).passed
    opened = caption_actions(actions, [0])
    assert opened[0] != actions[0] and actions == single(family, want)[0][1]  # a copy; the input is untouched
    assert first_check(mirrored(joints), opened).passed
    assert first_check(joints, opened).passed
    assert not first_check(frozen(joints), opened).passed


def test_sides_a_caption_names_stay_strict():
    from motionlcm.evaluation.prompt_checks import caption_actions, sideless_of

    joints, actions = single("kick", {"leg": "right"})[0]
    assert caption_actions(actions, [0]) == actions  # a kick's phrase always names its leg: nothing to open
    assert not first_check(mirrored(joints), caption_actions(actions, [0])).passed
    joints, actions = single("turn", {"degrees": 90.0})[0]
    assert not first_check(mirrored(joints), caption_actions(actions, [])).passed
    with pytest.raises(MotionLCMError, match="action 3"):
        caption_actions(actions, [3])
    meta = {"actions": actions, "captions": [{"text": "a person turns", "sideless": [0]}, {"text": "turns left", "sideless": []}]}
    assert sideless_of(meta, "a person turns") == (0,) and sideless_of(meta, "turns left") == ()
    assert sideless_of(meta, "not a caption of it") == () and sideless_of({"actions": actions}, "a person turns") == ()


# --------------------------------------------------------------------------- what a caption states
def test_an_unstated_count_accepts_any_number_but_none():
    """"claps" / "boxes": the caption states no count, so any number of claps >= 1 passes; a
    wrong stated count still fails, and a motion without claps fails either way."""
    from motionlcm.evaluation.prompt_checks import caption_actions

    joints, actions = single("clap", {"count": 3})[0]
    assert first_check(joints, actions).passed
    wrong = [{**actions[0], "count": 6}]
    assert not first_check(joints, wrong).passed
    opened = caption_actions(wrong, (), {"0": ["count"]})
    assert opened[0]["count"] is None and wrong[0]["count"] == 6  # a copy
    check = first_check(joints, opened)
    assert check.passed and "no count stated" in check.detail, check.detail
    assert not first_check(frozen(joints), opened).passed
    with pytest.raises(MotionLCMError, match="action 2"):
        caption_actions(wrong, (), {"2": ["count"]})


def test_an_unstated_wave_height_accepts_both_heights():
    from motionlcm.evaluation.prompt_checks import caption_actions

    joints, actions = single("wave", {"overhead": False})[0]
    assert first_check(joints, actions).passed
    claimed_high = [{**actions[0], "overhead": True}]
    assert not first_check(joints, claimed_high).passed  # the caption said "above his head"
    assert first_check(joints, caption_actions(claimed_high, (), {"0": ["overhead"]})).passed
    assert not first_check(frozen(joints), caption_actions(claimed_high, (), {"0": ["overhead"]})).passed


def test_stated_actions_reads_the_caption_record():
    from motionlcm.evaluation.prompt_checks import stated_actions, unstated_of

    actions = [{"family": "punch", "frames": 40, "count": 3, "hands": "both", "first": "left"}]
    meta = {"actions": actions, "captions": [{"text": "a man boxes", "sideless": [0], "unstated": {"0": ["count", "hands"]}},
                                             {"text": "punches left and right three times", "sideless": [], "unstated": {}}]}
    assert unstated_of(meta, "a man boxes") == {"0": ["count", "hands"]} and unstated_of({"actions": actions}, "x") == {}
    assert stated_actions(meta, "a man boxes") == [{"family": "punch", "frames": 40, "count": None}]
    assert stated_actions(meta, "punches left and right three times") == actions


def test_action_order_counts_not_the_metadata_timing():
    """A caption states its actions' order, not when each starts: with the metadata's boundary put
    just before the second of two claps, the claps fail at the metadata's timing (that clap falls in
    the next action) and pass once the boundary may move (by <= 25 % of the shorter action); the
    same actions in the other order fail either way."""
    from scipy.signal import find_peaks

    clap, _ = single("clap", {"count": 2})[0]
    stand, _ = single("idle", {"look": False})[0]
    ground = np.array([1.0, 0.0, 1.0])
    rest = stand[:60] - stand[:1, :1] * ground + clap[-1:, :1] * ground  # stands where the claps ended
    clip = np.concatenate([clap, rest[1:]])
    gap = np.linalg.norm(clap[:, JOINT_INDEX["left_wrist"]] - clap[:, JOINT_INDEX["right_wrist"]], axis=-1)
    closings, _ = find_peaks(-gap, height=-0.2)
    assert len(closings) == 2
    actions = [{"family": "clap", "frames": len(clap), "count": 2}, {"family": "idle", "frames": 60, "look": False}]
    assert [c.passed for c in check_actions(clip, actions, boundary_slack=0.0)] == [True, True]
    early = [{**actions[0], "frames": int(closings[-1]) - 1}, {**actions[1], "frames": len(clip) + 1 - int(closings[-1]) + 1}]
    strict = check_actions(clip, early, boundary_slack=0.0)
    assert not strict[0].passed and "1 claps" in strict[0].detail, strict[0].detail
    assert all(c.passed for c in check_actions(clip, early)), [c.detail for c in check_actions(clip, early)]
    swapped = [{**actions[1], "frames": len(clap)}, {**actions[0], "frames": 60}]
    assert not check_actions(clip, swapped)[1].passed  # the claps judged where the person stands
    with pytest.raises(MotionLCMError, match="boundary_slack"):
        check_actions(clip, actions, boundary_slack=0.6)
