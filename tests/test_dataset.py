"""HumanML3D-layout reader, sampler, batches and DataModule on a dataset of real motions."""
from collections import Counter

import numpy as np
import pytest
import torch

from motionlcm.data.humanml3d import (
    HumanML3DDataset,
    collate_motions,
    load_split_samples,
    parse_caption_line,
    round_length,
    samples_of_motion,
    Caption,
)
from motionlcm.errors import MotionLCMError


def test_parse_caption_line():
    c = parse_caption_line("a man kicks.#a/DET man/NOUN kick/VERB#1.5#4.0")
    assert (c.text, c.tokens, c.start, c.end) == ("a man kicks.", ("a/DET", "man/NOUN", "kick/VERB"), 1.5, 4.0)
    assert not c.whole_motion
    assert parse_caption_line("x#x/NOUN#nan#nan").whole_motion
    for bad, reason in [("only#three#0.0", "4"), ("a#a/DET#x#0", "numbers"), ("a#a#0.0#0.0", "word/POS"), (" #a/DET#0#0", "empty"), ("a#a/DET#3.0#1.0", "span")]:
        with pytest.raises(ValueError, match=reason):
            parse_caption_line(bad)


def test_sub_clips_and_length_filter():
    motion = np.zeros((150, 263), np.float32)
    caps = [Caption("whole", ("w/NOUN",)), Caption("clip", ("c/NOUN",), 1.0, 4.5), Caption("short", ("s/NOUN",), 0.5, 2.0)]
    samples = samples_of_motion("m", motion, caps)
    assert [(s.name, s.length, [c.text for c in s.captions]) for s in samples] == [("m", 150, ["whole"]), ("m#20-90", 70, ["clip"])]
    # A motion of 200 frames or more is dropped together with its clips, like the original loaders.
    assert samples_of_motion("long", np.zeros((200, 263), np.float32), caps) == []
    assert samples_of_motion("short", np.zeros((39, 263), np.float32), caps[:1]) == []
    assert len(samples_of_motion("ok", np.zeros((40, 263), np.float32), caps[:1])) == 1


def test_round_length_distribution():
    torch.manual_seed(0)
    counts = Counter(round_length(63, 4) for _ in range(3000))
    assert set(counts) == {60, 56}
    assert counts[60] / 3000 == pytest.approx(2 / 3, abs=0.03)


def test_load_split_includes_clips(small_dataset):
    names = [s.name for s in load_split_samples(small_dataset, "train")]
    assert names == ["012314", "012314#20-90", "000612"]


def test_text_mode_sampler(small_dataset):
    ds = HumanML3DDataset(small_dataset, "train", mode="text")
    mean, std = np.load(small_dataset / "Mean.npy"), np.load(small_dataset / "Std.npy")
    raw = np.load(small_dataset / "new_joint_vecs" / "000612.npy")
    torch.manual_seed(3)
    lengths = set()
    for _ in range(40):
        item = ds[2]
        lengths.add(item["length"])
        assert item["length"] % 4 == 0 and item["motion"].shape == (item["length"], 263)
        # The item is a normalised crop of the real motion: find where it starts.
        denorm = item["motion"].numpy() * std + mean
        starts = [s for s in range(len(raw) - item["length"] + 1) if np.allclose(raw[s : s + item["length"]], denorm, atol=1e-4)]
        assert starts, "sample is not a crop of the source motion"
    assert lengths == {196, 192}
    texts = {ds[0]["text"] for _ in range(30)}
    assert texts == {"a person walks forward and turns around.", "someone steps ahead."}


def test_sampler_is_reproducible(small_dataset):
    ds = HumanML3DDataset(small_dataset, "train", mode="text")
    torch.manual_seed(7)
    a = [ds[i % 3]["motion"] for i in range(6)]
    torch.manual_seed(7)
    b = [ds[i % 3]["motion"] for i in range(6)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_window_and_eval_modes(small_dataset):
    win = HumanML3DDataset(small_dataset, "train", mode="window", window=64)
    assert {win[i]["length"] for i in range(3)} == {64}
    short = HumanML3DDataset(small_dataset, "test", mode="window", window=64)
    assert short[0]["length"] == 60
    ev = HumanML3DDataset(small_dataset, "train", mode="eval")
    assert ev[0]["length"] == 170 and ev[0]["text"] == "a person walks forward and turns around."


def test_collate_pads_and_masks(small_dataset):
    ds = HumanML3DDataset(small_dataset, "train", mode="eval")
    batch = collate_motions([ds[1], ds[2]])
    assert batch["motion"].shape == (2, 196, 263)
    assert batch["lengths"].tolist() == [70, 196]
    assert batch["mask"].sum(1).tolist() == [70, 196]
    assert batch["motion"][0, 70:].abs().max() == 0
    assert batch["name"] == ["012314#20-90", "000612"]


def test_mirrored_ids_are_read(small_dataset):
    from motionlcm.motion.mirror import mirror_caption, mirror_features

    v = np.load(small_dataset / "new_joint_vecs" / "012314.npy")
    np.save(small_dataset / "new_joint_vecs" / "M012314.npy", mirror_features(v))
    lines = (small_dataset / "texts" / "012314.txt").read_text().splitlines()
    (small_dataset / "texts" / "M012314.txt").write_text("\n".join(mirror_caption(l) for l in lines))
    (small_dataset / "train.txt").write_text("012314\nM012314\n")
    samples = load_split_samples(small_dataset, "train")
    assert [s.name for s in samples] == ["012314", "012314#20-90", "M012314", "M012314#20-90"]
    assert samples[3].captions[0].text == "a person raises the right hand."


def test_reader_errors_are_clear(small_dataset, tmp_path):
    with pytest.raises(MotionLCMError, match="dataset directory not found"):
        HumanML3DDataset(tmp_path / "nope")
    (small_dataset / "texts" / "000612.txt").write_text("broken line\n")
    with pytest.raises(MotionLCMError, match=r"000612.txt:1: expected 4"):
        load_split_samples(small_dataset, "train")
    np.save(small_dataset / "Std.npy", np.ones(10))
    with pytest.raises(MotionLCMError, match=r"Std.npy: expected shape \(263,\)"):
        HumanML3DDataset(small_dataset, "val")


def test_datamodule_from_hydra_config(small_dataset):
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from tests.conftest import REPO

    with initialize_config_dir(config_dir=str(REPO / "configs" / "data"), version_base=None):
        cfg = compose(config_name="humanml3d", overrides=[f"root={small_dataset}", "batch_size=2", "num_workers=0"])
    dm = instantiate(cfg)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["motion"].shape[0] == 2 and batch["mask"].dtype == torch.bool
    val = next(iter(dm.val_dataloader()))
    assert val["lengths"].tolist() == [80]


def _one_motion_dataset(root, features: np.ndarray, caption: str):
    """A one-motion HumanML3D-layout folder (train split) with unit statistics."""
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    np.save(root / "new_joint_vecs" / "m0.npy", features.astype(np.float32))
    tokens = " ".join(f"{word}/X" for word in caption.lower().rstrip(".").split())
    (root / "texts" / "m0.txt").write_text(f"{caption}#{tokens}#0.0#0.0\n")
    (root / "train.txt").write_text("m0\n")
    np.save(root / "Mean.npy", np.zeros(263, np.float32))
    np.save(root / "Std.npy", np.ones(263, np.float32))
    return root


def test_mirrored_samples_turn_the_other_way(tmp_path):
    from motionlcm.data.synth import synthesize_motion
    from motionlcm.evaluation.prompt_checks import check_actions
    from motionlcm.motion.features import features_to_joints, joints_to_features

    joints, _, meta = synthesize_motion(np.random.default_rng([7, 1]), family="turn", num_actions=1)
    action = dict(meta["actions"][0])
    features = joints_to_features(joints)
    root = _one_motion_dataset(tmp_path / "ds", features, f"a person turns to the {action['direction']}.")
    other = {"left": "right", "right": "left"}[action["direction"]]
    plain = HumanML3DDataset(root, "train", mode="window", window=10_000, mirror_prob=0.0)
    mirrored = HumanML3DDataset(root, "train", mode="window", window=10_000, mirror_prob=1.0)
    item, flipped = plain[0], mirrored[0]
    assert item["name"] == "m0" and flipped["name"] == "m0#M"  # a per-crop cache keeps them apart
    assert flipped["text"] == f"a person turns to the {other}."
    assert flipped["tokens"] == ("a/X", "person/X", "turns/X", "to/X", "the/X", f"{other}/X")
    assert check_actions(features_to_joints(item["motion"].numpy()), [action])[0].passed
    back = features_to_joints(flipped["motion"].numpy())
    assert check_actions(back, [dict(action, direction=other)])[0].passed
    assert not check_actions(back, [action])[0].passed
    # Training modes draw the mirror with mirror_prob; eval mode never mirrors.
    assert HumanML3DDataset(root, "train", mode="eval", mirror_prob=1.0)[0]["name"] == "m0"
    with pytest.raises(MotionLCMError, match="mirror_prob"):
        HumanML3DDataset(root, "train", mirror_prob=1.5)
