import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# real HumanML3D sample files shipped in the repository (tests/data/humanml3d/README.md); MOTIONLCM_FIXTURES overrides
FIXTURES = Path(os.environ.get("MOTIONLCM_FIXTURES", REPO / "tests" / "data" / "humanml3d"))


@pytest.fixture(scope="session")
def fixtures() -> Path:
    if not (FIXTURES / "new_joint_vecs" / "012314.npy").is_file():
        pytest.fail(f"HumanML3D sample fixtures not found at {FIXTURES}; set MOTIONLCM_FIXTURES")
    return FIXTURES


def write_caption_file(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture()
def small_dataset(tmp_path, fixtures) -> Path:
    return build_small_dataset(tmp_path / "ds", fixtures)


def build_small_dataset(root: Path, fixtures: Path) -> Path:
    """A well-formed HumanML3D-layout dataset built from the two real fixture motions.

    012314 (170 frames) and 000612 (199 frames) plus a cropped copy of each, split 2/1/1.
    """
    vecs = {
        "012314": np.load(fixtures / "new_joint_vecs" / "012314.npy").astype(np.float32),
        "000612": np.load(fixtures / "new_joint_vecs" / "000612.npy").astype(np.float32),
    }
    vecs["100001"] = vecs["012314"][10:90]
    vecs["100002"] = vecs["000612"][:60]
    from motionlcm.motion.features import features_to_joints

    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "new_joints").mkdir()
    for motion_id, v in vecs.items():
        np.save(root / "new_joint_vecs" / f"{motion_id}.npy", v)
        np.save(root / "new_joints" / f"{motion_id}.npy", features_to_joints(v.astype(np.float64)).astype(np.float32))
    texts = {
        "012314": [
            "a person walks forward and turns around.#a/DET person/NOUN walk/VERB forward/ADV and/CCONJ turn/VERB around/ADV#0.0#0.0",
            "someone steps ahead.#someone/PRON step/VERB ahead/ADV#0.0#0.0",
            "a person raises the left hand.#a/DET person/NOUN raise/VERB the/DET left/ADJ hand/NOUN#1.0#4.5",
        ],
        "000612": ["a man moves around.#a/DET man/NOUN move/VERB around/ADV#0.0#0.0"],
        "100001": ["a short clip.#a/DET short/ADJ clip/NOUN#0.0#0.0"],
        "100002": ["another short clip.#another/DET short/ADJ clip/NOUN#nan#nan"],
    }
    for motion_id, lines in texts.items():
        write_caption_file(root / "texts" / f"{motion_id}.txt", lines)
    (root / "train.txt").write_text("012314\n000612\n")
    (root / "val.txt").write_text("100001\n")
    (root / "test.txt").write_text("100002\n")
    (root / "all.txt").write_text("012314\n000612\n100001\n100002\n")
    np.save(root / "Mean.npy", np.load(fixtures / "Mean.npy"))
    np.save(root / "Std.npy", np.load(fixtures / "Std.npy"))
    return root


@pytest.fixture(scope="session")
def trained(tmp_path_factory, fixtures) -> dict:
    """Tiny VAE, MLD and LCM checkpoints trained through the real config path (shared by test files)."""
    from tests.training_helpers import train_tiny_models

    return train_tiny_models(tmp_path_factory.mktemp("train"), fixtures)
