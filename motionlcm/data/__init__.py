"""HumanML3D-layout datasets: reading, validation, statistics, the procedural corpus."""
from .humanml3d import Caption, HumanML3DDataset, MotionSample, collate_motions, parse_caption_line

__all__ = ["Caption", "HumanML3DDataset", "MotionSample", "collate_motions", "parse_caption_line"]
