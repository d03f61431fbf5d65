"""Stick-figure rendering: frame counts and sizes read back, colours where the joints project."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from motionlcm.errors import MotionLCMError
from motionlcm.motion.features import features_to_joints, joints_to_features
from motionlcm.render.stick import (
    CENTRE_COLOUR,
    LEFT_COLOUR,
    PALETTE,
    RIGHT_COLOUR,
    frame_camera,
    load_joints_for_viz,
    render_stick_figure,
)
from motionlcm.data.synth.body import REST_JOINTS

T = 12


@pytest.fixture(scope="module")
def motion() -> np.ndarray:
    """A person standing at the origin facing +Z, sliding 1 m along +X with the left arm out."""
    joints = np.repeat(REST_JOINTS[None], T, axis=0)
    joints[:, 20] = joints[:, 16] + np.array([0.5, 0.0, 0.1])  # left wrist held out to the side
    joints[:, 18] = joints[:, 16] + np.array([0.25, 0.0, 0.05])
    joints = joints + np.linspace(0, 1, T)[:, None, None] * np.array([1.0, 0.0, 0.0])
    return joints


def colour_near(image: Image.Image, xy, colour, radius: int = 2, tolerance: int = 0) -> bool:
    rgb = np.asarray(image.convert("RGB")).astype(int)
    x, y = int(round(xy[0])), int(round(xy[1]))
    patch = rgb[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1]
    return bool((np.abs(patch - np.array(colour)).max(-1) <= tolerance).any())


def test_gif_has_one_frame_per_pose_and_bone_colours_at_the_joints(tmp_path, motion):
    size = (200, 160)
    out = render_stick_figure(motion, tmp_path / "walk.gif", fps=20, title="slides to its left", size=size)
    camera = frame_camera(motion, size)
    pixels, _ = camera.project(motion)
    with Image.open(out) as gif:
        assert gif.n_frames == T and gif.size == size
        assert gif.info["duration"] == 50
        for t in (0, T // 2, T - 1):
            gif.seek(t)
            frame = gif.convert("RGB")
            assert colour_near(frame, pixels[t, 20], PALETTE[LEFT_COLOUR])  # left wrist: left colour
            assert colour_near(frame, pixels[t, 15], PALETTE[CENTRE_COLOUR])  # head
            assert colour_near(frame, pixels[t, 8], PALETTE[RIGHT_COLOUR])  # right ankle
            assert not colour_near(frame, (size[0] - 3, 40), PALETTE[LEFT_COLOUR])  # background stays clear
        # the figure moves across the image with the motion
        assert abs(pixels[-1, 0, 0] - pixels[0, 0, 0]) > 20


def test_camera_frames_every_joint_of_every_frame(motion):
    size = (300, 200)
    pixels, depth = frame_camera(motion * 3.0, size).project(motion * 3.0)
    assert (depth > 0).all()
    assert (pixels[..., 0] >= 0).all() and (pixels[..., 0] <= size[0]).all()
    assert (pixels[..., 1] >= 0).all() and (pixels[..., 1] <= size[1]).all()


def test_mp4_reads_back_with_frame_count_and_even_size(tmp_path, motion):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    out = render_stick_figure(motion, tmp_path / "walk.mp4", fps=20, size=(161, 121))
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert tuple(meta["size"]) == (162, 122)
    frames = [np.frombuffer(f, dtype=np.uint8).reshape(122, 162, 3) for f in reader]
    assert len(frames) == T
    pixels, _ = frame_camera(motion, (162, 122)).project(motion)
    x, y = np.round(pixels[0, 20]).astype(int)
    patch = frames[0][y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(int)
    assert (patch[:, 2] - patch[:, 0] > 60).any()  # bluish (left side) despite video compression


def test_render_refuses_bad_input(tmp_path, motion):
    with pytest.raises(MotionLCMError, match="unsupported"):
        render_stick_figure(motion, tmp_path / "walk.avi")
    with pytest.raises(MotionLCMError):
        render_stick_figure(motion[:, :10], tmp_path / "walk.gif")
    with pytest.raises(MotionLCMError):
        render_stick_figure(np.full((4, 22, 3), np.nan), tmp_path / "walk.gif")


def test_load_joints_for_viz_sources(tmp_path, motion):
    np.save(tmp_path / "joints.npy", motion)
    joints, title = load_joints_for_viz(tmp_path / "joints.npy")
    np.testing.assert_allclose(joints, motion)
    assert title is None

    features = joints_to_features(motion).astype(np.float32)
    np.save(tmp_path / "features.npy", features)
    joints, _ = load_joints_for_viz(str(tmp_path / "features.npy"))
    np.testing.assert_allclose(joints, features_to_joints(features.astype(np.float64)), atol=1e-6)
    assert joints.shape == (T - 1, 22, 3)

    np.savez(tmp_path / "sample.npz", joints=motion, lengths=np.array([T]))
    np.testing.assert_allclose(load_joints_for_viz(tmp_path / "sample.npz")[0], motion)

    dataset = tmp_path / "ds"
    (dataset / "new_joints").mkdir(parents=True)
    (dataset / "texts").mkdir()
    np.save(dataset / "new_joints" / "000007.npy", motion.astype(np.float32))
    (dataset / "texts" / "000007.txt").write_text("a person slides left#a/DET person/NOUN slide/VERB left/ADV#0.0#0.0\n")
    joints, title = load_joints_for_viz("000007", dataset_dir=dataset)
    assert joints.shape == motion.shape and title == "a person slides left"


def test_load_joints_for_viz_refuses_unknown_sources(tmp_path, motion):
    np.savez(tmp_path / "nojoints.npz", features=np.zeros((5, 263)))
    np.save(tmp_path / "bad.npy", np.zeros((5, 10)))
    (tmp_path / "notes.txt").write_text("hi")
    for source, kwargs in (
        (tmp_path / "nojoints.npz", {}),
        (tmp_path / "bad.npy", {}),
        (tmp_path / "missing.npy", {}),
        (tmp_path / "notes.txt", {}),
        ("000001", {}),
        ("000001", {"dataset_dir": tmp_path}),
    ):
        with pytest.raises(MotionLCMError):
            load_joints_for_viz(source, **kwargs)
