"""U-Net: encoder, bottleneck, decoder, skip connections, time embedding, optional cross-attention."""

from genlab.models.layers.attention import Attention, SpatialTransformer
from genlab.models.layers.blocks import Downsample, ResBlock, TimeEmbedding, Upsample, timestep_embedding
from genlab.models.unet.unet import UNet, UNetConfig

__all__ = ["Attention", "Downsample", "ResBlock", "SpatialTransformer", "TimeEmbedding", "UNet", "UNetConfig",
           "Upsample", "timestep_embedding"]
