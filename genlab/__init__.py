"""genlab: build, train and break GANs, latent diffusion and flow matching, side by side.

The package reads like the system it teaches:

- ``genlab.data``        data flows in (2D toy sets, Fashion-MNIST, captions, batches)
- ``genlab.models``      NNX modules, no maths (MLPs, DCGAN, U-Net, VAE, classifier)
- ``genlab.objectives``  losses as plain functions that take a model
- ``genlab.train``       one training engine (jit steps, checkpoints, NaN guard, sharding)
- ``genlab.metrics``     judges (modes covered, Fréchet distance, class histograms, PRDC)
- ``genlab.figures``     functions that return matplotlib figures
- ``genlab.experiments`` registered experiments behind ``genlab eval``
- ``genlab.grading``     graded labs on otter-grader (``genlab assign`` / ``genlab grade``)
"""

__version__ = "0.1.0"
