"""User-facing errors.

Anything raised as :class:`MotionLCMError` is a problem with the user's input (a file,
a dataset, an option). The CLI prints its message on one line and exits non-zero,
without a traceback; every other exception is a bug and keeps its traceback.
"""


class MotionLCMError(Exception):
    """A problem with user input, reported as a one-line message."""
