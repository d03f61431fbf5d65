"""The registry of action families and how often each is drawn."""

from __future__ import annotations

from functools import partial

from . import ballistic, gestures, locomotion, postures
from .spec import Family

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("walk", partial(locomotion.plan_locomotion, "walk"), locomotion.perform_locomotion, 40, 2.2),
        Family("jog", partial(locomotion.plan_locomotion, "jog"), locomotion.perform_locomotion, 30, 1.0),
        Family("run", partial(locomotion.plan_locomotion, "run"), locomotion.perform_locomotion, 30, 1.0),
        Family("turn", locomotion.plan_turn, locomotion.perform_turn, 30, 1.0),
        Family("spin", locomotion.plan_spin, locomotion.perform_turn, 40, 0.6),
        Family("side_step", locomotion.plan_side_step, locomotion.perform_side_step, 30, 0.8),
        Family("march", locomotion.plan_march, locomotion.perform_march, 50, 0.6),
        Family("jump", ballistic.plan_jump, ballistic.perform_jump, 30, 1.0),
        Family("hop", ballistic.plan_hop, ballistic.perform_hop, 50, 0.6),
        Family("kick", ballistic.plan_kick, ballistic.perform_kick, 30, 0.8),
        Family("squat", postures.plan_squat, postures.perform_squat, 30, 0.8),
        Family("crouch", postures.plan_crouch, postures.perform_crouch, 50, 0.5),
        Family("sit", postures.plan_sit, postures.perform_sit, 80, 0.6),
        Family("kneel", postures.plan_kneel, postures.perform_kneel, 70, 0.5),
        Family("bow", postures.plan_bow, postures.perform_bow, 35, 0.5),
        Family("idle", postures.plan_idle, postures.perform_idle, 30, 0.4),
        Family("wave", gestures.plan_wave, gestures.perform_wave, 30, 1.0),
        Family("raise_arms", gestures.plan_raise, gestures.perform_raise, 40, 0.8),
        Family("clap", gestures.plan_clap, gestures.perform_clap, 30, 0.7),
        Family("punch", gestures.plan_punch, gestures.perform_punch, 30, 0.8),
    )
}
FAMILY_NAMES = tuple(FAMILIES)

__all__ = ["FAMILIES", "FAMILY_NAMES"]
