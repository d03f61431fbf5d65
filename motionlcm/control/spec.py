"""User control specs: a small JSON format -> hints (T, 22, 3) in metres and a mask (T, 22).

The format is documented in ``docs/control_spec.md``; examples live in ``examples/control/``.
In short::

    {
      "joints": {
        "pelvis": {"points": [[0, 0.0, 0.95, 0.0], ["2s", 0.0, 0.95, 1.5]]},
        "right_wrist": {"path": {"type": "circle", "center": [0.3, 1.2, 0.5], "radius": 0.2, "turns": 2}}
      },
      "keyframes": [{"frame": "3.5s", "pose": {"head": [0.0, 1.6, 2.0]}}]
    }

Coordinates are HumanML3D's: metres, Y up, the motion starts with its pelvis above the XZ origin
facing +Z. Frames are integers (20 fps) or strings in seconds (``"1.5s"``). Every problem is
reported as a one-line :class:`~motionlcm.errors.MotionLCMError` naming where it is.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import MotionLCMError
from ..motion import FPS
from ..motion.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS

JOINT_ALIASES = {"root": "pelvis", "hips": "pelvis"}
PATH_TYPES = ("line", "circle", "s_curve")
TOP_LEVEL_KEYS = {"joints", "keyframes", "description", "version"}
SAME_POSITION_TOL = 1e-6  # metres; closer duplicates of a joint+frame are the same point, not a conflict


class _Spec:
    """Accumulates controlled points per joint and frame, rejecting contradictions."""

    def __init__(self, source: str, num_frames: int):
        self.source, self.num_frames = source, num_frames
        self.points: dict[tuple[int, int], np.ndarray] = {}

    def fail(self, where: str, message: str) -> MotionLCMError:
        return MotionLCMError(f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}")

    def frame(self, value: Any, where: str) -> int:
        """A frame number or a time string -> a frame inside the motion."""
        frame = parse_frame(value, lambda message: self.fail(where, message))
        if frame >= self.num_frames:
            raise self.fail(where, f"frame {frame} is beyond the motion's {self.num_frames} frames (0-{self.num_frames - 1})")
        return frame

    def add(self, joint: int, frame: int, position: np.ndarray, where: str) -> None:
        key = (joint, frame)
        if key in self.points and np.abs(self.points[key] - position).max() > SAME_POSITION_TOL:
            old = ", ".join(f"{v:g}" for v in self.points[key])
            new = ", ".join(f"{v:g}" for v in position)
            raise self.fail(where, f"contradictory entries for {JOINT_NAMES[joint]} at frame {frame}: ({old}) and ({new})")
        self.points[key] = position

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        hints = np.zeros((self.num_frames, NUM_JOINTS, 3), np.float32)
        mask = np.zeros((self.num_frames, NUM_JOINTS), bool)
        for (joint, frame), position in self.points.items():
            hints[frame, joint] = position
            mask[frame, joint] = True
        return hints, mask


def parse_frame(value: Any, fail: Callable[[str], Exception] = MotionLCMError) -> int:
    """``12`` / ``"12"`` / ``"12f"`` -> frame 12; ``"1.5s"`` -> frame 30 (20 fps). Never negative."""
    if isinstance(value, bool):
        raise fail(f"frame {value!r} must be a number or a time like '1.5s'")
    if isinstance(value, (int, np.integer)):
        frame = int(value)
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise fail(f"frame {value!r} is not a whole number (write seconds as a string, e.g. '{value}s')")
        frame = int(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*(s|sec|f)?\s*", value)
        if not match:
            raise fail(f"time {value!r} not understood; use a frame number or seconds like '1.5s'")
        number, unit = float(match.group(1)), match.group(2)
        if unit in ("s", "sec"):
            frame = int(round(number * FPS))
        elif number.is_integer():
            frame = int(number)
        else:
            raise fail(f"frame {value!r} is not a whole number (add 's' for seconds)")
    else:
        raise fail(f"frame {value!r} must be a number or a time like '1.5s'")
    if frame < 0:
        raise fail(f"frame {frame} is negative")
    return frame


def _vector(value: Any, size: int, what: str, fail: Callable[[str], Exception]) -> np.ndarray:
    if not isinstance(value, (list, tuple)) or len(value) != size:
        raise fail(f"{what} must be a list of {size} numbers, got {value!r}")
    numbers = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise fail(f"{what} must contain numbers, got {v!r}")
        if math.isnan(v):
            raise fail(f"{what} contains NaN")
        if not math.isfinite(v):
            raise fail(f"{what} contains an infinite value")
        numbers.append(float(v))
    return np.asarray(numbers, np.float64)


def _number(options: Mapping[str, Any], key: str, fail: Callable[[str], Exception], default: float | None = None,
            positive: bool = False) -> float:
    value = options.get(key, default)
    if value is None:
        raise fail(f"'{key}' is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise fail(f"'{key}' must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise fail(f"'{key}' must be positive, got {value!r}")
    return float(value)


def joint_index(name: Any, fail: Callable[[str], Exception]) -> int:
    key = JOINT_ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
    if key not in JOINT_INDEX:
        raise fail(f"unknown joint {name!r}; known joints: {', '.join(JOINT_NAMES)}")
    return JOINT_INDEX[key]


# ---------------------------------------------------------------------------------------------
# Parametric paths: frames -> positions
# ---------------------------------------------------------------------------------------------


def path_frames(start: int, end: int, every: int) -> np.ndarray:
    """Frames ``start, start + every, ...`` up to ``end``, always ending on ``end``."""
    frames = list(range(start, end + 1, every))
    if frames[-1] != end:
        frames.append(end)
    return np.asarray(frames)


def _progress(frames: np.ndarray, start: int, end: int) -> np.ndarray:
    """0 at ``start`` .. 1 at ``end`` (0 everywhere for a single-frame path)."""
    return (frames - start) / (end - start) if end > start else np.zeros(len(frames))


def line_positions(options: Mapping[str, Any], frames: np.ndarray, start: int, end: int,
                   fail: Callable[[str], Exception]) -> np.ndarray:
    """Constant velocity from ``origin``: to ``to`` at ``end``, or along ``direction`` at ``speed`` m/s."""
    origin = _vector(options.get("origin"), 3, "'origin'", fail)
    if "to" in options:
        if "speed" in options or "direction" in options:
            raise fail("give either 'to' or 'direction' + 'speed', not both")
        target = _vector(options["to"], 3, "'to'", fail)
        return origin + _progress(frames, start, end)[:, None] * (target - origin)
    direction = _vector(options.get("direction"), 3, "'direction'", fail)
    norm = float(np.linalg.norm(direction))
    if norm == 0:
        raise fail("'direction' must not be zero")
    speed = _number(options, "speed", fail)
    return origin + ((frames - start) / FPS * speed)[:, None] * (direction / norm)


def circle_positions(options: Mapping[str, Any], frames: np.ndarray, start: int, end: int,
                     fail: Callable[[str], Exception]) -> np.ndarray:
    """A horizontal circle: ``center + radius (cos a, 0, sin a)``, ``a`` from ``start_angle`` (degrees,
    from +X towards +Z), turning ``turns`` times over the path or at ``speed`` m/s along the arc.

    Seen from above (Y towards the viewer, +X to the right) +Z points down, so increasing ``a`` turns
    clockwise; ``"direction": "counterclockwise"`` reverses it.
    """
    center = _vector(options.get("center"), 3, "'center'", fail)
    radius = _number(options, "radius", fail, positive=True)
    start_angle = math.radians(_number(options, "start_angle", fail, default=0.0))
    direction = options.get("direction", "clockwise")
    if direction not in ("clockwise", "counterclockwise"):
        raise fail(f"'direction' must be 'clockwise' or 'counterclockwise', got {direction!r}")
    sign = 1.0 if direction == "clockwise" else -1.0
    if "speed" in options:
        if "turns" in options:
            raise fail("give either 'turns' or 'speed', not both")
        swept = _number(options, "speed", fail, positive=True) / radius * (frames - start) / FPS
    else:
        swept = 2 * math.pi * _number(options, "turns", fail, default=1.0, positive=True) * _progress(frames, start, end)
    angle = start_angle + sign * swept
    return center + radius * np.stack([np.cos(angle), np.zeros_like(angle), np.sin(angle)], axis=-1)


def s_curve_positions(options: Mapping[str, Any], frames: np.ndarray, start: int, end: int,
                      fail: Callable[[str], Exception]) -> np.ndarray:
    """One sine period around a straight ``length`` m segment from ``origin`` along ``heading``
    (degrees; 0 = +Z, 90 = +X): ``origin + length s h + amplitude sin(2 pi s) n``, ``s`` in [0, 1],
    and ``n = (cos h, 0, -sin h)`` the sideways direction (+X for heading 0). ``amplitude`` defaults to
    a quarter of ``length``."""
    origin = _vector(options.get("origin"), 3, "'origin'", fail)
    length = _number(options, "length", fail, positive=True)
    amplitude = _number(options, "amplitude", fail, default=length / 4)
    heading = math.radians(_number(options, "heading", fail, default=0.0))
    forward = np.array([math.sin(heading), 0.0, math.cos(heading)])
    lateral = np.array([math.cos(heading), 0.0, -math.sin(heading)])
    s = _progress(frames, start, end)
    return origin + (length * s)[:, None] * forward + (amplitude * np.sin(2 * math.pi * s))[:, None] * lateral


_PATHS = {"line": line_positions, "circle": circle_positions, "s_curve": s_curve_positions}
_PATH_KEYS = {
    "line": {"origin", "to", "direction", "speed"},
    "circle": {"center", "radius", "start_angle", "turns", "speed", "direction"},
    "s_curve": {"origin", "length", "amplitude", "heading", "speed"},
}
_COMMON_PATH_KEYS = {"type", "start", "end", "every"}


def _path_span(spec: _Spec, options: Mapping[str, Any], where: str, fail: Callable[[str], Exception]) -> tuple[int, int]:
    start = spec.frame(options.get("start", 0), where)
    if options.get("type") == "s_curve" and "speed" in options:
        # The speed fixes the duration: length / speed seconds.
        if "end" in options:
            raise fail("give either 'end' or 'speed', not both")
        duration = _number(options, "length", fail, positive=True) / _number(options, "speed", fail, positive=True)
        end = start + int(round(duration * FPS))
        if end >= spec.num_frames:
            raise fail(f"at this speed the path ends at frame {end}, beyond the motion's {spec.num_frames} frames "
                       f"(0-{spec.num_frames - 1})")
    else:
        end = spec.frame(options.get("end", spec.num_frames - 1), where)
    if end < start:
        raise fail(f"'end' (frame {end}) is before 'start' (frame {start})")
    return start, end


def _add_path(spec: _Spec, joint: int, options: Any, where: str) -> None:
    def fail(message: str) -> MotionLCMError:
        return spec.fail(where, message)

    if not isinstance(options, Mapping):
        raise fail("a path must be an object with a 'type'")
    kind = options.get("type")
    if kind not in _PATHS:
        raise fail(f"unknown path type {kind!r}; use one of {', '.join(PATH_TYPES)}")
    unknown = sorted(set(options) - _COMMON_PATH_KEYS - _PATH_KEYS[kind])
    if unknown:
        raise fail(f"unknown {kind} option(s) {', '.join(unknown)}; allowed: "
                   f"{', '.join(sorted(_COMMON_PATH_KEYS | _PATH_KEYS[kind]))}")
    every = options.get("every", 1)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise fail(f"'every' must be a whole number >= 1, got {every!r}")
    start, end = _path_span(spec, options, where, fail)
    frames = path_frames(start, end, every)
    positions = _PATHS[kind](options, frames, start, end, fail)
    for frame, position in zip(frames, positions):
        spec.add(joint, int(frame), position, where)


def _add_points(spec: _Spec, joint: int, points: Any, where: str) -> None:
    if not isinstance(points, list):
        raise spec.fail(where, "'points' must be a list of [frame, x, y, z]")
    if len(points) > spec.num_frames:
        raise spec.fail(where, f"too many points: {len(points)} for a motion of {spec.num_frames} frames "
                               "(at most one per frame)")
    for number, point in enumerate(points, 1):
        here = f"{where} point {number}"
        if not isinstance(point, list) or len(point) != 4:
            raise spec.fail(here, f"a point must be [frame, x, y, z], got {point!r}")
        frame = spec.frame(point[0], here)
        position = _vector(point[1:], 3, "the position", lambda message, here=here: spec.fail(here, message))
        spec.add(joint, frame, position, here)


def _add_joint(spec: _Spec, name: Any, entry: Any) -> None:
    where = f"joint '{name}'"
    joint = joint_index(name, lambda message: spec.fail("", message))
    if isinstance(entry, list):  # shorthand: the points list itself
        entry = {"points": entry}
    if not isinstance(entry, Mapping):
        raise spec.fail(where, "must be an object with 'points' and/or 'path'")
    unknown = sorted(set(entry) - {"points", "path"})
    if unknown:
        raise spec.fail(where, f"unknown key(s) {', '.join(unknown)}; use 'points' and/or 'path'")
    if not entry:
        raise spec.fail(where, "has neither 'points' nor 'path'")
    if "points" in entry:
        _add_points(spec, joint, entry["points"], where)
    paths = entry.get("path", [])
    for number, path in enumerate(paths if isinstance(paths, list) else [paths], 1):
        _add_path(spec, joint, path, f"{where} path {number}" if isinstance(paths, list) else f"{where} path")


def _add_keyframe(spec: _Spec, keyframe: Any, number: int) -> None:
    where = f"keyframe {number}"
    if not isinstance(keyframe, Mapping) or set(keyframe) != {"frame", "pose"}:
        raise spec.fail(where, "must be an object with exactly 'frame' and 'pose'")
    frame = spec.frame(keyframe["frame"], where)
    pose = keyframe["pose"]
    if isinstance(pose, list):
        if len(pose) != NUM_JOINTS:
            raise spec.fail(where, f"a full pose lists {NUM_JOINTS} [x, y, z] positions in joint order, got {len(pose)}")
        pose = dict(zip(JOINT_NAMES, pose))
    if not isinstance(pose, Mapping) or not pose:
        raise spec.fail(where, "'pose' must be a list of 22 positions or an object {joint: [x, y, z]}")
    for name, value in pose.items():
        joint = joint_index(name, lambda message: spec.fail(where, message))
        position = _vector(value, 3, f"the position of {name}", lambda message: spec.fail(where, message))
        spec.add(joint, frame, position, where)


def _read(source: str | Path | Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    if isinstance(source, Mapping):
        return "control spec", source
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MotionLCMError(f"control spec not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionLCMError(f"{path}: unreadable control spec ({type(exc).__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MotionLCMError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    if not isinstance(data, Mapping):
        raise MotionLCMError(f"{path}: a control spec is a JSON object with 'joints' and/or 'keyframes'")
    return str(path), data


def load_control_spec(source: str | Path | Mapping[str, Any], num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """A spec (JSON file path or parsed dict) for a motion of ``num_frames`` frames ->
    ``(hints (T, 22, 3) float32 metres, mask (T, 22) bool)``."""
    name, data = _read(source)
    if int(num_frames) < 1:
        raise MotionLCMError(f"{name}: the motion needs at least one frame")
    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise MotionLCMError(f"{name}: unknown key(s) {', '.join(unknown)}; a spec has 'joints' and/or 'keyframes'")
    spec = _Spec(name, int(num_frames))
    joints = data.get("joints", {})
    if not isinstance(joints, Mapping):
        raise spec.fail("", "'joints' must be an object {joint name: {points | path}}")
    for joint_name, entry in joints.items():
        _add_joint(spec, joint_name, entry)
    keyframes = data.get("keyframes", [])
    if not isinstance(keyframes, list):
        raise spec.fail("", "'keyframes' must be a list of {frame, pose}")
    for number, keyframe in enumerate(keyframes, 1):
        _add_keyframe(spec, keyframe, number)
    if not spec.points:
        raise spec.fail("", "controls nothing (no points, paths or keyframes)")
    return spec.arrays()


def _fit_arrays(hints: Any, mask: Any, length: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One sample's (T, 22, 3) hints and (T, 22) mask, cropped/padded to ``length`` frames."""
    hints = np.asarray(hints, dtype=np.float64)
    mask = np.asarray(mask)
    if mask.ndim == 3:  # per-coordinate masks, as MotionLCM's loader keeps them
        mask = mask.any(-1)
    if hints.ndim != 3 or hints.shape[1:] != (NUM_JOINTS, 3) or mask.shape != hints.shape[:2]:
        raise MotionLCMError(f"{where}: hints must be (frames, 22, 3) with a (frames, 22) mask, "
                             f"got {hints.shape} and {mask.shape}")
    mask = mask.astype(bool)
    beyond = np.flatnonzero(mask[length:].any(-1))
    if beyond.size:
        raise MotionLCMError(f"{where}: frame {length + int(beyond[0])} is beyond the motion's {length} frames (0-{length - 1})")
    if not np.isfinite(hints[mask]).all():
        raise MotionLCMError(f"{where}: a controlled hint is NaN or infinite")
    out_hints = np.zeros((length, NUM_JOINTS, 3), np.float32)
    out_mask = np.zeros((length, NUM_JOINTS), bool)
    keep = min(length, len(hints))
    out_mask[:keep] = mask[:keep]
    out_hints[:keep] = np.where(mask[:keep, :, None], hints[:keep], 0.0)
    return out_hints, out_mask


def control_batch(control: Any, lengths: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Control for a batch of motions -> ``hints (B, T_max, 22, 3)``, ``mask (B, T_max, 22)``.

    ``control``: a spec (JSON path or dict) used for every sample; a list with one spec or
    ``(hints, mask)`` pair per sample; or one ``(hints, mask)`` pair of arrays, (T, 22, 3) and
    (T, 22) shared by all samples or (B, T, 22, 3) and (B, T, 22) one per sample.
    """
    lengths = [int(n) for n in lengths]
    if isinstance(control, tuple) and len(control) == 2 and np.ndim(control[0]) == 4:
        items = list(zip(control[0], control[1]))
    elif isinstance(control, list):
        items = control
    else:
        items = [control] * len(lengths)
    if len(items) != len(lengths):
        raise MotionLCMError(f"{len(lengths)} motions but {len(items)} control entries")
    hints = np.zeros((len(lengths), max(lengths), NUM_JOINTS, 3), np.float32)
    mask = np.zeros((len(lengths), max(lengths), NUM_JOINTS), bool)
    for i, (item, length) in enumerate(zip(items, lengths)):
        if isinstance(item, tuple) and len(item) == 2:
            h, m = _fit_arrays(item[0], item[1], length, f"control of sample {i}")
        elif isinstance(item, (str, Path, Mapping)):
            h, m = load_control_spec(item, length)
        else:
            raise MotionLCMError(f"control of sample {i}: expected a spec (JSON path or dict) or (hints, mask) arrays, "
                                 f"got {type(item).__name__}")
        hints[i, :length], mask[i, :length] = h, m
    return hints, mask


__all__ = ["FPS", "PATH_TYPES", "parse_frame", "path_frames", "line_positions", "circle_positions", "s_curve_positions",
           "load_control_spec", "control_batch"]
