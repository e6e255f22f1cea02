"""GAN networks: MLPs for 2D data (``mlp``); the image DCGAN lives in ``dcgan``."""

from genlab.models.gan.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["MLPDiscriminator", "MLPGenerator"]
