"""A procedural, text-labelled motion corpus in HumanML3D's layout (the package's default data).

HumanML3D's motions cannot be redistributed, so the package synthesises its own: sequences of
1-3 parameterised actions (walk, jog, run, turn, jump, hop, squat, crouch, sit, kneel, wave,
raise arms, clap, punch, kick, bow, spin, side-step, march, stand idle) performed by the
dataset's SMPL-22 skeleton with per-sample style, and three template captions each.

    >>> from motionlcm.data.synth import synthesize_dataset
    >>> report = synthesize_dataset("data/synth", num=4000, seed=0)
"""

from .actions import FAMILY_NAMES
from .compose import MAX_FRAMES, MIN_FRAMES, synthesize_motion
from .dataset import SYNTH_VERSION, make_motion, split_ids, synthesize_dataset
from .quality import foot_skating_counts, foot_skating_ratio

__all__ = [
    "FAMILY_NAMES",
    "MAX_FRAMES",
    "MIN_FRAMES",
    "SYNTH_VERSION",
    "foot_skating_counts",
    "foot_skating_ratio",
    "make_motion",
    "split_ids",
    "synthesize_dataset",
    "synthesize_motion",
]
