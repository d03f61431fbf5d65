"""A running web app for the app tests: the real server on a free local port, in a thread."""
import socket
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(checkpoint: Path):
    """Yields (url, demo) of the app serving ``checkpoint`` on the CPU; stops it and deletes its files after."""
    from motionlcm.app import build_app
    from motionlcm.pipeline import MotionPipeline

    demo = build_app(MotionPipeline.from_pretrained(checkpoint, device="cpu"))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                show_error=True)  # as `motionlcm app` launches it: error messages reach the client
    try:
        yield f"http://127.0.0.1:{port}/", demo
    finally:
        demo.close()
        demo.motion_service.files.cleanup()
