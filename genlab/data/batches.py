"""Minibatches as a pure function of the step number: seeded, reshuffled each epoch, resumable.

    batches = image_batches(data.images, data.labels, batch_size=128, seed=0)
    batch = batches(step)    # {"image": [B, H, W, C], "label": [B]}
    batches.steps_per_epoch  # N // B with drop_last

Step ``s`` lies in epoch ``e = s // steps_per_epoch``; epoch ``e`` visits the examples in the order
``np.random.default_rng([seed, e]).permutation(N)``. So ``batches(s)`` depends only on ``(seed, s)``:
a run resumed at step k sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import functools

import numpy as np

DATA_AXIS = "data"


class ImageBatches:
    """Callable ``batches(step) -> {"image": [B, ...], "label": [B]}``; see :func:`image_batches`."""

    def __init__(self, images, labels, batch_size: int, seed: int, drop_last: bool, mesh) -> None:
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.seed = seed
        self.drop_last = drop_last
        self.mesh = mesh
        n = images.shape[0]
        self.num_examples = n
        self.steps_per_epoch = n // batch_size if drop_last else -(-n // batch_size)
        self._sharding = None
        if mesh is not None:
            from jax.sharding import NamedSharding, PartitionSpec

            self._sharding = NamedSharding(mesh, PartitionSpec(DATA_AXIS))
        self._permutation = functools.lru_cache(maxsize=2)(self._epoch_order)

    def _epoch_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_examples)  # [N]

    def indices(self, step: int) -> np.ndarray:
        """Example indices of batch ``step``: ``[B]`` (the last batch of an epoch may be shorter without drop_last)."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        epoch, i = divmod(int(step), self.steps_per_epoch)
        return self._permutation(epoch)[i * self.batch_size : (i + 1) * self.batch_size]

    def __call__(self, step: int) -> dict:
        idx = self.indices(step)
        batch = {"image": self.images[idx]}
        if self.labels is not None:
            batch["label"] = self.labels[idx]
        if self._sharding is None:
            return batch
        import jax

        return {k: jax.device_put(v, self._sharding) for k, v in batch.items()}


def image_batches(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    batch_size: int,
    seed: int,
    drop_last: bool = True,
    mesh=None,
) -> ImageBatches:
    """A deterministic batch function over ``images: [N, ...]`` (and ``labels: [N]``).

    ``mesh``: optional ``jax.sharding.Mesh`` with an axis ``"data"`` (e.g. ``genlab.train.sharding.data_mesh()``);
    each batch is then placed split along its first axis over the mesh's devices with
    ``NamedSharding(mesh, PartitionSpec("data"))``, so ``batch_size`` must be a multiple of the device count.
    Without a mesh the batch holds NumPy arrays (``jax.jit`` moves them to the device).
    """
    images = np.asarray(images)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels: they must match one to one")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    n = images.shape[0]
    if n == 0 or (drop_last and batch_size > n):
        raise ValueError(
            f"batch_size {batch_size} is larger than the {n} examples: use a smaller batch or drop_last=False"
        )
    if mesh is not None:
        if DATA_AXIS not in mesh.axis_names:
            raise ValueError(f"mesh axes {mesh.axis_names} have no {DATA_AXIS!r} axis: build it with data_mesh()")
        devices = mesh.shape[DATA_AXIS]
        last = n % batch_size
        if batch_size % devices or (not drop_last and last % devices):
            raise ValueError(
                f"batch size {batch_size}{'' if drop_last else f' (and last batch {last})'} does not split across "
                f"{devices} devices: choose a batch size that is a multiple of {devices}"
                f"{'' if drop_last else ' and drop_last=True'} (or use fewer devices)"
            )
    return ImageBatches(images, labels, int(batch_size), int(seed), drop_last, mesh)
