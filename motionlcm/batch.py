"""Batch generation: a prompts file -> one folder of NPZ/BVH/GLB/MP4 files plus a JSON manifest.

This module runs the model (``generate_batch``: prompt lines -> pipeline calls -> files, with
resume); every file is written by :func:`motionlcm.export.files.write_motion_files`, the one
writer that the CLI and the app use too.

Prompt lines are ``text#frames`` (HumanML3D's example_prompts.txt) or plain text (default length);
blank lines and ``#``-comments are skipped; malformed lines are reported with their line numbers
while the valid ones proceed. Every file is written atomically and the manifest is rewritten after
each batch, so an interrupted run leaves only whole files and a rerun skips finished items.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import MotionLCMError
from .export.files import FORMATS  # the one list of output formats
from .inputs import check_prompt

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PromptItem:
    line: int
    text: str
    frames: int

    @property
    def stem(self) -> str:
        """A stable file name: line number, a slug of the text, and a short hash of text + length."""
        slug = re.sub(r"[^a-z0-9]+", "_", self.text.lower()).strip("_")[:40] or "motion"
        digest = hashlib.sha1(f"{self.text}#{self.frames}".encode()).hexdigest()[:6]
        return f"{self.line:04d}_{slug}_{digest}"


def parse_prompt_lines(lines: Iterable[str], default_frames: int) -> tuple[list[PromptItem], list[str]]:
    """Valid items and one message per malformed line (``line N: ...``)."""
    from .pipeline import parse_length

    items, problems = [], []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        text, _, length = line.rpartition("#") if "#" in line else (line, "", "")
        text = text.strip()
        try:
            if not text:
                raise MotionLCMError("empty prompt")
            text = check_prompt(text)
            frames = parse_length(length.strip()) if length.strip() else default_frames
        except MotionLCMError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        items.append(PromptItem(number, text, frames))
    return items, problems


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if not formats or unknown:
        raise MotionLCMError(f"unknown format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
    return formats


def _load_manifest(out_dir: Path) -> dict:
    path = out_dir / MANIFEST
    if not path.is_file():
        return {"items": {}}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise MotionLCMError(f"{path}: not valid JSON; move it away to start over") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("items"), dict):
        raise MotionLCMError(f"{path}: not a motionlcm manifest; move it away to start over")
    return manifest


def _is_done(entry: dict | None, out_dir: Path, formats: tuple[str, ...], settings: dict) -> bool:
    if not entry or entry.get("settings") != settings:
        return False
    files = entry.get("files", {})
    return all(fmt in files and (out_dir / files[fmt]).is_file() for fmt in formats)


def write_outputs(result, index: int, item: PromptItem, out_dir: Path, formats: tuple[str, ...], model_id: str,
                  video: Callable | None = None, stem: str | None = None) -> dict[str, str]:
    """Write the requested formats of one generated sample; returns {format: file name}."""
    from .export.files import write_motion_files

    written = write_motion_files(result, index, Path(out_dir) / (stem or item.stem), formats, model_id=model_id,
                                 title=item.text, video=video)
    return {fmt: path.name for fmt, path in written.items()}


def generate_batch(pipe, items: list[PromptItem], out_dir: str | Path, formats: tuple[str, ...], batch_size: int = 32,
                   steps: int | None = None, guidance: float | None = None, seed: int = 0, model_id: str = "",
                   progress: bool = True, video: Callable | None = None) -> dict:
    """Generate every item not already in the manifest; returns counts and the manifest path.

    The item on line ``n`` is generated with seed ``seed + n`` (per-sample noise), so its motion
    does not depend on which other items share its batch or were skipped.
    """
    from tqdm.auto import tqdm

    from .io import write_text

    if batch_size < 1:
        raise MotionLCMError("--batch-size must be at least 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(out_dir)
    manifest.update(model=model_id, formats=list(formats))
    settings = {"steps": steps, "guidance": guidance, "seed": seed, "model": model_id}
    todo = [it for it in items if not _is_done(manifest["items"].get(it.stem), out_dir, formats, {**settings, "frames": it.frames})]
    skipped = len(items) - len(todo)
    bar = tqdm(total=len(todo), desc="generating", unit="motion", disable=not progress)
    for start in range(0, len(todo), batch_size):
        chunk = todo[start:start + batch_size]
        result = pipe([it.text for it in chunk], [it.frames for it in chunk], num_steps=steps, guidance=guidance,
                      seed=[seed + it.line for it in chunk])
        for index, item in enumerate(chunk):
            files = write_outputs(result, index, item, out_dir, formats, model_id, video)
            manifest["items"][item.stem] = {
                "line": item.line, "text": item.text, "frames": item.frames, "seed": result.seed_of(index), "steps": result.steps,
                "guidance": result.guidance, "files": files, "settings": {**settings, "frames": item.frames},
            }
        write_text(out_dir / MANIFEST, json.dumps(manifest, indent=2))  # after every batch: a crash loses none
        bar.update(len(chunk))
    bar.close()
    if not todo:  # nothing generated: still record this run's model and formats
        write_text(out_dir / MANIFEST, json.dumps(manifest, indent=2))
    return {"generated": len(todo), "skipped": skipped, "manifest": str(out_dir / MANIFEST)}
