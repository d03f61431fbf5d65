"""Mesh videos with pyrender offscreen: MP4s read back (frame count, size, content), options, errors."""

from __future__ import annotations

import numpy as np
import pytest

from motionlcm.errors import MotionLCMError
from motionlcm.render import mesh_video
from motionlcm.render.mesh_video import (
    BACKGROUND,
    checker_floor,
    first_working_platform,
    offscreen_platform,
    render_mesh_video,
    render_motion_video,
    smooth_track,
)

FRAMES = 10
SIZE = (128, 96)


@pytest.fixture(scope="module")
def clip(fixtures) -> np.ndarray:
    return np.load(fixtures / "new_joints" / "012314.npy").astype(np.float64)[:FRAMES * 3:3]


@pytest.fixture(scope="module")
def gl() -> str:
    try:
        return offscreen_platform()
    except MotionLCMError as exc:
        pytest.skip(f"no offscreen OpenGL backend (EGL or OSMesa) can be created here: {exc}")


@pytest.fixture(scope="module")
def body_mesh(clip):
    from motionlcm.body.mesh import MannequinBody

    body = MannequinBody()
    return body.mesh_from_joints(clip), body.faces


def read_video(path) -> np.ndarray:
    import imageio.v3 as iio

    return iio.imread(path, plugin="FFMPEG", index=None)


def warm_pixels(frame: np.ndarray) -> np.ndarray:
    """Pixels of the wooden body: clearly redder than blue (the floor and background are grey)."""
    rgb = frame.astype(int)
    return (rgb[..., 0] - rgb[..., 2] > 25) & (rgb[..., 0] > 100)


def red_pixels(frame: np.ndarray) -> int:
    """Number of vivid red pixels (hint markers)."""
    rgb = frame.astype(int)
    return int(((rgb[..., 0] - rgb[..., 1] > 80) & (rgb[..., 0] > 140)).sum())


def test_mannequin_video_reads_back(gl, clip, tmp_path):
    path = render_motion_video(tmp_path / "walk.mp4", clip, body="mannequin", resolution=SIZE)
    frames = read_video(path)
    assert frames.shape == (FRAMES, SIZE[1], SIZE[0], 3)
    background = np.array(BACKGROUND) * 255
    for frame in frames:
        assert frame.std() > 10  # not blank
        assert warm_pixels(frame).mean() > 0.02  # the body is in view
        assert red_pixels(frame) == 0  # no hints given, none drawn
        assert (np.abs(frame[: SIZE[1] // 5].astype(float) - background).max(-1) < 6).mean() > 0.8  # sky above
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary file left


def test_camera_follows_the_root(gl, body_mesh, tmp_path):
    vertices, faces = body_mesh
    # 4 m sideways in 10 frames at 2 fps: a walk, and a smoothing window of one frame.
    walking = vertices + np.linspace(0, 4, FRAMES)[:, None, None] * np.array([1.0, 0.0, 0.0], dtype=np.float32)
    frames = read_video(render_mesh_video(tmp_path / "follow.mp4", walking, faces, fps=2, resolution=SIZE))
    centres = np.array([np.argwhere(warm_pixels(f))[:, 1].mean() for f in frames])
    assert np.abs(centres - SIZE[0] / 2).max() < 0.12 * SIZE[0]  # a fixed camera would see it cross the frame


def test_hints_are_drawn_with_a_fixed_camera(gl, body_mesh, tmp_path):
    vertices, faces = body_mesh[0][:2], body_mesh[1]
    hints = np.zeros((2, 22, 3))  # motionlcm.control's convention: zeros plus a mask of the controlled pairs
    hints[:, 20] = vertices.mean(1) + np.array([0.4, 0.6, 0.0])  # a wrist target beside the head
    mask = np.zeros((2, 22), dtype=bool)
    mask[:, 20] = True
    path = render_mesh_video(tmp_path / "hints.mp4", vertices, faces, resolution=(256, 192), hints=hints, hint_mask=mask,
                             follow_root=False)
    frames = read_video(path)
    assert frames.shape == (2, 192, 256, 3)
    assert red_pixels(frames[0]) > 20 and warm_pixels(frames[0]).mean() > 0.005


def test_stick_choice_and_fallback(clip, tmp_path, monkeypatch):
    gif = render_motion_video(tmp_path / "stick.gif", clip, body="stick", resolution=(64, 64))
    assert gif.is_file()

    def no_gl():
        raise MotionLCMError("no offscreen OpenGL for mesh rendering")

    monkeypatch.setattr(mesh_video, "offscreen_platform", no_gl)
    with pytest.raises(MotionLCMError, match="offscreen OpenGL"):
        render_motion_video(tmp_path / "mesh.mp4", clip)
    with pytest.warns(RuntimeWarning, match="stick figure"):
        path = render_motion_video(tmp_path / "mesh.mp4", clip, fallback_to_stick=True, resolution=(64, 64))
    assert len(read_video(path)) == FRAMES


def test_platform_failures_name_what_to_install(monkeypatch):
    monkeypatch.setattr(mesh_video, "_probe_platform", lambda name: f"{name} library missing")
    with pytest.raises(MotionLCMError) as info:
        first_working_platform(("egl", "osmesa"))
    message = str(info.value)
    assert "egl: egl library missing" in message and "osmesa" in message
    assert "libegl1" in message and "libosmesa6" in message and "\n" not in message


def test_opengl_imported_too_early_is_explained(gl, monkeypatch):
    import pyrender  # noqa: F401 - imports OpenGL on the platform the gl fixture chose

    # OpenGL is imported: without a platform named in the environment nothing can be switched any more.
    monkeypatch.setattr(mesh_video, "_platform", None)
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    with pytest.raises(MotionLCMError, match="PYOPENGL_PLATFORM=egl"):
        offscreen_platform()
    monkeypatch.setenv("PYOPENGL_PLATFORM", gl)
    assert offscreen_platform() == gl


def test_bad_inputs(tmp_path):
    vertices = np.zeros((2, 3, 3), dtype=np.float32)
    faces = np.array([[0, 1, 2]])
    with pytest.raises(MotionLCMError, match=r"\.mp4"):
        render_mesh_video(tmp_path / "a.gif", vertices, faces)
    with pytest.raises(MotionLCMError, match="faces index"):
        render_mesh_video(tmp_path / "a.mp4", vertices, np.array([[0, 1, 3]]))
    with pytest.raises(MotionLCMError, match="hints"):
        render_mesh_video(tmp_path / "a.mp4", vertices, faces, hints=np.zeros((3, 22, 3)))
    with pytest.raises(MotionLCMError, match="unknown body"):
        render_motion_video(tmp_path / "a.mp4", np.zeros((2, 22, 3)), body="robot")
    assert not list(tmp_path.iterdir())


def test_hint_masks_and_nan_mean_no_hint():
    hints = np.ones((2, 3, 3))
    hints[0, 0] = np.nan
    mask = np.array([[True, True, False], [True, False, True]])
    checked = mesh_video._checked_hints(hints, 2, mask)
    assert np.isnan(checked).all(-1).tolist() == [[True, False, True], [False, True, False]]
    with pytest.raises(MotionLCMError, match="hint_mask"):
        mesh_video._checked_hints(hints, 2, mask[:, :2])


def test_scene_helpers():
    track = np.cumsum(np.random.default_rng(0).normal(size=(50, 2)), 0)
    smooth = smooth_track(track, fps=20)
    assert smooth.shape == track.shape and np.abs(np.diff(smooth, 2, axis=0)).max() < np.abs(np.diff(track, 2, axis=0)).max()
    floor = checker_floor((-1.0, 1.0), (0.0, 2.0), height=-0.02, tile=0.5)
    assert np.allclose(floor.vertices[:, 1], -0.02) and len(floor.faces) == 2 * 4 * 4
    assert len(np.unique(floor.visual.face_colors, axis=0)) == 2
