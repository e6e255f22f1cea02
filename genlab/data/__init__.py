"""Data: image sets (Fashion-MNIST, MNIST, CIFAR-10), captions, deterministic batches, 2D toy sets.

Import the submodules directly (``from genlab.data.images import load_images``) or use the names below;
nothing here imports JAX or reads files until a function is called.
"""

from genlab.data.batches import ImageBatches, image_batches
from genlab.data.captions import NULL_CAPTION, caption_for, captions_for
from genlab.data.images import DatasetNotFoundError, ImageSet, availability_report, load_images

__all__ = [
    "NULL_CAPTION",
    "DatasetNotFoundError",
    "ImageBatches",
    "ImageSet",
    "availability_report",
    "caption_for",
    "captions_for",
    "image_batches",
    "load_images",
]
