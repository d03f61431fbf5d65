"""Shaded body-mesh videos (MP4) with pyrender, rendered offscreen.

Offscreen OpenGL
----------------
pyrender draws through PyOpenGL, whose platform is fixed when ``OpenGL`` is first imported,
by the ``PYOPENGL_PLATFORM`` environment variable. :func:`offscreen_platform` therefore tries
each candidate in a short child process (which also keeps a crashing driver away from this
one): ``egl`` first (GPU drivers, or Mesa's software renderer; Debian/Ubuntu packages
``libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri``), then ``osmesa`` (package ``libosmesa6``;
pyrender's OSMesa path also needs ``PyOpenGL>=3.1.5``, newer than the 3.1.0 pyrender pins).
The first that renders is exported in ``PYOPENGL_PLATFORM`` before pyrender is imported. A
``PYOPENGL_PLATFORM`` set by the user is the only candidate tried. If none works, rendering
raises :class:`MotionLCMError` naming what to install (or ``body="stick"``, which needs none).

Scene
-----
A checkered floor under the lowest vertex of the clip, a key and a fill directional light
plus ambient light, and a perspective camera looking from the front-left of a body that
faces +Z (as the stick renderer does). With ``follow_root`` the camera keeps a fixed
direction and distance and glides after the root's smoothed ground track (Gaussian, about
half a second), so steps do not shake the view; otherwise one camera frames the whole clip.
Optional control hints (T, J, 3) are drawn as spheres: the current frame's large, all
frames' small (entries that are NaN, or False in an optional hint mask (T, J), are "no hint").
"""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from ..errors import MotionLCMError
from ..io import atomic_path
from .video import mp4_writer

PLATFORM_CANDIDATES = ("egl", "osmesa")
BODY_CHOICES = ("mannequin", "smpl", "stick")
INSTALL_HINT = (
    "install offscreen OpenGL, e.g. on Debian/Ubuntu `apt-get install libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri` "
    "(or libosmesa6 with PyOpenGL>=3.1.5), or use body='stick'")
BODY_COLOUR = (0.78, 0.60, 0.42)  # light wood
HINT_COLOUR = (0.95, 0.10, 0.10)
FLOOR_COLOURS = ((236, 236, 232), (200, 200, 196))
BACKGROUND = (0.97, 0.97, 0.96)
Y_FOV = np.radians(40.0)
_PROBE_TIMEOUT_S = 120
# The probe renders one tiny frame; success proves the platform can make a context and draw.
_PROBE_CODE = """
import numpy as np, pyrender, trimesh
r = pyrender.OffscreenRenderer(16, 16)
s = pyrender.Scene()
s.add(pyrender.Mesh.from_trimesh(trimesh.creation.box()))
s.add(pyrender.PerspectiveCamera(yfov=1.0), pose=np.array([[1,0,0,0],[0,1,0,0],[0,0,1,3],[0,0,0,1.0]]))
colour, _ = r.render(s)
r.delete()
assert colour.shape == (16, 16, 3)
"""
_platform: str | None = None


def offscreen_platform() -> str:
    """The PyOpenGL platform for offscreen rendering ('egl' or 'osmesa'), chosen once per process."""
    global _platform
    if _platform is not None:
        return _platform
    _require_pyrender()
    requested = os.environ.get("PYOPENGL_PLATFORM")
    if "OpenGL" in sys.modules:  # PyOpenGL's platform is already fixed in this process
        if not requested:
            raise MotionLCMError(
                "OpenGL was imported before an offscreen platform was chosen: set PYOPENGL_PLATFORM=egl "
                "(or osmesa) before importing pyrender or OpenGL, or render the mesh before importing them")
        _platform = requested
        return _platform
    _platform = first_working_platform((requested,) if requested else PLATFORM_CANDIDATES)
    os.environ["PYOPENGL_PLATFORM"] = _platform
    return _platform


def first_working_platform(candidates) -> str:
    """The first platform name that renders in a child process; MotionLCMError with each reason if none."""
    failures = []
    for candidate in candidates:
        reason = _probe_platform(candidate)
        if reason is None:
            return candidate
        failures.append(f"{candidate}: {reason}")
    raise MotionLCMError(f"no offscreen OpenGL for mesh rendering ({'; '.join(failures)}); {INSTALL_HINT}")


def _require_pyrender() -> None:
    import importlib.util

    if importlib.util.find_spec("pyrender") is None:
        raise MotionLCMError("mesh videos need the pyrender package: pip install pyrender (or use body='stick')")


def _probe_platform(platform: str) -> str | None:
    """None if pyrender renders with ``platform`` in a child process, else a short reason."""
    env = dict(os.environ, PYOPENGL_PLATFORM=platform)
    try:
        result = subprocess.run([sys.executable, "-c", _PROBE_CODE], env=env, capture_output=True, text=True,
                                timeout=_PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"no answer in {_PROBE_TIMEOUT_S} s"
    if result.returncode == 0:
        return None
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    return (lines[-1] if lines else f"exit status {result.returncode}")[:160]


# -- inputs ------------------------------------------------------------------------------------
def _checked_video_path(path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise MotionLCMError(f"mesh videos are written as .mp4, got {path.name!r}")
    return path


def _checked_resolution(resolution) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in resolution)
    except (TypeError, ValueError):
        raise MotionLCMError(f"resolution: expected (width, height), got {resolution!r}") from None
    if width < 16 or height < 16:
        raise MotionLCMError(f"resolution must be at least 16x16, got {width}x{height}")
    return width + width % 2, height + height % 2  # yuv420p needs even sizes


def _checked_mesh(vertices, faces) -> tuple[np.ndarray, np.ndarray]:
    verts = np.asarray(vertices, dtype=np.float32)
    if verts.ndim != 3 or verts.shape[-1] != 3 or verts.shape[0] < 1 or verts.shape[1] < 3:
        raise MotionLCMError(f"vertices: expected shape (frames, vertices, 3), got {verts.shape}")
    if not np.isfinite(verts).all():
        raise MotionLCMError("vertices contain NaN or Inf values")
    tris = np.asarray(faces)
    if tris.ndim != 2 or tris.shape[1] != 3 or len(tris) < 1 or not np.issubdtype(tris.dtype, np.integer):
        raise MotionLCMError(f"faces: expected integer triangles of shape (F, 3), got {tris.shape} {tris.dtype}")
    if tris.min() < 0 or tris.max() >= verts.shape[1]:
        raise MotionLCMError(f"faces index vertices outside 0..{verts.shape[1] - 1}")
    return verts, tris.astype(np.uint32)


def _checked_hints(hints, frames: int, hint_mask=None) -> np.ndarray | None:
    """Hints (T, J, 3) with NaN wherever there is no hint (non-finite input, or ``hint_mask`` False)."""
    if hints is None:
        return None
    arr = np.array(hints, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[0] != frames or arr.shape[-1] != 3:
        raise MotionLCMError(f"hints: expected shape ({frames}, joints, 3), got {arr.shape}")
    if hint_mask is not None:
        mask = np.asarray(hint_mask, dtype=bool)
        if mask.shape != arr.shape[:2]:
            raise MotionLCMError(f"hint_mask: expected shape {arr.shape[:2]}, got {mask.shape}")
        arr[~mask] = np.nan
    return arr


# -- scene pieces -------------------------------------------------------------------------------
def smooth_track(points: np.ndarray, fps: float, seconds: float = 0.5) -> np.ndarray:
    """Gaussian-smoothed copy of a per-frame track (T, D); sigma is ``seconds`` of motion.

    The ends are padded by point reflection (2 * end - mirrored track), which continues a
    steady walk in a straight line, so the smoothed track does not lag behind at the ends.
    """
    from scipy.ndimage import gaussian_filter1d

    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return points.copy()
    sigma = max(seconds * fps, 1e-3)
    pad = int(np.ceil(4 * sigma))
    padded = np.pad(points, [(pad, pad)] + [(0, 0)] * (points.ndim - 1), mode="reflect", reflect_type="odd")
    return gaussian_filter1d(padded, sigma=sigma, axis=0, mode="nearest")[pad:pad + len(points)]


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-to-world pose (4, 4) looking from ``eye`` at ``target`` (OpenGL: the camera looks down -Z)."""
    back = eye - target
    back = back / np.linalg.norm(back)
    right = np.cross([0.0, 1.0, 0.0], back)
    right = right / max(np.linalg.norm(right), 1e-9)
    up = np.cross(back, right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, up, back], axis=1)
    pose[:3, 3] = eye
    return pose


def _view_direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector from the target to the eye: azimuth 0 = in front of a body facing +Z, 90 = its left."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])


def camera_poses(vertices: np.ndarray, root_xz: np.ndarray, floor_y: float, aspect: float, fps: float,
                 follow_root: bool, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Camera-to-world poses (T, 4, 4): following the smoothed root, or one pose framing the whole clip."""
    half_fov = min(Y_FOV / 2, np.arctan(np.tan(Y_FOV / 2) * aspect))  # the narrower of the two
    direction = _view_direction(azimuth_deg, elevation_deg)
    frames = len(vertices)
    if follow_root:
        height = max(float(vertices[..., 1].max()) - floor_y, 1.0)
        # The narrower field of view spans the body's height plus room for reaching arms.
        radius = 0.5 * height + 0.2
        targets = np.zeros((frames, 3))
        targets[:, [0, 2]] = smooth_track(root_xz, fps)
        targets[:, 1] = floor_y + 0.5 * height
    else:
        lo, hi = vertices.reshape(-1, 3).min(0), vertices.reshape(-1, 3).max(0)
        lo[1] = floor_y
        radius = 0.5 * float(np.linalg.norm(hi - lo)) + 0.1
        targets = np.repeat(((lo + hi) / 2)[None], frames, axis=0)
    # Following: the radius spans the view at the target; fixed: the whole sphere stays in view.
    distance = radius / (np.tan(half_fov) if follow_root else np.sin(half_fov))
    return np.stack([_look_at(t + direction * distance, t) for t in targets])


def checker_floor(x_range: tuple[float, float], z_range: tuple[float, float], height: float, tile: float = 0.5):
    """A trimesh of checkered square tiles at ``height`` covering the given ranges."""
    import trimesh

    xs = np.arange(np.floor(x_range[0] / tile), np.ceil(x_range[1] / tile)) * tile
    zs = np.arange(np.floor(z_range[0] / tile), np.ceil(z_range[1] / tile)) * tile
    gx, gz = (a.reshape(-1) for a in np.meshgrid(xs, zs, indexing="ij"))
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]]) * tile  # counter-clockwise seen from above
    xz = np.stack([gx, gz], -1)[:, None, :] + corners[None]
    verts = np.stack([xz[..., 0], np.full(xz.shape[:2], height), xz[..., 1]], -1).reshape(-1, 3)
    first = np.arange(len(gx))[:, None] * 4
    faces = np.concatenate([first + [0, 1, 2], first + [0, 2, 3]])
    parity = (np.round(gx / tile) + np.round(gz / tile)).astype(int) % 2
    colours = np.asarray(FLOOR_COLOURS, dtype=np.uint8)[np.concatenate([parity, parity])]
    return trimesh.Trimesh(verts, faces, face_colors=colours, process=False)


def _floor_ranges(camera_targets: np.ndarray, vertices: np.ndarray, reach: float):
    """Floor area: everything within ``reach`` of the camera targets and of the body."""
    lo = np.minimum(camera_targets[:, [0, 2]].min(0), vertices[..., [0, 2]].reshape(-1, 2).min(0)) - reach
    hi = np.maximum(camera_targets[:, [0, 2]].max(0), vertices[..., [0, 2]].reshape(-1, 2).max(0)) + reach
    return (lo[0], hi[0]), (lo[1], hi[1])


def vertex_normals_operator(faces: np.ndarray, num_vertices: int):
    """Sparse (V, F) matrix summing each face's normal into its three vertices."""
    from scipy.sparse import csr_matrix

    rows = faces.reshape(-1).astype(np.int64)
    cols = np.repeat(np.arange(len(faces)), 3)
    return csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(num_vertices, len(faces)))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray, operator) -> np.ndarray:
    """Unit area-weighted vertex normals (V, 3) of one frame."""
    tri = vertices[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
    normals = operator @ face_normals
    return (normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _sphere_mesh(pyrender, radius: float, colour, positions: np.ndarray):
    """Instanced spheres at ``positions`` (N, 3); partly emissive so that they stay vivid in shade."""
    import trimesh

    material = pyrender.MetallicRoughnessMaterial(baseColorFactor=(*colour, 1.0), metallicFactor=0.0,
                                                  roughnessFactor=0.5, emissiveFactor=tuple(0.6 * np.asarray(colour)))
    poses = np.tile(np.eye(4), (len(positions), 1, 1))
    poses[:, :3, 3] = positions
    return pyrender.Mesh.from_trimesh(trimesh.creation.icosphere(subdivisions=2, radius=radius), material=material,
                                      poses=poses)


def _add_lights(pyrender, scene, centre: np.ndarray) -> None:
    # Key light from above the camera's side, a weaker fill from the other side and behind.
    for direction, intensity in (((0.4, 1.0, 0.7), 3.0), ((-0.6, 0.6, -0.5), 1.2)):
        eye = centre + np.asarray(direction) * 5.0
        scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=intensity), pose=_look_at(eye, centre))


def _draw_title(frame: np.ndarray, title: str) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.load_default(size=max(11, image.height // 30))
    except TypeError:  # Pillow < 10.1 has one bitmap size
        font = ImageFont.load_default()
    text = title
    while text and draw.textlength(text, font=font) > image.width - 16:
        text = text[:-1]
    draw.text((8, 6), text if text == title else text[:-3] + "...", fill=(20, 20, 20), font=font)
    return np.asarray(image)


# -- rendering --------------------------------------------------------------------------------------
def render_mesh_video(
    path,
    vertices,
    faces,
    fps: float = 20,
    resolution: tuple[int, int] = (640, 480),
    hints=None,
    follow_root: bool = True,
    *,
    hint_mask=None,
    root=None,
    title: str | None = None,
    floor_height: float | None = None,
    azimuth_deg: float = 35.0,
    elevation_deg: float = 15.0,
    colour=BODY_COLOUR,
) -> Path:
    """Write an MP4 of a posed mesh sequence, vertices (T, V, 3) over faces (F, 3); returns the path.

    ``hints`` (T, J, 3) are control targets drawn as spheres, except where ``hint_mask`` (T, J)
    is False or a hint is NaN (the (hints, mask) pairs of :mod:`motionlcm.control` fit); ``root`` (T, 3) is the point the
    camera follows (default: the centre of each frame's bounding box); ``floor_height``
    defaults to the lowest vertex of the clip. The file appears only when complete.
    """
    path = _checked_video_path(path)
    if not fps > 0:
        raise MotionLCMError(f"fps must be positive, got {fps}")
    width, height = _checked_resolution(resolution)
    verts, tris = _checked_mesh(vertices, faces)
    hint_points = _checked_hints(hints, len(verts), hint_mask)
    root_xz = _root_track(verts, root)
    floor_y = float(verts[..., 1].min()) if floor_height is None else float(floor_height)

    offscreen_platform()
    import pyrender

    poses = camera_poses(verts, root_xz, floor_y, width / height, fps, follow_root, azimuth_deg, elevation_deg)
    scene, camera = _static_scene(pyrender, verts, poses, floor_y, hint_points, width / height)
    material = pyrender.MetallicRoughnessMaterial(baseColorFactor=(*colour, 1.0), metallicFactor=0.0, roughnessFactor=0.6)
    normals_op = vertex_normals_operator(tris, verts.shape[1])

    renderer = _offscreen_renderer(pyrender, width, height)
    body_node = hint_node = None
    try:
        with atomic_path(path) as tmp, mp4_writer(tmp, (width, height), fps) as write:
            for t in range(len(verts)):
                scene.set_pose(camera, poses[t])
                body = pyrender.Primitive(positions=verts[t], normals=vertex_normals(verts[t], tris, normals_op),
                                          indices=tris, material=material)
                body_node = _replace(scene, body_node, pyrender.Mesh([body]))
                if hint_points is not None:
                    current = hint_points[t][np.isfinite(hint_points[t]).all(-1)]
                    hint_node = _replace(scene, hint_node,
                                         _sphere_mesh(pyrender, 0.04, HINT_COLOUR, current) if len(current) else None)
                frame, _ = renderer.render(scene)
                write(_draw_title(frame, title) if title else frame)
    finally:
        renderer.delete()
    return path


def _static_scene(pyrender, verts: np.ndarray, poses: np.ndarray, floor_y: float, hint_points, aspect: float):
    """Scene with background, floor, lights, all hints as small spheres and the camera; returns (scene, camera node)."""
    scene = pyrender.Scene(bg_color=(*BACKGROUND, 1.0), ambient_light=(0.35, 0.35, 0.35))
    x_range, z_range = _floor_ranges(poses[:, :3, 3], verts, reach=3.0)
    scene.add(pyrender.Mesh.from_trimesh(checker_floor(x_range, z_range, floor_y), smooth=False))
    _add_lights(pyrender, scene, verts[0].mean(0))
    if hint_points is not None:
        valid = np.isfinite(hint_points).all(-1)
        if valid.any():
            scene.add(_sphere_mesh(pyrender, 0.012, HINT_COLOUR, hint_points[valid]))
    camera = scene.add(pyrender.PerspectiveCamera(yfov=Y_FOV, aspectRatio=aspect, znear=0.05, zfar=200.0))
    return scene, camera


def _root_track(verts: np.ndarray, root) -> np.ndarray:
    if root is None:
        return (verts[..., [0, 2]].min(1) + verts[..., [0, 2]].max(1)) / 2
    arr = np.asarray(root, dtype=np.float64)
    if arr.shape != (len(verts), 3) or not np.isfinite(arr).all():
        raise MotionLCMError(f"root: expected finite positions of shape ({len(verts)}, 3), got {arr.shape}")
    return arr[:, [0, 2]]


def _offscreen_renderer(pyrender, width: int, height: int):
    try:
        return pyrender.OffscreenRenderer(width, height)
    except Exception as exc:  # noqa: BLE001 - drivers raise anything; the probe passed, so it is a setup problem
        raise MotionLCMError(f"cannot create an offscreen OpenGL renderer ({type(exc).__name__}: {exc}); {INSTALL_HINT}") from None


def _replace(scene, node, mesh):
    """Swap the mesh shown by ``node`` (None: nothing) and return the new node."""
    if node is not None:
        scene.remove_node(node)
    return scene.add(mesh) if mesh is not None else None


def render_motion_video(
    path,
    joints,
    body: str = "mannequin",
    fps: float = 20,
    resolution: tuple[int, int] = (640, 480),
    hints=None,
    follow_root: bool = True,
    *,
    title: str | None = None,
    smpl_dir=None,
    fit_shape: bool = True,
    body_model=None,
    fallback_to_stick: bool = False,
    **render_options,
) -> Path:
    """Video of a joint motion (T, 22, 3) as a ``"mannequin"`` or ``"smpl"`` mesh, or a ``"stick"`` figure.

    Mesh videos are MP4 (see :func:`render_mesh_video` for ``render_options``); the stick
    figure may also be a GIF and draws no hints. ``body_model`` reuses a loaded
    :class:`~motionlcm.body.mesh.BodyModel`. With ``fallback_to_stick`` a mesh that cannot be
    made (no offscreen OpenGL, no SMPL files) becomes a stick-figure video with a warning.
    """
    from ..body.smpl_pose import validate_joints

    if body not in BODY_CHOICES:
        raise MotionLCMError(f"unknown body {body!r}; choose one of {', '.join(BODY_CHOICES)}")
    joints = validate_joints(joints)
    if body == "stick":
        return _render_stick(path, joints, fps, title, resolution)
    try:
        offscreen_platform()  # fail before the (slower) mesh work when there is no OpenGL
        from ..body.mesh import load_body_model

        model = body_model if body_model is not None else load_body_model(body, smpl_dir=smpl_dir)
        vertices = model.mesh_from_joints(joints, fit_shape=fit_shape)
    except MotionLCMError as exc:
        if not fallback_to_stick:
            raise
        warnings.warn(f"{exc}; rendering a stick figure instead", RuntimeWarning, stacklevel=2)
        return _render_stick(path, joints, fps, title, resolution)
    return render_mesh_video(path, vertices, model.faces, fps, resolution, hints, follow_root,
                             root=joints[:, 0], title=title, **render_options)


def _render_stick(path, joints, fps, title, resolution) -> Path:
    from .stick import render_stick_figure

    return render_stick_figure(joints, path, fps=fps, title=title, size=tuple(resolution))


__all__ = [
    "BODY_CHOICES",
    "PLATFORM_CANDIDATES",
    "camera_poses",
    "checker_floor",
    "first_working_platform",
    "offscreen_platform",
    "render_mesh_video",
    "render_motion_video",
    "smooth_track",
]
