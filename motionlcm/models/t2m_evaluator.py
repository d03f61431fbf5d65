"""The official HumanML3D text-motion evaluator of Guo et al. (CVPR 2022), re-implemented.

Every published HumanML3D number (FID, R-precision, MM-Dist, Diversity, MultiModality) comes from
this network; its weights are not redistributable, so :func:`load_official_evaluator` reads the
user's copy of the released files (REFERENCE.md section 3)::

    DIR/t2m/text_mot_match/model/finest.tar     text_encoder / movement_encoder / motion_encoder weights
    DIR/t2m/Comp_v6_KLD01/meta/mean.npy, std.npy  the evaluator's feature normalisation (263,)
    DIR/glove/our_vab_data.npy                   GloVe word vectors (vocabulary, 300)
    DIR/glove/our_vab_words.pkl, our_vab_idx.pkl the vocabulary and word -> row index

MotionLCM's ``deps/`` folder (``deps/t2m/t2m/...`` beside ``deps/glove``) is accepted as ``DIR`` too.

Architecture (module and parameter names match the checkpoint, so ``load_state_dict(strict=True)``):

* text encoder: per token ``input_emb(word_vector + pos_emb(pos_one_hot))`` -> bidirectional GRU
  (512) started from a learned state ``hidden`` -> both final states -> ``output_net`` (Linear 1024->512,
  LayerNorm, LeakyReLU 0.2, Linear 512->512);
* movement encoder: two Conv1d (kernel 4, stride 2, padding 1; 259->512->512, LeakyReLU 0.2) over
  the features without the 4 foot contacts, then ``out_net`` (Linear 512->512); time / 4;
* motion encoder: ``input_emb`` (512->1024) -> bidirectional GRU (1024) over the first ``length // 4``
  movement codes -> ``output_net`` (Linear 2048->1024, LayerNorm, LeakyReLU, Linear 1024->512).

Captions are sequences of ``word/POS`` tokens (the second field of HumanML3D caption lines): at most
20 tokens, wrapped in ``sos/OTHER`` ... ``eos/OTHER`` and padded with ``unk/OTHER`` to 22. A word's
POS is replaced by its "VIP" class (location, body part, object, action, description) when it is in
one of the reference word lists; words outside the GloVe vocabulary become ``unk`` with POS OTHER.

Free-form prompts (no tokens) go through :func:`tag_caption`, a small rule-based tagger: lower-case
alphabetic words (hyphens removed, as HumanML3D did), a closed-class table for determiners,
prepositions, pronouns, auxiliaries, numbers and conjunctions, ``-ly`` adverbs and a few listed
adverbs / adjectives, a list of motion verbs with naive lemmatisation (``walks``/``walking``/
``walked`` -> ``walk``, since HumanML3D tokens are lemmas), and NOUN for everything else. It is
an approximation of the spaCy tagging behind the dataset's tokens; the motion-relevant words are
mostly covered by the VIP classes, which override the POS anyway. Use the dataset's own tokens
for benchmark numbers.

Motions are given in raw feature units (un-normalised HumanML3D 263-d features) and normalised with
the evaluator's own Mean/Std; :func:`renormalize` converts features normalised with a dataset's
statistics instead. The last movement codes of a motion see up to 3 frames past its end (kernel 4,
stride 2, twice), so the result depends on what follows the motion: the reference pads every test
motion with zeros to 196 frames, and so does :meth:`OfficialEvaluator.embed_motion` (zeros in the
evaluator's normalised space, at least 196 frames), which makes embeddings independent of how a
batch is padded and equal to the reference's for lengths up to 196.
"""
from __future__ import annotations

import io
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..errors import MotionLCMError
from ..io import load_npy

WORD_DIM = 300
POS_CLASSES = ("VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV",
               "Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER")
POS_INDEX = {name: i for i, name in enumerate(POS_CLASSES)}
MAX_TEXT_TOKENS = 20  # words; plus sos/eos -> 22 positions
UNIT_LENGTH = 4  # frames per movement code (two stride-2 convolutions)
PAD_TO_FRAMES = 196  # the reference evaluates motions zero-padded to HumanML3D's maximum length
MOTION_INPUT_DIM = 259  # the 263 features without the 4 foot contacts
EMBED_DIM = 512

# The reference's "VIP" word classes: these words get their class instead of their POS tag.
VIP_WORDS: dict[str, tuple[str, ...]] = {
    "Loc_VIP": ("left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward", "back", "backward",
                "up", "down", "straight", "curve"),
    "Body_VIP": ("arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye", "knee", "shoulder",
                 "thigh"),
    "Obj_VIP": ("stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail", "baseball", "basketball"),
    "Act_VIP": ("walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop", "dance", "jump",
                "turn", "stumble", "stop", "sit", "lift", "lower", "raise", "wash", "stand", "kneel", "stroll", "rub",
                "bend", "balance", "flap", "jog", "shuffle", "lean", "rotate", "spin", "spread", "climb"),
    "Desc_VIP": ("slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry", "sad", "happily",
                 "angrily", "sadly"),
}
_VIP_OF_WORD = {word: cls for cls, words in VIP_WORDS.items() for word in words}

CHECKPOINT = Path("t2m/text_mot_match/model/finest.tar")
EVAL_MEAN, EVAL_STD = Path("t2m/Comp_v6_KLD01/meta/mean.npy"), Path("t2m/Comp_v6_KLD01/meta/std.npy")
GLOVE_VECTORS, GLOVE_WORDS, GLOVE_INDEX = (Path("glove/our_vab_data.npy"), Path("glove/our_vab_words.pkl"),
                                           Path("glove/our_vab_idx.pkl"))


# ------------------------------------------------------------------------------------------------
# networks (names as in the released checkpoint)
# ------------------------------------------------------------------------------------------------
def _output_net(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, out_dim))


def _final_bigru_state(gru: nn.GRU, inputs: torch.Tensor, lengths: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
    """Both directions' last hidden states over the first ``lengths`` steps, concatenated: (B, 2H)."""
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    _, last = gru(packed, initial.expand(-1, inputs.shape[0], -1).contiguous())
    return torch.cat([last[0], last[1]], dim=-1)


class T2MTextEncoder(nn.Module):
    """BiGRU over GloVe word vectors plus projected POS one-hots (``TextEncoderBiGRUCo``)."""

    def __init__(self, word_dim: int = WORD_DIM, pos_dim: int = len(POS_CLASSES), hidden: int = 512,
                 output_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.pos_emb = nn.Linear(pos_dim, word_dim)
        self.input_emb = nn.Linear(word_dim, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.output_net = _output_net(2 * hidden, hidden, output_dim)
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden))  # learned initial state of both directions

    def forward(self, word_vectors: torch.Tensor, pos_one_hot: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        inputs = self.input_emb(word_vectors + self.pos_emb(pos_one_hot))
        return self.output_net(_final_bigru_state(self.gru, inputs, lengths, self.hidden))


class T2MMovementEncoder(nn.Module):
    """Two strided convolutions: (B, T, 259) -> (B, T/4, 512) movement codes (``MovementConvEncoder``)."""

    def __init__(self, input_dim: int = MOTION_INPUT_DIM, hidden: int = 512, output_dim: int = 512) -> None:
        super().__init__()
        # Dropout layers kept so the Sequential indices (main.0, main.3) match the checkpoint.
        self.main = nn.Sequential(
            nn.Conv1d(input_dim, hidden, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, output_dim, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2))
        self.out_net = nn.Linear(output_dim, output_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.out_net(self.main(features.transpose(1, 2)).transpose(1, 2))


class T2MMotionEncoder(nn.Module):
    """BiGRU over movement codes (``MotionEncoderBiGRUCo``)."""

    def __init__(self, input_dim: int = 512, hidden: int = 1024, output_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.input_emb = nn.Linear(input_dim, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.output_net = _output_net(2 * hidden, hidden, output_dim)
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden))

    def forward(self, codes: torch.Tensor, code_lengths: torch.Tensor) -> torch.Tensor:
        return self.output_net(_final_bigru_state(self.gru, self.input_emb(codes), code_lengths, self.hidden))


# ------------------------------------------------------------------------------------------------
# words
# ------------------------------------------------------------------------------------------------
_CLOSED_CLASSES: dict[str, tuple[str, ...]] = {
    "DET": ("a", "an", "the", "this", "that", "these", "those", "another", "each", "every", "some", "any", "both",
            "all", "no", "either", "neither", "which", "what", "whose"),
    "ADP": ("in", "on", "at", "to", "from", "with", "of", "by", "for", "into", "onto", "over", "under", "through",
            "across", "along", "towards", "toward", "behind", "above", "below", "between", "after", "before", "during",
            "like", "without", "against", "upon", "within", "near", "beside", "about", "as", "than", "off", "out"),
    "PRON": ("he", "she", "it", "they", "them", "him", "her", "his", "their", "its", "i", "you", "we", "me", "us",
             "my", "your", "our", "someone", "somebody", "something", "himself", "herself", "themselves", "itself",
             "one", "who", "whom"),
    "AUX": ("is", "are", "was", "were", "be", "been", "being", "am", "has", "have", "had", "does", "do", "did", "will",
            "would", "can", "could", "should", "may", "might", "must", "shall"),
    "NUM": ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "twenty",
            "hundred"),
    "CCONJ": ("and", "or", "but", "nor", "yet"),  # not one of the 15 classes -> OTHER, as the reference
    "SCONJ": ("while", "if", "because", "until", "though", "although", "whilst", "since", "so"),
    "ADV": ("then", "again", "around", "away", "ahead", "together", "twice", "once", "very", "back", "forward",
            "backward", "backwards", "forwards", "sideways", "up", "down", "here", "there", "also", "too", "still",
            "just", "now", "repeatedly", "quickly", "slowly", "fast", "straight", "downward", "upward", "outward",
            "inward", "later", "first", "finally", "almost", "far"),
    "ADJ": ("left", "right", "small", "big", "large", "high", "low", "long", "short", "other", "several", "few",
            "many", "full", "half", "circular", "slow", "quick", "careful", "happy", "angry", "sad", "same", "wide",
            "narrow", "heavy", "light", "little", "tall", "front", "side", "final", "upper", "lower"),
}
_CLOSED_CLASS_OF_WORD: dict[str, str] = {}
for _cls, _words in _CLOSED_CLASSES.items():
    for _word in _words:
        _CLOSED_CLASS_OF_WORD.setdefault(_word, _cls)

# Verbs (lemmas) common in motion captions, beyond the Act_VIP list.
_MOTION_VERBS = frozenset(VIP_WORDS["Act_VIP"]) | frozenset((
    "step", "move", "wave", "clap", "crouch", "crawl", "go", "come", "take", "hold", "grab", "reach", "push", "pull",
    "stretch", "shake", "nod", "look", "bow", "fall", "land", "roll", "twist", "swim", "skip", "march", "pace",
    "sway", "tilt", "drop", "catch", "lie", "get", "begin", "start", "continue", "make", "do", "perform", "return",
    "bounce", "punch", "box", "fight", "play", "pose", "rise", "cross", "circle", "wipe", "scratch", "touch", "tap",
    "hit", "point", "carry", "place", "set", "use", "keep", "pause", "wait", "leave", "head", "try", "seem", "appear",
    "flail", "swat", "stomp", "tiptoe", "limp", "sidestep", "drink", "eat", "open", "close", "shrug", "salute",
    "applaud", "sprint", "dash", "leap", "stagger", "trip", "slide", "glide", "lunge", "pivot", "cartwheel",
))
_IRREGULAR_VERBS = {
    "ran": "run", "running": "run", "sat": "sit", "sitting": "sit", "stood": "stand", "threw": "throw",
    "thrown": "throw", "went": "go", "goes": "go", "gone": "go", "came": "come", "took": "take", "taken": "take",
    "held": "hold", "fell": "fall", "fallen": "fall", "got": "get", "began": "begin", "made": "make",
    "swung": "swing", "spun": "spin", "lay": "lie", "lying": "lie", "rose": "rise",
    "jogging": "jog", "hopping": "hop", "stepping": "step", "skipping": "skip", "clapping": "clap",
    "dropping": "drop", "putting": "put", "getting": "get", "stopping": "stop", "swimming": "swim",
}


def _verb_lemma(word: str) -> str | None:
    """The motion-verb lemma of ``word`` by naive suffix stripping, or None if it is not one."""
    if word in _IRREGULAR_VERBS:
        lemma = _IRREGULAR_VERBS[word]
        return lemma if lemma in _MOTION_VERBS else None
    candidates = [word]
    for suffix, replacements in (("ies", ("y",)), ("ing", ("", "e")), ("ed", ("", "e")), ("es", ("", "e")), ("s", ("",))):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            stem = word[: -len(suffix)]
            candidates += [stem + r for r in replacements]
            if len(stem) > 2 and stem[-1] == stem[-2]:  # doubled consonant: stepped, hopping
                candidates.append(stem[:-1])
    return next((c for c in candidates if c in _MOTION_VERBS), None)


def tag_caption(text: str) -> tuple[str, ...]:
    """Rule-based ``word/POS`` tokens for a free-form prompt (see the module docstring for its limits)."""
    words = re.findall(r"[a-z]+", text.lower().replace("-", ""))
    tokens = []
    for word in words:
        closed = _CLOSED_CLASS_OF_WORD.get(word)
        lemma = _verb_lemma(word) if closed is None or word in _MOTION_VERBS else None
        if lemma is not None:
            tokens.append(f"{lemma}/VERB")
        elif closed is not None:
            tokens.append(f"{word}/{closed}")
        elif word.endswith("ly") and len(word) > 4:
            tokens.append(f"{word}/ADV")
        else:
            # nouns: plural -> singular as the dataset's lemmas (steps -> step), unless that is not a word we know
            tokens.append(f"{_noun_lemma(word)}/NOUN")
    return tuple(tokens)


def _noun_lemma(word: str) -> str:
    irregular = {"feet": "foot", "people": "person", "men": "man", "women": "woman", "stairs": "stair"}
    if word in irregular:
        return irregular[word]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class WordVectorizer:
    """``word/POS`` token -> (GloVe vector, 15-way POS one-hot), as the reference ``WordVectorizer``."""

    def __init__(self, vectors: np.ndarray, word_to_row: dict[str, int]) -> None:
        if vectors.ndim != 2:
            raise MotionLCMError(f"GloVe vectors must be a (words, dim) array, got shape {vectors.shape}")
        if "unk" not in word_to_row:
            raise MotionLCMError("the GloVe vocabulary has no 'unk' entry")
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.word_to_row = dict(word_to_row)
        bad = [w for w, i in self.word_to_row.items() if not 0 <= i < len(self.vectors)]
        if bad:
            raise MotionLCMError(f"the GloVe index points outside the {len(self.vectors)} vectors (e.g. {bad[0]!r})")

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.word_to_row)

    def lookup(self, token: str) -> tuple[np.ndarray, int]:
        """The word's vector and POS class index; unknown words are ``unk`` / OTHER."""
        word, _, pos = token.rpartition("/")
        if not word:  # a bare word without a tag
            word, pos = token, "OTHER"
        row = self.word_to_row.get(word)
        if row is None:
            return self.vectors[self.word_to_row["unk"]], POS_INDEX["OTHER"]
        pos = _VIP_OF_WORD.get(word, pos)
        return self.vectors[row], POS_INDEX.get(pos, POS_INDEX["OTHER"])

    def encode(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """Word vectors (22, 300), POS one-hots (22, 15) and the real length (sos + words + eos)."""
        words = ["sos/OTHER", *list(tokens)[:MAX_TEXT_TOKENS], "eos/OTHER"]
        length = len(words)
        words += ["unk/OTHER"] * (MAX_TEXT_TOKENS + 2 - length)
        vectors = np.zeros((len(words), self.dim), np.float32)
        pos = np.zeros((len(words), len(POS_CLASSES)), np.float32)
        for i, token in enumerate(words):
            vectors[i], cls = self.lookup(token)
            pos[i, cls] = 1.0
        return vectors, pos, length


# ------------------------------------------------------------------------------------------------
# the evaluator
# ------------------------------------------------------------------------------------------------
def renormalize(features: torch.Tensor, mean_from, std_from, mean_to, std_to) -> torch.Tensor:
    """Features normalised with (mean_from, std_from) -> normalised with (mean_to, std_to).

    E.g. a generator's output (dataset Mean/Std) -> the official evaluator's input (its mean/std,
    whose std divides the root and contact groups by 5).
    """
    def like(x):
        return torch.as_tensor(np.asarray(x, np.float32) if not isinstance(x, torch.Tensor) else x).to(features)

    return (features * like(std_from) + like(mean_from) - like(mean_to)) / like(std_to)


Caption = str | Sequence[str]


class OfficialEvaluator(nn.Module):
    """The frozen official evaluator: ``embed_text`` and ``embed_motion`` give 512-d embeddings.

    Always in eval mode (its dropout must never switch on), no gradients.
    """

    def __init__(self, vectorizer: WordVectorizer, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.text_encoder = T2MTextEncoder(word_dim=vectorizer.dim)
        self.movement_encoder = T2MMovementEncoder()
        self.motion_encoder = T2MMotionEncoder()
        self.vectorizer = vectorizer
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, np.float32)), persistent=False)
        self.register_buffer("std", torch.as_tensor(np.asarray(std, np.float32)), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> OfficialEvaluator:
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.mean.device

    # -- text ----------------------------------------------------------------------------------------
    def caption_tensors(self, captions: Sequence[Caption]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 22, 300) word vectors, (B, 22, 15) POS one-hots, (B,) lengths on the evaluator's device."""
        encoded = [self.vectorizer.encode(tag_caption(c) if isinstance(c, str) else c) for c in captions]
        vectors = torch.as_tensor(np.stack([e[0] for e in encoded]), device=self.device)
        pos = torch.as_tensor(np.stack([e[1] for e in encoded]), device=self.device)
        lengths = torch.tensor([e[2] for e in encoded], dtype=torch.long)
        return vectors, pos, lengths

    @torch.no_grad()
    def embed_text(self, captions: Sequence[Caption]) -> torch.Tensor:
        """(B, 512) embeddings. Each caption is a sequence of ``word/POS`` tokens (HumanML3D's) or a
        free-form string, tagged by :func:`tag_caption`."""
        if isinstance(captions, str) or not len(captions):
            raise MotionLCMError("embed_text expects a non-empty list of captions")
        return self.text_encoder(*self.caption_tensors(captions))

    # -- motion ----------------------------------------------------------------------------------------
    def normalize(self, features: torch.Tensor) -> torch.Tensor:
        """Raw 263-d features -> the evaluator's normalised space."""
        return (features - self.mean) / self.std

    @torch.no_grad()
    def embed_motion(self, features: torch.Tensor, lengths: Sequence[int] | torch.Tensor,
                     normalized: bool = False) -> torch.Tensor:
        """(B, 512) embeddings of ``(B, T, 263)`` motions with ``lengths`` valid frames each.

        ``features`` are raw (un-normalised) unless ``normalized=True`` (already in the evaluator's
        space, e.g. through :func:`renormalize`). Frames past each length are replaced by zeros and the
        batch is padded to at least 196 frames (see the module docstring). The GRU reads
        ``length // 4`` movement codes, as the reference; the protocol crops lengths to multiples of 4
        beforehand.
        """
        features = torch.as_tensor(features, dtype=torch.float32, device=self.device)
        lengths = torch.as_tensor(lengths, dtype=torch.long).cpu()
        if features.ndim != 3 or features.shape[-1] != len(self.mean):
            raise MotionLCMError(f"expected motion features of shape (batch, frames, {len(self.mean)}), "
                                 f"got {tuple(features.shape)}")
        frames = features.shape[1]
        if lengths.shape != (features.shape[0],) or int(lengths.min()) < UNIT_LENGTH or int(lengths.max()) > frames:
            raise MotionLCMError(f"motion lengths {lengths.tolist()} must be between {UNIT_LENGTH} and {frames} frames")
        x = features if normalized else self.normalize(features)
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
        x = torch.where(valid[..., None], x, 0.0)[..., :MOTION_INPUT_DIM]
        if x.shape[1] < PAD_TO_FRAMES:  # zeros after the motion, as the reference's fixed-length batches
            x = torch.nn.functional.pad(x, (0, 0, 0, PAD_TO_FRAMES - x.shape[1]))
        codes = self.movement_encoder(x)
        return self.motion_encoder(codes, torch.div(lengths, UNIT_LENGTH, rounding_mode="floor"))


# ------------------------------------------------------------------------------------------------
# loading the released files
# ------------------------------------------------------------------------------------------------
class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickles only plain containers and scalars; any class or function reference is refused."""

    _ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {("builtins", "dict"), ("builtins", "list"), ("builtins", "str"), ("builtins", "int")})

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _load_plain_pickle(path: Path):
    try:
        return _PlainDataUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise MotionLCMError(f"{path}: not a plain word list / index pickle ({exc})") from None


def load_glove(glove_dir: str | Path) -> WordVectorizer:
    """The evaluator's GloVe vocabulary (``our_vab_*`` files in ``glove_dir``)."""
    glove_dir = Path(glove_dir)
    vectors = load_npy(glove_dir / GLOVE_VECTORS.name)
    words = _load_plain_pickle(glove_dir / GLOVE_WORDS.name)
    index = _load_plain_pickle(glove_dir / GLOVE_INDEX.name)
    if not (isinstance(words, list) and all(isinstance(w, str) for w in words)):
        raise MotionLCMError(f"{glove_dir / GLOVE_WORDS.name}: expected a list of words")
    if not (isinstance(index, dict) and all(isinstance(k, str) and isinstance(v, int) for k, v in index.items())):
        raise MotionLCMError(f"{glove_dir / GLOVE_INDEX.name}: expected a dict word -> row")
    missing = [w for w in words if w not in index]
    if missing:
        raise MotionLCMError(f"{glove_dir / GLOVE_INDEX.name}: no row for {len(missing)} words (e.g. {missing[0]!r})")
    return WordVectorizer(vectors, {w: index[w] for w in words})


def official_evaluator_files(directory: str | Path) -> dict[str, Path]:
    """Where :func:`load_official_evaluator` looks for each file under ``directory``.

    ``directory/t2m/...`` and ``directory/glove/...``; when ``directory/t2m/t2m`` holds the evaluator
    (MotionLCM's ``deps/`` layout), that inner folder is used for the ``t2m/`` files.
    """
    root = Path(directory)
    t2m_root = root / "t2m" if (root / "t2m" / "t2m" / CHECKPOINT.relative_to("t2m")).is_file() else root
    return {
        "checkpoint": t2m_root / CHECKPOINT,
        "mean": t2m_root / EVAL_MEAN,
        "std": t2m_root / EVAL_STD,
        "glove_vectors": root / GLOVE_VECTORS,
        "glove_words": root / GLOVE_WORDS,
        "glove_index": root / GLOVE_INDEX,
    }


def _load_weights(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise MotionLCMError(f"{path}: not a loadable evaluator checkpoint ({first})") from None
    keys = ("text_encoder", "movement_encoder", "motion_encoder")
    if not isinstance(checkpoint, dict) or any(not isinstance(checkpoint.get(k), dict) for k in keys):
        raise MotionLCMError(f"{path}: expected the weights under {', '.join(keys)}")
    return {k: checkpoint[k] for k in keys}


def _load_strict(module: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = [line.strip() for line in str(exc).splitlines() if line.strip()][1:2] or [str(exc)[:160]]
        raise MotionLCMError(f"{where}: weights do not match the official architecture ({detail[0][:200]})") from None


def load_official_evaluator(directory: str | Path, device: torch.device | str = "cpu") -> OfficialEvaluator:
    """Load the official evaluator from the released files (layout in the module docstring).

    Missing files raise :class:`MotionLCMError` listing every missing path. Nothing is unpickled
    beyond tensors (``torch.load(weights_only=True)``) and plain word lists / dicts.
    """
    files = official_evaluator_files(directory)
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise MotionLCMError(f"official evaluator files missing under {directory}: {', '.join(missing)} "
                             f"(expected DIR/{CHECKPOINT}, DIR/{EVAL_MEAN.parent}/{{mean,std}}.npy and "
                             f"DIR/glove/our_vab_{{data.npy,words.pkl,idx.pkl}})")
    vectorizer = load_glove(files["glove_vectors"].parent)
    mean, std = load_npy(files["mean"]), load_npy(files["std"])
    for name, arr in (("mean", mean), ("std", std)):
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise MotionLCMError(f"{files[name]}: expected a finite 1-d array, got shape {arr.shape}")
    if mean.shape != std.shape or (std <= 0).any():
        raise MotionLCMError(f"{files['std']}: evaluator mean/std shapes differ or std has non-positive entries")
    evaluator = OfficialEvaluator(vectorizer, mean, std)
    weights = _load_weights(files["checkpoint"])
    _load_strict(evaluator.text_encoder, weights["text_encoder"], f"{files['checkpoint']} [text_encoder]")
    _load_strict(evaluator.movement_encoder, weights["movement_encoder"], f"{files['checkpoint']} [movement_encoder]")
    _load_strict(evaluator.motion_encoder, weights["motion_encoder"], f"{files['checkpoint']} [motion_encoder]")
    try:
        return evaluator.to(device)
    except (RuntimeError, AssertionError) as exc:
        raise MotionLCMError(f"cannot move the evaluator to {device}: {str(exc).splitlines()[0]}") from None


__all__ = [
    "POS_CLASSES", "VIP_WORDS", "MAX_TEXT_TOKENS", "UNIT_LENGTH", "PAD_TO_FRAMES", "T2MTextEncoder", "T2MMovementEncoder",
    "T2MMotionEncoder", "WordVectorizer", "tag_caption", "renormalize", "OfficialEvaluator", "load_glove",
    "official_evaluator_files", "load_official_evaluator",
]
