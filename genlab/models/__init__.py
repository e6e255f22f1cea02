"""NNX modules without maths (layers, GANs, U-Net, VAE, classifier, CLIP) and :func:`num_params`."""

from __future__ import annotations

import jax
from flax import nnx


def num_params(model) -> int:
    """Number of trainable parameters (``nnx.Param`` elements) of ``model``."""
    return int(sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param))))
