"""Training: one LightningModule per stage, the trainer factory and checkpoint export."""
