"""Left/right mirroring of joints, features and captions (HumanML3D's ``M`` copies)."""
from __future__ import annotations

import re

import torch

from . import features as feat
from .rotations import numpy_compatible
from .skeleton import MIRROR_PERMUTATION

_PERM = list(MIRROR_PERMUTATION)
_FLIP_X = (-1.0, 1.0, 1.0)


@numpy_compatible
def mirror_joints(joints: torch.Tensor) -> torch.Tensor:
    """Swap left and right joints and negate X; joints (..., 22, 3). As HumanML3D builds ``M`` files."""
    return joints[..., _PERM, :] * joints.new_tensor(_FLIP_X)


@numpy_compatible
def mirror_features(features: torch.Tensor) -> torch.Tensor:
    """Mirror 263-d features directly (..., 263), without going back to joints.

    Equals ``joints_to_features(mirror_joints(joints))`` except that left and right bones keep
    each other's lengths (the reference skeleton is not perfectly symmetric, a few mm).
    """
    out = features.clone()
    out[..., 0] = -features[..., 0]
    out[..., 1] = -features[..., 1]
    flip = features.new_tensor(_FLIP_X)
    ric = features[..., feat.RIC].reshape(features.shape[:-1] + (21, 3))
    ric = torch.cat((torch.zeros_like(ric[..., :1, :]), ric), dim=-2)[..., _PERM, :] * flip
    out[..., feat.RIC] = ric[..., 1:, :].reshape(features.shape[:-1] + (63,))
    # A rotation matrix R mirrors to M R M with M = diag(-1, 1, 1): entries (0,1),(0,2),(1,0),(2,0) flip.
    # 6D = [col0; col1] = [R00 R10 R20 R01 R11 R21].
    rot = features[..., feat.ROT6D].reshape(features.shape[:-1] + (21, 6))
    rot = torch.cat((torch.zeros_like(rot[..., :1, :]), rot), dim=-2)[..., _PERM, :]
    rot = rot * features.new_tensor((1.0, -1.0, -1.0, -1.0, 1.0, 1.0))
    out[..., feat.ROT6D] = rot[..., 1:, :].reshape(features.shape[:-1] + (126,))
    vel = features[..., feat.LOCAL_VEL].reshape(features.shape[:-1] + (22, 3))[..., _PERM, :] * flip
    out[..., feat.LOCAL_VEL] = vel.reshape(features.shape[:-1] + (66,))
    contacts = features[..., feat.CONTACTS]
    out[..., feat.CONTACTS] = torch.cat((contacts[..., 2:4], contacts[..., 0:2]), dim=-1)
    return out


_SWAPS = {
    "left": "right",
    "right": "left",
    "clockwise": "counterclockwise",
    "counterclockwise": "clockwise",
    "counter-clockwise": "clockwise",
    "anticlockwise": "clockwise",
    "anti-clockwise": "clockwise",
}
_WORD = re.compile(r"\b(" + "|".join(sorted(_SWAPS, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def _swap_word(match: re.Match) -> str:
    word = match.group(0)
    swapped = _SWAPS[word.lower()]
    if word.isupper():
        return swapped.upper()
    if word[0].isupper():
        return swapped[0].upper() + swapped[1:]
    return swapped


def mirror_caption(text: str) -> str:
    """Swap left/right (and clockwise/counter-clockwise, which a mirror also reverses).

    Works on plain captions and on HumanML3D ``word/POS`` token strings; whole words only,
    case preserved.
    """
    return _WORD.sub(_swap_word, text)


__all__ = ["mirror_joints", "mirror_features", "mirror_caption"]
