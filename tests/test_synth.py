"""The procedural corpus: layout, statistics, determinism, physics and text-motion agreement."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from motionlcm.data.stats import feature_mean_std, joint_mean_std
from motionlcm.data.synth import FAMILY_NAMES, foot_skating_counts, foot_skating_ratio, synthesize_dataset, synthesize_motion
from motionlcm.data.synth import captions as cap
from motionlcm.data.synth import dataset as synth_dataset
from motionlcm.errors import MotionLCMError
from motionlcm.motion import skeleton as sk
from motionlcm.motion.features import features_to_joints, joints_to_features

POS_TAGS = {"NOUN", "VERB", "ADJ", "ADV", "ADP", "DET", "NUM", "PRON", "CCONJ", "SCONJ", "PART", "AUX", "INTJ"}
TOKEN = re.compile(r"^[a-z]+/([A-Z]+)$")
CORPUS_SIZE = 80


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "corpus"
    report = synthesize_dataset(out, CORPUS_SIZE, seed=3, progress=False, workers=1)
    return out, report


def final_joints(joints: np.ndarray) -> np.ndarray:
    """What the dataset stores: joints -> features (float32) -> recovered joints."""
    return features_to_joints(joints_to_features(joints).astype(np.float32)).astype(np.float64)


def single_action(family: str, want: dict | None = None, start: int = 0) -> tuple[np.ndarray, list, dict]:
    """The first seed >= start whose single ``family`` action has the ``want`` parameters."""
    for seed in range(start, start + 200):
        joints, captions, meta = synthesize_motion(np.random.default_rng([7, seed]), family=family, num_actions=1)
        action = meta["actions"][0]
        if all(action.get(k) == v for k, v in (want or {}).items()):
            return final_joints(joints), captions, action
    raise AssertionError(f"no {family} action with {want}")


def heading_change(joints: np.ndarray) -> float:
    """Total turn (rad) of the facing direction; positive = toward the person's left (+X)."""
    forward = sk.facing_direction(joints)
    yaw = np.unwrap(np.arctan2(forward[:, 0], forward[:, 2]))
    return float(yaw[-1] - yaw[0])


def travelled(joints: np.ndarray) -> np.ndarray:
    return (joints[-1, 0] - joints[0, 0])[[0, 2]]


# --------------------------------------------------------------------------- layout and statistics
def test_corpus_layout(corpus):
    root, report = corpus
    ids = (root / "all.txt").read_text().split()
    assert ids == [f"{i:06d}" for i in range(CORPUS_SIZE)]
    for mid in ids:
        vecs = np.load(root / "new_joint_vecs" / f"{mid}.npy")
        joints = np.load(root / "new_joints" / f"{mid}.npy")
        assert vecs.dtype == np.float32 and joints.dtype == np.float32
        assert vecs.shape[1] == 263 and 40 <= len(vecs) <= 196
        assert joints.shape == (len(vecs), 22, 3)
        # new_joints are exactly HumanML3D's recover_from_ric of the stored features
        np.testing.assert_allclose(joints, features_to_joints(vecs), atol=1e-5)
        assert joints[..., 1].min() > -0.01  # on the floor, never below it
    assert report["num_motions"] == CORPUS_SIZE
    assert (root / "synth_meta.json").is_file() and not list(root.parent.glob(".*partial*"))


def test_caption_files_use_humanml3d_format(corpus):
    root, _ = corpus
    for path in sorted((root / "texts").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 3
        assert len({line.split("#")[0] for line in lines}) == 3  # three different captions
        for line in lines:
            text, tokens, start, end = line.split("#")
            assert text.strip() and (start, end) == ("0.0", "0.0")
            for token in tokens.split(" "):
                match = TOKEN.match(token)
                assert match and match.group(1) in POS_TAGS, (path.name, token)


def test_splits_are_disjoint_and_cover_all(corpus):
    root, report = corpus
    splits = {name: (root / f"{name}.txt").read_text().split() for name in ("train", "val", "test")}
    every = [i for members in splits.values() for i in members]
    assert sorted(every) == sorted((root / "all.txt").read_text().split())
    assert len(every) == len(set(every))
    assert (len(splits["train"]), len(splits["val"]), len(splits["test"])) == (64, 4, 12)
    assert report["splits"] == {"train": 64, "val": 4, "test": 12}


def test_statistics_are_those_of_the_train_split(corpus):
    root, _ = corpus
    train = (root / "train.txt").read_text().split()
    mean, std = feature_mean_std([np.load(root / "new_joint_vecs" / f"{i}.npy") for i in train])
    assert np.load(root / "Mean.npy").shape == (263,) and np.load(root / "Std.npy").dtype == np.float32
    np.testing.assert_allclose(np.load(root / "Mean.npy"), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.load(root / "Std.npy"), std, rtol=1e-5, atol=1e-6)
    assert np.isfinite(np.load(root / "Std.npy")).all() and (np.load(root / "Std.npy") > 0).all()
    raw_mean, raw_std = joint_mean_std([np.load(root / "new_joints" / f"{i}.npy") for i in train])
    np.testing.assert_allclose(np.load(root / "Mean_raw.npy"), raw_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.load(root / "Std_raw.npy"), raw_std, rtol=1e-5, atol=1e-6)
    assert np.load(root / "Mean_raw.npy").shape == (22, 3)


def test_feet_do_not_skate(corpus):
    root, report = corpus
    motions = [np.load(path) for path in sorted((root / "new_joints").glob("*.npy"))]
    overall, near_floor = foot_skating_ratio(motions)
    assert overall <= 0.05 and near_floor <= 0.05
    assert report["skating_ratio"] == pytest.approx(overall, abs=1e-5)
    assert report["skating_ratio_near_floor"] == pytest.approx(near_floor, abs=1e-5)


def test_skating_counter_known_answer():
    joints = np.zeros((3, 22, 3))
    joints[1, 10, 0] = 0.1  # left toe on the floor moves 0.1 m in 1/20 s: 2 m/s -> skating
    joints[:, 11, 1] = 0.2  # right foot in the air
    assert foot_skating_counts(joints) == (2, 2, 4)  # both transitions of the left foot skate


def test_report_counts_families_and_vocabulary(corpus):
    root, report = corpus
    meta = json.loads((root / "synth_meta.json").read_text())
    assert meta["seed"] == 3 and meta["num"] == CORPUS_SIZE and set(meta["motions"]) == {f"{i:06d}" for i in range(CORPUS_SIZE)}
    counted = {}
    for motion in meta["motions"].values():
        assert 1 <= len(motion["families"]) <= 4 and set(motion["families"]) <= set(FAMILY_NAMES)
        for family in set(motion["families"]):
            counted[family] = counted.get(family, 0) + 1
    assert report["family_counts"] == dict(sorted(counted.items()))
    words = set()
    for path in (root / "texts").glob("*.txt"):
        for line in path.read_text().splitlines():
            words.update(re.findall(r"[a-z]+", line.split("#")[0].lower()))
    assert report["vocabulary_size"] == len(words) >= 120


# --------------------------------------------------------------------------- arguments and robustness
def test_refuses_bad_arguments(tmp_path):
    for num in (0, -3, 2.5, True):
        with pytest.raises(MotionLCMError):
            synthesize_dataset(tmp_path / "a", num, progress=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(MotionLCMError, match="not empty"):
        synthesize_dataset(tmp_path / "full", 2, progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(MotionLCMError):
        synthesize_dataset(tmp_path / "file", 2, progress=False)
    with pytest.raises(MotionLCMError):
        synthesize_dataset(tmp_path / "b", 2, workers=0, progress=False)
    with pytest.raises(MotionLCMError):
        synthesize_motion(np.random.default_rng(0), family="breakdance")
    (tmp_path / "empty").mkdir()  # an existing empty directory is fine
    assert synthesize_dataset(tmp_path / "empty", 2, progress=False)["num_motions"] == 2


def test_interrupted_run_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    real = synth_dataset._write_and_summarise

    def failing(root, seed, index):
        if index == 3:
            raise KeyboardInterrupt
        return real(root, seed, index)

    monkeypatch.setattr(synth_dataset, "_write_and_summarise", failing)
    with pytest.raises(KeyboardInterrupt):
        synthesize_dataset(tmp_path / "ds", 6, progress=False, workers=1)
    assert list(tmp_path.iterdir()) == []


def test_same_seed_same_bytes_any_workers(tmp_path):
    synthesize_dataset(tmp_path / "a", 10, seed=11, progress=False, workers=1)
    synthesize_dataset(tmp_path / "b", 10, seed=11, progress=False, workers=2)
    synthesize_dataset(tmp_path / "c", 10, seed=12, progress=False, workers=1)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    differ = [
        rel
        for rel in files_a
        if str(rel).startswith("new_joint_vecs") and (tmp_path / "a" / rel).read_bytes() != (tmp_path / "c" / rel).read_bytes()
    ]
    assert len(differ) == 10


# --------------------------------------------------------------------------- content
def test_every_family_can_be_drawn_with_captions_and_valid_length():
    for family in FAMILY_NAMES:
        joints, captions, meta = synthesize_motion(np.random.default_rng([1, 0]), family=family, num_actions=1)
        assert meta["families"][0] == family
        assert 41 <= len(joints) <= 197 and joints.shape[1:] == (22, 3)
        assert len({text for text, _ in captions}) == 3
        lengths = sk.bone_lengths(joints)
        np.testing.assert_allclose(lengths, np.broadcast_to(sk.bone_lengths(sk.REFERENCE_JOINTS), lengths.shape), atol=1e-6)


def test_families_drawn_over_a_corpus():
    seen = set()
    for seed in range(120):
        seen.update(synthesize_motion(np.random.default_rng([2, seed]))[2]["families"])
    assert seen == set(FAMILY_NAMES) and len(FAMILY_NAMES) >= 15


def test_no_two_samples_alike():
    a = synthesize_motion(np.random.default_rng([4, 0]), family="walk", num_actions=1)[0]
    b = synthesize_motion(np.random.default_rng([4, 1]), family="walk", num_actions=1)[0]
    assert a.shape != b.shape or np.abs(a - b).max() > 0.05


def test_walking_forward_moves_along_the_facing_direction():
    joints, _, _ = single_action("walk", {"direction": "forward", "path": "straight"})
    facing = sk.facing_direction(joints[0])[[0, 2]]
    step = travelled(joints)
    sideways = facing[0] * step[1] - facing[1] * step[0]
    assert step @ facing > 1.0 and abs(sideways) < 0.2 * (step @ facing)


@pytest.mark.parametrize("direction,sign", [("left", 1.0), ("right", -1.0)])
def test_sideways_and_side_steps_go_to_the_named_side(direction, sign):
    # the person's left is +X when facing +Z (every motion starts facing +Z)
    for family in ("walk", "side_step"):
        joints, _, _ = single_action(family, {"direction": direction})
        x, z = travelled(joints)
        assert sign * x > 0.25 and abs(z) < 0.3 * abs(x)


@pytest.mark.parametrize("direction,sign", [("left", 1.0), ("right", -1.0)])
def test_turns_and_spins_rotate_toward_the_named_side(direction, sign):
    joints, captions, action = single_action("turn", {"direction": direction, "degrees": 90})
    assert heading_change(joints) == pytest.approx(sign * np.pi / 2, abs=np.radians(20))
    joints, _, action = single_action("spin", {"direction": direction, "turns": 1})
    assert heading_change(joints) == pytest.approx(sign * 2 * np.pi, abs=np.radians(25))


@pytest.mark.parametrize("path,sign", [("circle_ccw", 1.0), ("circle_cw", -1.0)])
def test_circles_close_and_turn_the_named_way(path, sign):
    # counterclockwise seen from above (+Y) = turning left all the way round
    joints, captions, _ = single_action("walk", {"path": path})
    extent = np.ptp(joints[:, 0, [0, 2]], axis=0).max()
    assert extent > 1.2 and np.linalg.norm(travelled(joints)) < 0.2 * extent
    assert heading_change(joints) == pytest.approx(sign * 2 * np.pi, abs=0.5)
    wrong = "clockwise" if path == "circle_ccw" else "counterclockwise"
    for _, tokens in captions:
        assert wrong not in {token.split("/")[0] for token in tokens.split()}


@pytest.mark.parametrize("hand,wrist,other", [("left", 20, 21), ("right", 21, 20)])
def test_waving_uses_the_named_hand(hand, wrist, other):
    joints, captions, _ = single_action("wave", {"hands": hand})
    shoulder = 16 if wrist == 20 else 17
    assert (joints[:, wrist, 1] > joints[:, shoulder, 1] + 0.05).any()
    assert not (joints[:, other, 1] > joints[:, 17 if shoulder == 16 else 16, 1]).any()

    def path_length(j):
        rel = joints[:, j] - joints[:, 0]
        return np.linalg.norm(np.diff(rel, axis=0), axis=-1).sum()

    assert path_length(wrist) > 3 * path_length(other)
    opposite = "right" if hand == "left" else "left"
    for text, tokens in captions:
        assert hand in text and opposite not in text


def test_jumps_leave_the_floor_with_both_feet():
    joints, _, _ = single_action("jump", {"forward": False})
    feet = joints[:, [7, 8, 10, 11], 1].min(axis=1)
    assert feet.max() > 0.08  # every foot joint above 8 cm at once
    joints, _, _ = single_action("jump", {"forward": True})
    assert travelled(joints)[1] > 0.25


@pytest.mark.parametrize("leg,toe,other", [("left", 10, 11), ("right", 11, 10)])
def test_kicks_and_hops_use_the_named_leg(leg, toe, other):
    joints, _, _ = single_action("kick", {"leg": leg})
    assert joints[:, toe, 1].max() > 0.3 and joints[:, other, 1].max() < 0.08
    joints, _, _ = single_action("hop", {"leg": leg})
    lifted = joints[:, other, 1] > joints[:, toe, 1] + 0.1  # the free foot is held up
    assert lifted.mean() > 0.3 and joints[:, toe, 1].max() > 0.05


@pytest.mark.parametrize("side,knee", [("left", 4), ("right", 5)])
def test_kneeling_puts_the_named_knee_down(side, knee):
    joints, _, _ = single_action("kneel", {"side": side})
    low = int(np.argmin(joints[:, knee, 1]))
    assert joints[low, knee, 1] < 0.12 and joints[low, 9 - knee, 1] > 0.3


@pytest.mark.parametrize("hand,wrist,shoulder", [("left", 20, 16), ("right", 21, 17)])
def test_punches_extend_the_named_arm(hand, wrist, shoulder):
    joints, _, _ = single_action("punch", {"hands": hand})
    forward = sk.facing_direction(joints)

    def reach(w, s):
        return ((joints[:, w] - joints[:, s]) * forward).sum(-1).max()

    assert reach(wrist, shoulder) > 0.4 and reach(41 - wrist, 33 - shoulder) < 0.35


def test_postures_lower_the_body():
    for family, below in (("squat", 0.2), ("crouch", 0.35), ("sit", 0.65)):
        joints, _, _ = single_action(family)
        assert joints[:, 0, 1].min() < joints[0, 0, 1] - below, family
    joints, _, _ = single_action("raise_arms", {"hands": "both", "direction": "up"})
    assert (joints[:, [20, 21], 1].min(axis=1) > joints[:, 15, 1]).any()  # both hands above the head


def test_sequences_are_continuous_and_captioned_in_order():
    for seed in range(6):
        joints, captions, meta = synthesize_motion(np.random.default_rng([8, seed]), num_actions=3)
        speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1).max() * 20
        assert speed < 15.0  # m/s: no popping at the transitions
        assert len(meta["families"]) >= 3


def test_captions_name_only_the_sides_the_motion_uses(corpus):
    root, _ = corpus
    meta = json.loads((root / "synth_meta.json").read_text())["motions"]
    for mid, motion in meta.items():
        allowed = set()
        for action in motion["actions"]:
            for key in ("direction", "hands", "leg", "side", "first"):
                if action.get(key) in ("left", "right"):
                    allowed.add(action[key])
            path = action.get("path", "")
            if path.endswith(("_left", "_ccw")):
                allowed |= {"left", "counterclockwise"}
            if path.endswith(("_right", "_cw")):
                allowed |= {"right", "clockwise"}
            if action["family"] == "spin":
                allowed.add("counterclockwise" if action["direction"] == "left" else "clockwise")
            if action.get("hands") == "both" or action.get("look"):
                allowed |= {"left", "right"}
        for line in (root / "texts" / f"{mid}.txt").read_text().splitlines():
            words = set(re.findall(r"[a-z]+", line.split("#")[0].lower()))
            assert words & {"left", "right", "clockwise", "counterclockwise"} <= allowed, (mid, line, motion)


def test_caption_grammar():
    assert [cap.third_person(v) for v in ("walk", "punch", "hurry", "do", "box")] == [
        "walks",
        "punches",
        "hurries",
        "does",
        "boxes",
    ]
    assert [cap.present_participle(v) for v in ("run", "wave", "squat", "walk", "see")] == [
        "running",
        "waving",
        "squatting",
        "walking",
        "seeing",
    ]
    subject = cap.Subject("a man", "his", "himself")
    tokens = cap.render_phrase("V:wave with POSS left hands twice", "third", subject, np.random.default_rng(0))
    assert [t.word for t in tokens][0] == "waves"
    assert [t.tagged() for t in tokens][0] == "wave/VERB" and tokens[-2].tagged() == "hand/NOUN"
    assert tokens[2].tagged() in ("his/DET", "the/DET") and tokens[3].tagged() == "left/ADJ"


def test_metadata_records_the_captions_that_leave_a_side_open():
    """Per caption (file order), the actions whose phrase names no side: for one-action motions,
    exactly the captions without left / right / (counter)clockwise."""
    side_word = re.compile(r"\b(left|right|clockwise|counterclockwise)\b", re.IGNORECASE)
    opened = named = 0
    for family in ("turn", "spin", "kneel"):
        for seed in range(12):
            _, captions, meta = synthesize_motion(np.random.default_rng([9, seed]), family=family, num_actions=1)
            assert [c["text"] for c in meta["captions"]] == [text for text, _ in captions]
            if len(meta["actions"]) != 1:  # a closing idle ("then stays still") may follow
                continue
            for (text, _), entry in zip(captions, meta["captions"]):
                assert entry["sideless"] == ([] if side_word.search(text) else [0]), text
                opened, named = opened + bool(entry["sideless"]), named + (not entry["sideless"])
    assert opened > 3 and named > 3  # both kinds occur


def test_mix_corpus_links_the_chosen_families_under_the_base_splits(corpus, tmp_path):
    import subprocess
    import sys

    base, _ = corpus
    extra = tmp_path / "extra"
    synthesize_dataset(extra, 24, seed=4, progress=False, workers=1)
    out = tmp_path / "mix"
    script = Path(__file__).resolve().parents[1] / "scripts" / "mix_corpus.py"
    done = subprocess.run([sys.executable, str(script), "--base", str(base), "--extra", str(extra), "--out", str(out),
                           "--families", "clap,wave"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    meta = json.loads((extra / "synth_meta.json").read_text())["motions"]
    picked = sorted(n for n, m in meta.items() if {"clap", "wave"} & set(m["families"]))
    assert picked and len(picked) < 24
    train = (out / "train.txt").read_text().split()
    assert train == (base / "train.txt").read_text().split() + [f"x{n}" for n in picked]
    for name in ("val.txt", "test.txt"):
        assert (out / name).read_text() == (base / name).read_text()
    np.testing.assert_array_equal(np.load(out / "Mean.npy"), np.load(base / "Mean.npy"))
    np.testing.assert_array_equal(np.load(out / "new_joint_vecs" / f"x{picked[0]}.npy"),
                                  np.load(extra / "new_joint_vecs" / f"{picked[0]}.npy"))
    assert (out / "texts" / f"x{picked[0]}.txt").read_text() == (extra / "texts" / f"{picked[0]}.txt").read_text()
    again = subprocess.run([sys.executable, str(script), "--base", str(base), "--extra", str(extra), "--out", str(out)],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "exists" in again.stderr and len(again.stderr.strip().splitlines()) == 1


def test_metadata_records_the_parameters_a_caption_leaves_unstated():
    """Per caption, the counts without a count word ("claps", "boxes"), a wave's height without
    "above / over / high"; captions that name them leave nothing open."""
    count_word = re.compile(r"\b(once|twice|times|a|two|three|four|five|six|seven|eight|nine|ten)\b", re.IGNORECASE)
    seen = {"open": 0, "stated": 0}
    for family in ("clap", "squat", "side_step"):
        for seed in range(10):
            _, captions, meta = synthesize_motion(np.random.default_rng([4, seed]), family=family, num_actions=1)
            if len(meta["actions"]) != 1:
                continue
            for entry in meta["captions"]:
                phrase = entry["text"].lower()
                opened = "count" in entry["unstated"].get("0", [])
                assert opened == (not count_word.search(phrase.split(" ", 2)[-1])), phrase
                seen["open" if opened else "stated"] += 1
    assert seen["open"] > 2 and seen["stated"] > 2
    for seed in range(20):
        _, _, meta = synthesize_motion(np.random.default_rng([6, seed]), family="wave", num_actions=1)
        for entry in meta["captions"]:
            high = re.search(r"\b(above|over|high)\b", entry["text"].lower())
            assert ("overhead" in entry["unstated"].get("0", [])) == (not high), entry["text"]


def test_no_phrase_names_two_different_actions():
    """Every single-action caption, read with what it leaves open, names one set of checked
    parameters: "turns all the way around" is never both a half turn and a full spin, "steps
    sideways" never both one side step and a sideways walk (corpus 1.1 had both)."""
    from motionlcm.data.synth.captions import SUBJECTS
    from motionlcm.evaluation.prompt_checks import stated_actions

    unchecked = {"frames", "arms_forward", "steps", "pace", "look"}  # parameters no rule reads
    subjects = sorted({s.words.lower() for s in SUBJECTS}, key=len, reverse=True)
    named: dict[str, set[str]] = {}
    for seed in range(600):
        _, _, meta = synthesize_motion(np.random.default_rng([8, seed]), num_actions=1)
        for entry in meta["captions"]:
            action = stated_actions(meta, entry["text"])[0]
            key = {k: v for k, v in action.items() if k not in unchecked}
            if key["family"] == "wave":
                key.pop("count", None)  # waves are checked for swinging, not a number of swings
            if key.get("hands") in ("left", "right") or (key["family"] == "idle" and not key.get("look")):
                key.pop("first", None)
            text = entry["text"].lower().rstrip(".")
            text = next((text[len(s) + 1:] for s in subjects if text.startswith(s + " ")), text)
            named.setdefault(text, set()).add(json.dumps(key, sort_keys=True))
    ambiguous = {text: sets for text, sets in named.items() if len(sets) > 1}
    assert not ambiguous, list(ambiguous.items())[:3]
    assert len(named) > 800
