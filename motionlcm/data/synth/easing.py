"""Smooth interpolation profiles on [0, 1] and small time-curve helpers."""

from __future__ import annotations

import numpy as np


def smoothstep(s) -> np.ndarray:
    """3s^2 - 2s^3, clamped: zero velocity at both ends."""
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def minimum_jerk(s) -> np.ndarray:
    """10s^3 - 15s^4 + 6s^5, clamped: zero velocity and acceleration at both ends."""
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    return s**3 * (10.0 + s * (-15.0 + 6.0 * s))


def angle_lerp(a: float, b: float, w) -> np.ndarray:
    """Interpolate angles along the shorter arc."""
    diff = (b - a + np.pi) % (2.0 * np.pi) - np.pi
    return a + diff * np.asarray(w, dtype=np.float64)


def ramp(n: int, start: int, length: int) -> np.ndarray:
    """0 before ``start``, eases to 1 over ``length`` frames, 1 after."""
    t = np.arange(n, dtype=np.float64)
    return smoothstep((t - start) / max(length, 1))


def window(n: int, start: int, end: int, fade: int) -> np.ndarray:
    """Eases from 0 to 1 at ``start`` and back to 0 at ``end`` over ``fade`` frames each."""
    return ramp(n, start, fade) * (1.0 - ramp(n, end - fade, fade))


def bump(s) -> np.ndarray:
    """sin(pi s)^2 on [0, 1]: a smooth pulse with zero slope at both ends."""
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    return np.sin(np.pi * s) ** 2


def keyframes(t: np.ndarray, times, values) -> np.ndarray:
    """Ease between key values (k, ...) at key times (k,) with smoothstep; held outside."""
    t = np.asarray(t, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    idx = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    span = np.maximum(times[idx + 1] - times[idx], 1e-9)
    w = smoothstep((t - times[idx]) / span)
    w = w.reshape(w.shape + (1,) * (values.ndim - 1))
    return values[idx] * (1.0 - w) + values[idx + 1] * w


__all__ = ["smoothstep", "minimum_jerk", "angle_lerp", "ramp", "window", "bump", "keyframes"]
