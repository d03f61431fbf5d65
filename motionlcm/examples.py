"""Example prompts of the README and the app, each with the actions it asks for.

The actions are in the procedural corpus' metadata form (``synth_meta.json``: a family and the
parameters its captions name; a count the prompt does not state is None, as the checks read a
caption that leaves it open; see :mod:`motionlcm.evaluation.prompt_checks`), with the share of
the clip each takes, so that a generated motion can be judged by the rule-based checks, no
learned model involved. Only prompts that the shipped model passes are listed here
(``python scripts/readme_examples.py`` measures them; the model card has the numbers).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .motion import FPS


@dataclass(frozen=True)
class ExamplePrompt:
    text: str
    seconds: float
    actions: tuple[tuple[float, dict], ...] = field(default=())  # (share of the clip, action)

    @property
    def frames(self) -> int:
        return int(round(self.seconds * FPS))

    def metadata(self) -> list[dict]:
        """The actions with metadata frame counts (a clip has one frame less than its metadata)."""
        counts = [int(round(share * (self.frames + 1))) for share, _ in self.actions]
        counts[-1] = self.frames + 1 - sum(counts[:-1])
        return [{**action, "frames": n} for n, (_, action) in zip(counts, self.actions)]


def _walk(direction: str = "forward", path: str = "straight", kind: str = "walk") -> dict:
    return {"family": kind, "kind": kind, "direction": direction, "path": path}


CANDIDATES: tuple[ExamplePrompt, ...] = (
    ExamplePrompt("a person walks forward", 4.0, ((1.0, _walk()),)),
    ExamplePrompt("a person walks in a clockwise circle", 6.0, ((1.0, _walk(path="circle_cw")),)),
    ExamplePrompt("a person runs forward", 4.0, ((1.0, _walk(kind="run")),)),
    ExamplePrompt("a person walks backwards", 4.0, ((1.0, _walk("backward")),)),
    ExamplePrompt("a person jogs in a counterclockwise circle", 6.0, ((1.0, _walk(path="circle_ccw", kind="jog")),)),
    ExamplePrompt("a person jumps up three times", 4.5, ((1.0, {"family": "jump", "count": 3, "forward": False}),)),
    ExamplePrompt("a person jumps forward twice", 4.0, ((1.0, {"family": "jump", "count": 2, "forward": True}),)),
    ExamplePrompt("a person turns around to the left", 3.0, ((1.0, {"family": "turn", "direction": "left", "degrees": 180.0}),)),
    ExamplePrompt("a person kicks with the right leg", 2.5, ((1.0, {"family": "kick", "leg": "right", "count": None}),)),
    ExamplePrompt("a person waves with the left hand", 3.5, ((1.0, {"family": "wave", "hands": "left"}),)),
    ExamplePrompt("a person sits down on the ground and stands back up", 6.0, ((1.0, {"family": "sit"}),)),
    ExamplePrompt("a person takes two side steps to the left", 4.0,
                  ((1.0, {"family": "side_step", "direction": "left", "count": 2}),)),
    ExamplePrompt("a person squats down three times", 6.0, ((1.0, {"family": "squat", "count": 3}),)),
    ExamplePrompt("a person claps three times", 3.0, ((1.0, {"family": "clap", "count": 3}),)),
    ExamplePrompt("a person drops to their left knee and rises again", 5.0, ((1.0, {"family": "kneel", "side": "left"}),)),
    ExamplePrompt("a person does a full turn to the right", 2.5,
                  ((1.0, {"family": "spin", "direction": "right", "turns": 1}),)),
    ExamplePrompt("a person walks forward, then jumps", 5.0,
                  ((0.6, _walk()), (0.4, {"family": "jump", "count": None, "forward": False}))),
)

# the ones the shipped model passes (scripts/readme_examples.py, model card); the app shows these
PASSING: tuple[str, ...] = (
    "a person walks forward", "a person runs forward", "a person walks backwards",
    "a person kicks with the right leg", "a person sits down on the ground and stands back up",
    "a person drops to their left knee and rises again", "a person does a full turn to the right",
)
EXAMPLES: tuple[ExamplePrompt, ...] = tuple(p for p in CANDIDATES if p.text in PASSING)

__all__ = ["ExamplePrompt", "CANDIDATES", "PASSING", "EXAMPLES"]
