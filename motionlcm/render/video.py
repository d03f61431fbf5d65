"""The one MP4 writer of the package (stick figures and body meshes): H.264 through imageio-ffmpeg."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import MotionLCMError


@contextmanager
def mp4_writer(path: Path, size: tuple[int, int], fps: float) -> Iterator[Callable[[np.ndarray], None]]:
    """Yield a function taking RGB frames (H, W, 3) uint8; the file is complete when the block ends.

    ffmpeg runs as a subprocess: when it cannot write ``path`` it exits early, and imageio-ffmpeg
    then either raises with the whole ffmpeg command line or says nothing at all. Both end here
    as one-line :class:`MotionLCMError`, and an empty or missing result is an error too.
    """
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a declared dependency
        raise MotionLCMError("writing .mp4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg)") from None
    path = Path(path)
    pipe = imageio_ffmpeg.write_frames(str(path), tuple(int(v) for v in size), fps=fps, codec="libx264",
                                       pix_fmt_out="yuv420p", macro_block_size=1, quality=7,
                                       ffmpeg_log_level="quiet")  # failures are reported below, in one line
    try:
        pipe.send(None)
        yield lambda frame: pipe.send(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        pipe.close()
    except (OSError, RuntimeError) as exc:  # BrokenPipeError is an OSError
        pipe.close()
        raise MotionLCMError(f"{path}: ffmpeg could not write the video ({_first_line(exc)})") from None
    if not path.is_file() or path.stat().st_size == 0:
        raise MotionLCMError(f"{path}: ffmpeg wrote no video (is the folder writable?)")


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(exc).__name__


__all__ = ["mp4_writer"]
