"""Latency and load of the web app, measured from the outside through ``gradio_client``.

* **First visible result**: prompt -> the ``/preview`` response plus the GLB file fetched, i.e.
  what a browser needs before the 3D viewer can show the motion. Median (and p90) of
  ``--repeats`` calls after ``--warmup``, next to the model time the server reports.
* **Video** (``--video``): prompt -> MP4 through ``/generate`` (generation + rendering).
* **Load**: ``--clients`` clients (default 8) each send ``--requests`` previews at once;
  reports errors, latency percentiles and throughput.

Against a running app::

    python -m motionlcm.app.bench --url http://127.0.0.1:7860/ --out bench_app.json

or starting one in-process from a checkpoint (default: the embedded model)::

    python -m motionlcm.app.bench --ckpt assets/checkpoints/motionlcm --device cpu
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from ..errors import MotionLCMError
from .core import EXAMPLE_PROMPTS

TIMING = re.compile(r"Generated in (\d+) ms")


def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def _file_url(value) -> str | None:
    """The URL of a file output of a client called with ``download_files=False``."""
    if isinstance(value, dict):
        return value.get("url")
    return value if isinstance(value, str) and value.startswith("http") else None


def _fetch(url: str | None) -> int:
    import httpx

    if not url:
        raise RuntimeError("the response has no file URL")
    response = httpx.get(url, timeout=60)
    response.raise_for_status()
    return len(response.content)


def preview_once(client, prompt: str, seed: int, seconds: float = 4.0) -> tuple[float, float | None]:
    """(seconds until the GLB is in hand, the model time the server reported in ms)."""
    start = time.perf_counter()
    glb, timing, *_ = client.predict(prompt=prompt, seconds=seconds, seed=seed, samples=1, control_mode="none",
                                     control_file=None, api_name="/preview")
    _fetch(_file_url(glb))
    elapsed = time.perf_counter() - start
    match = TIMING.search(timing or "")
    return elapsed, float(match.group(1)) if match else None


def video_once(client, prompt: str, seed: int, body: str, seconds: float = 4.0) -> float:
    start = time.perf_counter()
    _, video, *_ = client.predict(prompt=prompt, seconds=seconds, seed=seed, samples=1, body=body, control_mode="none",
                                  control_file=None, api_name="/generate")
    _fetch(_file_url(video))
    return time.perf_counter() - start


def summarize(seconds: list[float]) -> dict:
    if not seconds:
        return {"n": 0}
    ordered = sorted(seconds)
    return {"n": len(ordered), "median_ms": 1000 * statistics.median(ordered),
            "p90_ms": 1000 * ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            "min_ms": 1000 * ordered[0], "max_ms": 1000 * ordered[-1]}


def measure_latency(url: str, repeats: int, warmup: int) -> dict:
    client = _client(url)
    for i in range(warmup):
        preview_once(client, EXAMPLE_PROMPTS[i % len(EXAMPLE_PROMPTS)], seed=i)
    totals, model_ms = [], []
    for i in range(repeats):
        elapsed, server_ms = preview_once(client, EXAMPLE_PROMPTS[i % len(EXAMPLE_PROMPTS)], seed=1000 + i)
        totals.append(elapsed)
        if server_ms is not None:
            model_ms.append(server_ms)
    result = {"first_visible": summarize(totals)}
    if model_ms:
        result["model_median_ms"] = statistics.median(model_ms)
    return result


def measure_video(url: str, repeats: int, body: str) -> dict:
    client = _client(url)
    times = [video_once(client, EXAMPLE_PROMPTS[i % len(EXAMPLE_PROMPTS)], seed=2000 + i, body=body) for i in range(repeats)]
    return {"body": body, **summarize(times)}


def measure_load(url: str, clients: int, requests: int) -> dict:
    """``clients`` concurrent clients, ``requests`` previews each; errors are counted, not raised."""
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def worker(index: int) -> None:
        client = _client(url)
        barrier.wait()
        for j in range(requests):
            try:
                elapsed, _ = preview_once(client, EXAMPLE_PROMPTS[(index + j) % len(EXAMPLE_PROMPTS)], seed=index * 100 + j)
                with lock:
                    latencies.append(elapsed)
            except Exception as exc:  # every failure is reported, none stops the load
                with lock:
                    errors.append(f"client {index} request {j}: {type(exc).__name__}: {exc}")

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - start
    return {"clients": clients, "requests": clients * requests, "errors": len(errors), "error_messages": errors[:10],
            "wall_s": wall, "throughput_per_s": len(latencies) / wall if wall else 0.0, "latency": summarize(latencies)}


@contextmanager
def local_app(ckpt: str | None, device: str | None):
    """An app served in this process on a free port; yields its URL."""
    import socket

    from ..pipeline import MotionPipeline
    from . import build_app, resolve_checkpoint

    demo = build_app(MotionPipeline.from_pretrained(resolve_checkpoint(ckpt), device=device))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
        demo.motion_service.files.cleanup()


def run_benchmark(url: str, repeats: int = 20, warmup: int = 3, clients: int = 8, requests: int = 4,
                  video: bool = False, video_repeats: int = 3, body: str = "stick") -> dict:
    report = {"url": url, "latency": measure_latency(url, repeats, warmup)}
    if video:
        report["video"] = measure_video(url, video_repeats, body)
    if clients > 0:
        report["load"] = measure_load(url, clients, requests)
    return report


def format_report(report: dict) -> str:
    first = report["latency"]["first_visible"]
    lines = [f"prompt -> first visible result (preview + GLB): median {first['median_ms']:.0f} ms, "
             f"p90 {first['p90_ms']:.0f} ms over {first['n']} calls"]
    if "model_median_ms" in report["latency"]:
        lines.append(f"  of which the model (server timing): median {report['latency']['model_median_ms']:.0f} ms")
    if "video" in report:
        v = report["video"]
        lines.append(f"prompt -> MP4 ({v['body']}): median {v['median_ms']:.0f} ms over {v['n']} calls")
    if "load" in report:
        load = report["load"]
        lat = load["latency"]
        lines.append(f"{load['clients']} concurrent clients, {load['requests']} requests: {load['errors']} error(s), "
                     f"{load['throughput_per_s']:.1f} results/s, latency median "
                     f"{lat.get('median_ms', float('nan')):.0f} ms, p90 {lat.get('p90_ms', float('nan')):.0f} ms")
        lines += [f"  {message}" for message in load["error_messages"]]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m motionlcm.app.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: start one in this process from --ckpt)")
    parser.add_argument("--ckpt", help="checkpoint for the in-process app (default: the embedded model)")
    parser.add_argument("--device", help="device of the in-process app (cpu, cuda)")
    parser.add_argument("--repeats", type=int, default=20, help="timed previews (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed previews first (default 3)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the load test (0: skip; default 8)")
    parser.add_argument("--requests", type=int, default=4, help="previews per client in the load test (default 4)")
    parser.add_argument("--video", action="store_true", help="also time prompt -> MP4 through /generate")
    parser.add_argument("--body", default="stick", help="body of the --video renders (stick, mannequin, smpl)")
    parser.add_argument("--out", help="also write the report as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeats < 1 or args.warmup < 0 or args.clients < 0 or args.requests < 1:
        print("motionlcm.app.bench: error: --repeats and --requests must be >= 1, --warmup and --clients >= 0", file=sys.stderr)
        return 2
    try:
        if args.url:
            report = run_benchmark(args.url, args.repeats, args.warmup, args.clients, args.requests, args.video, body=args.body)
        else:
            with local_app(args.ckpt, args.device) as url:
                report = run_benchmark(url, args.repeats, args.warmup, args.clients, args.requests, args.video, body=args.body)
    except MotionLCMError as exc:
        print(f"motionlcm.app.bench: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"wrote {args.out}")
    return 1 if report.get("load", {}).get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
