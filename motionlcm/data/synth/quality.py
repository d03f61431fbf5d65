"""Physical plausibility measures of joint sequences (REFERENCE.md section 3)."""

from __future__ import annotations

from typing import Iterable

import numpy as np

FEET = (10, 11)  # left_foot, right_foot (toe joints)


def foot_skating_counts(joints: np.ndarray, fps: float = 20.0, height: float = 0.05, speed: float = 0.5) -> tuple[int, int, int]:
    """(skating, low, total) foot transitions of one motion (T, 22, 3).

    A transition of a foot between consecutive frames is *low* when the foot is below
    ``height`` in both frames, and *skating* when it is low and its horizontal speed exceeds
    ``speed`` m/s. ``total`` counts all transitions of both feet.
    """
    feet = np.asarray(joints, dtype=np.float64)[:, FEET]
    low = (feet[1:, :, 1] < height) & (feet[:-1, :, 1] < height)
    horizontal = np.linalg.norm((feet[1:] - feet[:-1])[..., [0, 2]], axis=-1) * fps
    return int((low & (horizontal > speed)).sum()), int(low.sum()), int(low.size)


def foot_skating_ratio(motions: Iterable[np.ndarray], **kwargs) -> tuple[float, float]:
    """Skating ratio over all foot transitions, and over the low (near-floor) ones only."""
    skating = low = total = 0
    for joints in motions:
        counts = foot_skating_counts(joints, **kwargs)
        skating, low, total = skating + counts[0], low + counts[1], total + counts[2]
    return skating / max(total, 1), skating / max(low, 1)


__all__ = ["foot_skating_counts", "foot_skating_ratio"]
