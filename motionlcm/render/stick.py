"""Stick-figure videos of SMPL-22 joint sequences (GIF with Pillow, MP4 with imageio-ffmpeg).

The camera is fixed for the whole clip: a 3/4 view from the front-left of the start pose
(HumanML3D motions start facing +Z), framed so that every joint of every frame and the floor
under the path stay in view. Drawing uses a fixed palette, so GIF colours are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MotionLCMError
from ..io import atomic_path
from ..motion.skeleton import JOINT_NAMES, PARENTS
from .video import mp4_writer

# Palette indices and colours.
BACKGROUND, GRID, PATH_AHEAD, PATH_DONE, LEFT_COLOUR, RIGHT_COLOUR, CENTRE_COLOUR, TEXT, SHADOW = range(9)
PALETTE = (
    (250, 250, 247),  # background
    (205, 205, 200),  # floor grid
    (190, 215, 195),  # trajectory still ahead
    (40, 150, 80),  # trajectory walked so far
    (30, 90, 220),  # left side of the body
    (225, 50, 40),  # right side of the body
    (70, 70, 70),  # spine and head
    (20, 20, 20),  # text
    (225, 225, 220),  # shadow of the figure on the floor
)
BONE_COLOURS = tuple(
    LEFT_COLOUR if JOINT_NAMES[j].startswith("left") else RIGHT_COLOUR if JOINT_NAMES[j].startswith("right") else CENTRE_COLOUR
    for j in range(len(JOINT_NAMES))
)
SUPPORTED_FORMATS = (".gif", ".mp4")


@dataclass(frozen=True)
class Camera:
    """Pinhole camera: ``rotation`` rows are the camera's right, up and viewing axes."""

    eye: np.ndarray
    rotation: np.ndarray
    focal: float
    centre: tuple[float, float]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (..., 2) (x right, y down) and depth (...) of world points (..., 3)."""
        cam = (np.asarray(points, dtype=np.float64) - self.eye) @ self.rotation.T
        depth = np.maximum(cam[..., 2], 1e-6)
        px = self.centre[0] + self.focal * cam[..., 0] / depth
        py = self.centre[1] - self.focal * cam[..., 1] / depth
        return np.stack([px, py], -1), depth


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([right, up, forward])


def floor_extent(joints: np.ndarray, margin: float = 0.4) -> tuple[float, float, float, float]:
    """(x0, x1, z0, z1) of the floor area drawn under a motion."""
    xz = joints[..., [0, 2]].reshape(-1, 2)
    lo, hi = xz.min(0) - margin, xz.max(0) + margin
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def frame_camera(
    joints: np.ndarray, size: tuple[int, int], azimuth_deg: float = 35.0, elevation_deg: float = 22.0, margin: float = 0.06
) -> Camera:
    """A fixed 3/4 camera that keeps all joints of all frames (and the floor area) in view."""
    width, height = size
    x0, x1, z0, z1 = floor_extent(joints)
    top = max(float(joints[..., 1].max()), 0.5)
    corners = np.array([[x, y, z] for x in (x0, x1) for y in (0.0, top) for z in (z0, z1)])
    target = corners.mean(0)
    radius = np.linalg.norm(corners - target, axis=-1).max()
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    # Front-left of a body facing +Z (its left is +X), looking down a little.
    direction = np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])
    eye = target + direction * radius * 2.5
    rotation = _look_at(eye, target)
    cam = (np.concatenate([corners, joints.reshape(-1, 3)]) - eye) @ rotation.T
    nx, ny = cam[:, 0] / cam[:, 2], cam[:, 1] / cam[:, 2]
    usable_w, usable_h = width * (1 - 2 * margin), height * (1 - 2 * margin)
    focal = min(usable_w / max(np.ptp(nx), 1e-6), usable_h / max(np.ptp(ny), 1e-6))
    centre = (width / 2 - focal * (nx.max() + nx.min()) / 2, height / 2 + focal * (ny.max() + ny.min()) / 2)
    return Camera(eye, rotation, float(focal), centre)


def _palette_image(size: tuple[int, int]):
    from PIL import Image

    image = Image.new("P", size, BACKGROUND)
    flat = [c for colour in PALETTE for c in colour]
    image.putpalette(flat + [0] * (768 - len(flat)))
    return image


def _grid_lines(extent: tuple[float, float, float, float]) -> list[tuple[np.ndarray, np.ndarray]]:
    x0, x1, z0, z1 = extent
    step = 0.5 if max(x1 - x0, z1 - z0) <= 8 else 1.0
    lines = []
    for x in np.arange(np.floor(x0 / step) * step, x1 + 1e-9, step):
        lines.append((np.array([x, 0.0, z0]), np.array([x, 0.0, z1])))
    for z in np.arange(np.floor(z0 / step) * step, z1 + 1e-9, step):
        lines.append((np.array([x0, 0.0, z]), np.array([x1, 0.0, z])))
    return lines


def render_frames(
    joints: np.ndarray,
    title: str | None = None,
    size: tuple[int, int] = (480, 480),
    azimuth_deg: float = 35.0,
    elevation_deg: float = 22.0,
) -> list:
    """Pillow images ("P" mode, fixed palette), one per frame; the camera looks from
    ``azimuth_deg`` (0 = in front of a body facing +Z, 90 = from its left) and ``elevation_deg``."""
    from PIL import ImageDraw, ImageFont

    joints = _checked_joints(joints)
    width, height = size
    camera = frame_camera(joints, size, azimuth_deg, elevation_deg)
    background = _palette_image(size)
    draw = ImageDraw.Draw(background)
    for a, b in _grid_lines(floor_extent(joints)):
        (pa, pb), _ = camera.project(np.stack([a, b]))
        draw.line([tuple(pa), tuple(pb)], fill=GRID, width=1)
    path3d = np.concatenate([joints[:, 0, [0]], np.zeros((len(joints), 1)), joints[:, 0, [2]]], -1)
    path, _ = camera.project(path3d)
    path_points = [tuple(p) for p in path]
    if len(path_points) > 1:
        draw.line(path_points, fill=PATH_AHEAD, width=2)
    font = ImageFont.load_default()
    if title:
        draw.text((8, 6), _fit_text(draw, title, font, width - 16), fill=TEXT, font=font)

    pixels, depth = camera.project(joints)
    shadow, _ = camera.project(joints * np.array([1.0, 0.0, 1.0]))
    line_width = max(2, round(min(size) / 110))
    radius = line_width * 0.9
    frames = []
    for t in range(len(joints)):
        image = background.copy()
        draw = ImageDraw.Draw(image)
        if t > 0:
            draw.line(path_points[: t + 1], fill=PATH_DONE, width=3)
        for j in range(1, len(PARENTS)):
            draw.line([tuple(shadow[t, PARENTS[j]]), tuple(shadow[t, j])], fill=SHADOW, width=line_width)
        # Far bones first so that near ones are drawn over them.
        order = sorted(range(1, len(PARENTS)), key=lambda j: -(depth[t, j] + depth[t, PARENTS[j]]))
        for j in order:
            draw.line([tuple(pixels[t, PARENTS[j]]), tuple(pixels[t, j])], fill=BONE_COLOURS[j], width=line_width)
            x, y = pixels[t, j]
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=BONE_COLOURS[j])
        x, y = pixels[t, 0]
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=CENTRE_COLOUR)
        # The frame counter also keeps consecutive GIF frames distinct (Pillow merges equal ones).
        draw.text((8, height - 18), f"{t + 1}/{len(joints)}", fill=TEXT, font=font)
        frames.append(image)
    return frames


def _fit_text(draw, text: str, font, max_width: int) -> str:
    if draw.textlength(text, font=font) <= max_width:
        return text
    while text and draw.textlength(text + "...", font=font) > max_width:
        text = text[:-1]
    return text + "..."


def _checked_joints(joints) -> np.ndarray:
    arr = np.asarray(joints, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (22, 3) or len(arr) < 1:
        raise MotionLCMError(f"expected joint positions of shape (frames, 22, 3), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise MotionLCMError("joint positions contain NaN or Inf values")
    return arr


def render_stick_figure(
    joints: np.ndarray, out_path, fps: float = 20, title: str | None = None, size: tuple[int, int] = (480, 480),
    azimuth_deg: float = 35.0, elevation_deg: float = 22.0,
) -> Path:
    """Write a stick-figure video of joints (T, 22, 3) to ``out_path`` (.gif or .mp4); the camera
    angles are :func:`render_frames`' (``azimuth_deg=90, elevation_deg=5``: a side view of the legs)."""
    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in SUPPORTED_FORMATS:
        raise MotionLCMError(f"unsupported video format {suffix or '(none)'!r} for {out_path}; use .gif or .mp4")
    if fps <= 0:
        raise MotionLCMError(f"fps must be positive, got {fps}")
    width, height = (int(v) for v in size)
    if width < 16 or height < 16:
        raise MotionLCMError(f"image size must be at least 16x16, got {width}x{height}")
    if suffix == ".mp4":  # yuv420p needs even dimensions
        width, height = width + width % 2, height + height % 2
    frames = render_frames(joints, title=title, size=(width, height), azimuth_deg=azimuth_deg, elevation_deg=elevation_deg)
    with atomic_path(out_path) as tmp:  # an interrupted or failed write leaves no half file
        if suffix == ".gif":
            frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                           duration=max(1, round(1000 / fps)), loop=0)
        else:
            _write_mp4(frames, tmp, fps)
    return out_path


def _write_mp4(frames: list, out_path: Path, fps: float) -> None:
    with mp4_writer(out_path, frames[0].size, fps) as write:
        for frame in frames:
            write(np.asarray(frame.convert("RGB")))


def load_joints_for_viz(source, dataset_dir=None) -> tuple[np.ndarray, str | None]:
    """Joints (T, 22, 3) and an optional title from a file or a dataset motion id.

    ``source`` may be a ``.npy`` of joints (T, 22, 3) or HumanML3D features (T, 263), an
    ``.npz`` holding a ``joints`` array, or (with ``dataset_dir``) a motion id whose
    ``new_joints/ID.npy`` is loaded and whose first caption becomes the title.
    """
    path = Path(source)
    if path.suffix.lower() in (".npy", ".npz"):
        if not path.is_file():
            raise MotionLCMError(f"no such file: {path}")
        return _joints_from_file(path), None
    if dataset_dir is not None:
        root = Path(dataset_dir)
        motion = root / "new_joints" / f"{source}.npy"
        if not motion.is_file():
            raise MotionLCMError(f"motion {source!r} not found: {motion} does not exist")
        return _checked_joints(np.load(motion)), _first_caption(root / "texts" / f"{source}.txt")
    if path.exists():
        raise MotionLCMError(f"cannot show {path}: expected a .npy or .npz file")
    raise MotionLCMError(f"{source!r} is neither a .npy/.npz file nor a motion id (pass a dataset directory for ids)")


def _joints_from_file(path: Path) -> np.ndarray:
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise MotionLCMError(f"cannot read {path}: {exc}") from exc
    if path.suffix.lower() == ".npz":
        if "joints" not in data.files:
            raise MotionLCMError(f"{path} has no 'joints' array (found: {', '.join(data.files) or 'nothing'})")
        data = data["joints"]
    arr = np.asarray(data)
    if arr.ndim == 2 and arr.shape[1] == 263:
        from ..motion.features import features_to_joints

        return _checked_joints(features_to_joints(arr.astype(np.float64)))
    if arr.ndim == 3 and arr.shape[1:] == (22, 3):
        return _checked_joints(arr)
    raise MotionLCMError(f"{path}: expected joints (frames, 22, 3) or features (frames, 263), got shape {arr.shape}")


def _first_caption(path: Path) -> str | None:
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        caption = line.split("#", 1)[0].strip()
        if caption:
            return caption
    return None


__all__ = [
    "Camera",
    "frame_camera",
    "render_frames",
    "render_stick_figure",
    "load_joints_for_viz",
    "PALETTE",
    "BONE_COLOURS",
    "SUPPORTED_FORMATS",
]
