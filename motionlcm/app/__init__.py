"""The MotionLCM web app (gradio): ``motionlcm app``, ``python app.py`` or :func:`launch`.

:func:`build_app` wraps a loaded :class:`~motionlcm.pipeline.MotionPipeline` in a ``gr.Blocks``
app (layout and events in :mod:`motionlcm.app.ui`, the work in :mod:`motionlcm.app.core`;
:mod:`motionlcm.app.bench` measures a running app).
Nothing heavy is imported at module level, so ``motionlcm --help`` stays fast and works
without gradio installed (``pip install 'motionlcm[app]'``).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from ..errors import MotionLCMError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
INSTALL_HINT = "the web app needs gradio: pip install 'motionlcm[app]'"


def _require_gradio() -> None:
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise MotionLCMError(INSTALL_HINT) from None


def resolve_checkpoint(ckpt: str | os.PathLike | None) -> Path:
    """The checkpoint folder to load: ``ckpt``, else the default model (:func:`motionlcm.pipeline.default_checkpoint`)."""
    if ckpt is not None:
        path = Path(ckpt).expanduser()
        if not path.is_dir():
            raise MotionLCMError(f"checkpoint folder not found: {path} (give the export/ folder written by `motionlcm train`)")
        return path
    from ..pipeline import default_checkpoint

    return default_checkpoint()


def build_app(pipe, *, smpl_dir: str | None = None, concurrency_limit: int = 2, title: str = "MotionLCM",
              files_parent: str | os.PathLike | None = None):
    """A ``gr.Blocks`` app around a loaded pipeline, queue configured; ``demo.motion_service`` holds
    the :class:`~motionlcm.app.core.MotionService` (its ``files.cleanup()`` deletes the outputs).

    ``smpl_dir`` (default $MOTIONLCM_SMPL_DIR) offers the SMPL body; ``files_parent`` is where the
    temporary output folder is made (default: the system's temporary folder, which gradio serves).
    """
    _require_gradio()
    from .core import BodyOptions, MotionService, SessionFiles
    from .ui import build_interface

    if concurrency_limit < 1:
        raise MotionLCMError("concurrency_limit must be at least 1")
    service = MotionService(pipe, files=SessionFiles(parent=files_parent), bodies=BodyOptions.detect(smpl_dir))
    return build_interface(service, title=title, concurrency_limit=concurrency_limit)


def launch(ckpt: str | os.PathLike | None = None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, share: bool = False,
           device: str | None = None, concurrency_limit: int = 2, **launch_options) -> None:
    """Load the checkpoint (default: the embedded one), build the app and serve it until stopped."""
    _require_gradio()
    from ..pipeline import MotionPipeline

    path = resolve_checkpoint(ckpt)
    print(f"loading {path} ...", file=sys.stderr)
    pipe = MotionPipeline.from_pretrained(path, device=device)
    demo = build_app(pipe, concurrency_limit=concurrency_limit)
    _interrupt_on_sigterm()
    try:
        demo.launch(server_name=host, server_port=port, share=share, show_error=True, **launch_options)
    finally:
        demo.motion_service.files.cleanup()


def _interrupt_on_sigterm() -> None:
    """Let SIGTERM (docker stop, systemd) stop the server like Ctrl+C, so the output folder is removed."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def add_app_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--ckpt", default=None, help="checkpoint folder (default: the embedded assets/checkpoints/motionlcm)")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--share", action="store_true", help="also make a temporary public gradio.live link")
    parser.add_argument("--concurrency", type=int, default=2, help="requests of each kind served at once (default 2)")
    return parser


def _cmd_app(args: argparse.Namespace) -> int:
    launch(args.ckpt, host=args.host, port=args.port, share=args.share, device=args.device,
           concurrency_limit=args.concurrency)
    return 0


def add_app_parser(commands) -> argparse.ArgumentParser:
    """Register ``motionlcm app`` on the CLI's subparsers."""
    parser = commands.add_parser("app", help="start the web app (gradio): text -> 3D preview, video, BVH/NPZ/GLB/MP4")
    add_app_arguments(parser)
    parser.set_defaults(func=_cmd_app)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python app.py [--ckpt DIR] [--host H] [--port P]``."""
    parser = add_app_arguments(argparse.ArgumentParser(prog="app.py", description="Start the MotionLCM web app."))
    args = parser.parse_args(argv)
    try:
        return _cmd_app(args)
    except MotionLCMError as exc:
        print(f"app.py: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


__all__ = ["add_app_parser", "build_app", "launch", "main", "resolve_checkpoint"]
