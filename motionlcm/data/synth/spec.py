"""What an action is: a family, its sampled parameters and its length in frames.

Planning draws every random choice into ``params``; performing is then deterministic, and
the captions are written from the same ``params``, so text and motion always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .body import Channels
from .poses import BodyState
from .style import Style


@dataclass(frozen=True)
class ActionSpec:
    family: str
    params: dict[str, Any] = field(default_factory=dict)
    frames: int = 0


PlanFn = Callable[[np.random.Generator, Style, int], "ActionSpec | None"]
PerformFn = Callable[[ActionSpec, Style, BodyState], "tuple[Channels, BodyState]"]


@dataclass(frozen=True)
class Family:
    """An action family: ``plan(rng, style, budget_frames)`` returns a spec no longer than the
    budget (or None if it cannot fit), ``perform(spec, style, state)`` produces its channels."""

    name: str
    plan: PlanFn
    perform: PerformFn
    min_frames: int
    weight: float = 1.0


__all__ = ["ActionSpec", "Family"]
