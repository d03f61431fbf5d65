"""The README / app example prompts carry checkable actions."""
import numpy as np

from motionlcm.evaluation.prompt_checks import FAMILIES, check_actions
from motionlcm.examples import CANDIDATES, EXAMPLES, PASSING
from motionlcm.motion.skeleton import REFERENCE_JOINTS


def test_examples_metadata_is_well_formed_and_checkable():
    assert EXAMPLES and set(p.text for p in EXAMPLES) == set(PASSING) <= set(p.text for p in CANDIDATES)
    standing = np.repeat(np.asarray(REFERENCE_JOINTS, np.float64)[None], 200, axis=0)
    standing[..., 1] -= standing[..., 1].min()
    for example in CANDIDATES:
        actions = example.metadata()
        assert sum(a["frames"] for a in actions) == example.frames + 1
        assert all(a["family"] in FAMILIES for a in actions)
        checks = check_actions(standing[: example.frames], actions)
        assert len(checks) == len(actions)
        assert not all(c.passed for c in checks), example.text  # standing still does none of them


def test_app_shows_only_the_passing_examples():
    from motionlcm.app.core import EXAMPLE_PROMPTS

    assert list(EXAMPLE_PROMPTS) == [p.text for p in EXAMPLES]
