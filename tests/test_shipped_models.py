"""The models shipped in assets/checkpoints, checked on fresh corpus motions (not the training data).

Fresh procedural motions go through the dataset processing (joints -> features -> joints); their
pelvis paths are the hints. The README's evaluation table is the measurement; these tests guard
the behaviour a release must keep.
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from motionlcm.data.synth import synthesize_motion
from motionlcm.motion.features import features_to_joints, joints_to_features

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "checkpoints"
FAMILIES = ["walk", "run", "side_step", "jump", "jog", "turn", "march", "hop"]  # movers: the pelvis travels


def fresh_pelvis_tasks(count: int, seed: int = 2026):
    """(captions, lengths, joints (B, T, 22, 3)) of new corpus motions in the dataset's frame."""
    texts, clips = [], []
    for i in range(count):
        family = FAMILIES[i % len(FAMILIES)]
        joints, captions, _ = synthesize_motion(np.random.default_rng([seed, i]), family=family, num_actions=1)
        features = joints_to_features(torch.as_tensor(joints[:121]))  # at most 6 s
        clips.append(features_to_joints(features).numpy().astype(np.float32))
        texts.append(captions[0][0])
    lengths = [len(c) for c in clips]
    padded = np.zeros((count, max(lengths), 22, 3), np.float32)
    for row, clip in enumerate(clips):
        padded[row, : len(clip)] = clip
    return texts, lengths, padded


def pelvis_error(joints: np.ndarray, truth: np.ndarray, lengths: list[int]) -> float:
    return float(np.mean([np.linalg.norm(joints[i, :n, 0] - truth[i, :n, 0], axis=-1).mean() for i, n in enumerate(lengths)]))


@pytest.mark.skipif(not (SHIPPED / "control_pelvis" / "config.yaml").is_file(), reason="no shipped ControlNet")
def test_shipped_controlnet_pulls_the_pelvis_towards_its_hints():
    from motionlcm.pipeline import MotionPipeline

    pipe = MotionPipeline.from_pretrained(SHIPPED / "control_pelvis", device="cpu")
    texts, lengths, truth = fresh_pelvis_tasks(8)
    mask = np.zeros(truth.shape[:3], bool)
    for row, n in enumerate(lengths):
        mask[row, :n, 0] = True  # the pelvis at every frame
    hints = np.where(mask[..., None], truth, 0.0).astype(np.float32)
    seeds = list(range(len(texts)))
    free = pipe(texts, lengths, num_steps=1, seed=seeds)
    controlled = pipe(texts, lengths, num_steps=1, seed=seeds, control=(hints, mask))
    free_err, controlled_err = pelvis_error(free.joints, truth, lengths), pelvis_error(controlled.joints, truth, lengths)
    # same seeds and text; only the ControlNet differs (README: Avg err about half the uncontrolled one)
    assert controlled_err < 0.75 * free_err, (controlled_err, free_err)
