"""`motionlcm data check` on a clean dataset and on one broken in every way it knows."""
import numpy as np

from motionlcm.cli import main
from motionlcm.data.check import check_dataset


def test_clean_dataset_passes(small_dataset, capsys):
    report = check_dataset(small_dataset)
    assert report.ok, report.problems
    assert (report.motions, report.split_sizes) == (4, {"train": 2, "val": 1, "test": 1})
    # 012314 whole + its 1.0-4.5 s clip, 000612, and the two cropped copies.
    assert report.samples == 5
    assert main(["data", "check", str(small_dataset), "-q"]) == 0
    assert capsys.readouterr().out.startswith("OK:")


def test_every_kind_of_problem_is_reported(small_dataset, capsys):
    root = small_dataset
    vecs = root / "new_joint_vecs"
    # missing motion for a listed id; extra file in no split
    (vecs / "100001.npy").rename(vecs / "999999.npy")
    # wrong shape
    np.save(vecs / "100002.npy", np.zeros((50, 251), np.float32))
    # NaN in a motion
    bad = np.load(vecs / "000612.npy")
    bad[17, 5] = np.nan
    np.save(vecs / "000612.npy", bad)
    # unreadable motion file
    (vecs / "012314.npy").write_bytes(b"not an npy file")
    # malformed caption line, and a missing caption file
    (root / "texts" / "000612.txt").write_text("good.#good/ADJ#0.0#0.0\nno separators here\n")
    (root / "texts" / "100002.txt").unlink()
    # Mean of the wrong size, overlap between splits, an empty split
    np.save(root / "Mean.npy", np.zeros(262, np.float32))
    (root / "val.txt").write_text("100001\n012314\n100002\n")
    (root / "test.txt").write_text("\n")

    report = check_dataset(root)
    text = "\n".join(map(str, report.problems))
    expected = [
        "new_joint_vecs/100001.npy: missing motion file for a listed id",
        "new_joint_vecs/100002.npy: features: expected shape (frames, 263), got (50, 251)",
        "new_joint_vecs/000612.npy: features: NaN/Inf in 1 frame(s), first at frame 17",
        "new_joint_vecs/012314.npy: not a .npy file",
        "texts/000612.txt:2: malformed caption line: expected 4",
        "texts/100002.txt: missing caption file for a listed id",
        "Mean.npy: expected shape (263,), got (262,)",
        "train.txt: 1 id(s) also in val.txt, e.g. 012314",
        "test.txt: split is empty",
        "new_joint_vecs/: 1 file(s) not in any split, e.g. 999999.npy",
    ]
    for line in expected:
        assert line in text, f"missing report: {line}\n---\n{text}"
    assert main(["data", "check", str(root), "-q"]) == 1
    out = capsys.readouterr().out
    assert "problem(s) found" in out and "Traceback" not in out


def test_missing_layout_and_joint_mismatch(small_dataset):
    (small_dataset / "Std.npy").unlink()
    (small_dataset / "val.txt").unlink()
    np.save(small_dataset / "new_joints" / "000612.npy", np.zeros((10, 22, 3), np.float32))
    text = "\n".join(map(str, check_dataset(small_dataset).problems))
    assert "Std.npy: missing" in text
    assert "val.txt: missing split file" in text
    assert "new_joints/000612.npy: 10 frames but the features have 199" in text


def test_error_details_are_shortened_at_a_sentence_or_word_end():
    from motionlcm.io import _short

    long = ValueError("Failed to interpret the file as an array: the header says one thing. "
                      "The data says another, and the file seems not to be complete at all, which happens when a copy is cut short")
    assert _short(long) == "Failed to interpret the file as an array: the header says one thing."
    words = ValueError("word " * 60)
    shortened = _short(words)
    assert shortened.endswith(" ...") and len(shortened) <= 165 and "wor ..." not in shortened
    assert _short(ValueError("short one")) == "short one" and _short(ValueError("")) == "ValueError"
