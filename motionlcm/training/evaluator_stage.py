"""Training stage for the contrastive text-motion evaluator (:mod:`motionlcm.models.evaluator`).

Trained on the dataset's ``text`` sampler (a random caption, a random crop with MotionLCM's length
rounding, z-normalised features). Validation logs the loss per batch and, over the whole validation
set (gathered across DDP ranks), R-precision top-1/2/3 in shuffled groups of 32 and MM-Dist.

Hard negatives (``hard_negatives.kinds``): an evaluator trained only with in-batch negatives
scored legs frozen while the root glides, 2 cm jitter, reversed travel and mirrored motions
close to the real ones (mirrors: its captions' "left" and "right" barely moved the text
embedding). Each training step therefore adds corrupted copies of up to ``per_kind`` batch
motions (:mod:`motionlcm.evaluation.corruptions`) as extra columns of the text -> motion
softmax: no caption matches them. A mirror is only a negative for captions that name a side
(``mirror_caption`` changes them); a copy that barely differs from its original (reversing an
idle stand) is dropped.
The export (kind ``evaluator``) holds the ``evaluator.`` weights, ``{"evaluator": config,
"text_encoder": name}`` and the dataset's Mean/Std, and is read by
:func:`motionlcm.models.evaluator.load_evaluator`.
"""
from __future__ import annotations

from typing import Any

import torch

from ..evaluation.metrics import EmbeddingAccumulator, mm_dist, r_precision
from ..errors import MotionLCMError
from ..models.evaluator import EVALUATOR_KIND, EvaluatorConfig, MotionTextEvaluator, contrastive_losses, same_pair_mask
from .stages import _Stage

HARD_NEGATIVE_KINDS = ("mirror", "reverse_root", "freeze_legs", "jitter")
MIN_CORRUPTION_M = 0.05  # a copy whose joints move less than this on average is no negative
R_PRECISION_GROUP = 32
VALIDATION_SHUFFLE_SEED = 0  # fixed, so validation R-precision is comparable across epochs


class EvaluatorStage(_Stage):
    """Trains :class:`MotionTextEvaluator` with InfoNCE and/or the official margin loss.

    Arguments: ``evaluator`` - :class:`EvaluatorConfig` fields (``text_dim`` is taken from the text
    encoder); ``text_encoder`` - a :func:`load_text_encoder` name (frozen, not exported);
    ``optim`` - as the other stages; ``loss_weights`` - ``{"infonce": w1, "margin": w2}``;
    ``margin`` - the margin loss's margin; ``mean`` / ``std`` - the dataset's feature statistics.
    """

    kind = EVALUATOR_KIND

    def __init__(self, evaluator: dict[str, Any], text_encoder: str, optim: dict[str, Any], loss_weights: dict[str, float],
                 margin: float, mean, std, hard_negatives: dict[str, Any] | None = None):
        super().__init__(optim, mean, std)
        self.save_hyperparameters(ignore=["mean", "std"])
        hard = dict(hard_negatives or {})
        self.hard_kinds = tuple(hard.get("kinds", ()))
        self.hard_per_kind = int(hard.get("per_kind", 16))
        unknown = sorted(set(self.hard_kinds) - set(HARD_NEGATIVE_KINDS))
        if unknown or self.hard_per_kind < 1:
            raise MotionLCMError(f"stage.hard_negatives: kinds must be among {list(HARD_NEGATIVE_KINDS)} and per_kind >= 1, "
                                 f"got {list(self.hard_kinds)}, {self.hard_per_kind}")
        self.text_encoder_name = text_encoder
        self.loss_weights = {k: float(v) for k, v in dict(loss_weights).items()}
        self.margin = float(margin)
        config = dict(evaluator)
        config["text_dim"] = self.text_encoder().dim
        self.evaluator = MotionTextEvaluator(EvaluatorConfig.from_dict(config))
        self._validation = EmbeddingAccumulator()
        self._setup_ema()

    def trained_network(self) -> torch.nn.Module:
        return self.evaluator

    def text_encoder(self):
        """The frozen sentence encoder on this module's device (cached by name; kept out of the module tree)."""
        from ..models.text_encoder import load_text_encoder

        return load_text_encoder(self.text_encoder_name, self.device)

    def embed(self, batch: dict, network: MotionTextEvaluator) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.text_encoder().encode(list(batch["text"])).pooled.to(batch["motion"].dtype)
        return network.embed_text(pooled), network.embed_motion(batch["motion"], batch["mask"])

    def losses(self, batch: dict, network: MotionTextEvaluator) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        text_emb, motion_emb = self.embed(batch, network)
        same = same_pair_mask(batch["text"], batch.get("name"), device=text_emb.device)
        losses = contrastive_losses(text_emb, motion_emb, network.logit_scale(), self.loss_weights, self.margin, same)
        return losses, text_emb, motion_emb

    def hard_negative_batch(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
        """Corrupted copies of batch motions: normalised features (K, T, 263), mask (K, T), owner rows, kinds."""
        from ..evaluation import corruptions as C
        from ..motion.features import features_to_joints, joints_to_features
        from ..motion.mirror import mirror_caption, mirror_features

        motion, lengths = batch["motion"], batch["mask"].sum(1).tolist()
        mean, std = self.mean.to(motion), self.std.to(motion)
        copies, owners, kinds = [], [], []
        for kind in self.hard_kinds:
            rows = torch.randperm(len(motion))[: self.hard_per_kind].tolist()
            for row in rows:
                n = int(lengths[row])
                raw = (motion[row, :n] * std + mean).detach().double().cpu()
                if kind == "mirror":
                    if mirror_caption(batch["text"][row]) == batch["text"][row]:
                        continue  # the caption names no side: the mirror still matches it
                    copies.append(mirror_features(raw))
                else:
                    joints = features_to_joints(raw)
                    corrupted = {"reverse_root": C.reverse_root, "freeze_legs": C.freeze_legs,
                                 "jitter": C.add_jitter}[kind](joints)
                    if float((corrupted - joints).norm(dim=-1).mean()) < MIN_CORRUPTION_M and kind != "jitter":
                        continue
                    copies.append(joints_to_features(corrupted, retarget=False))
                owners.append(row)
                kinds.append(kind)
        frames = max([len(c) for c in copies], default=1)
        features = motion.new_zeros(len(copies), frames, motion.shape[-1])
        mask = torch.zeros(len(copies), frames, dtype=torch.bool, device=motion.device)
        for k, copy in enumerate(copies):
            features[k, : len(copy)] = (copy.to(motion) - mean) / std
            mask[k, : len(copy)] = True
        return features, mask, torch.tensor(owners, dtype=torch.long), kinds

    def hard_negative_losses(self, batch: dict, network: MotionTextEvaluator) -> dict[str, torch.Tensor]:
        from ..motion.mirror import mirror_caption

        text_emb, motion_emb = self.embed(batch, network)
        same = same_pair_mask(batch["text"], batch.get("name"), device=text_emb.device)
        extra, extra_exclude = None, None
        features, mask, owners, kinds = self.hard_negative_batch(batch)
        if len(kinds):
            extra = network.embed_motion(features, mask)
            neutral = torch.tensor([mirror_caption(t) == t for t in batch["text"]], device=text_emb.device)
            is_mirror = torch.tensor([k == "mirror" for k in kinds], device=text_emb.device)
            extra_exclude = same[:, owners.to(text_emb.device)] & neutral[:, None] & is_mirror[None, :]
        return contrastive_losses(text_emb, motion_emb, network.logit_scale(), self.loss_weights, self.margin, same,
                                  extra, extra_exclude)

    def training_step(self, batch, batch_idx):
        if self.hard_kinds:
            losses = self.hard_negative_losses(batch, self.evaluator)
        else:
            losses, _, _ = self.losses(batch, self.evaluator)
        size = len(batch["mask"])
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, batch_size=size)
        self.log("train/temperature", 1.0 / self.evaluator.logit_scale().detach(), batch_size=size)
        self.log("loss", losses["total"], prog_bar=True, logger=False, batch_size=size)
        return losses["total"]

    def on_validation_epoch_start(self) -> None:
        self._validation.reset()

    def validation_step(self, batch, batch_idx):
        losses, text_emb, motion_emb = self.losses(batch, self.export_network())
        self.log("val/loss", losses["total"], prog_bar=True, batch_size=len(batch["mask"]), sync_dist=True)
        self._validation.update(text=text_emb, motion=motion_emb)

    def on_validation_epoch_end(self) -> None:
        if len(self._validation) == 0:
            return
        # gathered on every rank (identical there), so every rank logs the same numbers
        text_emb, motion_emb = self._validation.gather("text"), self._validation.gather("motion")
        self._validation.reset()
        if len(text_emb) < 2:
            return
        group = min(R_PRECISION_GROUP, len(text_emb))
        generator = torch.Generator().manual_seed(VALIDATION_SHUFFLE_SEED)
        accuracy = r_precision(text_emb, motion_emb, group_size=group, top_k=3, shuffle=True, generator=generator)
        self.log_dict({"val/R@1": float(accuracy[0]), "val/R@2": float(accuracy[1]),
                       "val/mm_dist": mm_dist(text_emb, motion_emb)}, sync_dist=True)
        self.log("val/R@3", float(accuracy[2]), prog_bar=True, sync_dist=True)

    def export_modules(self) -> dict[str, torch.nn.Module]:
        return {"evaluator": self.export_network()}

    def export_config(self) -> dict[str, Any]:
        return {"evaluator": self.evaluator.config.to_dict(), "text_encoder": self.text_encoder_name}
