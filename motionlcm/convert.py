"""``motionlcm convert``: released MotionLCM / MLD checkpoints -> exported checkpoint folders.

The reference implementation (Dai-Wenxun/MotionLCM, V1 = tag ``v1.0`` and ``configs_v1/``, V2 =
tag ``v2.0``) saves ``torch.save(dict(state_dict=model.state_dict()))``. This module reads such a
file (also a bare state dict, or a Lightning-style dict with a ``state_dict`` entry), always with
``torch.load(..., map_location="cpu", weights_only=True)`` so nothing but tensors is unpickled,
renames its tensors onto this package's modules and writes a folder that
:meth:`motionlcm.pipeline.MotionPipeline.from_pretrained` loads.

What the file is (as the reference's ``test.py`` / ``demo.py`` decide it):

* no ``denoiser.*`` keys: a VAE-only checkpoint (``vae_humanml.ckpt``), refused - it cannot generate;
* ``controlnet.*`` + ``traj_encoder.*``: a Motion ControlNet -> kind ``control`` (on an ``lcm`` base
  when the denoiser has ``time_embedding.cond_proj``, else on an ``mld`` base);
* ``denoiser.time_embedding.cond_proj.weight`` present: a MotionLCM student -> kind ``lcm``;
* otherwise an MLD teacher -> kind ``mld``.

V1 and V2 are not told apart by the reference either; ``version`` says which config family the file
belongs to, and is checked against the one structural difference every file has (V2's denoiser has
``latent_pre``/``latent_post`` projections, V1's has none). The version also fixes what the weights
do not show: V1's ReLU before the text projection, V2's SiLUs in the ControlNet condition MLP, and
the sampling defaults (V2: LCM timesteps ``{1: [799], 2: [699, 299], 4: [699, 399, 299, 299]}`` with
the published guidance per step count; V1: diffusers' LCM spacing over 50 DDIM steps, guidance 7.5).

Sizes (widths, layer counts, latent shape, text / sinusoid / guidance dims) are read from the
tensor shapes, so any consistently-shaped file converts; the number of attention heads (4) and the
other hyper-parameters no shape reveals (GELU, post-norm, LayerNorm eps 1e-5, dropout 0.1) are the
reference's. Mapping onto this package (reference name -> ours):

=============================================  ==============================================
``vae.skel_embedding`` / ``final_layer``         ``vae.feature_embedding`` / ``output_layer``
``vae.global_motion_token``                      ``vae.distribution_tokens``
``vae.latent_pre`` (h -> C) / ``latent_post``     ``vae.latent_down`` / ``latent_up``
``*.query_pos*.pe`` ``[500, 1, h]``              ``*.positions.table`` ``[rows, h]``: the first rows
``*.encoder`` / ``*.decoder`` skip stacks        ``.linear_blocks`` -> ``.skip_fusions``, ``.norm`` ->
                                                 ``.final_norm``, ``linear1/2`` -> ``ffn.linear1/2``,
                                                 ``multihead_attn`` -> ``cross_attn``
``denoiser.latent_pre`` (C -> h) / ``latent_post``  ``denoiser.latent_in`` / ``latent_out``
``denoiser.time_embedding.cond_proj``            ``denoiser.guidance_proj``
``denoiser.emb_proj.1``                          ``denoiser.text_proj.1``
``denoiser.encoder``                             ``denoiser.transformer``
``controlnet.<denoiser names>``                  ``controlnet.copy.<our denoiser names>``
``controlnet.controlnet_cond_embedding.{0,2,4}``  ``controlnet.cond_embedding.{0,2,4}`` (V1: ``{0,1,2}``)
``controlnet.controlnet_down_mid_blocks.i``      ``controlnet.residual_projections.i``
``traj_encoder.skel_embedding`` / ``latent_proj``  ``traj_encoder.hint_embedding`` / ``latent_out``
``traj_encoder.global_motion_token``             ``traj_encoder.global_tokens``
=============================================  ==============================================

The learned positional tables follow the same convention on both sides (a row per sequence
position, added after the tokens are concatenated in the same order: VAE encoder
``[2L distribution tokens, frames]``, VAE decoder ``[frames]``, denoiser ``[L latents, time, text]``,
trajectory encoder ``[L global tokens, frames]``), so keeping the first rows is exact.

Ignored on purpose (they are not part of the generator): the frozen T2M evaluators the reference
model carries (``t2m_moveencoder.*``, ``t2m_motionencoder.*``, ``t2m_textencoder.*``), any
``text_encoder.*`` weights (the text encoder is loaded by name, ``sentence-t5-large``) and
``controlnet.latent_post.*`` (V2 builds it but the ControlNet forward never uses it). Every other
key must be used: unknown keys, missing keys and shape mismatches are one-line
:class:`~motionlcm.errors.MotionLCMError` s naming the tensors.

Not in the weights, so given by the user: the HumanML3D feature Mean/Std (the reference reads them
from its dataset folder), and for a ControlNet the per-joint position statistics its hints are
normalised with (``Mean_raw.npy`` / ``Std_raw.npy``, the reference's ``datasets/humanml_spatial_norm``).
"""
from __future__ import annotations

import argparse
import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import MotionLCMError

if TYPE_CHECKING:  # torch and numpy are imported when a conversion runs: `motionlcm --help` stays fast
    import numpy as np
    import torch

VERSIONS = ("v1", "v2")
TEXT_ENCODER = "sentence-t5-large"
REFERENCE_REPOSITORY = "Dai-Wenxun/MotionLCM"
# Keys of the reference model that are not part of the generator (see the module docstring).
IGNORED_PREFIXES = ("t2m_moveencoder.", "t2m_motionencoder.", "t2m_textencoder.", "text_encoder.")
UNUSED_PREFIXES = ("controlnet.latent_post.",)
LCM_KEY = "denoiser.time_embedding.cond_proj.weight"
V2_KEY = "denoiser.latent_pre.weight"
# Hyper-parameters no tensor shape reveals: the reference's, identical in V1 and V2.
REFERENCE_ARCHITECTURE: dict[str, Any] = dict(num_heads=4, dropout=0.1, activation="gelu", norm_first=False,
                                              final_norm=True, norm_eps=1e-5, positional_embedding="learned")

# Per version: what the shapes cannot tell, and the reference's sampling / distillation settings.
_LCM_COMMON: dict[str, Any] = {"w_min": 5.0, "w_max": 15.0, "loss": "huber", "target_ema": 0.95, "sigma_data": 0.5,
                               "timestep_scaling": 10.0}
VERSION_SETTINGS: dict[str, dict[str, Any]] = {
    "v2": {
        "text_activation": None,  # emb_proj.0 is an Identity (text_act_fn: null)
        "controlnet_activation": "silu",
        "lcm": {**_LCM_COMMON, "num_ddim_timesteps": 10, "huber_c": 0.5,
                "timesteps": {1: [799], 2: [699, 299], 4: [699, 399, 299, 299]}},
        "lcm_sampling": {"steps": 1, "guidance": None},  # None: 8.0 / 12.5 / 13.5 for 1 / 2 / 4 steps
    },
    "v1": {
        "text_activation": "relu",
        "controlnet_activation": None,  # three linears, no activation
        "lcm": {**_LCM_COMMON, "num_ddim_timesteps": 50, "huber_c": 0.001,
                "timesteps": {1: [999], 2: [999, 499], 4: [999, 759, 499, 259]}},
        "lcm_sampling": {"steps": 1, "guidance": 7.5},
    },
}
MLD_SAMPLING: dict[str, Any] = {"steps": 50, "guidance": 7.5}


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _names(keys, limit: int = 6) -> str:
    """``'a, b, c'`` or ``'a, b, ... (+7 more)'``: key lists that stay on one readable line."""
    keys = list(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f", ... (+{len(keys) - limit} more)" if len(keys) > limit else "")


def _one_line(exc: BaseException, limit: int = 140) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # torch's weights_only refusal is a long multi-line text; its useful line names the global
    useful = [line for line in lines if "Unsupported global" in line or "GLOBAL" in line]
    text = (useful or lines or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_reference_state(src: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of a reference checkpoint file (``{"state_dict": ...}`` or a bare state dict)."""
    import torch

    path = Path(src)
    if not path.is_file():
        raise MotionLCMError(f"{path}: file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Unsupported global" in text or "GLOBAL" in text:
            raise MotionLCMError(f"{path}: holds Python objects besides tensors, which are never unpickled "
                                 f"({_one_line(exc)})") from None
        # torch's own text here is a multi-paragraph note on weights_only defaults; the cause is the file
        raise MotionLCMError(f"{path}: not a PyTorch checkpoint, or a truncated one (it could not be unpickled)") from None
    except Exception as exc:  # torch raises RuntimeError / EOFError / ValueError ... for damaged files
        raise MotionLCMError(f"{path}: unreadable or truncated checkpoint ({type(exc).__name__}: {_one_line(exc)})") from None
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise MotionLCMError(f"{path}: not a checkpoint dict (it holds a {type(obj).__name__})")
    if not obj:
        raise MotionLCMError(f"{path}: the state dict is empty")
    not_tensors = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise MotionLCMError(f"{path}: not a state dict (no 'state_dict' entry, and {_names(not_tensors)} "
                             f"{'is not a tensor' if len(not_tensors) == 1 else 'are not tensors'})")
    return dict(obj)


def detect_kind(state: Mapping[str, torch.Tensor], where: str = "checkpoint") -> tuple[str, str]:
    """``(kind, base_kind)``: ``("mld", "mld")``, ``("lcm", "lcm")`` or ``("control", "lcm" | "mld")``."""
    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in state)

    if not has("denoiser."):
        if has("vae."):
            raise MotionLCMError(f"{where}: a VAE-only checkpoint (no 'denoiser.*' weights); convert an MLD "
                                 "(mld_humanml*.ckpt), MotionLCM (motionlcm_humanml*.ckpt) or ControlNet checkpoint")
        raise MotionLCMError(f"{where}: no MotionLCM / MLD generator weights (no 'denoiser.*' keys; "
                             f"it has {_names(sorted(state), 4)})")
    base = "lcm" if LCM_KEY in state else "mld"
    if has("controlnet.") or has("traj_encoder."):
        return "control", base
    return base, base


class _Reference:
    """The reference state dict with one-line errors for missing keys and bad shapes."""

    def __init__(self, state: Mapping[str, torch.Tensor], where: str) -> None:
        self.state, self.where = state, where

    def has(self, key: str) -> bool:
        return key in self.state

    def tensor(self, key: str, ndim: int | None = None) -> torch.Tensor:
        if key not in self.state:
            raise MotionLCMError(f"{self.where}: missing key {key}")
        value = self.state[key]
        if ndim is not None and value.ndim != ndim:
            raise MotionLCMError(f"{self.where}: shape mismatch: {key} is {tuple(value.shape)}, expected a {ndim}-d tensor")
        return value

    def dim(self, key: str, axis: int, ndim: int = 2) -> int:
        return int(self.tensor(key, ndim).shape[axis])

    def stack(self, prefix: str) -> dict[str, int]:
        """``num_layers`` and ``ffn_dim`` of a skip transformer under ``prefix``."""
        head = f"{prefix}.input_blocks."
        indices = sorted({int(k[len(head):].split(".", 1)[0]) for k in self.state
                          if k.startswith(head) and k[len(head):].split(".", 1)[0].isdigit()})
        if indices != list(range(len(indices))):
            gaps = [f"{head}{i}.*" for i in range(max(indices) + 1) if i not in indices]
            raise MotionLCMError(f"{self.where}: missing key(s) {_names(gaps)}")
        return {"num_layers": 2 * len(indices) + 1, "ffn_dim": self.dim(f"{prefix}.middle_block.linear1.weight", 0)}


# --------------------------------------------------------------------------------------------
# Configs from shapes
# --------------------------------------------------------------------------------------------


def _vae_config(ref: _Reference) -> dict[str, Any]:
    from .models.vae import VAEConfig

    width = ref.dim("vae.skel_embedding.weight", 0)
    tokens2 = ref.dim("vae.global_motion_token", 0)
    if tokens2 % 2:
        raise MotionLCMError(f"{ref.where}: shape mismatch: vae.global_motion_token is "
                             f"{tuple(ref.tensor('vae.global_motion_token').shape)}, expected an even number of rows "
                             "(mu, logvar)")
    projects = ref.has("vae.latent_pre.weight")
    latent_dim = ref.dim("vae.latent_pre.weight", 0) if projects else width
    values = dict(REFERENCE_ARCHITECTURE, feature_dim=ref.dim("vae.skel_embedding.weight", 1),
                  latent_shape=(tokens2 // 2, latent_dim), width=width, latent_projection=projects,
                  **ref.stack("vae.encoder"))
    return VAEConfig(**values).to_dict()


def _denoiser_config(ref: _Reference, version: str, latent_shape: tuple[int, int]) -> dict[str, Any]:
    from .models.denoiser import DenoiserConfig

    width = ref.dim("denoiser.time_embedding.linear_1.weight", 0)
    projects = ref.has("denoiser.latent_pre.weight")
    latent_dim = ref.dim("denoiser.latent_pre.weight", 1) if projects else width
    if latent_dim != latent_shape[1]:
        raise MotionLCMError(f"{ref.where}: shape mismatch: the denoiser's latent width is {latent_dim} but the "
                             f"VAE's is {latent_shape[1]}")
    guidance = ref.dim(LCM_KEY, 1) if ref.has(LCM_KEY) else None
    values = dict(REFERENCE_ARCHITECTURE, latent_shape=tuple(latent_shape), width=width,
                  text_dim=ref.dim("denoiser.emb_proj.1.weight", 1),
                  text_activation=VERSION_SETTINGS[version]["text_activation"],
                  time_sinusoid_dim=ref.dim("denoiser.time_embedding.linear_1.weight", 1),
                  flip_sin_to_cos=True, downscale_freq_shift=0.0, time_activation="silu",
                  guidance_embed_dim=guidance, latent_projection=projects, text_conditioning="pooled",
                  **ref.stack("denoiser.encoder"))
    return DenoiserConfig(**values).to_dict()


def _controlnet_config(ref: _Reference, version: str) -> dict[str, Any]:
    from .models.controlnet import ControlNetConfig

    return ControlNetConfig(embed_dim=ref.dim("controlnet.controlnet_cond_embedding.0.weight", 0),
                            activation=VERSION_SETTINGS[version]["controlnet_activation"]).to_dict()


def _traj_encoder_config(ref: _Reference, latent_shape: tuple[int, int]) -> dict[str, Any]:
    from .models.controlnet import TrajectoryEncoderConfig

    width = ref.dim("traj_encoder.skel_embedding.weight", 0)
    inputs = ref.dim("traj_encoder.skel_embedding.weight", 1)
    projects = ref.has("traj_encoder.latent_proj.weight")
    shape = (ref.dim("traj_encoder.global_motion_token", 0),
             ref.dim("traj_encoder.latent_proj.weight", 0) if projects else width)
    if shape != tuple(latent_shape) or inputs % 3:
        raise MotionLCMError(f"{ref.where}: shape mismatch: the trajectory encoder gives {shape} tokens from "
                             f"{inputs} inputs, expected the denoiser's latent {tuple(latent_shape)} from joints x 3")
    values = dict(REFERENCE_ARCHITECTURE, latent_shape=shape, num_joints=inputs // 3, width=width,
                  latent_projection=projects, **ref.stack("traj_encoder.encoder"))
    return TrajectoryEncoderConfig(**values).to_dict()


# --------------------------------------------------------------------------------------------
# Names: ours -> the reference's
# --------------------------------------------------------------------------------------------

_TABLE = "table"  # marks learned positional tables: reference [rows >= ours, 1, width] -> ours [rows, width]


def _stack_name(key: str) -> str:
    """A key inside one of our skip transformers -> the reference's name."""
    for ours, theirs in (("skip_fusions.", "linear_blocks."), ("final_norm.", "norm.")):
        if key.startswith(ours):
            return theirs + key[len(ours):]
    for ours, theirs in ((".cross_attn.", ".multihead_attn."), (".ffn.linear1.", ".linear1."), (".ffn.linear2.", ".linear2.")):
        key = key.replace(ours, theirs)
    return key


def _renamed(key: str, table: list[tuple[str, str, str | None]]) -> tuple[str, str | None]:
    for ours, theirs, how in table:  # ``ours`` is a whole key, or a prefix ending with "."
        if key == ours or (ours.endswith(".") and key.startswith(ours)):
            rest = key[len(ours):]
            if how == "stack":
                return theirs + _stack_name(rest), None
            return theirs + rest, how
    raise KeyError(key)  # a parameter this converter does not know: a bug here, not a user error


_VAE_NAMES = [
    ("feature_embedding.", "skel_embedding.", None), ("distribution_tokens", "global_motion_token", None),
    ("encoder_positions.table", "query_pos_encoder.pe", _TABLE), ("encoder.", "encoder.", "stack"),
    ("latent_down.", "latent_pre.", None), ("latent_up.", "latent_post.", None),
    ("decoder_positions.table", "query_pos_decoder.pe", _TABLE), ("decoder.", "decoder.", "stack"),
    ("output_layer.", "final_layer.", None),
]
_DENOISER_NAMES = [
    ("latent_in.", "latent_pre.", None), ("latent_out.", "latent_post.", None),
    ("time_embedding.", "time_embedding.", None), ("guidance_proj.", "time_embedding.cond_proj.", None),
    ("text_proj.", "emb_proj.", None), ("positions.table", "query_pos.pe", _TABLE),
    ("transformer.", "encoder.", "stack"),
]
_TRAJ_NAMES = [
    ("hint_embedding.", "skel_embedding.", None), ("global_tokens", "global_motion_token", None),
    ("positions.table", "query_pos_encoder.pe", _TABLE), ("encoder.", "encoder.", "stack"),
    ("latent_out.", "latent_proj.", None),
]


def reference_name(part: str, key: str, controlnet_activation: str | None = "silu") -> tuple[str | None, str | None]:
    """(reference key, how) for our ``part.key``; ``None`` for tensors the reference does not have."""
    if part == "vae":
        name, how = _renamed(key, _VAE_NAMES)
    elif part == "denoiser":
        name, how = _renamed(key, _DENOISER_NAMES)
    elif part == "traj_encoder":
        if key in ("hint_mean", "hint_std"):
            return None, None  # set from Mean_raw / Std_raw
        name, how = _renamed(key, _TRAJ_NAMES)
    elif part == "controlnet":
        if key.startswith("copy."):
            name, how = _renamed(key[len("copy."):], _DENOISER_NAMES)
        elif key.startswith("cond_embedding."):
            index, rest = key[len("cond_embedding."):].split(".", 1)
            # our MLP keeps (identity) activations at 1 and 3; the reference drops absent ones
            index = int(index) if controlnet_activation else int(index) // 2
            name, how = f"controlnet_cond_embedding.{index}.{rest}", None
        elif key.startswith("residual_projections."):
            name, how = "controlnet_down_mid_blocks." + key[len("residual_projections."):], None
        else:
            raise KeyError(key)
    else:
        raise KeyError(part)
    return f"{part}.{name}", how


# --------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------


def _check_version(ref: _Reference, version: str) -> None:
    if version not in VERSIONS:
        raise MotionLCMError(f"unknown version {version!r}; use v1 or v2")
    is_v2 = ref.has(V2_KEY)
    if version == "v1" and is_v2:
        raise MotionLCMError(f"{ref.where}: looks like a MotionLCM-V2 checkpoint (it has {V2_KEY}); use --version v2")
    if version == "v2" and not is_v2:
        raise MotionLCMError(f"{ref.where}: looks like a MotionLCM-V1 checkpoint (no {V2_KEY}); use --version v1")


def _build_modules(configs: dict[str, dict[str, Any]]) -> dict[str, torch.nn.Module]:
    from .models.controlnet import ControlNetConfig, MotionControlNet, build_trajectory_encoder, trajectory_encoder_config
    from .models.denoiser import DenoiserConfig, LatentDenoiser
    from .models.vae import MotionVAE, VAEConfig

    modules: dict[str, torch.nn.Module] = {"vae": MotionVAE(VAEConfig.from_dict(configs["vae"])),
                                           "denoiser": LatentDenoiser(DenoiserConfig.from_dict(configs["denoiser"]))}
    if "controlnet" in configs:
        modules["controlnet"] = MotionControlNet(DenoiserConfig.from_dict(configs["denoiser"]),
                                                 ControlNetConfig.from_dict(configs["controlnet"]))
        modules["traj_encoder"] = build_trajectory_encoder(trajectory_encoder_config(configs["traj_encoder"]))
    return modules


def map_state(state: Mapping[str, torch.Tensor], modules: Mapping[str, torch.nn.Module], where: str,
              controlnet_activation: str | None) -> dict[str, dict[str, torch.Tensor]]:
    """Our state dict for every module, from the reference's; every problem in one line."""
    import torch

    mapped: dict[str, dict[str, torch.Tensor]] = {}
    used: set[str] = set()
    missing: list[str] = []
    mismatched: list[str] = []
    for part, module in modules.items():
        ours: dict[str, torch.Tensor] = {}
        for key, target in module.state_dict().items():
            name, how = reference_name(part, key, controlnet_activation)
            if name is None:
                continue
            if name not in state:
                missing.append(name)
                continue
            used.add(name)
            value = state[name]
            if how == _TABLE:
                rows, width = target.shape
                if value.ndim != 3 or value.shape[1] != 1 or value.shape[2] != width or value.shape[0] < rows:
                    mismatched.append(f"{name} is {tuple(value.shape)}, expected (>={rows}, 1, {width})")
                    continue
                value = value[:rows, 0]
            elif tuple(value.shape) != tuple(target.shape):
                mismatched.append(f"{name} is {tuple(value.shape)}, expected {tuple(target.shape)}")
                continue
            ours[key] = value.detach().to(torch.float32).clone()
        mapped[part] = ours
    unknown = [k for k in state if k not in used and not k.startswith(IGNORED_PREFIXES + UNUSED_PREFIXES)]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s): {_names(missing)}")
        if unknown:
            parts.append(f"unknown {len(unknown)} key(s): {_names(unknown)}")
        hint = ""
        if any(k.startswith("denoiser.mem_pos.") for k in unknown):
            hint = " (denoiser.mem_pos.* is the original MLD repository's layout, which is not MotionLCM's)"
        raise MotionLCMError(f"{where}: does not match the reference layout: {'; '.join(parts)}{hint}")
    if mismatched:
        raise MotionLCMError(f"{where}: shape mismatch: {'; '.join(mismatched[:3])}"
                             + (f" (+{len(mismatched) - 3} more)" if len(mismatched) > 3 else ""))
    return mapped


def _array(value) -> np.ndarray:
    import numpy as np

    if isinstance(value, (str, Path)):
        from .io import load_npy

        value = load_npy(value)
    return np.asarray(value, dtype=np.float32)


def _check_stats(mean, std, size: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    mean, std = _array(mean), _array(std)
    for name, array in (("mean", mean), ("std", std)):
        if array.size != size:
            raise MotionLCMError(f"{what} {name}: expected {size} values, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise MotionLCMError(f"{what} {name}: contains NaN or Inf")
    if (std <= 0).any():
        raise MotionLCMError(f"{what} std: has zero or negative entries")
    return mean.reshape(-1), std.reshape(-1)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_reference_checkpoint(src: str | Path, out: str | Path, version: str, mean, std,
                                 joint_mean=None, joint_std=None, text_encoder: str = TEXT_ENCODER,
                                 force: bool = False) -> Path:
    """Convert a released reference checkpoint ``src`` into the exported folder ``out``; returns ``out``.

    ``version``: ``"v1"`` or ``"v2"``. ``mean`` / ``std``: the HumanML3D feature statistics (arrays or
    ``.npy`` paths). ``joint_mean`` / ``joint_std``: per-joint position mean/std ((22, 3) or (66,),
    arrays or paths; ``Mean_raw.npy`` / ``Std_raw.npy``), needed for ControlNet checkpoints.
    ``text_encoder``: the name or local folder stored in the config (the reference uses sentence-t5-large).
    ``force``: overwrite an existing checkpoint folder.
    """
    import torch

    from .checkpoint import CONFIG_FILE, save_checkpoint
    from .diffusion.schedule import NoiseSchedule

    src, out = Path(src), Path(out)
    if version not in VERSIONS:
        raise MotionLCMError(f"unknown version {version!r}; use v1 or v2")
    if out.exists() and not out.is_dir():
        raise MotionLCMError(f"{out}: exists and is not a folder")
    if (out / CONFIG_FILE).exists() and not force:
        raise MotionLCMError(f"{out}: already holds a checkpoint; use --force to overwrite it")
    state = read_reference_state(src)
    kind, base_kind = detect_kind(state, str(src))
    ref = _Reference(state, str(src))
    _check_version(ref, version)
    settings = VERSION_SETTINGS[version]

    configs = {"vae": _vae_config(ref)}
    latent_shape = tuple(configs["vae"]["latent_shape"])
    configs["denoiser"] = _denoiser_config(ref, version, latent_shape)
    if kind == "control":
        configs["controlnet"] = _controlnet_config(ref, version)
        configs["traj_encoder"] = _traj_encoder_config(ref, latent_shape)
    mean, std = _check_stats(mean, std, configs["vae"]["feature_dim"], "feature")
    if kind == "control":
        if joint_mean is None or joint_std is None:
            raise MotionLCMError("a ControlNet checkpoint needs the joint statistics its hints were normalised with: "
                                 "--joint-stats DIR (Mean_raw.npy / Std_raw.npy; the reference's datasets/humanml_spatial_norm)")
        joint_mean, joint_std = _check_stats(joint_mean, joint_std, configs["traj_encoder"]["num_joints"] * 3, "joint")

    modules = _build_modules(configs)
    mapped = map_state(state, modules, str(src), settings["controlnet_activation"])
    for part, module in modules.items():
        if part == "traj_encoder":
            mapped[part]["hint_mean"] = torch.as_tensor(joint_mean).reshape(module.hint_mean.shape)
            mapped[part]["hint_std"] = torch.as_tensor(joint_std).reshape(module.hint_std.shape)
        module.load_state_dict(mapped[part], strict=True)
        module.eval()

    sampling = dict(settings["lcm_sampling"] if base_kind == "lcm" else MLD_SAMPLING)
    config: dict[str, Any] = {}
    if kind == "control":
        config.update(base_kind=base_kind, base=str(src))
    config.update(vae=configs["vae"], denoiser=configs["denoiser"])
    if kind == "control":
        config.update(controlnet=configs["controlnet"], traj_encoder=configs["traj_encoder"])
    config.update(text_encoder=str(text_encoder), schedule=NoiseSchedule().to_dict(), sampling=sampling)
    if base_kind == "lcm":
        config["lcm"] = {**settings["lcm"], "guidance_embed_dim": configs["denoiser"]["guidance_embed_dim"]}
    config["converted_from"] = {"repository": REFERENCE_REPOSITORY, "version": version, "file": src.name,
                                "sha256": _sha256(src), "detected": kind if kind != "control" else f"control on {base_kind}"}
    return save_checkpoint(out, kind, config, modules, mean, std)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _cmd_convert(args: argparse.Namespace) -> int:
    from .checkpoint import load_checkpoint

    data = Path(args.data) if args.data else None
    if (args.mean is None) != (args.std is None):
        raise MotionLCMError("give both --mean and --std (or --data DIR)")
    if args.mean is not None:
        mean, std = Path(args.mean), Path(args.std)
    elif data is not None:
        mean, std = data / "Mean.npy", data / "Std.npy"
    else:
        raise MotionLCMError("the feature Mean/Std are not in the checkpoint: give --data DIR (a HumanML3D folder "
                             "with Mean.npy, Std.npy) or --mean FILE --std FILE")
    joint_mean = joint_std = None
    stats_dir = Path(args.joint_stats) if args.joint_stats else None
    if stats_dir is None and data is not None and (data / "Mean_raw.npy").is_file():
        stats_dir = data
    if stats_dir is not None:
        joint_mean, joint_std = stats_dir / "Mean_raw.npy", stats_dir / "Std_raw.npy"
    out = convert_reference_checkpoint(args.src, args.out, args.version, mean, std, joint_mean, joint_std,
                                       text_encoder=args.text_encoder, force=args.force)
    ckpt = load_checkpoint(out)
    base = f" on {ckpt.config['base_kind']}" if ckpt.kind == "control" else ""
    print(f"wrote {out}: {ckpt.kind}{base} checkpoint (MotionLCM-{args.version.upper()}, latent "
          f"{tuple(ckpt.config['denoiser']['latent_shape'])}, {len(ckpt.weights)} tensors, text encoder "
          f"{ckpt.config['text_encoder']})")
    return 0


def add_convert_parser(commands) -> argparse.ArgumentParser:
    """Register ``convert`` on the CLI's subparsers."""
    p = commands.add_parser(
        "convert", help="convert a released MotionLCM / MLD checkpoint (.ckpt) into a checkpoint folder",
        description="Convert a checkpoint released with the reference implementation (Dai-Wenxun/MotionLCM: "
                    "mld_humanml*.ckpt, motionlcm_humanml*.ckpt, ControlNet checkpoints) into a folder that "
                    "`motionlcm generate --ckpt DIR` loads. Only tensors are read (weights_only).")
    p.add_argument("src", help="the reference .ckpt file")
    p.add_argument("--out", required=True, help="output checkpoint folder")
    p.add_argument("--version", required=True, choices=VERSIONS,
                   help="v1 for *_v1.ckpt files (configs_v1), v2 for the others (MotionLCM-V2)")
    p.add_argument("--data", help="HumanML3D folder with Mean.npy / Std.npy (and Mean_raw.npy / Std_raw.npy)")
    p.add_argument("--mean", help="feature Mean.npy (instead of --data)")
    p.add_argument("--std", help="feature Std.npy (instead of --data)")
    p.add_argument("--joint-stats", metavar="DIR",
                   help="ControlNet checkpoints: folder with Mean_raw.npy / Std_raw.npy "
                        "(the reference's datasets/humanml_spatial_norm; default: --data if it has them)")
    p.add_argument("--text-encoder", default=TEXT_ENCODER,
                   help="text encoder name or local folder stored in the config (default sentence-t5-large)")
    p.add_argument("--force", action="store_true", help="overwrite an existing checkpoint folder")
    p.set_defaults(func=_cmd_convert)
    return p


__all__ = ["VERSIONS", "VERSION_SETTINGS", "IGNORED_PREFIXES", "read_reference_state", "detect_kind",
           "reference_name", "map_state", "convert_reference_checkpoint", "add_convert_parser"]
