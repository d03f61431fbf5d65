"""Lightning DataModule over a HumanML3D-layout dataset."""
from __future__ import annotations

from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader

from ..errors import MotionLCMError
from .humanml3d import HumanML3DDataset, check_mirror_prob, collate_motions, load_mean_std


class MotionDataModule(L.LightningDataModule):
    """Train/val/test loaders with padded batches and masks.

    ``mode`` is the training sampler ("text" for the diffusion stages, "window" for the VAE);
    validation and test always use the deterministic "eval" mode so metrics are comparable.
    """

    def __init__(
        self,
        root: str | Path,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        mode: str = "text",
        unit_length: int = 4,
        window: int = 64,
        max_motion_length: int = 196,
        progress: bool = False,
        mirror_prob: float = 0.0,
    ):
        super().__init__()
        self.root = Path(root)
        if not self.root.is_dir():
            raise MotionLCMError(f"dataset directory not found: {self.root} (set data.root)")
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.dataset_kwargs = dict(unit_length=unit_length, window=window, max_motion_length=max_motion_length, progress=progress,
                                   mirror_prob=check_mirror_prob(mirror_prob))  # checked before any dataset or model loads
        self.mode = mode
        self.mean, self.std = load_mean_std(self.root)
        self.datasets: dict[str, HumanML3DDataset] = {}

    def dataset(self, split: str) -> HumanML3DDataset:
        if split not in self.datasets:
            mode = self.mode if split == "train" else "eval"
            self.datasets[split] = HumanML3DDataset(self.root, split, mode=mode, mean=self.mean, std=self.std, **self.dataset_kwargs)
        return self.datasets[split]

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self.dataset("train")
            self.dataset("val")
        if stage in (None, "validate"):
            self.dataset("val")
        if stage in (None, "test"):
            self.dataset("test")

    def _loader(self, split: str, shuffle: bool, batch_size: int) -> DataLoader:
        return DataLoader(
            self.dataset(split),
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=collate_motions,
            drop_last=shuffle and len(self.dataset(split)) > batch_size,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True, self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False, self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False, self.eval_batch_size)
