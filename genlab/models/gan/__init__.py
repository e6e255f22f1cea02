"""GAN networks: MLPs for 2D data (``mlp``); the image DCGAN lives in ``dcgan``.

Every pair follows one contract: ``G(z, label=None) -> x`` with ``G.latent_dim`` (and ``G.num_classes`` when
class-conditional), ``D(x, label=None) -> logits [B]``. The PacGAN degree is the objective's
(``GANSettings.pack``); a ``build`` function takes it to size D's input.
"""

from genlab.models.gan.mlp import MLPDiscriminator, MLPGANConfig, MLPGenerator

__all__ = ["MLPDiscriminator", "MLPGANConfig", "MLPGenerator"]
