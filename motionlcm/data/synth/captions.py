"""Captions from a small template grammar, tokenised like HumanML3D (``word/POS``).

Phrases are written in a tiny notation: ``V:walk`` is a verb conjugated for the sentence
(walks / walking / walk), ``POSS`` becomes the subject's possessive (or "the"), and a word may
carry its part of speech explicitly (``left/NOUN``); otherwise the lexicon below gives it.
As in HumanML3D's text processing, tokens are lowercase, nouns and verbs are lemmatised,
and punctuation gets no token. Left/right, clockwise/counterclockwise always follow the
action's parameters, which come from the same spec that produced the motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...motion.mirror import mirror_caption
from .spec import ActionSpec

# --------------------------------------------------------------------------- lexicon
_POS_WORDS = {
    "DET": "a an the both his her their its each another every all",
    "ADP": "to in on with at over above of by into from for onto across behind like up down before after without "
    "toward along out",
    "ADV": "forward backward backwards sideways ahead back again then slowly quickly briskly fast still there once "
    "twice around clockwise counterclockwise slightly sharply high away first finally briefly together straight "
    "gradually repeatedly lightly low politely far afterwards steadily rapidly right left quick",
    "NOUN": "person man woman figure human guy character hand arm leg foot knee fist head circle curve place spot floor "
    "ground time degree step direction side air front squat punch kick bow turn jump waist pace moment while "
    "shoulder height body path way hop loop chest arc line row pose goodbye",
    "PRON": "someone somebody he she they it himself herself themselves itself him them something",
    "NUM": "one two three four five six seven eight ninety forty hundred",
    "ADJ": "full slow normal steady brisk few small big deep opposite high wide same short long alternating quick "
    "little low front most",
    "CCONJ": "and or but",
    "SCONJ": "while",
    "AUX": "is",
    "INTJ": "hello",
}
LEXICON = {word: pos for pos, words in _POS_WORDS.items() for word in words.split()}
# Words whose default part of speech is ambiguous default to their most common use here.
LEXICON.update({"left": "ADJ", "right": "ADJ", "quick": "ADJ", "low": "ADV", "high": "ADV"})
PLURALS = {
    "hands": "hand",
    "arms": "arm",
    "legs": "leg",
    "feet": "foot",
    "knees": "knee",
    "fists": "fist",
    "times": "time",
    "degrees": "degree",
    "steps": "step",
    "sides": "side",
    "squats": "squat",
    "punches": "punch",
    "kicks": "kick",
    "jumps": "jump",
    "hops": "hop",
    "circles": "circle",
    "loops": "loop",
    "turns": "turn",
    "shoulders": "shoulder",
}
for _plural in PLURALS:
    LEXICON[_plural] = "NOUN"
# Verbs whose final consonant doubles before -ing.
_DOUBLING = {
    "run",
    "sit",
    "jog",
    "hop",
    "clap",
    "step",
    "spin",
    "squat",
    "drop",
    "jab",
    "put",
    "get",
    "stop",
    "skip",
    "sidestep",
    "swim",
}
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def third_person(verb: str) -> str:
    if verb == "do":
        return "does"
    if verb == "go":
        return "goes"
    if verb.endswith(("s", "sh", "ch", "x", "z")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def present_participle(verb: str) -> str:
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb in _DOUBLING:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith(("ee", "ye")):
        return verb[:-1] + "ing"
    return verb + "ing"


@dataclass(frozen=True)
class Token:
    word: str  # as written in the caption
    pos: str
    lemma: str

    def tagged(self) -> str:
        # HumanML3D keeps lemmas for nouns and verbs and the surface word otherwise.
        word = self.lemma if self.pos in ("NOUN", "VERB") else self.word
        return f"{word.lower()}/{self.pos}"


@dataclass(frozen=True)
class Subject:
    words: str
    possessive: str
    reflexive: str


SUBJECTS = (
    Subject("a person", "their", "themselves"),
    Subject("a person", "his", "himself"),
    Subject("someone", "their", "themselves"),
    Subject("someone", "his", "himself"),
    Subject("a man", "his", "himself"),
    Subject("the man", "his", "himself"),
    Subject("a woman", "her", "herself"),
    Subject("the woman", "her", "herself"),
    Subject("the person", "their", "themselves"),
    Subject("the person", "his", "himself"),
    Subject("a human", "their", "themselves"),
    Subject("the figure", "its", "itself"),
    Subject("a guy", "his", "himself"),
    Subject("a character", "their", "themselves"),
    Subject("the character", "its", "itself"),
)


def _word_token(item: str) -> Token:
    """``word``, ``word/POS`` or ``word/POS/lemma``."""
    word, _, rest = item.partition("/")
    pos, _, lemma = rest.partition("/")
    if not pos:
        if word not in LEXICON:
            raise KeyError(f"caption word {word!r} has no part of speech")
        pos = LEXICON[word]
    if not lemma:
        lemma = PLURALS.get(word, word) if pos == "NOUN" else word
    return Token(word, pos, lemma)


def render_phrase(phrase: str, form: str, subject: Subject, rng: np.random.Generator) -> list[Token]:
    """Tokens of a phrase with its verbs in ``form`` ("third", "ing" or "base")."""
    tokens = []
    for item in phrase.split():
        if item.startswith("V:"):
            base = item[2:]
            word = {"third": third_person, "ing": present_participle, "base": lambda v: v}[form](base)
            tokens.append(Token(word, "VERB", base))
        elif item == "POSS":
            # "waves with the left hand" and "waves with his left hand" are both common.
            tokens.append(Token("the" if rng.random() < 0.4 else subject.possessive, "DET", ""))
        elif item == "SELF":
            tokens.append(Token(subject.reflexive, "PRON", subject.reflexive))
        elif item == ",":
            tokens.append(Token(",", "PUNCT", ","))
        else:
            tokens.append(_word_token(item))
    return tokens


# --------------------------------------------------------------------------- phrases per family
def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(0, len(options)))]


def _times(count: int, rng: np.random.Generator) -> str:
    if count == 1:
        return _pick(rng, ["", "once"])
    if count == 2:
        return _pick(rng, ["twice", "two times", "twice"])
    return f"{NUMBER_WORDS[count]} times" if count < len(NUMBER_WORDS) else "several times"


def _maybe(rng: np.random.Generator, text: str, p: float = 0.5) -> str:
    return text if rng.random() < p else ""


def _locomotion(p: dict, rng: np.random.Generator) -> str:
    kind, direction, pace, path = p["kind"], p["direction"], p["pace"], p["path"]
    if kind == "walk":
        if direction == "forward":
            verbs = {
                "slow": ["V:walk slowly", "slowly V:walk", "V:stroll", "V:amble", "V:walk at a slow pace"],
                "normal": ["V:walk", "V:walk", "V:walk", "V:stroll", "V:move"],
                "fast": ["V:walk quickly", "V:walk briskly", "V:walk fast", "quickly V:walk", "V:hurry"],
            }[pace]
        elif direction == "backward":
            verbs = ["V:walk", "V:step", "V:move"] + (["slowly V:walk", "V:walk slowly"] if pace == "slow" else [])
        else:  # not "V:step": "steps sideways to the left" is one side step (``_side_step``)
            verbs = ["V:walk", "V:walk", "V:move", "V:shuffle"]
    elif kind == "jog":
        if direction == "forward":
            verbs = ["V:jog", "V:jog", "V:run slowly", "V:jog lightly"]
        elif direction == "backward":
            verbs = ["V:jog", "V:run"]
        else:
            verbs = ["V:jog", "V:jog", "V:shuffle quickly"]
    else:
        verbs = (
            ["V:run", "V:run", "V:run quickly", "V:sprint", "V:dash"] if pace == "fast" else ["V:run", "V:run", "V:run steadily"]
        )
    verb = _pick(rng, verbs)

    if direction == "backward":
        if kind == "walk" and rng.random() < 0.2:
            return "V:back up"
        return f"{verb} {_pick(rng, ['backward', 'backwards', 'backward', 'in reverse/ADV'])}"
    if direction in ("left", "right"):
        side = direction
        return _pick(
            rng,
            [
                f"{verb} sideways to the {side}/NOUN",
                f"{verb} sideways to POSS {side}/NOUN",
                f"{verb} to the {side}/NOUN sideways",
                f"{verb} sideways toward/ADP the {side}/NOUN",
            ],
        )
    forward = _pick(rng, ["forward", "forward", "ahead", "straight ahead", "forward", ""])
    if path == "straight":
        return f"{verb} {forward}" if forward else f"{verb} {_pick(rng, ['forward', 'in a straight/ADJ line'])}"
    if path.startswith("curve"):
        side = "left" if path.endswith("left") else "right"
        return _pick(
            rng,
            [
                f"{verb} {forward} while V:curve to the {side}/NOUN",
                f"{verb} in a curve to the {side}/NOUN",
                f"{verb} along a curve to the {side}/NOUN",
                f"{verb} {forward} and gradually V:veer {side}/ADV",
                f"{verb} {forward} , curving/VERB/curve to the {side}/NOUN",
                f"{verb} in an arc/NOUN to the {side}/NOUN",
            ],
        )
    # circle_ccw: turning left all the way round = counterclockwise seen from above.
    ccw = path == "circle_ccw"
    side = "left" if ccw else "right"
    turn = "counterclockwise" if ccw else "clockwise"
    options = [
        f"{verb} in a {turn}/ADJ circle",
        f"{verb} in a circle {turn}",
        f"{verb} {_pick(rng, ['around', ''])} in a full circle to the {side}/NOUN",
        f"{verb} in a circle , turning/VERB/turn {side}/ADV",
        f"{verb} {turn} in a circle",
        f"{verb} around in a circle to POSS {side}/NOUN",
    ]
    if rng.random() < 0.15:
        options = [f"{verb} in a circle", f"{verb} around in a circle"]
    return _pick(rng, options)


def _turn(p: dict, rng: np.random.Generator) -> str:
    side = p["direction"]
    degrees = int(p["degrees"])
    amount = {
        45: [
            "slightly to the {s}/NOUN",
            "a little to the {s}/NOUN",
            "forty five/NUM degrees to the {s}/NOUN",
            "slightly {s}/ADV",
        ],
        90: [
            "{s}/ADV",
            "to the {s}/NOUN",
            "ninety degrees to the {s}/NOUN",
            "to POSS {s}/NOUN",
            "{s}/ADV by ninety degrees",
            "ninety degrees {s}/ADV",
        ],
        135: ["sharply to the {s}/NOUN", "far to the {s}/NOUN", "sharply {s}/ADV", "most/ADJ of the way around to the {s}/NOUN"],
        # Never "all the way around" nor the verb "spin": those name a full turn (``_spin``), and a
        # caption shared by 180 and 360 degrees cannot be followed (corpus 1.1 had both).
        180: [
            "around",
            "around to the {s}/NOUN",
            "halfway/ADV around",
            "around to face/VERB the opposite direction",
            "around over POSS {s}/ADJ shoulder",
            "to face/VERB the opposite direction",
        ],
    }[degrees]
    verb = _pick(rng, ["V:turn", "V:turn", "V:turn", "V:rotate", "V:pivot"] if degrees != 180 else ["V:turn", "V:turn", "V:pivot"])
    return f"{verb} {_pick(rng, amount).format(s=side)}"


def _spin(p: dict, rng: np.random.Generator) -> str:
    side = p["direction"]
    turn = "counterclockwise" if side == "left" else "clockwise"
    verb = _pick(rng, ["V:spin", "V:spin", "V:twirl", "V:turn"])
    if p["turns"] == 2:
        return _pick(
            rng,
            [
                f"{verb} around twice",
                f"{verb} around twice {turn}",
                f"V:spin two full circles to the {side}/NOUN",
                f"V:spin twice to the {side}/NOUN",
            ],
        )
    around = "around" if verb != "V:turn" else "all the way around"
    return _pick(
        rng,
        [
            f"{verb} {around}",
            f"{verb} {around} {turn}",
            f"{verb} {around} to the {side}/NOUN",
            f"V:spin in a full circle to the {side}/NOUN",
            f"V:do a full turn to the {side}/NOUN",
            f"{verb} {turn} in place",
        ],
    )


def _side_step(p: dict, rng: np.random.Generator) -> str:
    side, count = p["direction"], p["count"]
    times = _times(count, rng)
    if count == 1:
        return _pick(
            rng,
            [
                f"V:take a step to the {side}/NOUN",
                f"V:step to the {side}/NOUN",
                f"V:sidestep to the {side}/NOUN",
                f"V:step sideways to the {side}/NOUN",
                f"V:take a side/NOUN step to the {side}/NOUN",
            ],
        )
    number = NUMBER_WORDS[count]
    return _pick(
        rng,
        [
            f"V:take {number} steps to the {side}/NOUN",
            f"V:sidestep to the {side}/NOUN {times}",
            f"V:step sideways to the {side}/NOUN {times}",
            f"V:shuffle to the {side}/NOUN",
            f"V:take {number} side/NOUN steps to POSS {side}/NOUN",
            f"V:sidestep {times} to the {side}/NOUN",
        ],
    )


def _march(p: dict, rng: np.random.Generator) -> str:
    return _pick(
        rng,
        [
            "V:march in place",
            "V:march on the spot",
            "V:march in place",
            "V:stomp in place",
            "V:march in place , lifting/VERB/lift POSS knees high",
            "V:march without moving/VERB/move forward",
        ],
    )


def _jump(p: dict, rng: np.random.Generator) -> str:
    times = _times(p["count"], rng)
    if p["forward"]:
        verb = _pick(
            rng,
            ["V:jump forward", "V:leap forward", "V:jump ahead", "V:hop forward with both feet", "V:jump forward with both feet"],
        )
        return f"{verb} {times}"
    verb = _pick(
        rng,
        ["V:jump", "V:jump up", "V:jump in place", "V:jump straight up", "V:leap up"]
        + (["V:jump up and down"] if p["count"] > 1 else []),
    )
    return f"{verb} {times}"


def _hop(p: dict, rng: np.random.Generator) -> str:
    leg = p["leg"]
    part = _pick(rng, ["leg", "foot"])
    times = _times(p["count"], rng) if rng.random() < 0.6 else ""
    where = "forward" if p["forward"] else _pick(rng, ["in place", ""])
    return _pick(
        rng,
        [
            f"V:hop on POSS {leg} {part} {where} {times}",
            f"V:hop {where} on the {leg} {part} {times}",
            f"V:jump on one leg , the {leg} one/NOUN , {where} {times}",
            f"V:hop {where} on one {part} , the {leg} one/NOUN",
            f"V:balance on the {leg} {part} and V:hop {where} {times}",
        ],
    )


def _kick(p: dict, rng: np.random.Generator) -> str:
    leg, times = p["leg"], _times(p["count"], rng)
    part = _pick(rng, ["leg", "foot"])
    return _pick(
        rng,
        [
            f"V:kick with POSS {leg} {part} {times}",
            f"V:kick forward with the {leg} {part} {times}",
            f"V:kick POSS {leg} {part} forward {times}",
            f"V:do a front kick with POSS {leg} {part}"
            if p["count"] == 1
            else f"V:do {NUMBER_WORDS[p['count']]} front kicks with POSS {leg} {part}",
            f"V:kick something/PRON with POSS {leg} {part} {times}",
            f"V:lift POSS {leg} {part} and V:kick {times}",
        ],
    )


def _squat(p: dict, rng: np.random.Generator) -> str:
    count = p["count"]
    arms = (
        _maybe(
            rng,
            _pick(
                rng,
                [
                    "with POSS arms stretched/VERB/stretch forward",
                    "with both arms in front",
                    "holding/VERB/hold POSS arms out in front",
                ],
            ),
            0.6,
        )
        if p["arms_forward"]
        else ""
    )
    if count == 1:
        base = _pick(
            rng,
            [
                "V:squat down and V:stand back up",
                "V:squat",
                "V:do a squat",
                "V:squat down",
                "V:bend POSS knees into a squat",
                "V:squat down and V:rise again",
            ],
        )
    else:
        base = _pick(
            rng,
            [
                f"V:squat {_times(count, rng)}",
                f"V:do {NUMBER_WORDS[count]} squats",
                f"V:squat down and up {_times(count, rng)}",
                f"V:do {NUMBER_WORDS[count]} squats in a row/NOUN",
            ],
        )
    return f"{base} {arms}"


def _crouch(p: dict, rng: np.random.Generator) -> str:
    return _pick(
        rng,
        [
            "V:crouch down",
            "V:crouch down and V:get back up",
            "V:crouch low for a moment",
            "V:crouch down , then V:stand up",
            "V:squat down low and V:stay there for a moment",
            "V:crouch and then V:rise",
        ],
    )


def _sit(p: dict, rng: np.random.Generator) -> str:
    place = _pick(rng, ["on the floor", "on the ground", "down on the floor", "down on the ground"])
    up = _pick(
        rng,
        ["and V:stand back up", "and then V:get up", "and V:stand up again", ", then V:get back up", "", "and V:get up again"],
    )
    return _pick(
        rng,
        [
            f"V:sit {place} {up}",
            f"V:sit {place} {up}",
            "V:lower SELF to the floor , V:sit for a moment , and V:get back up",
            f"V:sit {place} for a moment {up}",
        ],
    )


def _kneel(p: dict, rng: np.random.Generator) -> str:
    side = p["side"]
    up = _pick(rng, ["and V:stand back up", "and then V:get up", "", "and V:rise again", "before standing/VERB/stand up"])
    return _pick(
        rng,
        [
            f"V:kneel down on POSS {side} knee {up}",
            f"V:kneel on one knee {up}",
            f"V:get down on POSS {side} knee {up}",
            f"V:drop to POSS {side} knee {up}",
            f"V:kneel on the {side} knee {up}",
            f"V:go down on one knee {up}",
        ],
    )


def _bow(p: dict, rng: np.random.Generator) -> str:
    return _pick(
        rng,
        [
            "V:bow",
            "V:bow down",
            "V:take a bow",
            "V:bow forward",
            "V:bend forward at the waist",
            "V:bow politely",
            "V:bow deeply/ADV",
            "V:lean forward into a bow",
        ],
    )


def _idle(p: dict, rng: np.random.Generator) -> str:
    if p["look"]:
        first = p["first"]
        second = "right" if first == "left" else "left"
        return _pick(
            rng,
            [
                "V:look around",
                f"V:look to the {first}/NOUN and then to the {second}/NOUN",
                f"V:turn POSS head {first}/ADV and {second}/ADV",
                f"V:stand and V:look {first}/ADV , then {second}/ADV",
                "V:stand still and V:look around",
            ],
        )
    return _pick(
        rng,
        [
            "V:stand still",
            "V:stand in place",
            "V:stand there",
            "V:wait",
            "V:remain standing/VERB/stand",
            "V:stand still for a moment",
            "V:stay still",
        ],
    )


def _wave(p: dict, rng: np.random.Generator) -> str:
    hands = p["hands"]
    high = _maybe(rng, _pick(rng, ["above POSS head", "over POSS head", "high in the air"]), 0.5) if p["overhead"] else ""
    if hands == "both":
        return _pick(
            rng,
            [
                f"V:wave with both hands {high}",
                f"V:wave both arms {high}",
                f"V:wave both hands {high}",
                "V:raise both arms and V:wave",
            ],
        )
    part = _pick(rng, ["hand", "hand", "arm"])
    return _pick(
        rng,
        [
            f"V:wave with POSS {hands} {part} {high}",
            f"V:wave POSS {hands} {part} {high}",
            f"V:wave hello with the {hands} hand",
            f"V:raise POSS {hands} hand and V:wave",
            f"V:wave {_pick(rng, ['', 'hello', 'goodbye/NOUN'])} with POSS {hands} {part}",
        ],
    )


def _raise(p: dict, rng: np.random.Generator) -> str:
    hands, direction = p["hands"], p["direction"]
    arms = "both arms" if hands == "both" else f"POSS {hands} arm"
    pronoun = "them" if hands == "both" else "it"
    lower = _maybe(
        rng, _pick(rng, [f"and V:lower {pronoun}", f"and then V:lower {pronoun} again", f", then V:put {pronoun} down"]), 0.35
    )
    verb = _pick(rng, ["V:raise", "V:lift", "V:raise"])
    if direction == "forward":
        base = _pick(
            rng,
            [
                f"{verb} {arms} forward",
                f"{verb} {arms} in front",
                f"V:stretch {arms} out in front",
                f"V:hold {arms} straight out in front",
                f"{verb} {arms} to shoulder height in front",
            ],
        )
    elif direction == "sideways":
        base = _pick(
            rng,
            [
                f"{verb} {arms} to the side" + ("s" if hands == "both" else ""),
                f"V:hold {arms} out to the side",
                f"{verb} {arms} sideways",
                f"V:stretch {arms} out sideways",
            ]
            + (["V:spread POSS arms wide/ADV", "V:make a t/NOUN pose/NOUN with POSS arms"] if hands == "both" else []),
        )
        base = base.replace("to the sides", "to the sides/NOUN")
    else:
        base = _pick(
            rng,
            [
                f"{verb} {arms} up",
                f"{verb} {arms} above POSS head",
                f"{verb} {arms} over POSS head",
                f"V:reach up with {arms}",
                f"V:stretch {arms} up high",
            ],
        )
    return f"{base} {lower}"


def _clap(p: dict, rng: np.random.Generator) -> str:
    times = _times(p["count"], rng)
    return _pick(
        rng,
        [
            f"V:clap {times}",
            f"V:clap POSS hands {times}",
            f"V:clap POSS hands together {times}",
            f"V:clap in front of POSS chest {times}",
            "V:applaud",
            f"V:clap {times}",
        ],
    )


def _punch(p: dict, rng: np.random.Generator) -> str:
    count = p["count"]
    if p["hands"] == "both":
        first = p["first"]
        second = "right" if first == "left" else "left"
        return _pick(
            rng,
            [
                f"V:throw {NUMBER_WORDS[count]} punches with alternating/VERB/alternate hands",
                "V:punch with both fists",
                f"V:punch {first}/ADV and {second}/ADV",
                "V:throw punches with both hands",
                "V:box",
                "V:punch the air with both fists",
                f"V:throw a {first} punch and then a {second} one/NOUN"
                if count == 2
                else f"V:throw alternating punches , starting/VERB/start with the {first}/NOUN",
            ],
        )
    side = p["hands"]
    times = _times(count, rng)
    part = _pick(rng, ["hand", "fist", "arm"])
    punches = "a punch" if count == 1 else f"{NUMBER_WORDS[count]} punches"
    return _pick(
        rng,
        [
            f"V:punch with POSS {side} {part} {times}",
            f"V:throw {punches} with the {side} {part}",
            f"V:punch forward with POSS {side} {part} {times}",
            f"V:jab with the {side} {part} {times}",
            f"V:punch the air with POSS {side} fist {times}",
            f"V:throw {'a' if count == 1 else NUMBER_WORDS[count]} {side} punch{'es' if count > 1 else ''}",
        ],
    )


DESCRIBE = {
    "walk": _locomotion,
    "jog": _locomotion,
    "run": _locomotion,
    "turn": _turn,
    "spin": _spin,
    "side_step": _side_step,
    "march": _march,
    "jump": _jump,
    "hop": _hop,
    "kick": _kick,
    "squat": _squat,
    "crouch": _crouch,
    "sit": _sit,
    "kneel": _kneel,
    "bow": _bow,
    "idle": _idle,
    "wave": _wave,
    "raise_arms": _raise,
    "clap": _clap,
    "punch": _punch,
}

# --------------------------------------------------------------------------- sentences
# Templates: {S} subject, {0}/{1}/{2} action phrases; a trailing "@ing" on a slot asks for the -ing form.
_TEMPLATES = {
    1: ["{S} {0}", "{S} {0}", "{S} {0}", "{S} is {0@ing}"],
    2: [
        "{S} {0} , then {1}",
        "{S} {0} and then {1}",
        "{S} {0} , and then {1}",
        "{S} first {0} , then {1}",
        "first , {S} {0} , then {1}",
        "{S} {0} before {1@ing}",
        "after {0@ing} , {S} {1}",
        "{S} {0} and {1}",
    ],
    3: [
        "{S} {0} , {1} , and then {2}",
        "{S} {0} , then {1} , and finally {2}",
        "{S} {0} , then {1} and {2}",
        "first {S} {0} , then {1} , and then {2}",
        "after {0@ing} , {S} {1} and then {2}",
        "{S} {0} , {1} and finally {2}",
    ],
}


# Families whose metadata holds a count of repetitions; a phrase states it only with one of these
# words ("a" as in "takes a step", "throws a punch"; "one" is left out: "on one leg, the left one").
_COUNTED_FAMILIES = ("side_step", "jump", "hop", "kick", "squat", "clap", "punch")
_COUNT_WORDS = frozenset({"once", "twice", "times", "a"} | set(NUMBER_WORDS[2:]))
_HEIGHT_WORDS = frozenset({"above", "over", "high"})  # a wave "above his head" / "high in the air"
_HAND_WORDS = frozenset({"left", "right", "both", "hand", "hands", "fist", "fists", "arm", "arms"})


def unstated_params(family: str, params: dict, words: list[str]) -> tuple[str, ...]:
    """The metadata parameters of one action that its rendered phrase (``words``) does not state:
    ``count`` (repetitions), ``overhead`` (a wave's height), ``hands`` (a punch's hands: "boxes")."""
    lowered = {w.lower() for w in words}
    open_params = []
    if family in _COUNTED_FAMILIES and "count" in params and not lowered & _COUNT_WORDS:
        open_params.append("count")
    if family == "wave" and "overhead" in params and not lowered & _HEIGHT_WORDS:
        open_params.append("overhead")  # "waves his hand": overhead or not, both are that
    if family == "punch" and "hands" in params and not lowered & _HAND_WORDS:
        open_params.append("hands")
    return tuple(open_params)


def compose_caption(specs: list[ActionSpec], rng: np.random.Generator) -> tuple[str, str, tuple[int, ...], dict[int, tuple[str, ...]]]:
    """One caption for a sequence of actions: (text, tokens as ``word/POS`` separated by spaces,
    the indices of the actions whose phrase names no side or turning sense, and per action index
    the parameters its phrase leaves unstated (:func:`unstated_params`; only non-empty entries))."""
    subject = SUBJECTS[int(rng.integers(0, len(SUBJECTS)))]
    template = _pick(rng, _TEMPLATES[len(specs)])
    tokens: list[Token] = []
    sideless: list[int] = []
    unstated: dict[int, tuple[str, ...]] = {}
    for part in template.split():
        if part == "{S}":
            tokens += [_word_token(w) for w in subject.words.split()]
        elif part.startswith("{") and part.endswith("}"):
            slot = part[1:-1]
            index, _, form = slot.partition("@")
            phrase = DESCRIBE[specs[int(index)].family](specs[int(index)].params, rng)
            rendered = render_phrase(phrase, "ing" if form == "ing" else "third", subject, rng)
            # A phrase a mirror leaves unchanged names no side ("turns around", "kneels on one knee"):
            # the prompt checks then accept either side for this caption.
            if all(mirror_caption(t.word) == t.word for t in rendered):
                sideless.append(int(index))
            spec = specs[int(index)]
            left_open = unstated_params(spec.family, spec.params, [t.word for t in rendered])
            if left_open:
                unstated[int(index)] = left_open
            tokens += rendered
        elif part == "is":
            tokens.append(Token("is", "AUX", "be"))
        elif part == ",":
            tokens.append(Token(",", "PUNCT", ","))
        else:
            tokens.append(_word_token(part))
    words = [t.word for t in tokens]
    text = " ".join(words).replace(" ,", ",")
    text = text.replace(",,", ",").strip(" ,")
    if rng.random() < 0.3:
        text = text[0].upper() + text[1:]
    if rng.random() < 0.4:
        text += "."
    tagged = " ".join(t.tagged() for t in tokens if t.pos != "PUNCT")
    return text, tagged, tuple(sorted(sideless)), unstated


def motion_captions(specs: list[ActionSpec], rng: np.random.Generator,
                    count: int = 3) -> list[tuple[str, str, tuple[int, ...], dict[int, tuple[str, ...]]]]:
    """``count`` different captions (text, tokens, sideless action indices, unstated parameters per
    action) for the same motion."""
    out: list[tuple[str, str, tuple[int, ...], dict[int, tuple[str, ...]]]] = []
    seen = set()
    for _ in range(50):
        text, tokens, sideless, unstated = compose_caption(specs, rng)
        key = tokens
        if key not in seen:
            seen.add(key)
            out.append((text, tokens, sideless, unstated))
        if len(out) == count:
            break
    while len(out) < count:  # tiny grammars for a family may run out of variants
        out.append(out[len(out) % len(out)])
    return out


__all__ = [
    "LEXICON",
    "Token",
    "Subject",
    "SUBJECTS",
    "render_phrase",
    "compose_caption",
    "motion_captions",
    "unstated_params",
    "DESCRIBE",
    "third_person",
    "present_participle",
]
