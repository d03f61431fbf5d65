"""Body meshes for joint motions: a wooden mannequin (default) or the SMPL body.

A :class:`BodyModel` turns SMPL-style pose parameters (:class:`~.smpl_pose.SmplParams`:
``transl`` = pelvis position, ``global_orient`` about the pelvis, 21 SMPL body-joint
rotations) into posed vertices ``(T, V, 3)`` over a fixed triangle list ``faces (F, 3)``.
Both backends use the SMPL/SMPL-X kinematic tree, whose joints 0..21 are exactly our
SMPL-22 joints, in the same world frame (Y up, metres, rest pose facing +Z, left on +X).

Backends
--------
* ``"mannequin"`` (default): the skinned wooden mannequin of the ``mannequin-x`` package
  (Apache-2.0), driven by SMPL-X body rotations. It ships its own shape calibration, so it
  needs no licence-restricted model files.
* ``"smpl"``: the SMPL body through the ``smplx`` package, from model files the user
  downloads from https://smpl.is.tue.mpg.de (``smpl_dir`` or ``$MOTIONLCM_SMPL_DIR``).
  ``.npz`` files are read with ``allow_pickle=False``; ``.pkl`` files (the official
  download) are Python pickles, which can run code when loaded, so they are only read with
  ``allow_pickle=True`` (or ``MOTIONLCM_SMPL_ALLOW_PICKLE=1``); unpickling the official
  files also needs the ``chumpy`` package.

From joints to a mesh
---------------------
Every body model has its own rest skeleton, which is not quite the T-pose that
:func:`~.smpl_pose.joints_to_smpl_params` assumes by default. :meth:`BodyModel.params_from_joints`
therefore solves the inverse kinematics on the model's own rest offsets, so that every bone
of the mesh points where the motion's bone points; :meth:`BodyModel.fit_betas` picks the
shape coefficients whose bone lengths best match the motion's (ridge least squares, since
the rest joints of both models are linear in the betas). What remains is the difference in
proportions the betas cannot express (e.g. HumanML3D's head joint sits lower than SMPL's):
on the HumanML3D fixture 012314 the mannequin's joints lie 1.7 cm from the motion's on
average (2.5 cm without the shape fit; 7 cm with the motion's own T-pose offsets).
"""
from __future__ import annotations

import contextlib
import io
import os
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import MotionLCMError
from ..motion.skeleton import NUM_JOINTS, PARENTS
from .smpl_pose import SmplParams, joints_to_smpl_params, rest_offsets_from_joints, validate_joints

BODY_MODELS = ("mannequin", "smpl")
MANNEQUIN_KINDS = ("wooden", "convex")
SMPL_DIR_ENV = "MOTIONLCM_SMPL_DIR"
SMPL_ALLOW_PICKLE_ENV = "MOTIONLCM_SMPL_ALLOW_PICKLE"
SMPL_URL = "https://smpl.is.tue.mpg.de"
SMPL_GENDERS = ("neutral", "male", "female")
SMPL_NUM_VERTICES = 6890
SMPL_NUM_JOINTS = 24
NUM_BETAS = 10
# Arrays of an SMPL model file and their shapes (None: any size; V vertices, 24 joints).
SMPL_MODEL_ARRAYS = {
    "v_template": (SMPL_NUM_VERTICES, 3),
    "shapedirs": (SMPL_NUM_VERTICES, 3, None),
    "posedirs": (SMPL_NUM_VERTICES, 3, 207),
    "J_regressor": (SMPL_NUM_JOINTS, SMPL_NUM_VERTICES),
    "weights": (SMPL_NUM_VERTICES, SMPL_NUM_JOINTS),
    "kintree_table": (2, SMPL_NUM_JOINTS),
    "f": (None, 3),
}
# Ridge weight of the shape fit, in squared metres per squared beta: a beta of 1 costs as much
# as about 3 cm of bone-length error, which keeps the shape near the mean body.
_BETA_RIDGE = 1e-3
_MAX_ABS_BETA = 3.0
_CHUNK_FRAMES = 256  # frames per forward pass, to bound memory on long motions


def pose_arrays(params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(transl (T, 3), global_orient (T, 3), body_pose (T, 21, 3)) as float64 from SmplParams or a mapping."""
    try:
        if isinstance(params, SmplParams):
            arrays = params.transl, params.global_orient, params.body_pose
        elif isinstance(params, Mapping):
            arrays = params["transl"], params["global_orient"], params["body_pose"]
        else:
            raise MotionLCMError(f"pose parameters: expected SmplParams or a mapping, got {type(params).__name__}")
    except KeyError as exc:
        raise MotionLCMError(f"pose parameters: missing {exc.args[0]!r}") from None
    transl, orient, body = (np.asarray(a, dtype=np.float64) for a in arrays)
    if body.ndim == 2 and body.shape[-1] == (NUM_JOINTS - 1) * 3:
        body = body.reshape(len(body), NUM_JOINTS - 1, 3)
    frames = len(transl) if transl.ndim == 2 else -1
    if frames < 1 or transl.shape != (frames, 3) or orient.shape != (frames, 3) or body.shape != (frames, NUM_JOINTS - 1, 3):
        raise MotionLCMError(
            "pose parameters: expected transl (T, 3), global_orient (T, 3), body_pose (T, 21, 3) with T >= 1; "
            f"got {transl.shape}, {orient.shape}, {body.shape}")
    if not all(np.isfinite(a).all() for a in (transl, orient, body)):
        raise MotionLCMError("pose parameters contain NaN or Inf values")
    return transl, orient, body


def offsets_from_rest_joints(rest_joints: np.ndarray) -> np.ndarray:
    """Parent-relative offsets (22, 3) of rest joints (22, 3); ``offsets[0]`` is zero."""
    offsets = np.zeros((NUM_JOINTS, 3))
    offsets[1:] = rest_joints[1:] - rest_joints[list(PARENTS[1:])]
    return offsets


class BodyModel(ABC):
    """A posable body mesh over the SMPL-22 skeleton.

    Subclasses provide the rest joints as a linear function of the shape coefficients
    (:meth:`joint_shape_basis`) and the posing itself (:meth:`_pose`).
    """

    name = "body"

    def __init__(self) -> None:
        self._betas = np.zeros(NUM_BETAS)

    # -- shape ---------------------------------------------------------------------------------
    @property
    def betas(self) -> np.ndarray:
        """Current shape coefficients (10,)."""
        return self._betas.copy()

    def set_betas(self, betas) -> None:
        """Use the shape coefficients ``betas`` (10,) for all later calls."""
        betas = np.asarray(betas, dtype=np.float64)
        if betas.shape != (NUM_BETAS,) or not np.isfinite(betas).all():
            raise MotionLCMError(f"betas: expected {NUM_BETAS} finite numbers, got shape {betas.shape}")
        self._betas = betas.copy()
        self._shape_changed()

    def _shape_changed(self) -> None:
        """Hook for backends that cache shape-dependent data."""

    @abstractmethod
    def joint_shape_basis(self) -> tuple[np.ndarray, np.ndarray]:
        """Rest joints of the mean shape (22, 3) and their derivative per beta (22, 3, 10)."""

    @property
    def rest_joints(self) -> np.ndarray:
        """Rest-pose joints (22, 3) of the current shape, in the model's own frame."""
        base, dirs = self.joint_shape_basis()
        return base + dirs @ self._betas

    @property
    def rest_offsets(self) -> np.ndarray:
        """Parent-relative rest offsets (22, 3) of the current shape (the skeleton the IK aims)."""
        return offsets_from_rest_joints(self.rest_joints)

    def fit_betas(self, joints) -> np.ndarray:
        """Shape coefficients (10,) whose bone lengths best match the motion's median bone lengths."""
        lengths = np.linalg.norm(rest_offsets_from_joints(joints), axis=-1)[1:]
        base, dirs = self.joint_shape_basis()
        parents = list(PARENTS[1:])
        bones = base[1:] - base[parents]
        bone_dirs = dirs[1:] - dirs[parents]
        # Keep the model's bone directions and ask for the motion's lengths: a linear problem.
        target = bones / np.linalg.norm(bones, axis=-1, keepdims=True) * lengths[:, None]
        a = bone_dirs.reshape(-1, NUM_BETAS)
        b = (target - bones).reshape(-1)
        betas = np.linalg.solve(a.T @ a + _BETA_RIDGE * np.eye(NUM_BETAS), a.T @ b)
        return np.clip(betas, -_MAX_ABS_BETA, _MAX_ABS_BETA)

    # -- posing --------------------------------------------------------------------------------
    @property
    @abstractmethod
    def faces(self) -> np.ndarray:
        """Triangles (F, 3) as int32 vertex indices."""

    @property
    @abstractmethod
    def num_vertices(self) -> int:
        """V, the number of mesh vertices."""

    @abstractmethod
    def _pose(self, model_transl: np.ndarray, global_orient: np.ndarray, body_pose: np.ndarray,
              with_vertices: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Joints (T, 22, 3) and, if asked, vertices (T, V, 3) for the model's own translation."""

    def _posed(self, params, with_vertices: bool) -> tuple[np.ndarray, np.ndarray | None]:
        transl, orient, body = pose_arrays(params)
        # Both models put the pelvis at rest_joints[0] + their translation; ours is the pelvis.
        model_transl = transl - self.rest_joints[0]
        joints, vertices = [], []
        for start in range(0, len(transl), _CHUNK_FRAMES):
            part = slice(start, start + _CHUNK_FRAMES)
            j, v = self._pose(model_transl[part], orient[part], body[part], with_vertices)
            joints.append(j)
            vertices.append(v)
        return np.concatenate(joints), (np.concatenate(vertices) if with_vertices else None)

    def vertices(self, params) -> np.ndarray:
        """Posed vertices (T, V, 3) float32 of SmplParams (or a dict with transl, global_orient, body_pose)."""
        return self._posed(params, with_vertices=True)[1]

    def joints(self, params) -> np.ndarray:
        """The model's own posed SMPL-22 joints (T, 22, 3) for the same parameters."""
        return self._posed(params, with_vertices=False)[0]

    def params_from_joints(self, joints) -> SmplParams:
        """Inverse kinematics of joints (T, 22, 3) onto this model's rest skeleton."""
        return joints_to_smpl_params(validate_joints(joints), offsets=self.rest_offsets)

    def mesh_from_joints(self, joints, fit_shape: bool = True) -> np.ndarray:
        """Vertices (T, V, 3) of a joint motion; with ``fit_shape`` the model first takes the motion's betas."""
        joints = validate_joints(joints)
        if fit_shape:
            self.set_betas(self.fit_betas(joints))
        return self.vertices(self.params_from_joints(joints))


class MannequinBody(BodyModel):
    """The ``mannequin-x`` figure: ``kind="wooden"`` (skinned, 24k vertices) or ``"convex"`` (rigid hulls)."""

    name = "mannequin"

    def __init__(self, kind: str = "wooden", betas=None) -> None:
        super().__init__()
        try:
            from mannequin import Mannequin
        except ImportError:
            raise MotionLCMError("the mannequin body needs the mannequin-x package: pip install mannequin-x") from None
        if kind not in MANNEQUIN_KINDS:
            raise MotionLCMError(f"unknown mannequin kind {kind!r}; choose one of {', '.join(MANNEQUIN_KINDS)}")
        self.kind = kind
        self._model = Mannequin(kind)
        self._faces = np.ascontiguousarray(self._model.faces, dtype=np.int32)
        self._basis = self._measure_shape_basis()
        self._skin = None
        if betas is not None:
            self.set_betas(betas)
        else:
            self._shape_changed()

    @property
    def faces(self) -> np.ndarray:
        return self._faces

    @property
    def num_vertices(self) -> int:
        return self._model.num_vertices

    def joint_shape_basis(self) -> tuple[np.ndarray, np.ndarray]:
        return self._basis

    def _measure_shape_basis(self) -> tuple[np.ndarray, np.ndarray]:
        # The mannequin's rest joints are linear in the betas (its calibration is baked that
        # way), so one skeleton evaluation per coefficient gives the exact basis.
        def rest_joints(shape: np.ndarray) -> np.ndarray:
            pose = self._model.rest_pose(dtype=np.float64)
            pose["shape"] = shape
            return self._model.joint_transforms(pose)[:NUM_JOINTS, :3, 3].astype(np.float64)

        base = rest_joints(np.zeros(NUM_BETAS))
        dirs = np.stack([rest_joints(np.eye(NUM_BETAS)[i]) - base for i in range(NUM_BETAS)], axis=-1)
        return base, dirs

    def _shape_changed(self) -> None:
        self._model.reshape(self._betas.astype(np.float32))
        self._skin = _LinearSkin.from_mannequin(self._model) if self._model.skinned else None

    def _pose(self, model_transl, global_orient, body_pose, with_vertices):
        pose = self._model.rest_pose(batch_dims=(len(model_transl),), dtype=np.float64)
        pose["body_pose"][:] = body_pose
        # pelvis_rotation turns the body about the pelvis, like SMPL's global_orient;
        # the mannequin's global_rotation would turn it about the origin instead.
        pose["pelvis_rotation"][:] = global_orient
        pose["global_translation"][:] = model_transl
        transforms = self._model.joint_transforms(pose)
        joints = transforms[:, :NUM_JOINTS, :3, 3].astype(np.float64)
        if not with_vertices:
            return joints, None
        if self._skin is not None:
            return joints, self._skin.apply(transforms)
        return joints, np.asarray(self._model.vertices(pose), dtype=np.float32)


class _LinearSkin:
    """Linear blend skinning as one sparse matrix product.

    ``mannequin-x`` skins with a gather of a rotation per vertex and influence, which takes
    about 0.1 s per frame. Skinning is linear in the joint transforms, so a sparse matrix
    (V, J*4) built once per shape maps the stacked [R | t] rows of all frames at once. The
    matrix reads the mannequin's skinning data, which is not public API; it is checked
    against the package's own ``vertices()`` when built, and :meth:`from_mannequin` returns
    None (the slow public path) if anything differs.
    """

    def __init__(self, matrix, num_joints: int) -> None:
        self.matrix = matrix
        self.num_joints = num_joints

    @classmethod
    def from_mannequin(cls, model) -> _LinearSkin | None:
        try:
            rest = np.asarray(model._identity["skin_vertices"], dtype=np.float64)
            bind = np.asarray(model._identity["skin_bind_positions"], dtype=np.float64)
            index = np.asarray(model._skin_joint_indices)
            weight = np.asarray(model._skin_weights, dtype=np.float64)
        except (AttributeError, KeyError, TypeError):
            return None
        skin = cls._build(rest, bind, index, weight)
        return skin if skin._matches(model) else None

    @classmethod
    def _build(cls, rest, bind, index, weight) -> _LinearSkin:
        from scipy.sparse import csr_matrix

        vertices, influences = index.shape
        num_joints = len(bind)
        relative = rest[:, None, :] - bind[index]  # (V, K, 3)
        # Column j*4 + c holds the weight of R_j[:, c] (c < 3) and of t_j (c = 3).
        values = np.concatenate([weight[..., None] * relative, weight[..., None]], axis=-1)
        rows = np.repeat(np.arange(vertices), influences * 4)
        cols = (index[..., None] * 4 + np.arange(4)).reshape(-1)
        matrix = csr_matrix((values.reshape(-1), (rows, cols)), shape=(vertices, num_joints * 4))
        return cls(matrix, num_joints)

    def apply(self, transforms: np.ndarray) -> np.ndarray:
        """Vertices (T, V, 3) float32 from joint transforms (T, J, 4, 4)."""
        frames = len(transforms)
        rows = transforms[:, :, :3, :4]  # (T, J, 3, 4)
        stacked = rows.transpose(1, 3, 0, 2).reshape(self.num_joints * 4, frames * 3)
        out = self.matrix @ stacked  # (V, T * 3)
        return np.ascontiguousarray(out.reshape(-1, frames, 3).transpose(1, 0, 2), dtype=np.float32)

    def _matches(self, model) -> bool:
        pose = model.rest_pose(batch_dims=(2,), dtype=np.float64)
        rng = np.random.default_rng(0)
        pose["body_pose"][:] = rng.normal(scale=0.4, size=pose["body_pose"].shape)
        pose["pelvis_rotation"][:] = rng.normal(scale=0.5, size=(2, 3))
        pose["global_translation"][:] = rng.normal(size=(2, 3))
        expected = np.asarray(model.vertices(pose))
        got = self.apply(model.joint_transforms(pose))
        return expected.shape == got.shape and bool(np.abs(expected - got).max() < 1e-4)


class SmplBody(BodyModel):
    """The SMPL body (6890 vertices) through ``smplx``, from the user's SMPL model file."""

    name = "smpl"

    def __init__(self, smpl_dir=None, gender: str = "neutral", betas=None, allow_pickle: bool | None = None) -> None:
        super().__init__()
        if allow_pickle is None:
            allow_pickle = os.environ.get(SMPL_ALLOW_PICKLE_ENV, "") == "1"
        self.model_file = find_smpl_model_file(smpl_dir, gender)
        self._model = _load_smplx_model(self.model_file, gender, allow_pickle)
        self._faces = np.ascontiguousarray(np.asarray(self._model.faces), dtype=np.int32)
        self._basis = self._regress_shape_basis()
        if betas is not None:
            self.set_betas(betas)

    @property
    def faces(self) -> np.ndarray:
        return self._faces

    @property
    def num_vertices(self) -> int:
        return int(self._model.v_template.shape[0])

    def joint_shape_basis(self) -> tuple[np.ndarray, np.ndarray]:
        return self._basis

    def _regress_shape_basis(self) -> tuple[np.ndarray, np.ndarray]:
        # SMPL's rest joints are J_regressor @ (v_template + shapedirs @ betas): linear in the betas.
        regressor = self._model.J_regressor.double().numpy()[:NUM_JOINTS]
        template = self._model.v_template.double().numpy()
        shapedirs = self._model.shapedirs.double().numpy()[..., :NUM_BETAS]
        base = regressor @ template
        dirs = np.einsum("jv,vcb->jcb", regressor, shapedirs)
        if dirs.shape[-1] < NUM_BETAS:  # a model with fewer shape components
            dirs = np.concatenate([dirs, np.zeros(dirs.shape[:2] + (NUM_BETAS - dirs.shape[-1],))], axis=-1)
        return base, dirs

    def _pose(self, model_transl, global_orient, body_pose, with_vertices):
        import torch

        frames = len(model_transl)
        num_betas = self._model.num_betas
        hands = np.zeros((frames, SMPL_NUM_JOINTS - NUM_JOINTS, 3))  # SMPL's two hand joints stay at rest
        dtype = self._model.v_template.dtype

        def tensor(a: np.ndarray):
            return torch.tensor(np.asarray(a), dtype=dtype)  # copies: broadcast views are read-only

        with torch.no_grad():
            out = self._model(
                betas=tensor(np.broadcast_to(self._betas[:num_betas], (frames, num_betas))),
                global_orient=tensor(global_orient),
                body_pose=tensor(np.concatenate([body_pose, hands], axis=1).reshape(frames, -1)),
                transl=tensor(model_transl),
                return_verts=with_vertices,
            )
        joints = out.joints[:, :NUM_JOINTS].double().numpy()
        vertices = out.vertices.float().numpy() if with_vertices else None
        return joints, vertices


def find_smpl_model_file(smpl_dir=None, gender: str = "neutral") -> Path:
    """The SMPL model file for ``gender`` in ``smpl_dir`` (or $MOTIONLCM_SMPL_DIR); .npz before .pkl."""
    if gender not in SMPL_GENDERS:
        raise MotionLCMError(f"unknown SMPL gender {gender!r}; choose one of {', '.join(SMPL_GENDERS)}")
    stem = f"SMPL_{gender.upper()}"
    where = f"download them from {SMPL_URL} (registration required) and pass smpl_dir or set {SMPL_DIR_ENV}"
    root = smpl_dir if smpl_dir is not None else os.environ.get(SMPL_DIR_ENV)
    if not root:
        raise MotionLCMError(
            f"the SMPL body needs the SMPL model files ({stem}.npz or {stem}.pkl), which cannot be shipped: {where}")
    root = Path(root).expanduser()
    if root.is_file():
        return root
    if not root.is_dir():
        raise MotionLCMError(f"SMPL model folder {root} does not exist; {where}")
    for folder in (root, root / "smpl"):
        for suffix in (".npz", ".pkl"):
            if (folder / f"{stem}{suffix}").is_file():
                return folder / f"{stem}{suffix}"
    raise MotionLCMError(f"no {stem}.npz or {stem}.pkl in {root}; {where}")


def read_smpl_npz(path) -> dict[str, np.ndarray]:
    """The arrays of an SMPL ``.npz`` model file, checked, without unpickling anything."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in SMPL_MODEL_ARRAYS if k not in data.files]
            if missing:
                raise MotionLCMError(f"{path}: not an SMPL model file (missing {', '.join(missing)})")
            arrays = {k: np.asarray(data[k]) for k in SMPL_MODEL_ARRAYS}
    except ValueError as exc:  # numpy's message for object arrays (and for files that are no .npz at all)
        reason = "not an .npz archive, or it holds pickled objects" if "pickle" in str(exc) else str(exc).splitlines()[0][:120]
        raise MotionLCMError(f"{path}: unreadable SMPL model file ({reason})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise MotionLCMError(f"{path}: unreadable SMPL model file ({type(exc).__name__}: {exc})") from None
    for key, expected in SMPL_MODEL_ARRAYS.items():
        shape = arrays[key].shape
        if len(shape) != len(expected) or any(e is not None and s != e for s, e in zip(shape, expected)):
            raise MotionLCMError(f"{path}: {key} has shape {shape}, expected {expected} (not an SMPL model file)")
    if arrays["shapedirs"].shape[-1] < 1:
        raise MotionLCMError(f"{path}: shapedirs has no shape components")
    return arrays


def _load_smplx_model(path: Path, gender: str, allow_pickle: bool):
    try:
        import smplx
        from smplx.utils import Struct
    except ImportError:
        raise MotionLCMError("the SMPL body needs the smplx package: pip install smplx") from None
    if path.suffix.lower() == ".npz":
        data_struct = Struct(**read_smpl_npz(path))
    elif path.suffix.lower() == ".pkl":
        if not allow_pickle:
            raise MotionLCMError(
                f"{path} is a pickle, which can run code when loaded: convert it to .npz, or, if you trust it, "
                f"pass allow_pickle=True (or set {SMPL_ALLOW_PICKLE_ENV}=1)")
        data_struct = None  # smplx unpickles .pkl files itself
    else:
        raise MotionLCMError(f"{path}: expected an SMPL model file ending in .npz or .pkl")
    try:
        # smplx prints a warning for 10-component models; keep the console quiet.
        with contextlib.redirect_stdout(io.StringIO()):
            return smplx.SMPL(model_path=str(path), data_struct=data_struct, gender=gender, num_betas=NUM_BETAS)
    except ModuleNotFoundError as exc:  # official .pkl files pickle chumpy arrays
        raise MotionLCMError(f"{path}: loading it needs the {exc.name} package (pip install {exc.name})") from None
    except (OSError, EOFError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise MotionLCMError(f"{path}: unreadable SMPL model file ({type(exc).__name__}: {exc})") from None


def load_body_model(body: str = "mannequin", smpl_dir=None, **options) -> BodyModel:
    """A body model by name: ``"mannequin"`` (options: kind, betas) or ``"smpl"`` (smpl_dir, gender, betas, allow_pickle)."""
    if body == "mannequin":
        return MannequinBody(**options)
    if body == "smpl":
        return SmplBody(smpl_dir=smpl_dir, **options)
    raise MotionLCMError(f"unknown body model {body!r}; choose one of {', '.join(BODY_MODELS)}")


def joint_alignment_error(model: BodyModel, joints, fit_shape: bool = True) -> np.ndarray:
    """Distance (T, 22) in metres between a motion's joints and the body model's joints posed from them.

    With ``fit_shape`` the model first takes (and keeps) the betas fitted to the motion.
    """
    joints = validate_joints(joints)
    if fit_shape:
        model.set_betas(model.fit_betas(joints))
    return np.linalg.norm(model.joints(model.params_from_joints(joints)) - joints, axis=-1)


__all__ = [
    "BODY_MODELS",
    "SMPL_DIR_ENV",
    "SMPL_MODEL_ARRAYS",
    "BodyModel",
    "MannequinBody",
    "SmplBody",
    "find_smpl_model_file",
    "joint_alignment_error",
    "load_body_model",
    "offsets_from_rest_joints",
    "pose_arrays",
    "read_smpl_npz",
]
