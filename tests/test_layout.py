"""The package's layering: inference never imports training (README, "Layout")."""
import subprocess
import sys

INFERENCE = ["motionlcm.pipeline", "motionlcm.app.core", "motionlcm.app", "motionlcm.batch", "motionlcm.export.bvh",
             "motionlcm.render.stick", "motionlcm.models.controlnet", "motionlcm.models.evaluator",
             "motionlcm.diffusion.latent_tuning", "motionlcm.evaluation.runner", "motionlcm.checkpoint"]


def test_inference_modules_do_not_import_training():
    code = ("import importlib, sys\n"
            f"for name in {INFERENCE!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.startswith('motionlcm.training')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_one_frame_rate():
    from motionlcm import inputs
    from motionlcm.export import bvh, glb, npz
    from motionlcm.motion import FPS

    assert FPS == 20 and inputs.FPS is bvh.FPS is glb.FPS is npz.FPS is FPS


def test_one_writer_for_cli_batch_and_app():
    """The app, the batch mode and the single-prompt CLI write files through export/files.py only."""
    import inspect

    from motionlcm import batch, cli
    from motionlcm.app import core

    for module in (core, batch, cli):
        source = inspect.getsource(module)
        assert "save_bvh(" not in source and "save_glb(" not in source and "save_motion_npz(" not in source, module
