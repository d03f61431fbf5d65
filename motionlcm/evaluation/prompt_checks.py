"""Prompt following without a learned model: rule-based checks of each captioned action.

The procedural corpus (:mod:`motionlcm.data.synth`) stores, for every motion, the actions its
captions were written from (``synth_meta.json``: ``motions[NAME]["actions"]``, each a family,
its length in frames and the parameters the captions name). :func:`check_actions` cuts a clip
into one time segment per action and tests, with hand-written rules on the joints alone, that
the segment does what the caption says; :func:`prompt_following` aggregates over clips. The
same metadata serves ground truth and generated clips (which get the ground truth's lengths).

Conventions. Joints are ``(frames, 22, 3)`` in metres, y up, floor at y = 0, 20 fps. The body's
facing is ``up x across`` with ``across = (right hip - left hip) + (right shoulder - left
shoulder)``; its yaw ``atan2(x, z)`` grows when the person turns to their LEFT (counter-clockwise
seen from above), as in the generator (checked on the ground truth: turns and curves "to the
left" have a positive heading change). Travel is the pelvis' ground path; a segment's travel
"forward / left" is the sum of its per-frame steps projected on that frame's facing / left.

Segments. compose.py concatenates the actions back to back (transitions are blended into the
first 8 frames of the next action, not inserted), so action ``i`` spans the cumulative metadata
frames ``[F_i, F_{i+1})``. Metadata frames are at 20 fps and sum to one frame more than the
clip (joints -> features drops the last frame); a clip at another ``fps`` maps them by
``fps / 20``, and a clip whose length differs from that by more than one frame is scaled
proportionally (a generated clip of another length is judged against the same metadata). A
clip cut at 196 frames from a longer metadata keeps the metadata's timing: a truncated last
action is checked on what remains, an action with fewer than 4 frames left fails. A caption
states the actions' order, not their timing: each boundary between two actions may move by up to
``BOUNDARY_SLACK`` (25 %) of the shorter of the two, and the placement that passes most actions
(then the one nearest the metadata) is kept; the segments stay a partition, so one event never
counts for two actions (``boundary_slack=0`` keeps the metadata's timing). Jumps, kicks, squats,
claps and punches are found on the whole clip and belong to the segment that holds their peak; steps, hops and lifts are counted inside the segment. Frame counts below are at 20 fps for clips of the metadata's length and scale with the
clip.

Shared measures. A foot *steps* when its ankle and toe both rise >= h above the OTHER foot's
(back below h/2 before the next step counts), so a rigid body carried along by the root never
steps. A foot's *clearance* is the lower of its ankle's and toe's heights above their resting
heights (5th percentile over the segment +- 10 frames); *both feet off the floor* is the lower
clearance of the two feet. *Legs* is the pelvis height above the lower ankle, which only drops
when the legs bend. "Moved" is the pelvis' largest ground distance from where the segment
started. Joints are smoothed with a Gaussian of sigma 1 frame (at 20 fps) before measuring.

Rules and thresholds (every listed criterion must hold; "count" checks are exact for counts
up to 3 and +-1 above, and >= 1 when the caption states no count):

* walk / jog / run: travel in the requested direction (forward / backward / left / right of
  the facing) >= 0.25 m (0.1 m sideways) and >= 2.5x the perpendicular travel; each foot steps
  (h = 4 cm) at least once. Path: straight |heading change| <= 45 deg; curve left / right
  20..220 deg that way; circle ccw / cw >= 240 deg that way (ccw = to the left). Gait: walk
  never has both feet >= 5 cm off the floor; jog and run have a flight (both feet >= 2 cm off
  the floor). Forward only, top speed over 0.5 s: walk <= 2.8 m/s, jog 1.3..3.5 m/s, run >=
  2.0 m/s.
* turn: heading change of the requested sign within max(25 deg, 30 %) of ``degrees``; moved
  <= 0.6 m; each foot steps (h = 2.5 cm).
* spin: heading change the requested way within 100 deg of 360 x ``turns``; moved <= 0.8 m;
  each foot steps (h = 2.5 cm).
* side_step: travel toward the requested side >= 0.15 m x count and >= 2.5x the forward /
  backward travel; the leading foot (that side's) steps (h = 3 cm) count times; |heading
  change| <= 35 deg.
* march: moved <= 0.35 m; >= max(2, 40 % of ``steps``) high steps (h = 8 cm), both feet
  stepping; |heading change| <= 45 deg.
* jump: count flights (both feet >= 4 cm off the floor, landing below 2 cm); the legs bend
  (legs range >= 6 cm: a body translated up rigidly fails); forward: travel forward >= 0.15 m
  x count; in place: net travel <= 0.25 m.
* hop: the free foot is held up (median ankle height difference over the middle half of the
  segment >= 8 cm); count hops (pelvis bounces of prominence >= 6 cm with the hopping foot's
  clearance >= 2 cm); forward: travel forward >= 0.1 m x count; in place: net travel <= 0.3 m.
* kick: count kicks of the requested leg (its ankle >= 20 cm above rest while >= 15 cm in
  front of the pelvis, back below 10 cm between kicks); the other ankle rises < 25 cm.
* squat: count dips of the legs >= 12 cm below their segment maximum (rising back to within
  8 cm between squats); net travel <= 0.25 m.
* crouch: legs >= 25 cm below their maximum for >= 10 frames; at the lowest, both knees
  >= 20 cm above the floor (not kneeling) and the pelvis >= 25 cm (not sitting); moved <= 0.4 m.
* sit: the pelvis comes down to <= 30 cm above the floor and <= 30 cm above the lower ankle
  (a body sunk through the floor fails); moved <= 0.7 m (sitting back moves the pelvis).
* kneel: the knee of the requested ``side`` comes down to <= 15 cm above the floor while the
  other knee is >= 12 cm higher; moved <= 0.4 m.
* bow: the head drops >= 6 cm and, at its lowest, is >= 12 cm further forward of the pelvis
  (along the facing) than at its least; the pelvis drops < 20 cm and <= half as much as the
  head (a bow, not a squat); moved <= 0.4 m.
* idle: moved <= 0.25 m; no foot lift (ankle and toe >= 5 cm up, joint_quality's count);
  pelvis height range <= 8 cm; |heading change| <= 30 deg; both wrists stay >= 20 cm below
  their shoulders (90th percentile). With ``look``: the head (its sideways offset from the
  neck in the hips' frame) goes >= 1.5 cm both ways, to the ``first`` side before the other.
* wave: each waving wrist is >= 10 cm above its shoulder for >= 4 frames; in those frames
  (75th percentile) overhead: >= 15 cm above the head, otherwise <= 12 cm above it; the
  forearm swings side to side (wrist's sideways offset from the elbow) >= 2 times. An arm not
  asked to wave stays >= 20 cm below its shoulder (90th percentile).
* raise_arms: each raised wrist (90th percentile over the segment) up: >= 10 cm above the
  head; forward: >= 35 cm in front of its shoulder, within 25 cm of shoulder height;
  sideways: >= 35 cm out to its own side, within 25 cm of shoulder height. An arm not asked
  stays >= 20 cm below its shoulder and < 35 cm from it horizontally.
* clap: count closings of the wrists (< 20 cm apart, reopening > 30 cm; the distance is
  smoothed less, claps are quick); they meet >= 10 cm in front of the chest (median).
* punch: count punches (a wrist >= 38 cm in front of its shoulder along the facing,
  retracting below 32 cm), all with the requested hand; ``both``: both hands, the first
  punch with ``first``.

:func:`load_synth_meta` reads the metadata; :func:`check_actions` checks one clip and
:func:`prompt_following` a set of clips.

The caption that was generated from. Some captions leave an action's side open ("turns
around", "spins around", "kneels on one knee", "punches with both fists", "looks around",
"jogs in a circle"); the metadata still records the side the corpus motion took. A generated
clip is judged against what its caption says, so :func:`caption_actions` opens those sides
(corpus 1.1 records them per caption, ``synth_meta.json``: ``captions[i]["sideless"]``): a turn
or spin then counts either way (the amount still counts), a kneel on either knee, alternating
punches or a look starting on either side, a curve or circle either way (20..220 deg / >= 240
deg). Likewise for what a phrase does not state at all (corpus 1.2 records it per caption,
``captions[i]["unstated"]``, action index -> parameter names): a count ("claps", "boxes", "hops on
one foot") then passes with any number >= 1, a wave's height ("waves his hand") either way, a
punch's hands ("boxes") either hand. Older corpora without that record are judged strictly. The
evaluation also reports ``prompt_ok_strict``: every metadata parameter at the metadata's timing
(only sides opened), the definition before corpus 1.2.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import MotionLCMError
from ..motion import FPS
from ..motion.skeleton import JOINT_INDEX
from .joint_quality import count_foot_lifts

MAX_CLIP_FRAMES = 196

_J = JOINT_INDEX
PELVIS, HEAD, NECK = _J["pelvis"], _J["head"], _J["neck"]
HIPS = (_J["left_hip"], _J["right_hip"])
KNEES = (_J["left_knee"], _J["right_knee"])
ANKLES = (_J["left_ankle"], _J["right_ankle"])
TOES = (_J["left_foot"], _J["right_foot"])
SHOULDERS = (_J["left_shoulder"], _J["right_shoulder"])
ELBOWS = (_J["left_elbow"], _J["right_elbow"])
WRISTS = (_J["left_wrist"], _J["right_wrist"])
FEET = ((ANKLES[0], TOES[0]), (ANKLES[1], TOES[1]))
SIDES = ("left", "right")
SIDE_INDEX = {"left": 0, "right": 1}


@dataclass
class ActionCheck:
    family: str
    passed: bool
    detail: str


# --------------------------------------------------------------------------- the clip
class _Clip:
    """Joints plus the derived signals every rule uses."""

    def __init__(self, joints: np.ndarray, fps: float):
        j = np.asarray(joints, dtype=np.float64)
        if j.ndim != 3 or j.shape[1:] != (22, 3) or len(j) < 2:
            raise MotionLCMError(f"joints must be a (frames >= 2, 22, 3) array, got {j.shape}")
        if not np.isfinite(j).all():
            raise MotionLCMError("joints contain NaN or Inf values")
        # A light temporal smoothing (sigma 1 frame at 20 fps) keeps frame noise from
        # splitting or inventing events; ground-truth peaks move by millimetres.
        self.raw = j
        j = _smooth(j, fps / FPS)
        self.j, self.n, self.fps = j, len(j), float(fps)
        across = (j[:, HIPS[1]] - j[:, HIPS[0]]) + (j[:, SHOULDERS[1]] - j[:, SHOULDERS[0]])
        fwd = np.stack([across[:, 2], -across[:, 0]], -1)  # up x across, (x, z)
        fwd /= np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9)
        self.fwd = fwd  # (n, 2) unit facing on the ground, (x, z)
        self.left = np.stack([fwd[:, 1], -fwd[:, 0]], -1)  # the person's left
        self.yaw = np.unwrap(np.arctan2(fwd[:, 0], fwd[:, 1]))  # grows turning left (ccw from above)
        self.root = j[:, PELVIS][:, [0, 2]]
        self.pelvis_y = j[:, PELVIS, 1]
        # Pelvis height above the lower ankle: drops only when the legs bend.
        self.legs = j[:, PELVIS, 1] - np.minimum(j[:, ANKLES[0], 1], j[:, ANKLES[1], 1])
        self.scale = 1.0  # clip frames per metadata frame

    def seconds(self, frames: float) -> float:
        return frames / self.fps

    def frames(self, seconds: float) -> float:
        return seconds * self.fps

    def to_body(self, vec_xz: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """World ground vectors (k, 2) -> (forward, left) components in those frames' facing."""
        return np.stack([(vec_xz * self.fwd[frames]).sum(-1), (vec_xz * self.left[frames]).sum(-1)], -1)

    def travel(self, s: int, e: int) -> tuple[float, float, float]:
        """(forward, left, path length) of the pelvis over frames [s, e), in the body frame."""
        if e - s < 2:
            return 0.0, 0.0, 0.0
        steps = np.diff(self.root[s:e], axis=0)
        body = self.to_body(steps, np.arange(s, e - 1))
        return float(body[:, 0].sum()), float(body[:, 1].sum()), float(np.linalg.norm(steps, axis=-1).sum())

    def net_travel(self, s: int, e: int) -> float:
        return float(np.linalg.norm(self.root[e - 1] - self.root[s]))

    def max_travel(self, s: int, e: int) -> float:
        return float(np.linalg.norm(self.root[s:e] - self.root[s], axis=-1).max())

    def heading_change(self, s: int, e: int) -> float:
        """Degrees turned over [s, e) (positive = to the left), ends averaged over 3 frames."""
        k = max(1, min(3, (e - s) // 4))
        return float(np.degrees(self.yaw[e - k : e].mean() - self.yaw[s : s + k].mean()))

    def local(self, joint_idx: int, frames: slice | np.ndarray, origin_idx: int = PELVIS) -> np.ndarray:
        """(forward, left, up) offsets of a joint from another one, in each frame's facing."""
        d = self.j[frames, joint_idx] - self.j[frames, origin_idx]
        idx = np.arange(self.n)[frames]
        body = self.to_body(d[:, [0, 2]], idx)
        return np.concatenate([body, d[:, 1:2]], -1)


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    if len(x) < 3:
        return np.array(x, dtype=np.float64)
    return gaussian_filter1d(np.asarray(x, dtype=np.float64), sigma, axis=0, mode="nearest")


def _events(x: np.ndarray, hi: float, lo: float) -> list[tuple[int, int, int]]:
    """Runs where ``x`` rises to >= ``hi`` until it falls below ``lo``: (start, end, peak)."""
    out, start = [], None
    for t, v in enumerate(x):
        if start is None and v >= hi:
            start = t
        elif start is not None and v < lo:
            out.append((start, t, start + int(np.argmax(x[start:t]))))
            start = None
    if start is not None:
        out.append((start, len(x), start + int(np.argmax(x[start:]))))
    return out


def _in(events: list[tuple[int, int, int]], s: int, e: int) -> list[tuple[int, int, int]]:
    return [ev for ev in events if s <= ev[2] < e]


def _rest_height(clip: _Clip, joint: int, s: int, e: int) -> float:
    """A joint's resting height near a segment: its 5th percentile over the segment +- 10 frames."""
    a, b = max(0, s - 10), min(clip.n, e + 10)
    return float(np.percentile(clip.j[a:b, joint, 1], 5))


def _foot_lifts(clip: _Clip, side: int, s: int, e: int, height: float) -> int:
    """Lifts of one foot over [s, e) (joint_quality's count: ankle and toe >= ``height`` up)."""
    return count_foot_lifts(clip.j[s:e], FEET[side], lift_height=height)


def _steps(clip: _Clip, side: int, s: int, e: int, height: float) -> int:
    """Steps of one foot over [s, e): its ankle and toe both rise >= ``height`` above the OTHER
    foot's (and come back below half that), so a rigid body carried along does not step."""
    (a, t), (oa, ot) = FEET[side], FEET[1 - side]
    j = clip.j[s:e]
    rel = np.minimum(j[:, a, 1] - j[:, oa, 1], j[:, t, 1] - j[:, ot, 1])
    return len(_events(rel, height, 0.5 * height))


def _wanted(a: dict, default: int) -> int | None:
    """The number of repetitions an action asks for; None when its caption states none."""
    if "count" in a and a["count"] is None:
        return None
    return int(a.get("count", default))


def _count_ok(found: int, want: int | None) -> tuple[bool, str]:
    """Counts up to 3 must match exactly, larger ones within one; no stated count: at least one."""
    if want is None:
        return found >= 1, "wanted >= 1 (no count stated)"
    tol = 0 if want <= 3 else 1
    return abs(found - want) <= tol, f"wanted {want}" + (" (+-1)" if tol else "")


def _turn_word(deg: float) -> str:
    return f"{abs(deg):.0f} deg {'left' if deg >= 0 else 'right'}"


def _dir_word(fwd: float, left: float) -> str:
    if abs(fwd) >= abs(left):
        return "forward" if fwd >= 0 else "backward"
    return "left" if left >= 0 else "right"


def _peak_speed(clip: _Clip, s: int, e: int) -> float:
    """Highest ground speed of the pelvis (m/s) averaged over a 0.5 s window inside [s, e)."""
    w = max(2, int(round(clip.frames(0.5))))
    if e - s <= w:
        return clip.net_travel(s, e) / max(clip.seconds(e - s - 1), 1e-9)
    d = np.linalg.norm(clip.root[s + w : e] - clip.root[s : e - w], axis=-1)
    return float(d.max() / clip.seconds(w))


class _Result:
    """Collects criteria: each ``need(ok, text)`` adds to the detail; passed if all ok."""

    def __init__(self):
        self.ok, self.parts, self.failed = True, [], []
        self.values: dict[str, float] = {}

    def need(self, ok: bool, text: str) -> None:
        ok = bool(ok)
        self.ok &= ok
        (self.parts if ok else self.failed).append(text)

    def detail(self) -> str:
        if self.failed:
            return "; ".join(self.failed) + (" (ok: " + "; ".join(self.parts) + ")" if self.parts else "")
        return "; ".join(self.parts)


# --------------------------------------------------------------------------- locomotion
_DIRECTION_WORDS = ("forward", "backward", "left", "right")


def _direction_ok(fwd: float, left: float, direction: str, least: float) -> tuple[bool, str]:
    along = {"forward": fwd, "backward": -fwd, "left": left, "right": -left}[direction]
    across = abs(left) if direction in ("forward", "backward") else abs(fwd)
    ok = along >= least and along >= 2.5 * across
    return ok, f"travelled {_dir_word(fwd, left)} ({fwd:+.2f} m fwd, {left:+.2f} m left), wanted {direction} >= {least} m"


def _check_locomotion(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    fwd, left, path = clip.travel(s, e)
    direction = a.get("direction", "forward")
    lateral = direction in ("left", "right")
    least = 0.1 if lateral else 0.25
    r.values.update(fwd=fwd, left=left, path=path)
    if direction in _DIRECTION_WORDS:
        r.need(*_direction_ok(fwd, left, direction, least))
    else:
        r.need(path >= least, f"path {path:.2f} m (>= {least})")
    steps = [_steps(clip, side, s, e, 0.04) for side in (0, 1)]
    r.values.update(steps_l=steps[0], steps_r=steps[1])
    r.need(min(steps) >= 1, f"steps L{steps[0]} R{steps[1]} (each >= 1)")
    turn = clip.heading_change(s, e)
    r.values["turn"] = turn
    path_kind = a.get("path", "straight")
    if path_kind == "straight":
        r.need(abs(turn) <= 45, f"heading changed {_turn_word(turn)}, wanted straight (<= 45)")
    elif path_kind in ("curve_left", "curve_right"):
        sign = 1 if path_kind == "curve_left" else -1
        r.need(20 <= sign * turn <= 220, f"curved {_turn_word(turn)}, wanted 20-220 {path_kind[6:]}")
    elif path_kind in ("circle_ccw", "circle_cw"):
        sign = 1 if path_kind == "circle_ccw" else -1
        r.need(sign * turn >= 240, f"circled {_turn_word(turn)}, wanted >= 240 {'left' if sign > 0 else 'right'}")
    elif path_kind == "curve":  # a caption that names no side (caption_actions)
        r.need(20 <= abs(turn) <= 220, f"curved {abs(turn):.0f} deg, wanted 20-220 either way")
    elif path_kind == "circle":
        r.need(abs(turn) >= 240, f"circled {abs(turn):.0f} deg, wanted >= 240 either way")
    kind = a.get("kind", a["family"])
    # Walking keeps a foot on the floor; jogging and running have flight phases.
    flight = float(_feet_clearance(clip, s, e)[s:e].max())
    r.values["flight"] = flight
    if kind == "walk":
        r.need(flight < 0.05, f"both feet {100 * flight:.0f} cm off the floor at once (walk < 5)")
    elif kind in ("jog", "run"):
        r.need(flight >= 0.02, f"both feet {100 * flight:.0f} cm off the floor at once ({kind} >= 2)")
    speed = _peak_speed(clip, s, e)
    r.values["speed"] = speed
    if direction == "forward":
        if kind == "run":
            r.need(speed >= 2.0, f"top speed {speed:.2f} m/s (run >= 2.0)")
        elif kind == "jog":
            r.need(1.3 <= speed <= 3.5, f"top speed {speed:.2f} m/s (jog 1.3-3.5)")
        elif kind == "walk":
            r.need(speed <= 2.8, f"top speed {speed:.2f} m/s (walk <= 2.8)")


def _check_turn(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    turn = clip.heading_change(s, e)
    r.values["turn"] = turn
    sign = {"left": 1, "right": -1}.get(a.get("direction"), 0)
    family = a["family"]
    if family == "spin":
        want = 360.0 * float(a.get("turns", 1))
        tol, max_move = 100.0, 0.8
    else:
        want = float(a.get("degrees", 90))
        tol, max_move = max(25.0, 0.3 * want), 0.6
    if sign:
        r.need(abs(sign * turn - want) <= tol, f"turned {_turn_word(turn)}, wanted {want:.0f} {a['direction']}")
    else:
        r.need(abs(abs(turn) - want) <= tol, f"turned {abs(turn):.0f} deg, wanted {want:.0f}")
    moved = clip.max_travel(s, e)
    r.values["moved"] = moved
    r.need(moved <= max_move, f"moved {moved:.2f} m (<= {max_move})")
    steps = [_steps(clip, side, s, e, 0.025) for side in (0, 1)]
    r.values.update(steps_l=steps[0], steps_r=steps[1])
    r.need(min(steps) >= 1, f"steps L{steps[0]} R{steps[1]} (each >= 1)")


def _check_side_step(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    fwd, left, _ = clip.travel(s, e)
    count = _wanted(a, 1)
    direction = a.get("direction")
    r.values.update(fwd=fwd, left=left)
    if direction in ("left", "right"):
        along = left if direction == "left" else -left
        need = 0.15 * (count or 1)
        r.need(
            along >= need and along >= 2.5 * abs(fwd),
            f"travelled {_dir_word(fwd, left)} ({fwd:+.2f} m fwd, {left:+.2f} m left), wanted {direction} >= {need:.2f} m",
        )
        lead = SIDE_INDEX[direction]
        steps = _steps(clip, lead, s, e, 0.03)
        r.values["steps"] = steps
        ok, want = _count_ok(steps, count)
        r.need(ok, f"{direction} foot stepped out {steps} times, {want}")
    turn = clip.heading_change(s, e)
    r.need(abs(turn) <= 35, f"heading changed {_turn_word(turn)} (<= 35)")


def _check_march(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    moved = clip.max_travel(s, e)
    r.need(moved <= 0.35, f"moved {moved:.2f} m (<= 0.35)")
    lifts = [_steps(clip, side, s, e, 0.08) for side in (0, 1)]
    steps = int(a.get("steps", 4))
    need = max(2, int(np.ceil(0.4 * steps)))
    r.values.update(lifts=sum(lifts), moved=moved)
    r.need(
        sum(lifts) >= need and min(lifts) >= 1,
        f"{sum(lifts)} high steps (L{lifts[0]} R{lifts[1]}), wanted >= {need} of {steps} with both feet",
    )
    turn = clip.heading_change(s, e)
    r.need(abs(turn) <= 45, f"heading changed {_turn_word(turn)} (<= 45)")


# --------------------------------------------------------------------------- ballistic
def _feet_clearance(clip: _Clip, s: int, e: int) -> np.ndarray:
    """Per frame, the height of the LOWER foot above its rest (ankle and toe both counted)."""
    per_joint = []
    for foot in FEET:
        for jt in foot:
            per_joint.append(clip.j[:, jt, 1] - _rest_height(clip, jt, s, e))
    return np.min(np.stack(per_joint, -1), -1)


def _foot_clearance(clip: _Clip, side: int, s: int, e: int) -> np.ndarray:
    ankle, toe = FEET[side]
    return np.minimum(clip.j[:, ankle, 1] - _rest_height(clip, ankle, s, e), clip.j[:, toe, 1] - _rest_height(clip, toe, s, e))


def _forward_or_in_place(clip: _Clip, a: dict, s: int, e: int, r: _Result, verb: str, least_forward: float,
                         in_place: float) -> float:
    """``forward``: travel forward >= ``least_forward``; in place: net travel <= ``in_place``. Returns the forward travel."""
    fwd = clip.travel(s, e)[0]
    if a.get("forward") is True:
        r.need(fwd >= least_forward, f"{verb} {fwd:+.2f} m forward, wanted >= {least_forward:.2f}")
    elif a.get("forward") is False:
        moved = clip.net_travel(s, e)
        r.need(moved <= in_place, f"moved {moved:.2f} m, wanted in place (<= {in_place:g})")
    return fwd


def _check_jump(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    clearance = _feet_clearance(clip, s, e)
    flights = _in(_events(clearance, 0.04, 0.02), s, e)
    count = _wanted(a, 1)
    r.values["flights"] = len(flights)
    ok, want = _count_ok(len(flights), count)
    r.need(ok, f"{len(flights)} jumps (both feet off the floor), {want}")
    bend = float(np.ptp(clip.legs[s:e]))
    r.values["bend"] = bend
    r.need(bend >= 0.06, f"legs bent {100 * bend:.0f} cm (>= 6)")
    r.values["fwd"] = _forward_or_in_place(clip, a, s, e, r, "jumped", 0.15 * (count or 1), 0.25)


def _check_hop(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    count = _wanted(a, 2)
    leg = a.get("leg")
    ankle_y = np.stack([clip.j[s:e, ANKLES[0], 1], clip.j[s:e, ANKLES[1], 1]], -1)
    if leg in SIDE_INDEX:
        hop = SIDE_INDEX[leg]
    else:  # the hopping leg is the lower one
        hop = int(np.median(ankle_y[:, 0]) > np.median(ankle_y[:, 1]))
    free = 1 - hop
    # Held up: over the middle half of the segment (the foot is raised and lowered at the ends).
    q = (e - s) // 4
    held = float(np.median(ankle_y[q : e - s - q, free] - ankle_y[q : e - s - q, hop])) if e - s >= 8 else 0.0
    r.values["held"] = held
    r.need(held >= 0.08, f"{SIDES[free]} foot held {100 * held:.0f} cm above the {SIDES[hop]} (>= 8)")
    # A hop: a pelvis bounce (prominence >= 6 cm) with the hopping foot >= 2 cm off the floor.
    from scipy.signal import find_peaks

    clearance = _foot_clearance(clip, hop, s, e)
    peaks, _ = find_peaks(clip.pelvis_y[s:e], prominence=0.06)
    near = max(1, int(round(2 * clip.fps / FPS)))
    hops = [t for t in s + peaks if clearance[max(s, t - near) : t + near + 1].max() >= 0.02]
    r.values["hops"] = len(hops)
    ok, want = _count_ok(len(hops), count)
    r.need(ok, f"{len(hops)} hops on the {SIDES[hop]} foot, {want}")
    _forward_or_in_place(clip, a, s, e, r, "hopped", 0.1 * (count or 1), 0.3)


def _check_kick(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    count = _wanted(a, 1)
    kicks = []
    rise = []
    for side in (0, 1):
        up = clip.j[:, ANKLES[side], 1] - _rest_height(clip, ANKLES[side], s, e)
        front = clip.local(ANKLES[side], slice(None))[:, 0]
        kicks.append(_in(_events(np.where(front >= 0.15, up, 0.0), 0.2, 0.1), s, e))
        rise.append(float(up[s:e].max()))
    leg = a.get("leg")
    r.values.update(kicks_l=len(kicks[0]), kicks_r=len(kicks[1]), rise_l=rise[0], rise_r=rise[1])
    if leg in SIDE_INDEX:
        k, other = SIDE_INDEX[leg], 1 - SIDE_INDEX[leg]
        ok, want = _count_ok(len(kicks[k]), count)
        r.need(ok, f"{len(kicks[k])} {leg} kicks, {want}")
        r.need(rise[other] < 0.25, f"{SIDES[other]} foot rose {100 * rise[other]:.0f} cm (< 25)")
    else:
        ok, want = _count_ok(len(kicks[0]) + len(kicks[1]), count)
        r.need(ok, f"{len(kicks[0]) + len(kicks[1])} kicks, {want}")


# --------------------------------------------------------------------------- postures
def _check_squat(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    count = _wanted(a, 1)
    drop = float(clip.legs[s:e].max()) - clip.legs
    dips = _in(_events(drop, 0.12, 0.08), s, e)
    r.values["dips"] = len(dips)
    r.values["depth"] = float(drop[s:e].max())
    ok, want = _count_ok(len(dips), count)
    r.need(ok, f"{len(dips)} squats (pelvis >= 12 cm down), {want}")
    moved = clip.net_travel(s, e)
    r.need(moved <= 0.25, f"moved {moved:.2f} m (<= 0.25)")


def _stays(clip: _Clip, s: int, e: int, r: _Result, limit: float = 0.4) -> None:
    moved = clip.max_travel(s, e)
    r.values["moved"] = moved
    r.need(moved <= limit, f"moved {moved:.2f} m (<= {limit})")


def _check_crouch(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    drop = float(clip.legs[s:e].max()) - clip.legs[s:e]
    low = int((drop >= 0.25).sum())
    need = max(2, int(round(10 * clip.scale)))
    r.values.update(low=low, depth=float(drop.max()))
    r.need(low >= need, f"pelvis >= 25 cm down for {low} frames (>= {need})")
    t = s + int(np.argmax(drop))
    knees = min(clip.j[t, KNEES[0], 1], clip.j[t, KNEES[1], 1])
    pelvis = float(clip.j[t, PELVIS, 1])
    r.values.update(knees=knees, pelvis=pelvis)
    r.need(knees >= 0.2, f"lowest knee {100 * knees:.0f} cm above the floor (>= 20, not kneeling)")
    r.need(pelvis >= 0.25, f"pelvis {100 * pelvis:.0f} cm above the floor (>= 25, not sitting)")
    _stays(clip, s, e, r)


def _check_sit(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    t = s + int(np.argmin(clip.j[s:e, PELVIS, 1]))
    low, legs = float(clip.j[t, PELVIS, 1]), float(clip.legs[t])
    r.values.update(pelvis=low, legs=legs)
    r.need(low <= 0.3, f"pelvis down to {100 * low:.0f} cm above the floor (<= 30)")
    r.need(legs <= 0.3, f"pelvis {100 * legs:.0f} cm above the lower ankle (<= 30)")
    _stays(clip, s, e, r, 0.7)  # sitting back on the floor moves the pelvis ~0.5 m


def _check_kneel(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    knees = clip.j[s:e][:, list(KNEES), 1]
    side = a.get("side")
    if side in SIDE_INDEX:
        k = SIDE_INDEX[side]
    else:
        k = int(knees[:, 1].min() < knees[:, 0].min())
    t = int(np.argmin(knees[:, k]))
    low, other = float(knees[t, k]), float(knees[t, 1 - k])
    r.values.update(knee=low, other=other)
    r.need(low <= 0.15, f"{SIDES[k]} knee down to {100 * low:.0f} cm (<= 15)")
    r.need(other - low >= 0.12, f"{SIDES[1 - k]} knee {100 * (other - low):.0f} cm higher (>= 12)")
    _stays(clip, s, e, r)


def _check_bow(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    head = clip.local(HEAD, slice(s, e))
    head_y = clip.j[s:e, HEAD, 1]
    drop = float(head_y.max() - head_y.min())
    t = int(np.argmin(head_y))
    ahead = float(head[t, 0] - head[:, 0].min())
    pelvis_drop = float(clip.pelvis_y[s:e].max() - clip.pelvis_y[s + t])
    r.values.update(drop=drop, ahead=ahead, pelvis_drop=pelvis_drop)
    r.need(drop >= 0.06, f"head dropped {100 * drop:.0f} cm (>= 6)")
    r.need(ahead >= 0.12, f"head went {100 * ahead:.0f} cm forward (>= 12)")
    r.need(
        pelvis_drop < 0.2 and pelvis_drop <= 0.5 * drop,
        f"pelvis dropped {100 * pelvis_drop:.0f} cm (< 20 and <= half the head's: a bow, not a squat)",
    )
    _stays(clip, s, e, r)


def _check_idle(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    moved = clip.max_travel(s, e)
    r.need(moved <= 0.25, f"moved {moved:.2f} m (<= 0.25)")
    lifts = sum(_foot_lifts(clip, side, s, e, 0.05) for side in (0, 1))
    r.need(lifts == 0, f"{lifts} foot lifts (0)")
    var = float(np.ptp(clip.pelvis_y[s:e]))
    r.need(var <= 0.08, f"pelvis height varied {100 * var:.0f} cm (<= 8)")
    turn = clip.heading_change(s, e)
    r.need(abs(turn) <= 30, f"heading changed {_turn_word(turn)} (<= 30)")
    r.values.update(moved=moved, lifts=lifts, var=var)
    for side in (0, 1):
        down, top = _arm_down(clip, side, s, e)
        r.values[f"arm_{SIDES[side]}"] = top
        r.need(down, f"{SIDES[side]} wrist {100 * top:+.0f} cm vs its shoulder (arms down < -20)")
    if a.get("look") and a.get("first") in SIDE_INDEX:
        lat = _head_side(clip, s, e)
        lat = lat - np.median(lat)
        first = _first_extreme(lat, 0.015)
        r.values["look"] = float(min(lat.max(), -lat.min()))
        r.need(first == a["first"], f"looked {first or 'nowhere'} first, wanted {a['first']}")


def _head_side(clip: _Clip, s: int, e: int) -> np.ndarray:
    """Sideways offset of the head from the neck in the hips' facing (positive = left)."""
    j = clip.j[s:e]
    across = j[:, HIPS[1]] - j[:, HIPS[0]]
    fwd = np.stack([across[:, 2], -across[:, 0]], -1)
    fwd /= np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9)
    left = np.stack([fwd[:, 1], -fwd[:, 0]], -1)
    d = (j[:, HEAD] - j[:, NECK])[:, [0, 2]]
    return (d * left).sum(-1)


def _first_extreme(x: np.ndarray, thr: float) -> str | None:
    """Which way (positive = left) the signal goes to first, by its extremes both ways; None
    unless it goes >= ``thr`` both ways (looking one way then the other)."""
    if x.max() < thr or -x.min() < thr:
        return None
    return "left" if np.argmax(x) < np.argmin(x) else "right"


# --------------------------------------------------------------------------- gestures
def _hands(a: dict) -> tuple[int, ...]:
    return {"left": (0,), "right": (1,), "both": (0, 1)}.get(a.get("hands"), (0, 1))


def _arm_down(clip: _Clip, side: int, s: int, e: int) -> tuple[bool, float]:
    """An arm at rest: the wrist's 90th-percentile height relative to its shoulder is below it."""
    rel = clip.j[s:e, WRISTS[side], 1] - clip.j[s:e, SHOULDERS[side], 1]
    top = float(np.percentile(rel, 90))
    return top < -0.2, top


def _swings(clip: _Clip, side: int, frames: np.ndarray) -> int:
    """Side-to-side swings of a forearm: extremes of the wrist's lateral offset from the elbow."""
    if len(frames) < 4:
        return 0
    d = (clip.j[frames, WRISTS[side]] - clip.j[frames, ELBOWS[side]])[:, [0, 2]]
    lat = _smooth((d * clip.left[frames]).sum(-1), 0.7)
    lat = lat - np.median(lat)
    thr = max(0.02, 0.35 * float(np.abs(lat).max()))
    ups = len(_events(lat, thr, 0.0))
    downs = len(_events(-lat, thr, 0.0))
    return min(ups, downs)


def _check_wave(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    hands = _hands(a)
    overhead = a.get("overhead")
    for side in hands:
        rel = clip.j[s:e, WRISTS[side], 1] - clip.j[s:e, SHOULDERS[side], 1]
        raised = np.flatnonzero(rel >= 0.1)
        name = SIDES[side]
        need = max(2, int(round(4 * clip.scale)))
        r.need(len(raised) >= need, f"{name} wrist above the shoulder in {len(raised)} frames (>= {need})")
        if len(raised) < need:
            continue
        above_head = clip.j[s:e, WRISTS[side], 1] - clip.j[s:e, HEAD, 1]
        top = float(np.percentile(above_head[raised], 75))
        r.values[f"top_{name}"] = top
        if overhead is True:
            r.need(top >= 0.15, f"{name} wrist {100 * top:+.0f} cm vs the head (overhead >= +15)")
        elif overhead is False:
            r.need(top <= 0.12, f"{name} wrist {100 * top:+.0f} cm vs the head (not overhead <= +12)")
        swings = _swings(clip, side, s + raised)
        r.values[f"swings_{name}"] = swings
        r.need(swings >= 2, f"{name} hand swung {swings} times (>= 2)")
    for side in set((0, 1)) - set(hands):
        down, top = _arm_down(clip, side, s, e)
        r.need(down, f"{SIDES[side]} wrist {100 * top:+.0f} cm vs its shoulder (stays down < -20)")


def _check_raise(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    hands = _hands(a)
    direction = a.get("direction", "up")
    for side in hands:
        name = SIDES[side]
        w = clip.local(WRISTS[side], slice(s, e), SHOULDERS[side])  # forward, left, up from the shoulder
        out = w[:, 1] * (1 if side == 0 else -1)  # toward its own side
        above_head = clip.j[s:e, WRISTS[side], 1] - clip.j[s:e, HEAD, 1]
        if direction == "up":
            score = above_head
            best = float(np.percentile(score, 90))
            r.need(best >= 0.1, f"{name} wrist {100 * best:+.0f} cm vs the head (up >= +10)")
        else:
            reach = w[:, 0] if direction == "forward" else out
            level = np.abs(w[:, 2]) <= 0.25
            score = np.where(level, reach, -1.0)
            best = float(np.percentile(score, 90))
            what = "in front of" if direction == "forward" else "out to the side of"
            r.need(best >= 0.35, f"{name} wrist {100 * best:.0f} cm {what} the shoulder at its height (>= 35)")
        r.values[f"best_{name}"] = best
    for side in set((0, 1)) - set(hands):
        down, top = _arm_down(clip, side, s, e)
        w = clip.local(WRISTS[side], slice(s, e), SHOULDERS[side])
        horiz = float(np.percentile(np.linalg.norm(w[:, :2], axis=-1), 90))
        r.need(
            down and horiz < 0.35,
            f"{SIDES[side]} wrist {100 * top:+.0f} cm vs its shoulder, {100 * horiz:.0f} cm out (stays down: < -20, < 35)",
        )


def _check_clap(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    count = _wanted(a, 2)
    # Claps are quick (a closure can last 2 frames): the wrists' distance is smoothed less.
    gap = _smooth(np.linalg.norm(clip.raw[:, WRISTS[0]] - clip.raw[:, WRISTS[1]], axis=-1), 0.5 * clip.fps / FPS)
    meets = _in(_events(-gap, -0.2, -0.3), s, e)
    r.values["closed"] = max([float(gap[ev[2]]) for ev in meets], default=0.0)
    t = [ev[2] for ev in meets]
    r.values["claps"] = len(meets)
    ok, want = _count_ok(len(meets), count)
    r.need(ok, f"{len(meets)} claps, {want}")
    if t:
        mid = (clip.j[t, WRISTS[0]] + clip.j[t, WRISTS[1]]) / 2
        chest = (clip.j[t, SHOULDERS[0]] + clip.j[t, SHOULDERS[1]]) / 2
        front = clip.to_body((mid - chest)[:, [0, 2]], np.array(t))[:, 0]
        r.values["front"] = float(front.min())
        r.need(float(np.median(front)) >= 0.1, f"hands met {100 * float(np.median(front)):.0f} cm in front of the chest (>= 10)")


def _check_punch(clip: _Clip, a: dict, s: int, e: int, r: _Result) -> None:
    count = _wanted(a, 1)
    punches = []
    for side in (0, 1):
        reach = clip.local(WRISTS[side], slice(None), SHOULDERS[side])[:, 0]
        found = _in(_events(reach, 0.38, 0.32), s, e)
        punches += [(ev[2], side) for ev in found]
        r.values[f"reach_{SIDES[side]}"] = min([float(reach[ev[2]]) for ev in found], default=1.0)
    punches.sort()
    seq = "".join("LR"[side] for _, side in punches)
    r.values["punches"] = len(punches)
    ok, want = _count_ok(len(punches), count)
    r.need(ok, f"{len(punches)} punches ({seq or '-'}), {want}")
    hands = a.get("hands")
    if hands in ("left", "right"):
        want = hands[0].upper()
        r.need(bool(seq) and set(seq) <= {want}, f"punched with {seq or '-'}, wanted {hands} only")
    elif hands == "both" and punches:
        first = a.get("first")
        ok = set(seq) == {"L", "R"}
        if first in SIDE_INDEX:
            ok = ok and seq[0] == first[0].upper()
        r.need(ok, f"punched {seq}, wanted both hands" + (f" starting {first}" if first in SIDE_INDEX else ""))


_RULES: dict[str, Callable[[_Clip, dict, int, int, _Result], None]] = {
    "walk": _check_locomotion,
    "jog": _check_locomotion,
    "run": _check_locomotion,
    "turn": _check_turn,
    "spin": _check_turn,
    "side_step": _check_side_step,
    "march": _check_march,
    "jump": _check_jump,
    "hop": _check_hop,
    "kick": _check_kick,
    "squat": _check_squat,
    "crouch": _check_crouch,
    "sit": _check_sit,
    "kneel": _check_kneel,
    "bow": _check_bow,
    "idle": _check_idle,
    "wave": _check_wave,
    "raise_arms": _check_raise,
    "clap": _check_clap,
    "punch": _check_punch,
}
FAMILIES = tuple(_RULES)


# --------------------------------------------------------------------------- segments and API
def action_segments(num_frames: int, actions: Sequence[dict], fps: float = 20.0) -> list[tuple[int, int]]:
    """Frame ranges [start, end) of each action in a clip of ``num_frames`` frames at ``fps``.

    The metadata counts frames at 20 fps and its lengths sum to one frame more than the clip
    (features drop a frame); a clip whose length differs from that by more than a frame is
    scaled proportionally, except a clip cut at 196 frames from a longer one, which keeps the
    metadata's timing (its last actions are then partly or wholly missing).
    """
    return _segments(num_frames, actions, fps)[0]


def _segments(num_frames: int, actions: Sequence[dict], fps: float) -> tuple[list[tuple[int, int]], float]:
    """(segments, clip frames per metadata frame)."""
    lengths = []
    for a in actions:
        n = a.get("frames") if isinstance(a, dict) else None
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise MotionLCMError(f"every action in the metadata needs a positive integer 'frames', got {n!r}")
        lengths.append(int(n))
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.float64)
    expected = max(bounds[-1] - 1, 1.0) * fps / FPS
    cut = num_frames == MAX_CLIP_FRAMES and expected > MAX_CLIP_FRAMES + 1
    scale = fps / FPS if abs(num_frames - expected) <= 1 or cut else num_frames / max(bounds[-1] - 1, 1.0)
    edges = np.clip(np.round(bounds * scale).astype(int), 0, num_frames)
    if not cut:
        edges[-1] = num_frames
    return [(int(edges[i]), int(edges[i + 1])) for i in range(len(actions))], float(scale)


BOUNDARY_SLACK = 0.25  # a boundary between two actions may move by this share of the shorter one


def _check_all(joints: np.ndarray, actions: Sequence[dict], fps: float,
               boundary_slack: float = BOUNDARY_SLACK) -> list[tuple[ActionCheck, dict]]:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)) or not fps > 0:
        raise MotionLCMError(f"fps must be a positive number, got {fps!r}")
    if not 0 <= boundary_slack < 0.5:
        raise MotionLCMError(f"boundary_slack must be in [0, 0.5), got {boundary_slack!r}")
    clip = _Clip(joints, float(fps))
    if not isinstance(actions, (list, tuple)) or not actions:
        raise MotionLCMError("the metadata lists no actions")
    for a in actions:
        if not isinstance(a, dict) or a.get("family") not in _RULES:
            name = a.get("family") if isinstance(a, dict) else a
            raise MotionLCMError(f"no prompt check for action family {name!r}; known: {', '.join(FAMILIES)}")
    segments, clip.scale = _segments(clip.n, actions, clip.fps)
    done: dict[tuple[int, int, int], tuple[ActionCheck, dict]] = {}

    def check(i: int, s: int, e: int) -> tuple[ActionCheck, dict]:
        if (i, s, e) not in done:
            family = actions[i]["family"]
            if e - s < 4:
                done[i, s, e] = (ActionCheck(family, False, f"only {e - s} frames of this action in the clip"), {})
            else:
                r = _Result()
                _RULES[family](clip, actions[i], s, e, r)
                done[i, s, e] = (ActionCheck(family, r.ok, r.detail()), r.values)
        return done[i, s, e]

    edges = [segments[0][0]] + [e for _, e in segments]
    # A caption states the actions' order, not their timing: each inner boundary may move by up to
    # ``boundary_slack`` of the shorter neighbouring action; the placement passing most actions
    # (then the one closest to the metadata) is kept. Boundaries stay ordered: a partition, so no
    # event can count for two actions.
    options = [[edges[0]]]
    for k in range(1, len(actions)):
        room = boundary_slack * min(edges[k] - edges[k - 1], edges[k + 1] - edges[k])
        moved = {int(round(edges[k] + f * room)) for f in (0.0, -0.5, 0.5, -1.0, 1.0)}
        options.append(sorted(moved, key=lambda b, k=k: (abs(b - edges[k]), b)))
    options.append([edges[-1]])
    best, best_key = None, None
    for inner in itertools.product(*options[1:-1]):
        bounds = [edges[0], *inner, edges[-1]]
        if any(bounds[i + 1] < bounds[i] for i in range(len(bounds) - 1)):
            continue
        results = [check(i, bounds[i], bounds[i + 1]) for i in range(len(actions))]
        key = (sum(c.passed for c, _ in results), -sum(abs(b - m) for b, m in zip(bounds, edges)))
        if best_key is None or key > best_key:
            best, best_key = results, key
    return best


# The side-valued parameters a caption can leave open, per family (the others always name their side).
_OPEN_SIDES = {"turn": ("direction",), "spin": ("direction",), "kneel": ("side",), "punch": ("first",), "idle": ("first",)}
_OPEN_PATHS = {"curve_left": "curve", "curve_right": "curve", "circle_ccw": "circle", "circle_cw": "circle"}


def caption_actions(actions: Sequence[dict], sideless: Sequence[int] = (),
                    unstated: dict | None = None) -> list[dict]:
    """``actions`` as one caption states them: for each action index in ``sideless`` (its phrase
    names no side, ``synth_meta.json`` ``captions[i]["sideless"]``), the side it leaves open is
    dropped, so either side passes (see the module notes); ``unstated`` (``captions[i]["unstated"]``,
    action index -> parameter names) opens a count (any number >= 1 passes), a wave's height or a
    punch's hands. Returns new dicts; others unchanged."""
    out = [dict(a) for a in actions]

    def action(index) -> dict:
        if not str(index).isdigit() or not 0 <= int(index) < len(out):
            raise MotionLCMError(f"caption metadata names action {index}, but the motion has {len(out)}")
        return out[int(index)]

    for index, names in (unstated or {}).items():
        a = action(index)
        for name in names:
            if name == "count" and "count" in a:
                a["count"] = None
            elif name in ("overhead", "hands"):
                a.pop(name, None)
                if name == "hands":
                    a.pop("first", None)
    for index in sideless:
        a = action(index)
        for key in _OPEN_SIDES.get(a.get("family"), ()):
            if a.get(key) in SIDE_INDEX:
                del a[key]
        if _RULES.get(a.get("family")) is _check_locomotion and a.get("path") in _OPEN_PATHS:
            a["path"] = _OPEN_PATHS[a["path"]]
    return out


def _caption_entry(meta: dict, caption: str) -> dict:
    """One motion's ``synth_meta.json`` record of ``caption`` ({} when it has none)."""
    for entry in meta.get("captions") or ():
        if isinstance(entry, dict) and entry.get("text") == caption:
            return entry
    return {}


def unstated_of(meta: dict, caption: str) -> dict[str, list[str]]:
    """Per action index, the parameters ``caption`` leaves unstated, from one motion's
    ``synth_meta.json`` entry; {} when the corpus does not record it (before 1.2)."""
    return dict(_caption_entry(meta, caption).get("unstated") or {})


def stated_actions(meta: dict, caption: str) -> list[dict]:
    """One motion's actions as ``caption`` states them (:func:`caption_actions` with its record)."""
    return caption_actions(meta["actions"], sideless_of(meta, caption), unstated_of(meta, caption))


def sideless_of(meta: dict, caption: str) -> tuple[int, ...]:
    """The actions whose side ``caption`` leaves open, from one motion's ``synth_meta.json`` entry;
    () when the corpus does not record it (version 1.0) or the caption is not among its captions."""
    return tuple(int(i) for i in _caption_entry(meta, caption).get("sideless", ()))


def check_actions(joints: np.ndarray, actions: list[dict], fps: float = 20.0,
                  boundary_slack: float = BOUNDARY_SLACK) -> list[ActionCheck]:
    """One :class:`ActionCheck` per action of ``actions`` (``synth_meta.json`` entries) on ``joints``;
    ``boundary_slack`` 0 keeps the metadata's timing exactly."""
    return [c for c, _ in _check_all(joints, actions, fps, boundary_slack)]


def prompt_following(motions: Sequence[np.ndarray], metas: Sequence[dict], fps: float = 20.0,
                     boundary_slack: float = BOUNDARY_SLACK) -> dict:
    """Pass rates of :func:`check_actions` over clips; ``metas[i]`` is motion i's metadata
    (``{"actions": [...]}``, as in ``synth_meta.json``) or directly its list of actions.

    Returns ``{"overall": pass rate over all actions, "motions": share of motions whose actions
    all pass, "families": {family: pass rate}, "counts": {family: number of actions}}``.
    """
    if len(motions) != len(metas):
        raise MotionLCMError(f"got {len(motions)} motions but {len(metas)} metadata entries")
    if not motions:
        raise MotionLCMError("no motions to check")
    passed: dict[str, int] = {}
    counts: dict[str, int] = {}
    whole = 0
    for joints, meta in zip(motions, metas):
        actions = meta.get("actions") if isinstance(meta, dict) else meta
        if not isinstance(actions, list):
            raise MotionLCMError("each metadata entry needs an 'actions' list")
        checks = check_actions(joints, actions, fps, boundary_slack)
        whole += all(c.passed for c in checks)
        for c in checks:
            counts[c.family] = counts.get(c.family, 0) + 1
            passed[c.family] = passed.get(c.family, 0) + int(c.passed)
    total = sum(counts.values())
    return {
        "overall": sum(passed.values()) / total,
        "motions": whole / len(motions),
        "families": {f: passed[f] / counts[f] for f in sorted(counts)},
        "counts": dict(sorted(counts.items())),
    }


def load_synth_meta(root) -> dict[str, dict]:
    """``synth_meta.json``'s ``motions`` (name -> {"families", "actions"}) of a procedural corpus.

    ``root`` is the corpus directory or the JSON file itself.
    """
    path = Path(root)
    if path.is_dir():
        path = path / "synth_meta.json"
    if not path.is_file():
        raise MotionLCMError(f"no synth_meta.json at {path}: prompt checks need a procedural corpus (motionlcm synth)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MotionLCMError(f"cannot read {path}: {exc}") from None
    motions = data.get("motions") if isinstance(data, dict) else None
    if not isinstance(motions, dict) or not all(
        isinstance(m, dict) and isinstance(m.get("actions"), list) for m in motions.values()
    ):
        raise MotionLCMError(f"{path} is not a synth metadata file: it needs a 'motions' map of {{'actions': [...]}}")
    return motions


__all__ = ["ActionCheck", "check_actions", "caption_actions", "sideless_of", "prompt_following", "load_synth_meta",
           "action_segments", "FAMILIES"]
