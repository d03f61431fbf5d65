"""The official HumanML3D evaluator: random weights in the released checkpoint layout load strictly,
captions and motions embed consistently, and missing or unsafe files give clear errors."""
import functools
import pickle

import numpy as np
import pytest
import torch

from motionlcm.errors import MotionLCMError
from motionlcm.models import t2m_evaluator as T

VOCAB = ["sos", "eos", "unk", "a", "person", "walk", "forward", "and", "turn", "around", "left", "hand", "raise", "the"]


def gru_weights(prefix, input_dim, hidden, gen):
    state = {}
    for suffix in ("", "_reverse"):
        state[f"{prefix}weight_ih_l0{suffix}"] = torch.randn(3 * hidden, input_dim, generator=gen) * 0.03
        state[f"{prefix}weight_hh_l0{suffix}"] = torch.randn(3 * hidden, hidden, generator=gen) * 0.03
        state[f"{prefix}bias_ih_l0{suffix}"] = torch.randn(3 * hidden, generator=gen) * 0.03
        state[f"{prefix}bias_hh_l0{suffix}"] = torch.randn(3 * hidden, generator=gen) * 0.03
    return state


def output_net_weights(in_dim, hidden, out_dim, gen):
    return {
        "output_net.0.weight": torch.randn(hidden, in_dim, generator=gen) * 0.03, "output_net.0.bias": torch.zeros(hidden),
        "output_net.1.weight": torch.ones(hidden), "output_net.1.bias": torch.zeros(hidden),
        "output_net.3.weight": torch.randn(out_dim, hidden, generator=gen) * 0.03, "output_net.3.bias": torch.zeros(out_dim),
    }


@functools.lru_cache(maxsize=1)  # 20M random numbers: build once per session (read-only)
def official_state(seed=0):
    """Random tensors named and shaped as in t2m/text_mot_match/model/finest.tar (written out by hand,
    independently of the modules under test)."""
    g = torch.Generator().manual_seed(seed)
    text = {
        "pos_emb.weight": torch.randn(300, 15, generator=g) * 0.1, "pos_emb.bias": torch.zeros(300),
        "input_emb.weight": torch.randn(512, 300, generator=g) * 0.05, "input_emb.bias": torch.zeros(512),
        **gru_weights("gru.", 512, 512, g), **output_net_weights(1024, 512, 512, g),
        "hidden": torch.randn(2, 1, 512, generator=g),
    }
    movement = {
        "main.0.weight": torch.randn(512, 259, 4, generator=g) * 0.03, "main.0.bias": torch.zeros(512),
        "main.3.weight": torch.randn(512, 512, 4, generator=g) * 0.03, "main.3.bias": torch.zeros(512),
        "out_net.weight": torch.randn(512, 512, generator=g) * 0.03, "out_net.bias": torch.zeros(512),
    }
    motion = {
        "input_emb.weight": torch.randn(1024, 512, generator=g) * 0.03, "input_emb.bias": torch.zeros(1024),
        **gru_weights("gru.", 1024, 1024, g), **output_net_weights(2048, 1024, 512, g),
        "hidden": torch.randn(2, 1, 1024, generator=g),
    }
    return {"text_encoder": text, "movement_encoder": movement, "motion_encoder": motion,
            "opt_text_encoder": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]}, "epoch": 12, "iter": 3400}


def write_official_tree(root, seed=0):
    model_dir = root / "t2m" / "text_mot_match" / "model"
    model_dir.mkdir(parents=True)
    # the released file predates the zip format; torch.load(weights_only=True) reads both
    torch.save(official_state(seed), model_dir / "finest.tar", _use_new_zipfile_serialization=False)
    meta = root / "t2m" / "Comp_v6_KLD01" / "meta"
    meta.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    np.save(meta / "mean.npy", rng.normal(size=263).astype(np.float32))
    np.save(meta / "std.npy", rng.uniform(0.5, 2.0, size=263).astype(np.float32))
    glove = root / "glove"
    glove.mkdir()
    np.save(glove / "our_vab_data.npy", rng.normal(size=(len(VOCAB), 300)).astype(np.float32))
    (glove / "our_vab_words.pkl").write_bytes(pickle.dumps(list(VOCAB)))
    (glove / "our_vab_idx.pkl").write_bytes(pickle.dumps({w: i for i, w in enumerate(VOCAB)}))
    return root


@pytest.fixture(scope="module")
def evaluator_dir(tmp_path_factory):
    return write_official_tree(tmp_path_factory.mktemp("deps"))


@pytest.fixture(scope="module")
def evaluator(evaluator_dir):
    return T.load_official_evaluator(evaluator_dir)


def test_official_layout_loads_strictly(evaluator, evaluator_dir):
    state = official_state()
    for name in ("text_encoder", "movement_encoder", "motion_encoder"):
        loaded = getattr(evaluator, name).state_dict()
        assert set(loaded) == set(state[name])
        for key, value in state[name].items():
            torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)
    assert not evaluator.training and not any(p.requires_grad for p in evaluator.parameters())
    evaluator.train()
    assert not evaluator.training  # dropout of the movement encoder never switches on
    np.testing.assert_array_equal(evaluator.mean.numpy(), np.load(evaluator_dir / "t2m/Comp_v6_KLD01/meta/mean.npy"))


def test_caption_tokens_are_wrapped_padded_and_tagged(evaluator):
    v = evaluator.vectorizer
    vectors, pos, length = v.encode(["a/DET", "person/NOUN", "raise/VERB", "the/DET", "left/ADJ", "hand/NOUN", "xyzzy/NOUN"])
    assert vectors.shape == (22, 300) and pos.shape == (22, 15) and length == 9
    assert pos.sum(1).tolist() == [1.0] * 22
    classes = [T.POS_CLASSES[i] for i in pos.argmax(1)]
    # sos, words (raise/left/hand take their VIP class; the unknown word is unk/OTHER), eos, unk padding
    assert classes[:9] == ["OTHER", "DET", "NOUN", "Act_VIP", "DET", "Loc_VIP", "Body_VIP", "OTHER", "OTHER"]
    np.testing.assert_array_equal(vectors[7], v.vectors[VOCAB.index("unk")])
    np.testing.assert_array_equal(vectors[8], v.vectors[VOCAB.index("eos")])
    assert classes[9:] == ["OTHER"] * 13
    long_vectors, _, long_length = v.encode(["walk/VERB"] * 30)  # cropped to 20 words
    assert long_length == 22 and long_vectors.shape == (22, 300)
    np.testing.assert_array_equal(long_vectors[21], v.vectors[VOCAB.index("eos")])


def test_text_embeddings_match_unpadded_gru_runs(evaluator):
    tokens = [("a/DET", "person/NOUN", "walk/VERB", "forward/ADV"), ("turn/VERB", "around/ADV")]
    emb = evaluator.embed_text(tokens)
    assert emb.shape == (2, 512) and torch.isfinite(emb).all()
    enc = evaluator.text_encoder
    for i, caption in enumerate(tokens):
        vectors, pos, length = evaluator.vectorizer.encode(caption)
        x = enc.input_emb(torch.from_numpy(vectors[:length]) + enc.pos_emb(torch.from_numpy(pos[:length])))[None]
        _, last = enc.gru(x, enc.hidden)  # no padding: both directions see exactly the real tokens
        torch.testing.assert_close(emb[i], enc.output_net(torch.cat([last[0], last[1]], -1))[0], rtol=1e-5, atol=1e-5)
    # free-form prompts are tagged by the rule-based fallback
    assert T.tag_caption("A person walks forward.") == tokens[0]
    torch.testing.assert_close(evaluator.embed_text(["A person walks forward."]), emb[:1])


def test_motion_embeddings_ignore_padding_and_accept_renormalised_input(evaluator):
    rng = np.random.default_rng(3)
    mean, std = evaluator.mean.numpy(), evaluator.std.numpy()
    short = mean + std * rng.normal(size=(40, 263)).astype(np.float32)
    long = mean + std * rng.normal(size=(64, 263)).astype(np.float32)
    batch = np.zeros((2, 64, 263), np.float32)
    batch[0, :40], batch[1] = short, long
    emb = evaluator.embed_motion(torch.from_numpy(batch), [40, 64])
    assert emb.shape == (2, 512) and torch.isfinite(emb).all()
    torch.testing.assert_close(emb[0], evaluator.embed_motion(torch.from_numpy(short)[None], [40])[0], rtol=1e-5, atol=1e-5)
    # the reference: zero-padded to 196 frames in the evaluator's space, GRU over the first 40 // 4 codes
    x = torch.zeros(1, 196, 259)
    x[0, :40] = evaluator.normalize(torch.from_numpy(short))[:, :259]
    codes = evaluator.movement_encoder(x)[:, :10]
    enc = evaluator.motion_encoder
    _, last = enc.gru(enc.input_emb(codes), enc.hidden)
    torch.testing.assert_close(emb[0], enc.output_net(torch.cat([last[0], last[1]], -1))[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(emb[1], evaluator.embed_motion(torch.from_numpy(long)[None], [64])[0], rtol=1e-5, atol=1e-5)
    # foot contacts (last 4 features) are not read
    changed = batch.copy()
    changed[..., 259:] += 5.0
    torch.testing.assert_close(evaluator.embed_motion(torch.from_numpy(changed), [40, 64]), emb)
    # a generator's output normalised with another Mean/Std, renormalised into the evaluator's space
    data_mean, data_std = rng.normal(size=263).astype(np.float32), rng.uniform(0.5, 2, 263).astype(np.float32)
    x = torch.from_numpy(long[None])
    as_generated = (x - torch.from_numpy(data_mean)) / torch.from_numpy(data_std)
    renormed = T.renormalize(as_generated, data_mean, data_std, mean, std)
    torch.testing.assert_close(renormed, evaluator.normalize(x), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(evaluator.embed_motion(renormed, [64], normalized=True), emb[1:], rtol=1e-4, atol=1e-4)
    with pytest.raises(MotionLCMError, match="lengths"):
        evaluator.embed_motion(torch.from_numpy(batch), [40, 65])


def test_missing_files_are_all_listed(tmp_path):
    with pytest.raises(MotionLCMError) as err:
        T.load_official_evaluator(tmp_path)
    message = str(err.value)
    for relative in ("t2m/text_mot_match/model/finest.tar", "t2m/Comp_v6_KLD01/meta/mean.npy",
                     "t2m/Comp_v6_KLD01/meta/std.npy", "glove/our_vab_data.npy", "glove/our_vab_words.pkl",
                     "glove/our_vab_idx.pkl"):
        assert str(tmp_path / relative) in message
    assert "\n" not in message
    (tmp_path / "glove").mkdir()
    (tmp_path / "glove" / "our_vab_words.pkl").write_bytes(pickle.dumps(["unk"]))
    with pytest.raises(MotionLCMError) as err:
        T.load_official_evaluator(tmp_path)
    assert str(tmp_path / "glove/our_vab_words.pkl") not in str(err.value)
    assert str(tmp_path / "glove/our_vab_idx.pkl") in str(err.value)


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickles_with_code_references_are_refused(tmp_path, capsys):
    glove = tmp_path / "glove"
    glove.mkdir()
    np.save(glove / "our_vab_data.npy", np.zeros((1, 300), np.float32))
    (glove / "our_vab_words.pkl").write_bytes(pickle.dumps(["unk"]))
    (glove / "our_vab_idx.pkl").write_bytes(pickle.dumps({"unk": Payload()}))
    with pytest.raises(MotionLCMError, match="refusing to load builtins.print"):
        T.load_glove(glove)
    assert "never run" not in capsys.readouterr().out


def test_motionlcm_deps_layout_is_accepted(evaluator_dir, tmp_path):
    deps = tmp_path / "deps"
    (deps / "t2m").mkdir(parents=True)
    (deps / "t2m" / "t2m").symlink_to(evaluator_dir / "t2m", target_is_directory=True)
    (deps / "glove").symlink_to(evaluator_dir / "glove", target_is_directory=True)
    files = T.official_evaluator_files(deps)
    assert files["checkpoint"] == deps / "t2m" / "t2m" / "text_mot_match" / "model" / "finest.tar"
    assert all(p.is_file() for p in files.values())
