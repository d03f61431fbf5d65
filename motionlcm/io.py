"""Small file helpers: atomic writes, so that an interrupted run never leaves half files."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import MotionLCMError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    except OSError as exc:
        raise MotionLCMError(f"{path}: cannot write there ({_short(exc)})") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, array)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def load_npy(path: str | os.PathLike) -> np.ndarray:
    """Load an array without unpickling; unreadable files raise a one-line MotionLCMError."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except FileNotFoundError:
        raise MotionLCMError(f"{path}: file not found") from None
    except OSError as exc:
        raise MotionLCMError(f"{path}: unreadable ({_short(exc)})") from None
    if magic != b"\x93NUMPY":
        raise MotionLCMError(f"{path}: not a .npy file")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise MotionLCMError(f"{path}: holds Python objects (pickled data), which are never loaded") from None
        raise MotionLCMError(f"{path}: corrupt .npy file ({_short(exc)})") from None
    except (OSError, EOFError) as exc:
        raise MotionLCMError(f"{path}: not a readable .npy array ({_short(exc)})") from None


def _short(exc: Exception, limit: int = 160) -> str:
    """The first line of an exception's message, shortened at a sentence or word end (never mid-word)."""
    text = str(exc).splitlines()[0].strip() if str(exc).strip() else type(exc).__name__
    if len(text) <= limit:
        return text
    head = text[:limit]
    sentence = head.rfind(". ")
    if sentence > limit // 4:
        return head[: sentence + 1]
    return head[: head.rfind(" ")].rstrip(",;:") + " ..." if " " in head else head + " ..."
