"""The web app: its checks and files without a server, then its API through gradio_client."""
import argparse
import json
import re
from pathlib import Path

import numpy as np
import pytest

from motionlcm.app import add_app_parser, resolve_checkpoint
from motionlcm.app.core import (MAX_PROMPT_CHARS, SessionFiles, add_to_history, check_prompt, check_seconds, check_seed,
                                preset_control_spec, read_uploaded_control, render_order)
from motionlcm.errors import MotionLCMError

gradio_client = pytest.importorskip("gradio_client", reason="the app tests need gradio (pip install 'motionlcm[app]')")
pytest.importorskip("gradio", reason="the app tests need gradio (pip install 'motionlcm[app]')")

from tests.app_helpers import running_app  # noqa: E402

TIMING = re.compile(r"Generated in (\d+) ms")
pytestmark = pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword is deprecated).*")  # gradio + pandas 3


# --------------------------------------------------------------------------- without a server


def test_input_checks_give_readable_messages():
    assert check_prompt("  a person   walks \n") == "a person walks"
    with pytest.raises(MotionLCMError, match="describe a motion"):
        check_prompt("   ")
    with pytest.raises(MotionLCMError, match=f"301 characters; the limit is {MAX_PROMPT_CHARS}"):
        check_prompt("x" * 301)
    assert check_seconds(0.8) == 0.8 and check_seconds(9.8) == 9.8  # the limits of motionlcm.inputs, as the CLI's
    for bad in (0.7, 9.9, "soon", float("nan")):
        with pytest.raises(MotionLCMError, match="length"):
            check_seconds(bad)
    with pytest.raises(MotionLCMError, match="whole number"):
        check_seed(1.5)


def test_session_files_prune_old_runs_and_clean_up(tmp_path):
    files = SessionFiles(keep=2, parent=tmp_path)
    runs = [files.new_run_dir("abc") for _ in range(3)]
    assert not runs[0].exists() and runs[1].is_dir() and runs[2].is_dir()
    assert files.new_run_dir("../../etc").parent.parent == files.root  # session ids cannot leave the root
    files.drop_session("abc")
    assert not runs[2].exists()
    files.cleanup()
    assert not files.root.exists()


def test_history_keeps_the_last_five_newest_first():
    history = []
    for i in range(7):
        run = {"settings": {"prompt": f"p{i}", "seconds": 4.0, "steps": 1, "guidance": 8.0, "seed": i, "samples": 1,
                            "control": "none", "tuning_steps": 0}, "ms": 10.0 + i}
        history = add_to_history(history, run)
    assert [h["prompt"] for h in history] == ["p6", "p5", "p4", "p3", "p2"]
    assert render_order(3, 2) == [2, 0, 1] and render_order(2, 9) == [0, 1]


def test_control_presets_and_uploads_are_checked(tmp_path):
    from motionlcm.control.spec import load_control_spec

    for name in ("line", "circle", "s_curve"):
        hints, mask = load_control_spec(preset_control_spec(name, 4.0), 80)
        assert mask[:, 0].all() and not mask[:, 1:].any()
        assert np.allclose(hints[0, 0], [0.0, 0.9, 0.0], atol=1e-6)  # every path starts at the origin
    from motionlcm.app.core import upload_folder

    uploads = upload_folder()
    uploads.mkdir(parents=True, exist_ok=True)
    bad = uploads / f"motionlcm-test-{tmp_path.name}.json"
    bad.write_text('{"joints": ')
    try:
        with pytest.raises(MotionLCMError, match="not valid JSON"):
            read_uploaded_control(bad)
    finally:
        bad.unlink()


@pytest.mark.parametrize("where", ["outside", "missing", "symlink"])
def test_only_files_in_the_upload_folder_are_read(tmp_path, where):
    """A server path that a client names is never opened: outside Gradio's upload folder (also
    through a symlink placed inside it) or missing, the same message, naming nothing."""
    from motionlcm.app.core import upload_folder

    secret = tmp_path / "secret_settings.json"
    secret.write_text('{"api_token": "hunter2"}')
    target = {"outside": secret, "missing": tmp_path / "nothing_here.json"}.get(where)
    link = None
    if where == "symlink":
        upload_folder().mkdir(parents=True, exist_ok=True)
        link = upload_folder() / f"motionlcm-link-{tmp_path.name}.json"
        link.symlink_to(secret)
        target = link
    try:
        with pytest.raises(MotionLCMError) as info:
            read_uploaded_control(target)
    finally:
        if link is not None:
            link.unlink()
    message = str(info.value)
    assert message == "The control file was not received as an upload; upload it again."
    assert not any(word in message for word in ("secret", "api_token", "hunter2", "nothing_here", str(tmp_path)))


def test_missing_default_checkpoint_is_explained(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("motionlcm.pipeline.DEFAULT_CHECKPOINT", tmp_path / "assets/checkpoints/motionlcm")
    monkeypatch.delenv("MOTIONLCM_CKPT", raising=False)
    with pytest.raises(MotionLCMError, match=r"embedded default model is missing.*--ckpt"):
        resolve_checkpoint(None)
    with pytest.raises(MotionLCMError, match="checkpoint folder not found"):
        resolve_checkpoint(tmp_path / "nope")


def test_default_model_follows_the_environment(tmp_path, monkeypatch):
    """One rule for CLI, Python API and app: $MOTIONLCM_CKPT first, then the embedded model."""
    from motionlcm.pipeline import DEFAULT_CHECKPOINT, default_checkpoint

    other = tmp_path / "other"
    other.mkdir()
    (other / "config.yaml").write_text("kind: lcm\n")
    monkeypatch.setenv("MOTIONLCM_CKPT", str(other))
    assert default_checkpoint() == other == resolve_checkpoint(None)
    monkeypatch.setenv("MOTIONLCM_CKPT", str(tmp_path / "missing"))
    assert default_checkpoint() == DEFAULT_CHECKPOINT  # the shipped one, present in every clone


def test_cli_parser_registers_the_app_command():
    parser = argparse.ArgumentParser()
    add_app_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["app", "--ckpt", "ck", "--host", "0.0.0.0", "--port", "7999"])
    assert (args.ckpt, args.host, args.port, args.share) == ("ck", "0.0.0.0", 7999, False)


# --------------------------------------------------------------------------- through the API


@pytest.fixture(scope="module")
def app(trained):
    with running_app(trained["lcm"]) as (url, demo):
        yield url, demo


@pytest.fixture()
def client(app, tmp_path):
    return gradio_client.Client(app[0], verbose=False, download_files=str(tmp_path / "downloads"))


def test_generate_endpoint_returns_valid_files(client):
    import pybvh
    import trimesh

    glb, video, downloads, timing = client.predict(
        "a person walks forward", 4.0, "2", 12.5, 7, 2, "stick", "none", None, 0, api_name="/generate")
    assert int(TIMING.search(timing).group(1)) >= 0
    assert Path(video).suffix == ".mp4" and Path(video).stat().st_size > 1000
    by_suffix = {}
    for path in map(Path, downloads):
        by_suffix.setdefault(path.suffix, []).append(path)
    assert {k: len(v) for k, v in by_suffix.items()} == {".bvh": 2, ".npz": 2, ".glb": 2, ".mp4": 2}

    bvh = pybvh.read_bvh_file(by_suffix[".bvh"][0], world_up="+y")
    assert bvh.frame_count == 80 and len(bvh.joint_names) == 22
    seeds = set()
    for npz in by_suffix[".npz"]:
        with np.load(npz) as data:
            assert data["joints"].shape == (80, 22, 3) and np.isfinite(data["joints"]).all()
            assert str(data["text"]) == "a person walks forward"
            seeds.add(int(data["seed"]))
    assert seeds == {7, 8}  # sample i uses seed + i
    scene = trimesh.load(glb)
    assert isinstance(scene, trimesh.Scene) and len(scene.geometry) > 0


def test_preview_then_exports_then_render_as_the_browser_chains_them(client):
    glb, timing, downloads, video, *_ = client.predict(
        "a person jumps forward twice", 3.0, "1", 8.0, 3, 1, "none", None, 0, api_name="/preview")
    assert glb.endswith(".glb") and video is None  # the first visible result: only the viewer's GLB
    assert [Path(p).suffix for p in downloads] == [".glb"]
    assert "1 sample × 60 frames" in timing
    downloads = client.predict(api_name="/exports")  # works on this session's last result
    assert sorted(Path(p).suffix for p in downloads) == [".bvh", ".glb", ".npz"]
    video, downloads = client.predict("stick", 0, api_name="/render")
    assert Path(video).suffix == ".mp4" and len(downloads) == 4


def test_validation_messages(client, tmp_path):
    app_error = gradio_client.exceptions.AppError
    with pytest.raises(app_error, match="describe a motion"):
        client.predict("   ", 4.0, "1", 8.0, 1, 1, "none", None, 0, api_name="/preview")
    with pytest.raises(app_error, match="the limit is 300"):
        client.predict("walk " * 61, 4.0, "1", 8.0, 1, 1, "none", None, 0, api_name="/preview")
    with pytest.raises(app_error, match="less than minimum value 0.8"):  # motionlcm.inputs' limits, as the CLI's
        client.predict("a person walks", 0.5, "1", 8.0, 1, 1, "none", None, 0, api_name="/preview")
    with pytest.raises(app_error, match="seed must be a whole number from 0 to 2147483647"):
        client.predict("a person walks", 2.0, "1", 8.0, 2**31, 1, "none", None, 0, api_name="/preview")
    # the API documents the steps as a string enum ('1', '2', '4'): that is what it takes
    steps_info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/preview"]["parameters"][2]
    assert steps_info["type"].get("enum") == ["1", "2", "4"]
    _, timing, *_ = client.predict("a person walks", 2.0, "2", 8.0, 1, 1, "none", None, 0, api_name="/preview")
    assert "2 steps" in timing or "steps 2" in timing or "2 step" in timing, timing

    bad = tmp_path / "control.json"
    bad.write_text("{not json")
    with pytest.raises(app_error, match="not valid JSON"):
        client.predict("a person walks", 4.0, "1", 8.0, 1, 1, "upload", gradio_client.handle_file(str(bad)), 5,
                       api_name="/preview")


def test_control_preset_and_upload_reach_the_model(client, tmp_path):
    _, timing, *_ = client.predict("a person walks forward", 2.0, "1", 8.0, 1, 1, "circle", None, 2, api_name="/preview")
    assert "control: pelvis circle" in timing and "latent tuning" in timing
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"joints": {"pelvis": {"points": [[0, 0.0, 0.9, 0.0], ["1.5s", 0.0, 0.9, 1.2]]}}}))
    _, timing, *_ = client.predict("a person walks forward", 2.0, "1", 8.0, 1, 1, "upload",
                                   gradio_client.handle_file(str(spec)), 2, api_name="/preview")
    assert "control: uploaded JSON" in timing


def test_server_paths_are_refused_as_uploads(app):
    """Files reach the app only as uploads: a path on the server in the request is rejected by gradio."""
    import httpx

    url, _ = app
    data = ["a person walks", 4.0, "1", 8.0, 1, 1, "upload", {"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}, 5]
    event = httpx.post(f"{url}gradio_api/call/preview", json={"data": data}, timeout=30).json()["event_id"]
    stream = httpx.get(f"{url}gradio_api/call/preview/{event}", timeout=30).text
    content = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").is_file() else ""
    assert "event: error" in stream and (not content or f"{content}" not in stream.replace("/etc/hostname", ""))


@pytest.mark.parametrize("endpoint", ["preview", "generate"])
def test_a_json_path_on_the_server_is_never_read(app, tmp_path, endpoint):
    """A client naming a server-side .json gets an error that shows neither its content nor
    whether it exists (the same message for an existing and a missing file, up to the path the
    client itself sent, which Gradio echoes)."""
    import httpx

    url, _ = app
    secret = tmp_path / "server_secret.json"
    secret.write_text('{"database_password": "hunter2"}')
    messages = []
    for path in (secret, tmp_path / "absent.json"):
        upload = {"path": str(path), "meta": {"_type": "gradio.FileData"}}
        body = ["stick"] if endpoint == "generate" else []
        data = ["a person walks", 4.0, "1", 8.0, 1, 1, *body, "upload", upload, 5]
        event = httpx.post(f"{url}gradio_api/call/{endpoint}", json={"data": data}, timeout=30).json()["event_id"]
        stream = httpx.get(f"{url}gradio_api/call/{endpoint}/{event}", timeout=60).text
        assert "event: error" in stream
        for leak in ("database_password", "hunter2", "No such file", "Errno"):
            assert leak not in stream, (leak, stream[:300])
        messages.append(stream.replace(str(path), "<path>"))
    assert messages[0] == messages[1]
