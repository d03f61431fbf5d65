"""The web app's core, free of gradio: input checks, per-session files, generation and rendering.

:mod:`motionlcm.app.ui` wires these into gradio components; keeping them here lets the checks
and the file handling be used (and tested) without a browser or a server.

Generation, export and rendering are separate steps. :meth:`MotionService.generate` runs the
model and writes only the GLB the 3D viewer needs (tens of ms per sample), so the first visible
result appears right after the model call; :meth:`MotionService.export` then writes BVH and NPZ
(about 0.1 s per sample) and :meth:`MotionService.render` the MP4, which takes seconds (a mesh on
a CPU: tens of seconds).

Users never give file-system paths: prompts and numbers are checked here, control specs are
built from presets or read from uploaded files. Every output lives in a per-session folder under
one temporary root that is deleted when the app exits (or when the service is collected).
"""
from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..examples import EXAMPLES
from ..errors import MotionLCMError
from ..inputs import (FPS, MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SECONDS, MAX_SEED, MAX_TUNING_STEPS,
                     MIN_SECONDS, check_control_size, check_count, check_guidance, check_prompt, check_seconds, check_seed,
                     check_steps)

DEFAULT_SECONDS = 4.0
MAX_SAMPLES = 4
HISTORY_SIZE = 5
LCM_STEP_CHOICES = (1, 2, 4)
MLD_STEP_CHOICES = (10, 25, 50)
DEFAULT_TUNING_STEPS = 50  # without a ControlNet: enough to pull the motion towards a path, a few seconds on a CPU
VIDEO_RESOLUTION = (640, 480)
RUN_ARRAYS = ".motion.npz"  # a run's generated arrays, kept for the later export and render steps
PELVIS_HEIGHT = 0.9  # metres, about HumanML3D's standing pelvis height
WALK_SPEED = 1.0  # metres per second along the preset paths
SMPL_DIR_ENV = "MOTIONLCM_SMPL_DIR"  # as motionlcm.body.mesh reads it

# Actions of the procedural training corpus (walk, run, jump, turn, kick, wave, sit, squat, spin, ...).
EXAMPLE_PROMPTS = tuple(p.text for p in EXAMPLES)  # only prompts the shipped model passes (motionlcm/examples.py)

CONTROL_NONE = "none"
CONTROL_PRESETS = {"line": "pelvis path: straight line", "circle": "pelvis path: circle", "s_curve": "pelvis path: S-curve"}
CONTROL_UPLOAD = "upload"
BODY_LABELS = {"mannequin": "Mannequin", "smpl": "SMPL", "stick": "Stick figure (fastest)"}


# ---------------------------------------------------------------------------------------------
# Checks of the user's inputs; each raises MotionLCMError with a message meant for the user.
# ---------------------------------------------------------------------------------------------


def check_samples(value: Any) -> int:
    return check_count(value, "The number of samples", MAX_SAMPLES)


def random_seed() -> int:
    return int(np.random.default_rng().integers(0, MAX_SEED + 1))


@dataclass(frozen=True)
class GenerationRequest:
    """Checked settings of one generation; ``control`` is a spec dict (or None)."""

    prompt: str
    seconds: float
    steps: int
    guidance: float
    seed: int
    samples: int
    control: dict | None = None
    control_label: str = CONTROL_NONE
    tuning_steps: int = 0

    @property
    def frames(self) -> int:
        return round(self.seconds * FPS)

    def seeds(self) -> list[int]:
        """Sample ``i`` uses ``seed + i``, so each sample is reproducible on its own."""
        return [(self.seed + i) % (MAX_SEED + 1) for i in range(self.samples)]

    def summary(self) -> dict:
        return {"prompt": self.prompt, "seconds": round(self.seconds, 2), "steps": self.steps,
                "guidance": round(self.guidance, 3), "seed": self.seed, "samples": self.samples, "control": self.control_label,
                "tuning_steps": self.tuning_steps}


# ---------------------------------------------------------------------------------------------
# Control (optional: only when motionlcm.control exists and the pipeline takes ``control=``)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlSupport:
    """What control a pipeline offers: a ControlNet follows hints directly; consistency latent
    tuning (LCM-family models) follows them by optimising the initial noise, ``tuning`` steps;
    exact hints (any model) correct the generated joints to meet them."""

    controlnet: bool = False
    tuning: bool = False
    exact: bool = False

    @property
    def available(self) -> bool:
        return self.controlnet or self.tuning or self.exact

    @property
    def default_tuning_steps(self) -> int:
        return 0 if self.controlnet else DEFAULT_TUNING_STEPS

    @classmethod
    def of(cls, pipe) -> ControlSupport:
        """Needs the control module and a pipeline taking ``control=`` (and ``latent_tuning_steps=``)."""
        if importlib.util.find_spec("motionlcm.control") is None:
            return cls()
        try:
            params = inspect.signature(pipe.__call__).parameters
        except (TypeError, ValueError):
            return cls()
        if "control" not in params:
            return cls()
        sampler = getattr(pipe, "sampler_kind", getattr(pipe, "kind", ""))
        # a companion ControlNet (the default model's pelvis one) steers the pelvis presets
        pelvis_companion = frozenset({0}) in (getattr(pipe, "companions", None) or {})
        own_or_companion = getattr(pipe, "controlnet", None) is not None or pelvis_companion
        return cls(controlnet=own_or_companion,
                   tuning="latent_tuning_steps" in params and sampler == "lcm", exact="exact_hints" in params)


def check_tuning_steps(value: Any, control: ControlSupport, controlled: bool) -> int:
    steps = check_count(value or 0, "The latent tuning steps", MAX_TUNING_STEPS, low=0)
    if not controlled:
        return 0
    if steps and not control.tuning:
        raise MotionLCMError("This model cannot use latent tuning (it needs a MotionLCM checkpoint); set the steps to 0.")
    if not steps and not control.controlnet and not control.exact:
        raise MotionLCMError("This model has no ControlNet: set the latent tuning steps above 0 to follow the control.")
    return int(steps)


def preset_control_spec(name: str, seconds: float) -> dict:
    """A pelvis-path control spec (see ``motionlcm/control/spec.py``) spanning the whole motion."""
    distance = WALK_SPEED * seconds
    if name == "line":
        path = {"type": "line", "origin": [0.0, PELVIS_HEIGHT, 0.0], "to": [0.0, PELVIS_HEIGHT, distance]}
    elif name == "circle":
        radius = round(distance / (2 * np.pi), 3)
        # start_angle -90 puts the start on the origin; the walker first heads along +X, turning left.
        path = {"type": "circle", "center": [0.0, PELVIS_HEIGHT, radius], "radius": radius, "start_angle": -90,
                "direction": "counterclockwise", "turns": 1}
    elif name == "s_curve":
        path = {"type": "s_curve", "origin": [0.0, PELVIS_HEIGHT, 0.0], "length": distance, "heading": 0}
    else:
        raise MotionLCMError(f"Unknown control preset {name!r}; choose one of {', '.join(CONTROL_PRESETS)}.")
    return {"description": f"pelvis {name} preset", "joints": {"pelvis": {"path": path}}}


def upload_folder() -> Path:
    """Where Gradio stores the files it received as uploads (``GRADIO_TEMP_DIR`` or its default)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def read_uploaded_control(path: str | os.PathLike | None) -> dict:
    """The JSON object of an uploaded control file.

    A client names the file it uploaded by a server path, so the path is only trusted when it
    resolves (symlinks followed) inside Gradio's upload folder; anything else is refused with a
    message that says nothing about the path, whether it exists or what it holds.
    """
    if not path:
        raise MotionLCMError("Choose a control JSON file to upload, or pick another control option.")
    refused = MotionLCMError("The control file was not received as an upload; upload it again.")
    try:
        file = Path(path).resolve()
        if not file.is_relative_to(upload_folder()) or not file.is_file():
            raise refused
        size = file.stat().st_size
    except (OSError, ValueError, TypeError):
        raise refused from None
    check_control_size(size)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise MotionLCMError("The control file is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise MotionLCMError(f"The control file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    if not isinstance(data, dict):
        raise MotionLCMError("A control file holds a JSON object with 'joints' and/or 'keyframes'.")
    return data


def resolve_control(mode: str | None, upload: str | None, seconds: float) -> tuple[dict | None, str]:
    """(spec dict or None, a short label for the history) from the control inputs; checked."""
    mode = mode or CONTROL_NONE
    if mode == CONTROL_NONE:
        return None, CONTROL_NONE
    if mode in CONTROL_PRESETS:
        spec, label = preset_control_spec(mode, seconds), f"pelvis {mode.replace('_', '-')}"
    elif mode == CONTROL_UPLOAD:
        spec, label = read_uploaded_control(upload), "uploaded JSON"
    else:
        raise MotionLCMError(f"Unknown control option {mode!r}.")
    control_hints(spec, round(seconds * FPS))  # reports problems before the model runs
    return spec, label


def control_hints(spec: dict | None, frames: int) -> np.ndarray | None:
    """Controlled joint positions (T, 22, 3), NaN where free; None without control."""
    if spec is None:
        return None
    from ..control.spec import load_control_spec

    hints, mask = load_control_spec(spec, frames)
    return np.where(mask[..., None], hints, np.nan).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Files: one temporary root, a folder per session, a folder per run
# ---------------------------------------------------------------------------------------------


class SessionFiles:
    """Output folders ``<root>/<session>/<run>``; old runs beyond ``keep`` are deleted.

    The root is a fresh temporary folder removed at exit (``weakref.finalize`` also runs at
    interpreter shutdown) or by :meth:`cleanup`; :meth:`drop_session` removes one session's files.
    """

    def __init__(self, keep: int = HISTORY_SIZE + 1, parent: str | os.PathLike | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="motionlcm-app-", dir=parent))
        self.keep = keep
        self._lock = threading.Lock()
        self._counter = 0
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.root), ignore_errors=True)

    def session_dir(self, session: str | None) -> Path:
        name = re.sub(r"[^A-Za-z0-9_-]", "", session or "")[:64] or "anonymous"
        return self.root / name

    def new_run_dir(self, session: str | None) -> Path:
        with self._lock:
            self._counter += 1
            run = self.session_dir(session) / f"run{self._counter:06d}"
            run.mkdir(parents=True)
            self._prune(run.parent)
        return run

    def _prune(self, folder: Path) -> None:
        runs = sorted(p for p in folder.iterdir() if p.is_dir())
        for old in runs[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)

    def drop_session(self, session: str | None) -> None:
        shutil.rmtree(self.session_dir(session), ignore_errors=True)

    def cleanup(self) -> None:
        self._finalizer()


def load_run_result(run: dict):
    """The :class:`~motionlcm.pipeline.MotionOutput` of a run, from the arrays it saved."""
    from ..pipeline import MotionOutput

    path = Path(run["dir"]) / RUN_ARRAYS
    if not path.is_file():
        raise MotionLCMError("The files of this result were removed (too old or the session ended); generate it again.")
    with np.load(path) as arrays:
        features, joints, lengths = arrays["features"], arrays["joints"], arrays["lengths"]
    seeds = [sample["seed"] for sample in run["samples"]]
    return MotionOutput(features, joints, lengths, [run["prompt"]] * len(seeds), seeds, run["steps"], run["guidance"])


def file_stem(prompt: str, seed: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")[:40] or "motion"
    return f"{slug}_seed{seed}"


# ---------------------------------------------------------------------------------------------
# Generation and rendering
# ---------------------------------------------------------------------------------------------


@dataclass
class RenderOutcome:
    video: Path
    body: str
    note: str | None = None  # why another body than the one asked for was drawn


@dataclass
class BodyOptions:
    """Which bodies can be drawn: the mesh renderer may be missing, SMPL needs its model files."""

    choices: tuple[str, ...]
    default: str
    smpl_dir: str | None = None

    @classmethod
    def detect(cls, smpl_dir: str | None = None) -> BodyOptions:
        smpl_dir = smpl_dir or os.environ.get(SMPL_DIR_ENV) or None
        if importlib.util.find_spec("motionlcm.render.mesh_video") is None:
            return cls(("stick",), "stick", None)
        choices = ("mannequin",) + (("smpl",) if smpl_dir else ()) + ("stick",)
        return cls(choices, "mannequin", smpl_dir)


@dataclass
class MotionService:
    """The model plus the file handling behind the app; safe to call from several threads.

    The pipeline's scheduler keeps state between calls, so model calls take turns under a lock;
    mesh rendering (OpenGL) takes turns under another; exports and stick figures run in parallel.
    """

    pipe: Any
    files: SessionFiles = field(default_factory=SessionFiles)
    bodies: BodyOptions = field(default_factory=BodyOptions.detect)
    model_id: str = ""
    resolution: tuple[int, int] = VIDEO_RESOLUTION

    def __post_init__(self) -> None:
        self._model_lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._body_models: dict[str, Any] = {}
        self.control = ControlSupport.of(self.pipe)
        self.model_id = self.model_id or str(getattr(self.pipe, "name", ""))

    # --- settings -------------------------------------------------------------------------
    @property
    def controllable(self) -> bool:
        return self.control.available

    @property
    def step_choices(self) -> tuple[int, ...]:
        sampler = getattr(self.pipe, "sampler_kind", getattr(self.pipe, "kind", "lcm"))
        return LCM_STEP_CHOICES if sampler == "lcm" else MLD_STEP_CHOICES

    @property
    def default_steps(self) -> int:
        steps = int(getattr(self.pipe, "default_steps", self.step_choices[0]))
        return steps if steps in self.step_choices else self.step_choices[0]

    def guidance_for(self, steps: Any) -> float:
        try:
            steps = int(steps)
        except (TypeError, ValueError):
            steps = self.default_steps
        return float(min(self.pipe.guidance_for(steps), MAX_GUIDANCE))

    def make_request(self, prompt: Any, seconds: Any, steps: Any, guidance: Any, seed: Any, samples: Any,
                     control_mode: str | None = CONTROL_NONE, control_upload: str | None = None,
                     tuning_steps: Any = 0) -> GenerationRequest:
        """Checked settings; raises MotionLCMError naming the first problem."""
        prompt = check_prompt(prompt)
        seconds = check_seconds(seconds)
        steps = check_steps(steps, self.step_choices)
        guidance = check_guidance(self.guidance_for(steps) if guidance in (None, "") else guidance)
        seed = check_seed(seed)
        samples = check_samples(samples)
        control, label = (None, CONTROL_NONE)
        if self.controllable:
            control, label = resolve_control(control_mode, control_upload, seconds)
        elif control_mode not in (None, CONTROL_NONE):
            raise MotionLCMError("Control is not available with this model.")
        tuning = check_tuning_steps(tuning_steps, self.control, control is not None)
        return GenerationRequest(prompt, seconds, steps, guidance, seed, samples, control, label, tuning)

    # --- the two steps ----------------------------------------------------------------------
    def generate(self, request: GenerationRequest, session: str | None = None) -> dict:
        """Run the model and write each sample's GLB (what the 3D viewer shows first); returns the
        run record, plain data fit for gradio state: ``{"dir", "prompt", "frames", "ms", "timings",
        "settings", "control", "samples": [{"seed", "glb", "bvh", "npz", "mp4"}], ...}`` where the
        files not written yet are None (see :meth:`export` and :meth:`render`)."""
        from ..export.files import write_motion_files

        result = self._run_model(request)
        run_dir = self.files.new_run_dir(session)
        np.savez(run_dir / RUN_ARRAYS, features=result.features, joints=result.joints, lengths=result.lengths)
        samples = []
        for index in range(request.samples):
            seed = result.seed_of(index)
            glb = write_motion_files(result, index, run_dir / file_stem(request.prompt, seed), ("glb",))["glb"]
            samples.append({"seed": seed, "glb": str(glb), "bvh": None, "npz": None, "mp4": None})
        return {"dir": str(run_dir), "prompt": request.prompt, "frames": request.frames,
                "ms": result.timings["total"] * 1000.0, "timings": {k: v * 1000.0 for k, v in result.timings.items()},
                "settings": request.summary(), "control": request.control, "samples": samples,
                "steps": result.steps, "guidance": result.guidance, "model_id": self.model_id,
                "device": str(getattr(self.pipe, "device", "")), "created": time.time()}

    def _run_model(self, request: GenerationRequest):
        kwargs = {"control": request.control} if request.control is not None else {}
        if request.tuning_steps:
            kwargs["latent_tuning_steps"] = request.tuning_steps
        with self._model_lock:
            return self.pipe([request.prompt] * request.samples, request.frames, num_steps=request.steps,
                             guidance=request.guidance, seed=request.seeds(), **kwargs)

    def export(self, run: dict) -> dict:
        """Write every sample's BVH and NPZ (stored in the run record, which is returned)."""
        from ..export.files import write_motion_files

        result = load_run_result(run)
        for index, sample in enumerate(run["samples"]):
            written = write_motion_files(result, index, Path(sample["glb"]).with_suffix(""), ("bvh", "npz"),
                                         model_id=run["model_id"])
            sample["bvh"], sample["npz"] = str(written["bvh"]), str(written["npz"])
        return run

    def render(self, run: dict, index: int, body: str) -> RenderOutcome:
        """Render sample ``index`` of a run as MP4 (stored in the run record too)."""
        sample = run["samples"][index]
        joints = load_run_result(run).motion(index)[1]
        path = Path(sample["glb"]).with_suffix(".mp4")
        hints = control_hints(run.get("control"), len(joints)) if run.get("control") else None
        outcome = self._render_video(path, joints, body, run["prompt"], hints)
        sample["mp4"] = str(outcome.video)
        return outcome

    def _render_video(self, path: Path, joints: np.ndarray, body: str, title: str, hints) -> RenderOutcome:
        if body not in self.bodies.choices:
            raise MotionLCMError(f"Unknown body {body!r}; choose one of {', '.join(self.bodies.choices)}.")
        if body == "stick":
            from ..render.stick import render_stick_figure

            return RenderOutcome(render_stick_figure(joints, path, fps=FPS, title=title, size=self.resolution), "stick")
        from ..render.mesh_video import render_motion_video

        try:
            with self._render_lock:
                model = self._body_model(body)
                video = render_motion_video(path, joints, body=body, fps=FPS, resolution=self.resolution, hints=hints,
                                            title=title, body_model=model)
            return RenderOutcome(video, body)
        except MotionLCMError as exc:  # no offscreen OpenGL, no SMPL files, ...
            from ..render.stick import render_stick_figure

            video = render_stick_figure(joints, path, fps=FPS, title=title, size=self.resolution)
            return RenderOutcome(video, "stick", f"The {BODY_LABELS.get(body, body)} video could not be made ({exc}); "
                                                 "showing a stick figure instead.")

    def _body_model(self, body: str):
        if body not in self._body_models:
            from ..body.mesh import load_body_model

            self._body_models[body] = load_body_model(body, smpl_dir=self.bodies.smpl_dir if body == "smpl" else None)
        return self._body_models[body]


# ---------------------------------------------------------------------------------------------
# History and result summaries
# ---------------------------------------------------------------------------------------------

HISTORY_HEADERS = ["prompt", "length (s)", "steps", "guidance", "seed", "samples", "control", "time (ms)"]


def add_to_history(history: list[dict] | None, run: dict, size: int = HISTORY_SIZE) -> list[dict]:
    """The newest first, at most ``size`` entries (settings plus the measured time)."""
    entry = {**run["settings"], "ms": round(run["ms"], 1)}
    return [entry, *(history or [])][:size]


def history_rows(history: list[dict] | None) -> list[list]:
    return [[h["prompt"], h["seconds"], h["steps"], h["guidance"], h["seed"], h["samples"], h["control"], h["ms"]]
            for h in history or []]


def timing_text(run: dict) -> str:
    t = run["timings"]
    n = len(run["samples"])
    what = f"{n} sample{'s' if n > 1 else ''} × {run['frames']} frames ({run['frames'] / FPS:.1f} s)"
    s = run["settings"]
    tuning = f", latent tuning {t['tuning']:.0f} ms ({s['tuning_steps']} steps)" if "tuning" in t else ""
    control = f"; control: {s['control']}" if s["control"] != CONTROL_NONE else ""
    return (f"**Generated in {t['total']:.0f} ms** on {run['device'] or 'the server'} — text {t['text']:.0f} ms, "
            f"denoise {t['denoise']:.0f} ms, decode {t['decode']:.0f} ms{tuning}; {what}, {s['steps']} step"
            f"{'s' if s['steps'] > 1 else ''}, guidance {s['guidance']:g}, seed {s['seed']}{control}.")


def download_paths(run: dict) -> list[str]:
    """Every file of a run, sample by sample: BVH, NPZ, GLB and, once rendered, MP4."""
    paths = []
    for sample in run["samples"]:
        paths += [sample[k] for k in ("bvh", "npz", "glb", "mp4") if sample.get(k)]
    return paths


def render_order(count: int, first: int) -> list[int]:
    """Sample indices with ``first`` (the one on screen) at the front."""
    first = first if 0 <= first < count else 0
    return [first] + [i for i in range(count) if i != first]



__all__ = [
    "BODY_LABELS",
    "CONTROL_NONE",
    "CONTROL_PRESETS",
    "CONTROL_UPLOAD",
    "EXAMPLE_PROMPTS",
    "HISTORY_HEADERS",
    "MAX_PROMPT_CHARS",
    "MAX_SECONDS",
    "MIN_SECONDS",
    "ControlSupport",
    "GenerationRequest",
    "MotionService",
    "SessionFiles",
    "add_to_history",
    "check_prompt",
    "check_seconds",
    "download_paths",
    "history_rows",
    "preset_control_spec",
    "random_seed",
    "render_order",
    "resolve_control",
    "timing_text",
]
