"""The trainable contrastive evaluator: losses, a few optimisation steps, a Lightning run with
validation R-precision, and the export -> load_evaluator round trip."""
from pathlib import Path

import pytest
import torch
import yaml

from motionlcm.data.humanml3d import HumanML3DDataset, collate_motions
from motionlcm.models.evaluator import info_nce_loss, load_evaluator, margin_loss, same_pair_mask
from motionlcm import checkpoint as ckpt

TINY = {"width": 32, "num_layers": 1, "num_heads": 2, "ffn_dim": 64, "dropout": 0.0, "text_hidden": 32, "embed_dim": 16}
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "stage" / "evaluator.yaml"


def make_stage(dataset, loss_weights=None, margin=10.0, **overrides):
    from motionlcm.training.evaluator_stage import EvaluatorStage

    return EvaluatorStage({**TINY, **overrides}, "hash:32", {"lr": 1e-3, "warmup_steps": 0},
                          loss_weights or {"infonce": 1.0}, margin, dataset.mean, dataset.std)


@pytest.fixture()
def train_batch(small_dataset):
    ds = HumanML3DDataset(small_dataset, "train", mode="eval")
    batch = collate_motions([ds[i] for i in range(len(ds))])
    # the first 60 frames of the 3 training samples are enough, and keep the steps fast
    batch["motion"], batch["mask"] = batch["motion"][:, :60], batch["mask"][:, :60]
    batch["lengths"] = batch["mask"].sum(1)
    return ds, batch


def test_loss_functions_by_hand():
    t = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    m = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    # positives: (25 + 0) / 2; negatives shifted by one: hinge (10 - 0)^2 and (10 - 5)^2 -> (100 + 25) / 2
    assert margin_loss(t, m, margin=10.0, shift=1).item() == pytest.approx(12.5 + 62.5)
    aligned = torch.eye(3)
    assert info_nce_loss(aligned, aligned, 100.0).item() < 1e-6
    assert info_nce_loss(aligned, aligned.roll(1, 0), 100.0).item() > 50
    # a caption repeated in the batch is not used as a negative for its twin
    twins = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    same = same_pair_mask(["walk", "walk", "jump"])
    assert same.tolist() == [[True, True, False], [True, True, False], [False, False, True]]
    assert info_nce_loss(twins, twins, 20.0, same).item() < 1e-6 < info_nce_loss(twins, twins, 20.0).item()


@pytest.mark.parametrize("weights, normalize, margin", [({"infonce": 1.0}, True, 10.0), ({"margin": 1.0}, False, 2.0)])
def test_a_few_steps_lower_the_contrastive_loss(train_batch, weights, normalize, margin):
    ds, batch = train_batch
    torch.manual_seed(0)
    stage = make_stage(ds, weights, margin, normalize=normalize)
    optimizer = torch.optim.Adam(stage.evaluator.parameters(), lr=1e-2)

    def loss():
        torch.manual_seed(1)  # the same negative shift every time
        return stage.losses(batch, stage.evaluator)[0]["total"]

    before = loss().item()
    for _ in range(15):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    after = loss().item()
    assert after < 0.5 * before


def test_lightning_run_logs_r_precision_and_exports_a_loadable_evaluator(small_dataset, tmp_path, monkeypatch):
    import lightning as L

    from motionlcm.data.datamodule import MotionDataModule

    if "evaluator" not in ckpt.KINDS:  # until the lead registers the kind in checkpoint.py
        monkeypatch.setattr(ckpt, "KINDS", (*ckpt.KINDS, "evaluator"))
    (small_dataset / "val.txt").write_text("100001\n000612\n")  # two validation pairs: a group of 2
    data = MotionDataModule(small_dataset, batch_size=2, eval_batch_size=2, num_workers=0, mode="text")
    torch.manual_seed(0)
    stage = make_stage(data)
    trainer = L.Trainer(max_steps=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=1, val_check_interval=2, check_val_every_n_epoch=None)
    trainer.fit(stage, datamodule=data)
    metrics = trainer.callback_metrics
    assert {"val/loss", "val/R@1", "val/R@2", "val/R@3", "val/mm_dist"} <= set(metrics)
    assert 0.0 <= float(metrics["val/R@1"]) <= float(metrics["val/R@3"]) == 1.0  # top-3 of a group of 2

    export = ckpt.save_checkpoint(tmp_path / "export", stage.kind, stage.export_config(), stage.export_modules(),
                                  data.mean, data.std)
    loaded = load_evaluator(export)
    batch = collate_motions([HumanML3DDataset(small_dataset, "train", mode="eval")[i] for i in range(2)])
    raw = batch["motion"] * torch.from_numpy(data.std) + torch.from_numpy(data.mean)
    stage.evaluator.eval()
    text_ref, motion_ref = stage.embed(batch, stage.evaluator)
    torch.testing.assert_close(loaded.embed_text(batch["text"]), text_ref)
    torch.testing.assert_close(loaded.embed_motion(raw, batch["lengths"]), motion_ref, rtol=1e-4, atol=1e-5)
    assert loaded.embed_text(["a person walks"]).shape == (1, 16)


def test_proposed_stage_config_builds_the_stage(train_batch):
    from motionlcm.training.evaluator_stage import EvaluatorStage

    ds, _ = train_batch
    stage_cfg = yaml.safe_load(CONFIG.read_text())["stage"]
    assert stage_cfg.pop("name") == EvaluatorStage.kind
    assert stage_cfg.pop("_target_") == f"{EvaluatorStage.__module__}.EvaluatorStage"
    stage_cfg["text_encoder"] = "hash:32"  # the configured MiniLM is not needed to check the keys
    stage = EvaluatorStage(**stage_cfg, mean=ds.mean, std=ds.std)
    assert stage.evaluator.config.embed_dim == 512 and stage.evaluator.config.text_dim == 32


def test_hard_negatives_by_hand():
    aligned = torch.eye(3)
    base = info_nce_loss(aligned, aligned, 10.0).item()
    # a corrupted copy identical to motion 0 competes with it for text 0: the loss rises by a known amount
    extra = aligned[:1]
    with_extra = info_nce_loss(aligned, aligned, 10.0, extra_motion_emb=extra).item()
    e, z = torch.exp(torch.tensor(10.0)), torch.exp(torch.tensor(0.0))
    text0 = -torch.log(e / (2 * e + 2 * z)).item()  # text 0 now sees two columns at similarity 1
    other = -torch.log(e / (e + 3 * z)).item()  # texts 1, 2 see the extra column at similarity 0
    expected = 0.5 * ((text0 + 2 * other) / 3 + base)
    assert with_extra == pytest.approx(expected, rel=1e-5)
    # excluded for every text, the copy changes nothing
    excluded = info_nce_loss(aligned, aligned, 10.0, extra_motion_emb=extra,
                             extra_exclude=torch.ones(3, 1, dtype=torch.bool)).item()
    assert excluded == pytest.approx(base, rel=1e-6)


def test_hard_negative_batch_builds_each_kind(train_batch):
    from motionlcm.errors import MotionLCMError
    from motionlcm.training.evaluator_stage import EvaluatorStage

    ds, batch = train_batch
    batch = {**batch, "text": ["a person walks to the left", "a person jumps", "a man waves the right hand"]}
    stage = EvaluatorStage(TINY, "hash:32", {"lr": 1e-3, "warmup_steps": 0}, {"infonce": 1.0}, 10.0, ds.mean, ds.std,
                           {"kinds": ["mirror", "reverse_root", "freeze_legs", "jitter"], "per_kind": 3})
    torch.manual_seed(0)
    features, mask, owners, kinds = stage.hard_negative_batch(batch)
    assert kinds.count("mirror") == 2  # "a person jumps" names no side: its mirror is no negative
    assert kinds.count("jitter") == 3
    assert features.shape[0] == mask.shape[0] == len(owners) == len(kinds)
    assert torch.isfinite(features).all() and not features[~mask].any()
    for k, kind in enumerate(kinds):  # each copy has its owner's length (corruptions via joints lose one frame)
        n = int(batch["mask"][owners[k]].sum())
        assert int(mask[k].sum()) == (n if kind == "mirror" else n - 1)
    loss = stage.hard_negative_losses(batch, stage.evaluator)["total"]
    assert torch.isfinite(loss) and loss.requires_grad
    with pytest.raises(MotionLCMError, match="hard_negatives"):
        EvaluatorStage(TINY, "hash:32", {"lr": 1e-3}, {"infonce": 1.0}, 10.0, ds.mean, ds.std, {"kinds": ["blur"]})
