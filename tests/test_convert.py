"""``motionlcm convert``: reference (Dai-Wenxun/MotionLCM) checkpoints -> exported folders.

The reference checkpoints are built here from the reference's key names and shapes (its
``state_dict`` layout, written out below, not imported) with random weights at tiny sizes. The
converted modules are checked against the reference's maths written out by hand in this file
(sequence order, post-norm blocks, skip fusions, time / guidance embeddings, ControlNet residuals,
VAE and trajectory encoder), all computed from the *reference* tensors.
"""
from __future__ import annotations

import math
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from motionlcm.checkpoint import build_denoiser, build_vae, load_checkpoint
from motionlcm.convert import convert_reference_checkpoint, reference_name
from motionlcm.errors import MotionLCMError

# ---------------------------------------------------------------------------------------------
# The reference layout (MldVae / MldDenoiser / MldTrajEncoder state dicts)
# ---------------------------------------------------------------------------------------------

FULL = dict(h=256, ffn=1024, layers=9, text=768, time=768, cond=256, feats=263, joints=22, embed=256)
TINY = dict(h=16, ffn=24, layers=3, text=12, time=20, cond=8, feats=263, joints=22, embed=16)
LATENT = {"v1": lambda s: (1, s["h"]), "v2": lambda s: (4, 8) if s is TINY else (16, 32)}
HEADS = 4
PE_ROWS = 500


def _layer(p: str, h: int, f: int, decoder: bool = False) -> dict[str, tuple]:
    attn = ["self_attn"] + (["multihead_attn"] if decoder else [])
    shapes = {}
    for a in attn:
        shapes.update({f"{p}.{a}.in_proj_weight": (3 * h, h), f"{p}.{a}.in_proj_bias": (3 * h,),
                       f"{p}.{a}.out_proj.weight": (h, h), f"{p}.{a}.out_proj.bias": (h,)})
    shapes.update({f"{p}.linear1.weight": (f, h), f"{p}.linear1.bias": (f,), f"{p}.linear2.weight": (h, f),
                   f"{p}.linear2.bias": (h,)})
    for n in range(1, 4 if decoder else 3):
        shapes.update({f"{p}.norm{n}.weight": (h,), f"{p}.norm{n}.bias": (h,)})
    return shapes


def _skip(p: str, s: dict, decoder: bool = False, norm: bool = True) -> dict[str, tuple]:
    h, nb = s["h"], (s["layers"] - 1) // 2
    shapes = {}
    for i in range(nb):
        shapes.update(_layer(f"{p}.input_blocks.{i}", h, s["ffn"], decoder))
    shapes.update(_layer(f"{p}.middle_block", h, s["ffn"], decoder))
    for i in range(nb):
        shapes.update(_layer(f"{p}.output_blocks.{i}", h, s["ffn"], decoder))
        shapes.update({f"{p}.linear_blocks.{i}.weight": (h, 2 * h), f"{p}.linear_blocks.{i}.bias": (h,)})
    if norm:
        shapes.update({f"{p}.norm.weight": (h,), f"{p}.norm.bias": (h,)})
    return shapes


def _vae(version: str, s: dict) -> dict[str, tuple]:
    (L, C), h = LATENT[version](s), s["h"]
    shapes = {"vae.global_motion_token": (2 * L, h), "vae.skel_embedding.weight": (h, s["feats"]),
              "vae.skel_embedding.bias": (h,), "vae.final_layer.weight": (s["feats"], h), "vae.final_layer.bias": (s["feats"],),
              "vae.query_pos_encoder.pe": (PE_ROWS, 1, h), "vae.query_pos_decoder.pe": (PE_ROWS, 1, h)}
    shapes.update(_skip("vae.encoder", s))
    shapes.update(_skip("vae.decoder", s, decoder=True))
    if version == "v2":  # VAE latent_pre maps h -> C, latent_post C -> h
        shapes.update({"vae.latent_pre.weight": (C, h), "vae.latent_pre.bias": (C,),
                       "vae.latent_post.weight": (h, C), "vae.latent_post.bias": (h,)})
    return shapes


def _denoiser(version: str, s: dict, prefix: str = "denoiser", lcm: bool = False, controlnet: bool = False):
    (L, C), h = LATENT[version](s), s["h"]
    p = prefix
    shapes = {f"{p}.time_embedding.linear_1.weight": (h, s["time"]), f"{p}.time_embedding.linear_1.bias": (h,),
              f"{p}.time_embedding.linear_2.weight": (h, h), f"{p}.time_embedding.linear_2.bias": (h,),
              f"{p}.emb_proj.1.weight": (h, s["text"]), f"{p}.emb_proj.1.bias": (h,), f"{p}.query_pos.pe": (PE_ROWS, 1, h)}
    if lcm:
        shapes[f"{p}.time_embedding.cond_proj.weight"] = (s["time"], s["cond"])
    shapes.update(_skip(f"{p}.encoder", s, norm=not controlnet))
    if version == "v2":  # denoiser latent_pre maps C -> h (the opposite of the VAE's)
        shapes.update({f"{p}.latent_pre.weight": (h, C), f"{p}.latent_pre.bias": (h,),
                       f"{p}.latent_post.weight": (C, h), f"{p}.latent_post.bias": (C,)})
    if controlnet:
        e = s["embed"]
        dims = [(e, C), (e, e), (C, e)]
        indices = (0, 2, 4) if version == "v2" else (0, 1, 2)  # V1: no activations between the linears
        for i, (out_dim, in_dim) in zip(indices, dims):
            shapes.update({f"{p}.controlnet_cond_embedding.{i}.weight": (out_dim, in_dim),
                           f"{p}.controlnet_cond_embedding.{i}.bias": (out_dim,)})
        for i in range(s["layers"]):
            shapes.update({f"{p}.controlnet_down_mid_blocks.{i}.weight": (h, h),
                           f"{p}.controlnet_down_mid_blocks.{i}.bias": (h,)})
    return shapes


def _traj(version: str, s: dict) -> dict[str, tuple]:
    (L, C), h = LATENT[version](s), s["h"]
    shapes = {"traj_encoder.global_motion_token": (L, h), "traj_encoder.skel_embedding.weight": (h, s["joints"] * 3),
              "traj_encoder.skel_embedding.bias": (h,), "traj_encoder.query_pos_encoder.pe": (PE_ROWS, 1, h)}
    shapes.update(_skip("traj_encoder.encoder", s))
    if version == "v2":
        shapes.update({"traj_encoder.latent_proj.weight": (C, h), "traj_encoder.latent_proj.bias": (C,)})
    return shapes


def reference_shapes(version: str, kind: str, s: dict = TINY) -> dict[str, tuple]:
    """``kind``: mld (teacher), lcm (student) or control (ControlNet on the student)."""
    shapes = _vae(version, s)
    shapes.update(_denoiser(version, s, lcm=kind != "mld"))
    if kind == "control":
        shapes.update(_denoiser(version, s, "controlnet", lcm=True, controlnet=True))
        shapes.update(_traj(version, s))
    return shapes


def random_state(shapes: dict[str, tuple], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights everywhere (zero-initialised layers included), LayerNorm gains near 1."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        value = torch.randn(shape, generator=g) * 0.3
        if ".norm" in key and key.endswith(".weight"):
            value = 1.0 + value
        state[key] = value
    return state


def test_reference_layout_builder_matches_the_reference_counts():
    """The builder gives the tensor counts of the reference modules at the released sizes."""
    def count(version, fn):
        return len(fn(version))
    for version, vae, mld, lcm, cn, traj in (("v1", 297, 125, 126, 148, 122), ("v2", 301, 129, 130, 152, 124)):
        assert count(version, lambda v: _vae(v, FULL)) == vae
        assert count(version, lambda v: _denoiser(v, FULL)) == mld
        assert count(version, lambda v: _denoiser(v, FULL, lcm=True)) == lcm
        assert count(version, lambda v: _denoiser(v, FULL, "controlnet", lcm=True, controlnet=True)) == cn
        assert count(version, lambda v: _traj(v, FULL)) == traj
    v2 = reference_shapes("v2", "control", FULL)
    assert v2["vae.global_motion_token"] == (32, 256) and v2["controlnet.controlnet_cond_embedding.0.weight"] == (256, 32)
    assert v2["denoiser.time_embedding.cond_proj.weight"] == (768, 256) and v2["traj_encoder.skel_embedding.weight"] == (256, 66)
    assert reference_shapes("v1", "control", FULL)["controlnet.controlnet_cond_embedding.2.weight"] == (256, 256)


# ---------------------------------------------------------------------------------------------
# Converting (once per version and kind)
# ---------------------------------------------------------------------------------------------

FEATURE_MEAN = np.linspace(-1, 1, 263).astype(np.float32)
FEATURE_STD = np.linspace(0.5, 2, 263).astype(np.float32)
JOINT_MEAN = np.random.default_rng(1).normal(size=(22, 3)).astype(np.float32)
JOINT_STD = np.random.default_rng(2).uniform(0.5, 1.5, size=(22, 3)).astype(np.float32)
CASES = [(v, k) for v in ("v1", "v2") for k in ("mld", "lcm", "control")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("convert")


@lru_cache(maxsize=None)
def _converted(root: str, version: str, kind: str, text_encoder: str = "sentence-t5-large"):
    root = Path(root)
    state = random_state(reference_shapes(version, kind), seed=CASES.index((version, kind)))
    src = root / f"{version}_{kind}_{text_encoder.replace(':', '')}.ckpt"
    torch.save({"state_dict": state}, src)
    out = convert_reference_checkpoint(src, root / f"out_{src.stem}", version, FEATURE_MEAN, FEATURE_STD,
                                       JOINT_MEAN, JOINT_STD, text_encoder=text_encoder)
    return state, out


def converted(workdir, version, kind, text_encoder="sentence-t5-large"):
    return _converted(str(workdir), version, kind, text_encoder)


# ---------------------------------------------------------------------------------------------
# The reference's maths, written out (batch-first; from the reference tensors)
# ---------------------------------------------------------------------------------------------


def lin(sd, p, x):
    return x @ sd[f"{p}.weight"].T + (sd[f"{p}.bias"] if f"{p}.bias" in sd else 0.0)


def norm(sd, p, x):
    return F.layer_norm(x, x.shape[-1:], sd[f"{p}.weight"], sd[f"{p}.bias"], 1e-5)


def attention(sd, p, query, memory, ignore=None):
    """nn.MultiheadAttention(h, 4) by hand: packed in-projection, scaled dot product, out-projection."""
    W, b = sd[f"{p}.in_proj_weight"], sd[f"{p}.in_proj_bias"]
    h = W.shape[1]
    q, k, v = (x @ W[i * h:(i + 1) * h].T + b[i * h:(i + 1) * h] for i, x in enumerate((query, memory, memory)))
    d = h // HEADS

    def heads(x):
        return x.reshape(x.shape[0], x.shape[1], HEADS, d).transpose(1, 2)

    scores = heads(q) @ heads(k).transpose(-1, -2) / math.sqrt(d)
    if ignore is not None:
        scores = scores.masked_fill(ignore[:, None, None, :], float("-inf"))
    out = (scores.softmax(-1) @ heads(v)).transpose(1, 2).reshape(query.shape)
    return lin(sd, f"{p}.out_proj", out)


def ffn(sd, p, x):
    return lin(sd, f"{p}.linear2", F.gelu(lin(sd, f"{p}.linear1", x)))


def encoder_layer(sd, p, x, ignore=None):
    """Post-norm: x = norm1(x + attn(x)); x = norm2(x + ffn(x))."""
    x = norm(sd, f"{p}.norm1", x + attention(sd, f"{p}.self_attn", x, x, ignore))
    return norm(sd, f"{p}.norm2", x + ffn(sd, p, x))


def decoder_layer(sd, p, x, memory, ignore=None):
    x = norm(sd, f"{p}.norm1", x + attention(sd, f"{p}.self_attn", x, x, ignore))
    x = norm(sd, f"{p}.norm2", x + attention(sd, f"{p}.multihead_attn", x, memory))
    return norm(sd, f"{p}.norm3", x + ffn(sd, p, x))


def skip_stack(sd, p, x, layer, residuals=None, final_norm=True):
    """Input blocks (pushed), middle block, output blocks fed Linear(cat(x, popped skip)); residual i after block i."""
    head = f"{p}.input_blocks."
    nb = len({k[len(head):].split(".")[0] for k in sd if k.startswith(head)})
    names = [f"{p}.input_blocks.{i}" for i in range(nb)] + [f"{p}.middle_block"] + [f"{p}.output_blocks.{i}" for i in range(nb)]
    skips, outputs = [], []
    for index, name in enumerate(names):
        if index > nb:
            x = lin(sd, f"{p}.linear_blocks.{index - nb - 1}", torch.cat([x, skips.pop()], -1))
        x = layer(name, x)
        if residuals is not None:
            x = x + residuals[index]
        outputs.append(x)
        if index < nb:
            skips.append(x)
    return (norm(sd, f"{p}.norm", x) if final_norm else x), outputs


def sinusoid(t, dim):
    """diffusers Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0)."""
    half = dim // 2
    angles = t.float()[:, None] * torch.exp(-math.log(10000.0) * torch.arange(half) / half)[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], -1)


def guidance_embedding(w, dim):
    """get_guidance_scale_embedding: [sin, cos] of 1000 w, frequencies over (half - 1)."""
    half = dim // 2
    angles = 1000.0 * w.float()[:, None] * torch.exp(-math.log(10000.0) * torch.arange(half) / (half - 1))[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], -1)


def time_embedding(sd, p, t, w=None):
    """linear_2(silu(linear_1(sinusoid_Ds(t) + cond_proj(w_emb))))."""
    s = sinusoid(t, sd[f"{p}.time_embedding.linear_1.weight"].shape[1])
    if w is not None:
        cond = sd[f"{p}.time_embedding.cond_proj.weight"]
        s = s + guidance_embedding(w, cond.shape[1]) @ cond.T
    return lin(sd, f"{p}.time_embedding.linear_2", F.silu(lin(sd, f"{p}.time_embedding.linear_1", s)))


def reference_denoiser(sd, version, x, t, text, w=None, p="denoiser", control=None, residuals=None):
    """MldDenoiser.forward (trans_enc): [latents, time, text] + pe, skip encoder, latent positions out."""
    L = x.shape[1]
    if control is not None:  # the ControlNet's condition MLP, added in latent space
        c = control
        if version == "v2":
            c = F.silu(lin(sd, f"{p}.controlnet_cond_embedding.0", c))
            c = F.silu(lin(sd, f"{p}.controlnet_cond_embedding.2", c))
            c = lin(sd, f"{p}.controlnet_cond_embedding.4", c)
        else:
            for i in range(3):
                c = lin(sd, f"{p}.controlnet_cond_embedding.{i}", c)
        x = x + c
    tokens = lin(sd, f"{p}.latent_pre", x) if version == "v2" else x
    time = time_embedding(sd, p, t, w)
    txt = lin(sd, f"{p}.emb_proj.1", F.relu(text) if version == "v1" else text)
    seq = torch.cat([tokens, time[:, None], txt[:, None]], 1) + sd[f"{p}.query_pos.pe"][: L + 2, 0]
    out, outputs = skip_stack(sd, f"{p}.encoder", seq, lambda n, h: encoder_layer(sd, n, h), residuals,
                              final_norm=control is None)
    if control is not None:
        return [lin(sd, f"{p}.controlnet_down_mid_blocks.{i}", o) for i, o in enumerate(outputs)]
    out = out[:, :L]
    return lin(sd, f"{p}.latent_post", out) if version == "v2" else out


def reference_traj_encoder(sd, version, hints, frame_mask):
    L = sd["traj_encoder.global_motion_token"].shape[0]
    x = lin(sd, "traj_encoder.skel_embedding", hints)
    seq = torch.cat([sd["traj_encoder.global_motion_token"].expand(len(x), -1, -1), x], 1)
    seq = seq + sd["traj_encoder.query_pos_encoder.pe"][: seq.shape[1], 0]
    ignore = torch.cat([torch.zeros(len(x), L, dtype=torch.bool), ~frame_mask], 1)
    out, _ = skip_stack(sd, "traj_encoder.encoder", seq, lambda n, h: encoder_layer(sd, n, h, ignore))
    out = out[:, :L]
    return lin(sd, "traj_encoder.latent_proj", out) if version == "v2" else out


def reference_vae_mu(sd, version, feats, mask):
    L = sd["vae.global_motion_token"].shape[0] // 2
    x = lin(sd, "vae.skel_embedding", feats)
    seq = torch.cat([sd["vae.global_motion_token"].expand(len(x), -1, -1), x], 1)
    seq = seq + sd["vae.query_pos_encoder.pe"][: seq.shape[1], 0]
    ignore = torch.cat([torch.zeros(len(x), 2 * L, dtype=torch.bool), ~mask], 1)
    out, _ = skip_stack(sd, "vae.encoder", seq, lambda n, h: encoder_layer(sd, n, h, ignore))
    dist = out[:, : 2 * L]
    dist = lin(sd, "vae.latent_pre", dist) if version == "v2" else dist
    return dist[:, :L], dist[:, L:]


def reference_vae_decode(sd, version, z, mask):
    memory = lin(sd, "vae.latent_post", z) if version == "v2" else z
    queries = torch.zeros(mask.shape[0], mask.shape[1], memory.shape[-1]) + sd["vae.query_pos_decoder.pe"][: mask.shape[1], 0]
    out, _ = skip_stack(sd, "vae.decoder", queries, lambda n, h: decoder_layer(sd, n, h, memory, ~mask))
    return lin(sd, "vae.final_layer", out).masked_fill(~mask[..., None], 0.0)


def close(a, b, tol=2e-5):
    return torch.allclose(a, b, atol=tol, rtol=1e-4), float((a - b).abs().max())


# ---------------------------------------------------------------------------------------------
# Converted modules compute the reference's maths
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version,kind", CASES)
def test_exported_config(workdir, version, kind):
    state, out = converted(workdir, version, kind)
    ckpt = load_checkpoint(out)
    cfg = ckpt.config
    assert ckpt.kind == kind and cfg["text_encoder"] == "sentence-t5-large"
    assert np.array_equal(ckpt.mean, FEATURE_MEAN) and np.array_equal(ckpt.std, FEATURE_STD)
    den = cfg["denoiser"]
    assert den["time_sinusoid_dim"] == TINY["time"] and den["text_dim"] == TINY["text"] and den["width"] == TINY["h"]
    assert den["num_layers"] == TINY["layers"] and den["ffn_dim"] == TINY["ffn"] and den["num_heads"] == 4
    assert tuple(den["latent_shape"]) == LATENT[version](TINY) == tuple(cfg["vae"]["latent_shape"])
    assert den["text_activation"] == ("relu" if version == "v1" else None)
    assert den["latent_projection"] == (version == "v2") and cfg["vae"]["latent_projection"] == (version == "v2")
    assert den["guidance_embed_dim"] == (None if kind == "mld" else TINY["cond"])
    assert cfg["schedule"]["beta_schedule"] == "scaled_linear" and cfg["schedule"]["num_train_timesteps"] == 1000
    assert cfg["converted_from"]["version"] == version
    if kind == "mld":
        assert cfg["sampling"] == {"steps": 50, "guidance": 7.5} and "lcm" not in cfg
    else:
        assert cfg["sampling"] == {"steps": 1, "guidance": None if version == "v2" else 7.5}
        assert cfg["lcm"]["num_ddim_timesteps"] == (10 if version == "v2" else 50)
        assert cfg["lcm"]["timesteps"][1] == ([799] if version == "v2" else [999])
    if kind == "control":
        assert cfg["base_kind"] == "lcm"
        assert cfg["controlnet"] == {"embed_dim": TINY["embed"], "activation": "silu" if version == "v2" else None}
        assert cfg["traj_encoder"]["latent_projection"] == (version == "v2")
    # every reference tensor of the generator went somewhere, and nothing else was written
    written = set(ckpt.weights) - {"traj_encoder.hint_mean", "traj_encoder.hint_std"}
    expected = {k for k in state if not k.startswith("controlnet.latent_post.")}
    assert len(written) == len(expected)


@pytest.mark.parametrize("version,kind", CASES)
def test_converted_denoiser_matches_the_reference_maths(workdir, version, kind):
    state, out = converted(workdir, version, kind)
    ckpt = load_checkpoint(out)
    denoiser = build_denoiser(ckpt)
    g = torch.Generator().manual_seed(3)
    L, C = LATENT[version](TINY)
    x, text = torch.randn(2, L, C, generator=g), torch.randn(2, TINY["text"], generator=g)
    t = torch.tensor([799, 37])
    w = None if kind == "mld" else torch.tensor([7.0, 4.5])
    with torch.no_grad():
        # time (+ guidance) embedding
        ok, err = close(denoiser.embed_time(t, 2, torch.device("cpu"), w), time_embedding(state, "denoiser", t, w))
        assert ok, err
        # one post-norm block
        h = torch.randn(2, L + 2, TINY["h"], generator=g)
        ok, err = close(denoiser.transformer.input_blocks[0](h), encoder_layer(state, "denoiser.encoder.input_blocks.0", h))
        assert ok, err
        ok, err = close(denoiser.transformer.middle_block(h), encoder_layer(state, "denoiser.encoder.middle_block", h))
        assert ok, err
        # the whole epsilon prediction
        ok, err = close(denoiser(x, t, text, w), reference_denoiser(state, version, x, t, text, w))
        assert ok, err


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_converted_vae_matches_the_reference_maths(workdir, version):
    state, out = converted(workdir, version, "mld")
    vae = build_vae(load_checkpoint(out))
    g = torch.Generator().manual_seed(4)
    L, C = LATENT[version](TINY)
    lengths = torch.tensor([30, 17])
    mask = torch.arange(30)[None] < lengths[:, None]
    feats = torch.randn(2, 30, 263, generator=g)
    z = torch.randn(2, L, C, generator=g)
    with torch.no_grad():
        _, dist = vae.encode(feats, mask, sample=False)
        mu, logvar = reference_vae_mu(state, version, feats, mask)
        assert close(dist.mu, mu)[0] and close(dist.logvar, logvar)[0]
        ok, err = close(vae.decode(z, mask), reference_vae_decode(state, version, z, mask))
        assert ok, err


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_converted_controlnet_matches_the_reference_maths(workdir, version):
    from motionlcm.control.hints import normalize_hints
    from motionlcm.models.controlnet import build_control_modules, controlled_eps

    state, out = converted(workdir, version, "control")
    ckpt = load_checkpoint(out)
    denoiser = build_denoiser(ckpt)
    controlnet, encoder = build_control_modules(ckpt)
    assert np.allclose(encoder.hint_mean.numpy(), JOINT_MEAN) and np.allclose(encoder.hint_std.numpy(), JOINT_STD)
    g = torch.Generator().manual_seed(5)
    L, C = LATENT[version](TINY)
    T = 24
    hints = torch.randn(2, T, 22, 3, generator=g)
    hint_mask = torch.rand(2, T, 22, generator=g) < 0.2
    hint_mask[:, 0, 0] = True
    x, text = torch.randn(2, L, C, generator=g), torch.randn(2, TINY["text"], generator=g)
    t, w = torch.tensor([699, 299]), torch.tensor([7.0, 12.5])
    with torch.no_grad():
        # the reference's hint input: (joints - Mean_raw) / Std_raw where controlled, frames with any control attend
        normalised = torch.where(hint_mask[..., None], (hints - torch.tensor(JOINT_MEAN)) / torch.tensor(JOINT_STD), 0.0)
        assert torch.allclose(normalize_hints(hints, hint_mask, encoder.hint_mean, encoder.hint_std), normalised.flatten(-2))
        tokens = encoder.encode_hints(hints, hint_mask)
        expected_tokens = reference_traj_encoder(state, version, normalised.flatten(-2), hint_mask.any(-1))
        ok, err = close(tokens, expected_tokens)
        assert ok, err
        residuals = reference_denoiser(state, version, x, t, text, w, p="controlnet", control=expected_tokens)
        ours = controlnet(x, t, text, tokens, w)
        assert len(ours) == TINY["layers"] and all(close(a, b)[0] for a, b in zip(ours, residuals))
        expected = reference_denoiser(state, version, x, t, text, w, residuals=residuals)
        ok, err = close(controlled_eps(denoiser, controlnet, x, t, text, tokens, w), expected)
        assert ok, err
        assert not close(expected, reference_denoiser(state, version, x, t, text, w))[0]  # the residuals matter


def _alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, 0)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_converted_student_samples_in_one_step(workdir, version):
    """One LCM step from noise at the reference's timestep, guidance entering as the embedding of s - 1."""
    from motionlcm.diffusion import NoiseSchedule, lcm_sample, make_lcm_scheduler

    state, out = converted(workdir, version, "lcm")
    ckpt = load_checkpoint(out)
    vae, denoiser = build_vae(ckpt), build_denoiser(ckpt)
    scheduler = make_lcm_scheduler(NoiseSchedule.from_dict(ckpt.config["schedule"]), ckpt.config["lcm"]["num_ddim_timesteps"])
    g = torch.Generator().manual_seed(6)
    L, C = LATENT[version](TINY)
    noise, text = torch.randn(3, L, C, generator=g), torch.randn(3, TINY["text"], generator=g)  # injected text embeddings
    scale = 8.0 if version == "v2" else ckpt.config["sampling"]["guidance"]
    timesteps = ckpt.config["lcm"]["timesteps"][1]
    calls = []

    def eps_fn(x, t, c, w):
        calls.append(int(t[0]))
        return denoiser(x, t, c, w)

    latent = lcm_sample(eps_fn, scheduler, text, noise, num_steps=1, guidance=scale, timesteps=timesteps)
    assert calls == timesteps
    t = timesteps[0]
    with torch.no_grad():
        eps = reference_denoiser(state, version, noise, torch.tensor([t] * 3), text, torch.full((3,), scale - 1.0))
    alpha = _alphas_cumprod()[t].float()
    x0 = (noise - (1 - alpha).sqrt() * eps) / alpha.sqrt()
    scaled = 10.0 * t
    c_skip, c_out = 0.25 / (scaled ** 2 + 0.25), scaled / math.sqrt(scaled ** 2 + 0.25)
    ok, err = close(latent, c_out * x0 + c_skip * noise, 1e-4)
    assert ok, err
    mask = torch.ones(3, 40, dtype=torch.bool)
    with torch.no_grad():
        motion = vae.decode(latent, mask)
    assert motion.shape == (3, 40, 263) and torch.isfinite(motion).all()


@pytest.mark.parametrize("kind", ["lcm", "control"])
def test_pipeline_loads_a_converted_folder(workdir, kind):
    """With the test text encoder named in the config, from_pretrained runs the whole path."""
    from motionlcm.pipeline import MotionPipeline

    _, out = converted(workdir, "v2", kind, text_encoder=f"hash:{TINY['text']}")
    pipe = MotionPipeline.from_pretrained(out, device="cpu")
    control = None
    if kind == "control":
        hints, mask = np.zeros((40, 22, 3), np.float32), np.zeros((40, 22), bool)
        mask[::10, 0] = True
        hints[::10, 0] = [0.0, 0.9, 0.5]
        control = (hints, mask)
    result = pipe(["a person walks forward", "a person jumps"], 40, num_steps=1, seed=0, control=control, exact_hints=False)
    assert result.features.shape == (2, 40, 263) and result.joints.shape == (2, 40, 22, 3)
    assert np.isfinite(result.joints).all() and result.guidance == 8.0


# ---------------------------------------------------------------------------------------------
# Accepted file shapes and refused ones
# ---------------------------------------------------------------------------------------------


def _convert(tmp_path, obj, version="v2", **kwargs):
    src = tmp_path / "ref.ckpt"
    torch.save(obj, src)
    return convert_reference_checkpoint(src, tmp_path / "out", version, FEATURE_MEAN, FEATURE_STD, JOINT_MEAN, JOINT_STD,
                                        **kwargs)


def test_bare_and_lightning_state_dicts_and_ignored_keys(tmp_path):
    state = random_state(reference_shapes("v2", "lcm"))
    extra = {"t2m_moveencoder.main.0.weight": torch.zeros(512, 259, 4), "t2m_textencoder.hidden": torch.zeros(2, 1, 512),
             "t2m_motionencoder.gru.weight_ih_l0": torch.zeros(3, 2), "text_encoder.text_model.shared.weight": torch.zeros(3)}
    out = _convert(tmp_path, {**state, **extra})  # a bare state dict, with the reference's non-generator keys
    assert load_checkpoint(out).kind == "lcm"
    lightning = {"epoch": 3, "global_step": 10, "state_dict": state, "optimizer_states": [], "lr_schedulers": []}
    out = _convert(tmp_path, lightning, force=True)
    assert build_denoiser(load_checkpoint(out)).has_guidance_embedding


def _error(tmp_path, obj, version="v2", **kwargs) -> str:
    with pytest.raises(MotionLCMError) as info:
        _convert(tmp_path, obj, version, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_error_truncated_and_missing_file(tmp_path):
    src = tmp_path / "ref.ckpt"
    torch.save({"state_dict": random_state(reference_shapes("v2", "mld"))}, src)
    src.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(MotionLCMError, match="truncated"):
        convert_reference_checkpoint(src, tmp_path / "out", "v2", FEATURE_MEAN, FEATURE_STD)
    src.write_bytes(b"not a checkpoint at all")
    with pytest.raises(MotionLCMError, match="truncated"):
        convert_reference_checkpoint(src, tmp_path / "out", "v2", FEATURE_MEAN, FEATURE_STD)
    with pytest.raises(MotionLCMError, match="file not found"):
        convert_reference_checkpoint(tmp_path / "nope.ckpt", tmp_path / "out", "v2", FEATURE_MEAN, FEATURE_STD)


class _Pickled:
    pass


def test_error_not_a_state_dict(tmp_path):
    assert "not a checkpoint dict" in _error(tmp_path, [torch.zeros(3)])
    assert "not a state dict" in _error(tmp_path, {"epoch": 3, "step": 1})
    assert "empty" in _error(tmp_path, {"state_dict": {}})
    assert "Python objects" in _error(tmp_path, {"state_dict": {"vae.x": _Pickled()}})


def test_error_vae_only(tmp_path):
    assert "VAE-only" in _error(tmp_path, {"state_dict": random_state(_vae("v2", TINY))})
    assert "no MotionLCM / MLD generator weights" in _error(tmp_path, {"state_dict": {"foo.bar": torch.zeros(1)}})


def test_error_unknown_and_missing_keys(tmp_path):
    state = random_state(reference_shapes("v2", "lcm"))
    message = _error(tmp_path, {"state_dict": {**state, "denoiser.extra.weight": torch.zeros(2), "other.x": torch.zeros(1)}})
    assert "unknown 2 key(s): denoiser.extra.weight, other.x" in message
    del state["denoiser.encoder.middle_block.norm2.bias"]
    del state["vae.decoder.linear_blocks.0.weight"]
    message = _error(tmp_path, {"state_dict": state})
    assert "missing 2 key(s)" in message and "denoiser.encoder.middle_block.norm2.bias" in message
    assert "vae.decoder.linear_blocks.0.weight" in message
    controlnet_only = {k: v for k, v in random_state(reference_shapes("v2", "control")).items()
                       if not k.startswith("traj_encoder.")}
    assert "traj_encoder.skel_embedding.weight" in _error(tmp_path, {"state_dict": controlnet_only})
    many = {**random_state(reference_shapes("v2", "lcm")), **{f"x.k{i}": torch.zeros(1) for i in range(20)}}
    assert "(+14 more)" in _error(tmp_path, {"state_dict": many})


def test_error_shape_mismatch(tmp_path):
    state = random_state(reference_shapes("v2", "lcm"))
    state["denoiser.encoder.output_blocks.0.linear2.weight"] = torch.zeros(16, 25)
    message = _error(tmp_path, {"state_dict": state})
    assert "shape mismatch" in message
    assert "denoiser.encoder.output_blocks.0.linear2.weight is (16, 25), expected (16, 24)" in message
    state = random_state(reference_shapes("v2", "lcm"))
    state["denoiser.query_pos.pe"] = torch.zeros(5, 1, 16)
    assert "denoiser.query_pos.pe is (5, 1, 16), expected (>=6, 1, 16)" in _error(tmp_path, {"state_dict": state})
    state = random_state(reference_shapes("v2", "lcm"))
    state["denoiser.latent_pre.weight"] = torch.zeros(16, 9)
    assert "latent width is 9 but the VAE's is 8" in _error(tmp_path, {"state_dict": state})


def test_error_wrong_version_and_missing_statistics(tmp_path):
    v1 = {"state_dict": random_state(reference_shapes("v1", "lcm"))}
    assert "use --version v1" in _error(tmp_path, v1, "v2")
    assert "use --version v2" in _error(tmp_path, {"state_dict": random_state(reference_shapes("v2", "lcm"))}, "v1")
    src = tmp_path / "ref.ckpt"
    torch.save({"state_dict": random_state(reference_shapes("v2", "control"))}, src)
    with pytest.raises(MotionLCMError, match="joint statistics"):
        convert_reference_checkpoint(src, tmp_path / "out", "v2", FEATURE_MEAN, FEATURE_STD)
    with pytest.raises(MotionLCMError, match="expected 263 values"):
        convert_reference_checkpoint(src, tmp_path / "out", "v2", FEATURE_MEAN[:10], FEATURE_STD, JOINT_MEAN, JOINT_STD)
    with pytest.raises(MotionLCMError, match="zero or negative"):
        convert_reference_checkpoint(src, tmp_path / "out", "v2", FEATURE_MEAN, 0 * FEATURE_STD, JOINT_MEAN, JOINT_STD)


def test_names_cover_every_parameter():
    """Every tensor of our modules has a reference name (or is one of the hint statistics)."""
    assert reference_name("vae", "encoder.skip_fusions.1.weight") == ("vae.encoder.linear_blocks.1.weight", None)
    assert reference_name("vae", "decoder.input_blocks.0.cross_attn.in_proj_weight")[0] == \
        "vae.decoder.input_blocks.0.multihead_attn.in_proj_weight"
    assert reference_name("denoiser", "transformer.middle_block.ffn.linear1.bias")[0] == \
        "denoiser.encoder.middle_block.linear1.bias"
    assert reference_name("denoiser", "transformer.final_norm.weight")[0] == "denoiser.encoder.norm.weight"
    assert reference_name("denoiser", "guidance_proj.weight")[0] == "denoiser.time_embedding.cond_proj.weight"
    assert reference_name("controlnet", "cond_embedding.4.bias", None)[0] == "controlnet.controlnet_cond_embedding.2.bias"
    assert reference_name("controlnet", "cond_embedding.4.bias", "silu")[0] == "controlnet.controlnet_cond_embedding.4.bias"
    assert reference_name("traj_encoder", "hint_mean") == (None, None)


# ---------------------------------------------------------------------------------------------
# CLI and layering
# ---------------------------------------------------------------------------------------------


def test_cli_convert(tmp_path, capsys):
    from motionlcm.cli import main

    data = tmp_path / "humanml3d"
    data.mkdir()
    np.save(data / "Mean.npy", FEATURE_MEAN)
    np.save(data / "Std.npy", FEATURE_STD)
    src = tmp_path / "motionlcm_humanml.ckpt"
    torch.save({"state_dict": random_state(reference_shapes("v2", "control"))}, src)
    assert main(["convert", str(src), "--out", str(tmp_path / "a"), "--version", "v2", "--data", str(data)]) == 2
    assert "joint statistics" in capsys.readouterr().err
    np.save(data / "Mean_raw.npy", JOINT_MEAN)
    np.save(data / "Std_raw.npy", JOINT_STD.reshape(-1))
    assert main(["convert", str(src), "--out", str(tmp_path / "a"), "--version", "v2", "--data", str(data)]) == 0
    assert "control on lcm checkpoint" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "a").config["base_kind"] == "lcm"
    assert main(["convert", str(src), "--out", str(tmp_path / "a"), "--version", "v2", "--data", str(data)]) == 2
    assert "--force" in capsys.readouterr().err
    args = ["convert", str(src), "--out", str(tmp_path / "b"), "--version", "v2", "--mean", str(data / "Mean.npy"),
            "--std", str(data / "Std.npy"), "--joint-stats", str(data)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["convert", str(src), "--out", str(tmp_path / "c"), "--version", "v2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("motionlcm: error:") and "--data DIR" in err and err.count("\n") == 1


def test_convert_does_not_import_training():
    code = ("import sys, motionlcm.convert, motionlcm.cli\n"
            "print(sorted(m for m in sys.modules if m.startswith('motionlcm.training')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_pipeline_uses_a_checkpoints_own_lcm_timesteps():
    """A converted V1 student samples at the reference's V1 timesteps ([999] for one step), not V2's [799]."""
    from motionlcm.pipeline import MotionPipeline

    pipe = MotionPipeline.__new__(MotionPipeline)
    pipe.config = {"lcm": {"timesteps": {1: [999], 2: [999, 499]}}}
    assert pipe.lcm_timesteps_for(1) == [999] and pipe.lcm_timesteps_for(2) == [999, 499]
    assert pipe.lcm_timesteps_for(4) is None  # falls back to MotionLCM-V2's schedule
    pipe.config = {"lcm": {"timesteps": {"1": [999]}}}  # keys read back from YAML as strings
    assert pipe.lcm_timesteps_for(1) == [999]
