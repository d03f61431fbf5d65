"""Sequences of 1-3 actions: planning within the length limits, smooth transitions, captions.

Each action starts from the body state the previous one ended in (position, heading, both
feet planted), so root and feet are continuous by construction. The remaining pose channels
(pelvis, trunk, head, arms) are blended at every boundary: the jump between the two actions
is added to the start of the next one and decays over ``TRANSITION_FRAMES``.
"""

from __future__ import annotations

import numpy as np

from .actions import FAMILIES, FAMILY_NAMES
from .body import POSE_CHANNELS, Channels, solve_joints
from .captions import motion_captions
from .easing import smoothstep
from .poses import BodyState
from .spec import ActionSpec
from .style import Style, sample_style

MIN_FRAMES = 41  # joints frames; the features have one frame less (40)
MAX_FRAMES = 197  # -> 196 feature frames, HumanML3D's longest
TRANSITION_FRAMES = 8  # 0.4 s
_ACTION_COUNT_P = (0.35, 0.45, 0.2)
_RESERVE_PER_ACTION = 36
# Parameters worth keeping in the dataset's metadata (they decide the captions' words).
LABEL_KEYS = (
    "kind",
    "direction",
    "path",
    "pace",
    "hands",
    "leg",
    "side",
    "count",
    "steps",
    "turns",
    "degrees",
    "forward",
    "overhead",
    "first",
    "look",
    "arms_forward",
)


def _draw_family(rng: np.random.Generator, exclude: str | None) -> str:
    names = [n for n in FAMILY_NAMES if n != exclude]
    weights = np.array([FAMILIES[n].weight for n in names])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def plan_sequence(
    rng: np.random.Generator, style: Style, family: str | None = None, num_actions: int | None = None
) -> list[ActionSpec]:
    """Action specs whose total length lies in [MIN_FRAMES, MAX_FRAMES].

    ``family`` fixes the first action's family, ``num_actions`` the number of actions (an
    idle stand is appended if the motion would otherwise be too short).
    """
    count = num_actions if num_actions is not None else int(rng.choice(3, p=_ACTION_COUNT_P)) + 1
    specs: list[ActionSpec] = []
    remaining = MAX_FRAMES
    for i in range(count):
        budget = remaining - _RESERVE_PER_ACTION * (count - i - 1)
        spec = None
        for attempt in range(20):
            name = family if (i == 0 and family is not None) else _draw_family(rng, specs[-1].family if specs else None)
            spec = FAMILIES[name].plan(rng, style, budget)
            if spec is not None:
                break
        if spec is None:
            if i == 0 and family is not None:
                raise RuntimeError(f"could not fit a {family!r} action in {budget} frames")
            break
        specs.append(spec)
        remaining -= spec.frames
    total = sum(s.frames for s in specs)
    if total < MIN_FRAMES:
        specs.append(_idle_filler(rng, style, MIN_FRAMES - total, remaining))
    return specs


def _idle_filler(rng: np.random.Generator, style: Style, needed: int, budget: int) -> ActionSpec:
    spec = FAMILIES["idle"].plan(rng, style, budget)
    frames = min(max(spec.frames, needed), budget)
    return ActionSpec("idle", spec.params, frames)


def perform_sequence(specs: list[ActionSpec], style: Style) -> Channels:
    state = BodyState.initial(style)
    parts: list[Channels] = []
    for spec in specs:
        part, state = FAMILIES[spec.family].perform(spec, style, state)
        if parts:
            _blend_into(parts[-1], part)
        parts.append(part)
    return Channels.concatenate(parts)


def _blend_into(previous: Channels, current: Channels) -> None:
    """Make ``current`` start where ``previous`` ended, easing into its own motion."""
    k = min(TRANSITION_FRAMES, len(current))
    fade = 1.0 - smoothstep((np.arange(k) + 1.0) / (k + 1.0))
    for name in POSE_CHANNELS:
        prev, cur = getattr(previous, name), getattr(current, name)
        jump = prev[-1] - cur[0]
        cur[:k] += jump[None] * fade.reshape((k,) + (1,) * jump.ndim)


def synthesize_motion(
    rng: np.random.Generator,
    family: str | None = None,
    num_actions: int | None = None,
    num_captions: int = 3,
) -> tuple[np.ndarray, list[tuple[str, str]], dict]:
    """One motion: joints (T, 22, 3) float64, captions [(text, tokens)], and metadata.

    ``family`` forces the first action's family (see ``FAMILY_NAMES``) and ``num_actions``
    the number of actions; otherwise both are drawn. Joints are in metres, Y up, 20 fps,
    starting at the origin facing +Z (the person's left is +X).
    """
    if family is not None and family not in FAMILIES:
        from ...errors import MotionLCMError

        raise MotionLCMError(f"unknown action family {family!r}; choose from {', '.join(FAMILY_NAMES)}")
    style = sample_style(rng)
    specs = plan_sequence(rng, style, family, num_actions)
    joints = solve_joints(perform_sequence(specs, style))
    described = motion_captions(specs, rng, num_captions)
    captions = [(text, tokens) for text, tokens, _, _ in described]
    meta = {
        "families": [s.family for s in specs],
        "actions": [
            {"family": s.family, "frames": int(s.frames), **{k: _plain(s.params[k]) for k in LABEL_KEYS if k in s.params}}
            for s in specs
        ],
        # Per caption (in the order of texts/ID.txt): the actions whose side it leaves open, and
        # per action index the parameters it does not state (its count, a wave's height, ...).
        "captions": [
            {"text": text, "sideless": list(sideless), "unstated": {str(i): list(p) for i, p in sorted(unstated.items())}}
            for text, _, sideless, unstated in described
        ],
    }
    return joints, captions, meta


def _plain(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), 4)
    return value


__all__ = ["plan_sequence", "perform_sequence", "synthesize_motion", "MIN_FRAMES", "MAX_FRAMES", "TRANSITION_FRAMES"]
