"""Networks: the motion VAE, the latent denoiser and the transformer blocks they share."""
from .conv_vae import ConvMotionVAE, ConvVAEConfig, motion_vae_from_config
from .denoiser import DenoiserConfig, LatentDenoiser
from .layers import (SkipTransformerDecoder, SkipTransformerEncoder, count_parameters, format_parameter_count,
                     guidance_scale_embedding, timestep_embedding)
from .vae import LatentDistribution, MotionVAE, VAEConfig, VAELossWeights, VAEOutput, vae_loss


def parameter_summary(model) -> str:
    """One line such as ``'MotionVAE: 7.11M parameters (7.11M trainable)'``."""
    total, trainable = count_parameters(model), count_parameters(model, trainable_only=True)
    return (f"{type(model).__name__}: {format_parameter_count(total)} parameters "
            f"({format_parameter_count(trainable)} trainable)")


__all__ = [
    "ConvMotionVAE", "ConvVAEConfig", "motion_vae_from_config", "DenoiserConfig", "LatentDenoiser", "VAEConfig", "MotionVAE",
    "LatentDistribution", "VAEOutput", "VAELossWeights", "vae_loss", "SkipTransformerEncoder",
    "SkipTransformerDecoder", "timestep_embedding", "guidance_scale_embedding", "count_parameters",
    "format_parameter_count", "parameter_summary",
]
