"""Metrics that judge generated samples, each with its reference (shared/REFERENCES.md).

- :mod:`.modes`: VEEGAN modes covered / high-quality fraction on 2D mixtures.
- :mod:`.frechet`: Fréchet distance (FID formula) and its real-versus-real floor.
- :mod:`.classes`: class histogram of generated images: classes covered, entropy, KL to uniform.
- :mod:`.prdc`: precision/recall (k = 3) and density/coverage (k = 5) in a feature space.
- :mod:`.reference`: the shipped Fashion-MNIST reference classifier (features for FD, labels for classes).

The first four are pure NumPy; ``reference`` imports JAX and is not imported here.
"""

from genlab.metrics.classes import ClassStats, class_histogram, class_stats, kl_floor
from genlab.metrics.frechet import frechet_distance, frechet_from_stats, real_floor
from genlab.metrics.modes import ModeStats, mode_stats
from genlab.metrics.prdc import PRDC, prdc

__all__ = [
    "PRDC",
    "ClassStats",
    "ModeStats",
    "class_histogram",
    "class_stats",
    "frechet_distance",
    "frechet_from_stats",
    "kl_floor",
    "mode_stats",
    "prdc",
    "real_floor",
]
