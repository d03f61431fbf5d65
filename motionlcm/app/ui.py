"""The gradio interface of the web app (``build_app``); the work is done by :mod:`motionlcm.app.core`.

Events and API endpoints
------------------------
* ``/preview`` (the Generate button, Enter in the prompt box): runs the model and writes the
  GLBs; returns the GLB for the 3D viewer, the measured time and the GLB downloads. This is the
  first visible result, shown before any other file exists.
* ``/exports`` (chained after a successful preview): writes BVH and NPZ; adds them to the downloads.
* ``/render`` (chained after the exports): renders the MP4 of every sample, the one on screen
  first, with a progress bar; adds the MP4s to the downloads.
* ``/generate`` (API only): both in one call, returning (GLB, MP4, downloads, time text).

Model calls take turns (see :class:`~motionlcm.app.core.MotionService`); the queue runs up to
``concurrency_limit`` calls of each event at once. Input problems become ``gr.Error`` pop-ups,
a body that could not be drawn a ``gr.Warning``.
"""
import functools
import json

import gradio as gr

from ..errors import MotionLCMError
from .core import (
    BODY_LABELS,
    CONTROL_NONE,
    CONTROL_PRESETS,
    CONTROL_UPLOAD,
    DEFAULT_SECONDS,
    EXAMPLE_PROMPTS,
    HISTORY_HEADERS,
    MAX_GUIDANCE,
    MAX_SAMPLES,
    MAX_SECONDS,
    MAX_TUNING_STEPS,
    MIN_SECONDS,
    MotionService,
    add_to_history,
    download_paths,
    history_rows,
    random_seed,
    render_order,
    timing_text,
)

CONCURRENCY_LIMIT = 2
QUEUE_SIZE = 64
# Gradio copies returned files into its cache: every 30 minutes, delete copies older than 2 hours.
DELETE_CACHE = (1800, 7200)
VIEWER_BACKGROUND = (0.96, 0.96, 0.95, 1.0)
# Babylon's orbit camera: alpha (degrees; 90 = on +Z, in front of the body), beta (from straight above), radius (m).
VIEWER_CAMERA = (65, 75, 3.2)  # front-left of the body, slightly above, like the videos
INTRO = """# MotionLCM: text to human motion in real time
Describe a motion, press **Generate**: the animated body appears in the 3D viewer as soon as the model
has run; the rendered video follows. Download the motion as BVH (Blender, Maya, MotionBuilder), NPZ
(joints + SMPL-style parameters), GLB (animated skeleton) or MP4."""


def user_errors(fn):
    """Show MotionLCMError messages as a gradio error pop-up, without a server traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MotionLCMError as exc:
            raise gr.Error(str(exc), title="Please check the input", print_exception=False) from None

    return wrapper


def user_errors_gen(fn):
    """:func:`user_errors` for generator handlers (gradio streams what they yield)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            yield from fn(*args, **kwargs)
        except MotionLCMError as exc:
            raise gr.Error(str(exc), title="Please check the input", print_exception=False) from None

    return wrapper


def _session(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None) if request is not None else None


def _sample_choices(run: dict) -> list[tuple[str, int]]:
    return [(f"Sample {i + 1} (seed {s['seed']})", i) for i, s in enumerate(run["samples"])]


class AppHandlers:
    """The event handlers, bound to one :class:`MotionService`."""

    def __init__(self, service: MotionService):
        self.service = service

    @user_errors
    def preview(self, prompt, seconds, steps, guidance, seed, samples, control_mode, control_file, tuning_steps, history,
                request: gr.Request):
        """Generate; outputs: viewer, timing, downloads, video, sample picker, run, history, history table."""
        run = self._generate(prompt, seconds, steps, guidance, seed, samples, control_mode, control_file, tuning_steps,
                             request)
        history = add_to_history(history, run)
        picker = gr.update(choices=_sample_choices(run), value=0, visible=len(run["samples"]) > 1)
        return (run["samples"][0]["glb"], timing_text(run), download_paths(run), None, picker, run, history,
                history_rows(history))

    def _generate(self, prompt, seconds, steps, guidance, seed, samples, control_mode, control_file, tuning_steps,
                  request) -> dict:
        request_settings = self.service.make_request(prompt, seconds, steps, guidance, seed, samples, control_mode,
                                                     control_file, tuning_steps)
        return self.service.generate(request_settings, _session(request))

    @user_errors
    def exports(self, run):
        """Write BVH and NPZ of every sample; outputs: downloads, run."""
        if not run:
            raise MotionLCMError("Generate a motion first.")
        run = self.service.export(run)
        return download_paths(run), run

    @user_errors_gen
    def render(self, run, body, selected, progress=gr.Progress()):  # noqa: B008 (gradio injects it)
        """Render every sample's MP4, the selected one first; streams (video, downloads, run)."""
        if not run:
            raise MotionLCMError("Generate a motion first.")
        order = render_order(len(run["samples"]), int(selected or 0))
        for done, index in enumerate(order):
            progress((done, len(order)), desc=f"Rendering video {done + 1}/{len(order)}", unit="videos")
            self._render_one(run, index, body)
            yield run["samples"][order[0]]["mp4"], download_paths(run), run

    def _render_one(self, run: dict, index: int, body: str) -> str:
        outcome = self.service.render(run, index, body)
        if outcome.note:
            gr.Warning(outcome.note)
        return str(outcome.video)

    @user_errors
    def generate_all(self, prompt, seconds, steps, guidance, seed, samples, body, control_mode, control_file,
                     tuning_steps, request: gr.Request, progress=gr.Progress()):  # noqa: B008 (gradio injects it)
        """API: generate and render in one call; returns (GLB, MP4 of sample 1, downloads, time text)."""
        run = self.service.export(self._generate(prompt, seconds, steps, guidance, seed, samples, control_mode,
                                                 control_file, tuning_steps, request))
        for index in range(len(run["samples"])):
            progress((index, len(run["samples"])), desc="Rendering video", unit="videos")
            self._render_one(run, index, body)
        return run["samples"][0]["glb"], run["samples"][0]["mp4"], download_paths(run), timing_text(run)

    @staticmethod
    def show_sample(run, selected):
        """The viewer GLB and (when rendered) the MP4 of the chosen sample."""
        if not run or selected is None or not 0 <= int(selected) < len(run["samples"]):
            return gr.update(), gr.update()
        sample = run["samples"][int(selected)]
        return sample["glb"], sample["mp4"]

    @staticmethod
    def randomise_seed():
        return random_seed()

    @staticmethod
    def toggle_upload(mode):
        return gr.update(visible=mode == CONTROL_UPLOAD)

    @staticmethod
    def restore(history, evt: gr.SelectData):
        """Clicking a history row puts its settings back into the inputs."""
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not history or row is None or not 0 <= row < len(history):
            return (gr.update(),) * 6
        h = history[row]
        return h["prompt"], h["seconds"], str(h["steps"]), h["guidance"], h["seed"], h["samples"]

    def end_session(self, request: gr.Request):
        self.service.files.drop_session(_session(request))


def _control_inputs(service: MotionService):
    """Control radio, upload box and latent tuning steps; hidden (with a note) when unavailable."""
    choices = [("None", CONTROL_NONE)] + [(label.capitalize(), key) for key, label in CONTROL_PRESETS.items()]
    choices.append(("Upload a control JSON", CONTROL_UPLOAD))
    with gr.Accordion("Control (optional)", open=False):
        mode = gr.Radio(choices, value=CONTROL_NONE, label="Control", visible=service.controllable, elem_id="control-mode",
                        info="Pelvis presets span the whole motion at about 1 m/s, starting at the origin facing +Z.")
        upload = gr.File(label="Control JSON (see examples/control/)", file_types=[".json"], type="filepath",
                         visible=False, elem_id="control-file")
        tuning = gr.Slider(0, MAX_TUNING_STEPS, value=service.control.default_tuning_steps, step=10,
                           label="Latent tuning steps", visible=service.control.tuning, elem_id="tuning-steps",
                           info="Optimises the starting noise towards the control (MotionLCM uses 400; "
                                "each step costs about one generation)."
                                + ("" if service.control.controlnet else " Needed: this model has no ControlNet."))
        if not service.controllable:
            gr.Markdown("Control is not available: this build or checkpoint has no control support.")
    return mode, upload, tuning


def _settings_inputs(service: MotionService):
    seconds = gr.Slider(MIN_SECONDS, MAX_SECONDS, value=DEFAULT_SECONDS, step=0.1, label="Length (seconds)",
                        elem_id="seconds")
    # string choices: the API documents this input as a string enum, so that is what clients send
    steps = gr.Radio([str(s) for s in service.step_choices], value=str(service.default_steps), label="Denoising steps",
                     elem_id="steps")
    guidance = gr.Slider(0.0, MAX_GUIDANCE, value=service.guidance_for(service.default_steps), step=0.5,
                         label="Guidance", info="Resets to the model's default when the steps change.", elem_id="guidance")
    with gr.Row(equal_height=True):
        seed = gr.Number(value=random_seed, precision=0, label="Seed", elem_id="seed", scale=3)  # new seed per visit
        dice = gr.Button("Random seed", size="sm", scale=1, elem_id="random-seed")
    samples = gr.Slider(1, MAX_SAMPLES, value=1, step=1, label="Samples", elem_id="samples")
    return seconds, steps, guidance, seed, dice, samples


def _output_widgets():
    timing = gr.Markdown("Press **Generate** to make a motion.", label="generation time", elem_id="timing")
    viewer = gr.Model3D(label="3D preview (drag to orbit, scroll to zoom)", clear_color=VIEWER_BACKGROUND,
                        camera_position=VIEWER_CAMERA, height=420, elem_id="viewer", interactive=False)
    picker = gr.Radio([], label="Show sample", visible=False, elem_id="sample-picker")
    video = gr.Video(label="Rendered video", show_label=False, autoplay=True, loop=True, interactive=False,
                     elem_id="video")
    downloads = gr.File(label="Downloads (BVH, NPZ, GLB, MP4)", file_count="multiple", interactive=False,
                        elem_id="downloads")
    return timing, viewer, picker, video, downloads


def _guidance_js(service: MotionService) -> str:
    """Browser-side: the steps radio sets the guidance slider to the model's default, instantly."""
    defaults = {str(steps): service.guidance_for(steps) for steps in service.step_choices}
    return f"(steps) => ({json.dumps(defaults)})[String(steps)]"


def build_interface(service: MotionService, title: str = "MotionLCM", concurrency_limit: int = CONCURRENCY_LIMIT) -> gr.Blocks:
    """The Blocks app around ``service``, with its queue configured."""
    handlers = AppHandlers(service)
    with gr.Blocks(title=title, delete_cache=DELETE_CACHE, analytics_enabled=False) as demo:
        run_state, history_state = gr.State(None), gr.State([])
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=2):
                prompt = gr.Textbox(label="Prompt", placeholder="a person walks forward", lines=2, max_lines=4,
                                    elem_id="prompt")
                gr.Examples([[p] for p in EXAMPLE_PROMPTS], inputs=[prompt], label="Examples (click to use)")
                seconds, steps, guidance, seed, dice, samples = _settings_inputs(service)
                control_mode, control_file, tuning = _control_inputs(service)
                body = gr.Radio([(BODY_LABELS[b], b) for b in service.bodies.choices], value=service.bodies.default,
                                label="Body in the video", elem_id="body")
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
                api_button = gr.Button("generate (API)", visible=False)
            with gr.Column(scale=3):
                timing, viewer, picker, video, downloads = _output_widgets()
        history_table = gr.Dataframe(headers=HISTORY_HEADERS, value=[], interactive=False, wrap=True,
                                     label="Recent results (click a row to reuse its settings)", elem_id="history")

        settings = [prompt, seconds, steps, guidance, seed, samples]
        preview_outputs = [viewer, timing, downloads, video, picker, run_state, history_state, history_table]
        for trigger, public in ((generate.click, True), (prompt.submit, False)):
            visibility = "public" if public else "private"
            trigger(handlers.preview, [*settings, control_mode, control_file, tuning, history_state], preview_outputs,
                    api_name="preview" if public else None, api_visibility=visibility).success(
                handlers.exports, [run_state], [downloads, run_state], api_name="exports" if public else None,
                api_visibility=visibility, show_progress="hidden").success(
                handlers.render, [run_state, body, picker], [video, downloads, run_state],
                api_name="render" if public else None, api_visibility=visibility, show_progress_on=[video])
        api_button.click(handlers.generate_all, [*settings, body, control_mode, control_file, tuning],
                         [viewer, video, downloads, timing], api_name="generate")
        picker.input(handlers.show_sample, [run_state, picker], [viewer, video], queue=False, api_visibility="private")
        steps.input(None, [steps], [guidance], js=_guidance_js(service), api_visibility="private")
        dice.click(handlers.randomise_seed, None, [seed], queue=False, api_visibility="private")
        control_mode.change(handlers.toggle_upload, [control_mode], [control_file], queue=False, api_visibility="private")
        history_table.select(handlers.restore, [history_state], settings, queue=False, api_visibility="private")
        demo.unload(handlers.end_session)
    demo.queue(default_concurrency_limit=concurrency_limit, max_size=QUEUE_SIZE)
    demo.motion_service = service
    return demo
