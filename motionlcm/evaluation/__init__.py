"""Evaluation: metrics (FID, R-precision, MM-Dist, Diversity, MultiModality, MPJPE, control and skating
errors) and the evaluators that embed texts and motions for them.

* :mod:`motionlcm.evaluation.metrics` - pure metric functions and a DDP-aware embedding accumulator;
* :mod:`motionlcm.models.t2m_evaluator` - the official HumanML3D evaluator of Guo et al. (needs its files);
* :mod:`motionlcm.models.evaluator` - a contrastive evaluator trainable on any HumanML3D-layout dataset.
"""
__all__ = [
    "EmbeddingAccumulator", "acceleration_error", "control_errors", "diversity", "euclidean_distance_matrix", "fid",
    "foot_skating_ratio", "frechet_distance", "gaussian_statistics", "mean_and_interval", "mm_dist", "mpjpe",
    "multimodality", "pa_mpjpe", "procrustes_align", "r_precision",
]


def __getattr__(name: str):
    # Lazy: `motionlcm --help` imports the eval CLI, which must not pull torch/scipy in.
    if name in __all__:
        from . import metrics

        return getattr(metrics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
