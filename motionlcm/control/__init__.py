"""Motion control: hints for training/evaluation and user control specs (JSON)."""
from .hints import (JOINT_SETS, TEMPORAL_MODES, batch_hint_masks, count_control_frames, hints_from_joints, keyframe_mask,
                    load_joint_stats, normalize_hints, parse_density, parse_joint_set, prefix_mask, spatial_mask,
                    suffix_mask, temporal_mask)
from .spec import PATH_TYPES, control_batch, load_control_spec, parse_frame

__all__ = [
    "JOINT_SETS", "TEMPORAL_MODES", "batch_hint_masks", "count_control_frames", "hints_from_joints", "keyframe_mask",
    "load_joint_stats", "normalize_hints", "parse_density", "parse_joint_set", "prefix_mask", "spatial_mask",
    "suffix_mask", "temporal_mask", "PATH_TYPES", "control_batch", "load_control_spec", "parse_frame",
]
