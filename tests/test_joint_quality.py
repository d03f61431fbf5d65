"""Physical quality measures read off the joints: hand-built motions with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from motionlcm.evaluation.joint_quality import (LEFT_FOOT, RIGHT_FOOT, bone_length_std, count_foot_lifts,
                                                foot_lift_rate, ground_errors, high_frequency_share, joint_quality)
from motionlcm.motion.skeleton import PARENTS, REFERENCE_JOINTS

FPS = 20.0


def standing(frames: int = 100) -> np.ndarray:
    pose = np.asarray(REFERENCE_JOINTS, np.float64)
    pose = pose - [0.0, pose[:, 1].min(), 0.0]  # feet on the floor
    return np.repeat(pose[None], frames, axis=0)


def test_jitter_share_separates_slow_and_fast_oscillation():
    t = np.arange(200) / FPS
    slow, fast = standing(200), standing(200)
    slow[:, :, 0] += 0.1 * np.sin(2 * np.pi * 1.0 * t)[:, None]  # 1 Hz sway
    fast[:, :, 0] += 0.01 * np.sin(2 * np.pi * 8.0 * t)[:, None]  # 8 Hz shake
    assert high_frequency_share([slow]) < 0.01
    assert high_frequency_share([fast]) > 0.99
    both = slow.copy()
    both[:, :, 0] += 0.01 * np.sin(2 * np.pi * 8.0 * t)[:, None]
    # finite-difference velocity of A sin(2 pi f t) has amplitude A * 2 fps sin(pi f / fps)
    fast_amp, slow_amp = 0.01 * 2 * FPS * np.sin(np.pi * 8 / FPS), 0.1 * 2 * FPS * np.sin(np.pi * 1 / FPS)
    assert high_frequency_share([both]) == pytest.approx(fast_amp ** 2 / (fast_amp ** 2 + slow_amp ** 2), abs=0.01)


def test_bone_length_std_is_zero_for_rigid_motion_and_exact_for_a_stretching_bone():
    clip = standing(40)
    clip += np.linspace(0, 2, 40)[:, None, None] * [1.0, 0.0, 0.5]  # rigid translation
    mean, largest = bone_length_std([clip])
    assert mean < 1e-12 and largest < 1e-12
    stretched = clip.copy()
    wrist, elbow = 20, PARENTS[20]
    direction = (clip[0, wrist] - clip[0, elbow]) / np.linalg.norm(clip[0, wrist] - clip[0, elbow])
    stretched[::2, wrist] += 0.02 * direction  # length alternates l + 2 cm, l: std 1 cm
    mean, largest = bone_length_std([stretched])
    assert largest == pytest.approx(0.01, abs=1e-9)
    assert mean == pytest.approx(0.01 / 21, abs=1e-9)


def lifting(lifts: int, foot, frames: int = 120, height: float = 0.1) -> np.ndarray:
    clip = standing(frames)
    bump = np.zeros(frames)
    period = frames // lifts
    for k in range(lifts):
        bump[k * period + 2 : k * period + period // 2] = height
    clip[:, list(foot), 1] += bump[:, None]
    return clip


def test_foot_lifts_count_each_lift_once():
    clip = lifting(3, LEFT_FOOT)
    assert count_foot_lifts(clip, LEFT_FOOT) == 3
    assert count_foot_lifts(clip, RIGHT_FOOT) == 0
    assert foot_lift_rate([clip]) == pytest.approx(3 / (120 / FPS))
    # the ankle alone rising (heel raise with the toe down) is not a lift
    heel = standing(120)
    heel[30:60, LEFT_FOOT[0], 1] += 0.1
    assert count_foot_lifts(heel, LEFT_FOOT) == 0
    # a lift lower than 5 cm does not count; noise around the threshold counts once (hysteresis)
    assert count_foot_lifts(lifting(3, LEFT_FOOT, height=0.04), LEFT_FOOT) == 0
    noisy = standing(120)
    noisy[20:80, list(LEFT_FOOT), 1] += (0.05 + 0.004 * np.sign(np.sin(np.arange(60))))[:, None]
    assert count_foot_lifts(noisy, LEFT_FOOT) == 1


def test_ground_penetration_and_floating():
    sunk, floating = standing(10), standing(10)
    sunk[:, :, 1] -= 0.02
    floating[:, :, 1] += 0.15
    assert ground_errors([sunk]) == pytest.approx((0.02, 0.0))
    assert ground_errors([floating]) == pytest.approx((0.0, 0.10))
    assert ground_errors([standing(10)]) == pytest.approx((0.0, 0.0))


def test_joint_quality_reports_every_measure_and_rejects_bad_shapes():
    report = joint_quality([lifting(2, RIGHT_FOOT), standing(50)])
    assert set(report) == {"jitter", "bone_std_cm", "bone_std_max_cm", "foot_lifts_per_s", "penetration_cm",
                           "floating_cm", "foot_skating"}
    assert report["foot_lifts_per_s"] == pytest.approx(2 / (170 / FPS))
    with pytest.raises(ValueError, match="22, 3"):
        joint_quality([np.zeros((10, 21, 3))])
    with pytest.raises(ValueError, match="no motion"):
        joint_quality([])
