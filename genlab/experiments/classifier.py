"""The Fashion-MNIST reference classifier: training, test accuracy, ``genlab eval classifier``.

Cross-entropy with AdamW (warmup + cosine decay) through the one engine (:func:`genlab.train.fit`),
with light augmentation: random shifts of ±2 pixels and horizontal flips. The trained network judges
generated images (:mod:`genlab.metrics.reference`): labels for class histograms, penultimate
features for Fréchet distances.

    genlab eval classifier --json                   # best available train split (full 60k if local)
    genlab eval classifier --variant embedded       # only the embedded 10k subset
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from genlab.data.images import ImageSet, load_images
from genlab.experiments import register
from genlab.models.classifier import ClassifierConfig, ClassifierNet
from genlab.presets import config_for
from genlab.train import History, fit
from genlab.train.steps import make_train_step

VARIANTS = ("auto", "embedded", "local")  # train-data source; "auto" = the best available


# --- augmentation: plain functions of an explicit key --------------------------------------------


def random_shift(x: jax.Array, key: jax.Array, max_shift: int) -> jax.Array:
    """Translate each image of ``x: [B, H, W, C]`` by up to ±max_shift pixels, filling with -1 (black)."""
    if max_shift == 0:
        return x
    b, h, w, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)), constant_values=-1.0)
    offsets = jax.random.randint(key, (b, 2), 0, 2 * max_shift + 1)  # [B, 2]

    def crop(img, off):
        return jax.lax.dynamic_slice(img, (off[0], off[1], 0), (h, w, img.shape[-1]))

    return jax.vmap(crop)(padded, offsets)


def random_flip(x: jax.Array, key: jax.Array) -> jax.Array:
    """Mirror each image of ``x: [B, H, W, C]`` left-right with probability 1/2."""
    flip = jax.random.bernoulli(key, 0.5, (x.shape[0], 1, 1, 1))
    return jnp.where(flip, x[:, :, ::-1, :], x)


def augment(x: jax.Array, key: jax.Array, *, max_shift: int = 2, flip: bool = True) -> jax.Array:
    """Random shift then (optionally) random flip of ``x: [B, H, W, C]``."""
    k_shift, k_flip = jax.random.split(key)
    x = random_shift(x, k_shift, max_shift)
    return random_flip(x, k_flip) if flip else x


# --- objective --------------------------------------------------------------------------------


def classification_loss(
    model: ClassifierNet, batch: dict[str, jax.Array], key: jax.Array, *, max_shift: int = 2, flip: bool = True
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean cross-entropy of ``batch = {"image": [B, 28, 28, 1], "label": [B]}`` after augmentation."""
    k_aug, k_drop = jax.random.split(key)
    x = augment(batch["image"], k_aug, max_shift=max_shift, flip=flip)
    logits = model(x, dropout_key=k_drop)  # [B, K]
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"])}


def make_optimizer(model: ClassifierNet, config: ClassifierConfig) -> nnx.Optimizer:
    warmup = min(config.warmup_steps, max(config.steps - 1, 0))  # leave at least one decay step
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, warmup, max(config.steps, warmup + 1))
    return nnx.Optimizer(model, optax.adamw(schedule, weight_decay=config.weight_decay), wrt=nnx.Param)


def shuffled_batches(data: ImageSet, batch_size: int, seed: int):
    """``batches(step) -> {"image", "label"}``: epochs of a seeded permutation, a pure function of ``step``."""
    n = len(data)
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} training images: lower batch_size")
    per_epoch = n // batch_size

    @functools.lru_cache(maxsize=2)
    def order(epoch: int) -> np.ndarray:
        return np.random.default_rng([seed, epoch]).permutation(n)

    def batches(step: int) -> dict[str, np.ndarray]:
        epoch, i = divmod(step, per_epoch)
        idx = order(epoch)[i * batch_size : (i + 1) * batch_size]
        return {"image": data.images[idx], "label": data.labels[idx]}

    return batches


def train_classifier(
    config: ClassifierConfig, train: ImageSet, *, progress: bool = True
) -> tuple[ClassifierNet, History]:
    """Train a :class:`ClassifierNet` on ``train`` for ``config.steps`` steps; deterministic in ``config.seed``."""
    k_init, k_train = jax.random.split(jax.random.key(config.seed))
    model = ClassifierNet.from_config(config, rngs=nnx.Rngs(params=k_init))
    optimizer = make_optimizer(model, config)
    loss_fn = functools.partial(classification_loss, max_shift=config.max_shift, flip=config.flip)
    history = fit(
        (model, optimizer),
        make_train_step(loss_fn),
        shuffled_batches(train, config.batch_size, config.seed),
        steps=config.steps,
        key=k_train,
        log_every=50,
        progress=progress,
        desc="classifier",
    )
    return model, history


@nnx.jit
def _predict(model: ClassifierNet, x: jax.Array) -> jax.Array:
    return jnp.argmax(model(x), axis=-1)


def predict_labels(model: ClassifierNet, images: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Class ids ``[N]`` of ``images: [N, 28, 28, 1]`` in [-1, 1], in chunks of ``chunk`` (no dropout)."""
    out = [np.asarray(_predict(model, jnp.asarray(images[i : i + chunk]))) for i in range(0, len(images), chunk)]
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def accuracy(model: ClassifierNet, data: ImageSet, chunk: int = 500) -> float:
    """Fraction of ``data`` classified correctly."""
    return float(np.mean(predict_labels(model, data.images, chunk) == data.labels))


def num_params(model: ClassifierNet) -> int:
    return int(sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param))))


def train_and_evaluate(
    config: ClassifierConfig, source: str | None = None, *, progress: bool = True
) -> tuple[ClassifierNet, dict[str, Any]]:
    """Train on the ``source`` train split (None: best available), test on the best available test split."""
    train = load_images("fashion_mnist", "train", source=source)
    test = load_images("fashion_mnist", "test")
    t0 = time.perf_counter()
    model, history = train_classifier(config, train, progress=progress)
    train_seconds = time.perf_counter() - t0
    report = {
        "test_accuracy": accuracy(model, test),
        "train_accuracy_last": float(np.mean(history.metrics["accuracy"][-50:])),
        "train_source": train.source,
        "test_source": test.source,
        "num_train": len(train),
        "num_test": len(test),
        "num_params": num_params(model),
        "steps": config.steps,
        "batch_size": config.batch_size,
        "epochs": round(config.steps * config.batch_size / len(train), 2),
        "train_seconds": round(train_seconds, 1),
    }
    return model, report


@register(
    "classifier",
    description="Fashion-MNIST reference classifier (small CNN): test accuracy; the judge of generated images",
    variants=VARIANTS,
    default_seeds=1,
)
def run(preset: str, seeds: list[int], variant: str | None = None) -> dict[str, Any]:
    base = config_for(ClassifierConfig, preset)
    source = None if variant in (None, "auto") else variant
    runs = []
    for seed in seeds:
        config = dataclasses.replace(base, seed=seed)
        runs.append(train_and_evaluate(config, source, progress=False)[1])
    accs = [r["test_accuracy"] for r in runs]
    return {
        **{k: v for k, v in runs[0].items() if k not in ("test_accuracy", "train_accuracy_last", "train_seconds")},
        "test_accuracy": float(np.mean(accs)),
        "test_accuracy_std": float(np.std(accs)),
        "test_accuracy_per_seed": accs,
        "train_seconds_per_seed": [r["train_seconds"] for r in runs],
    }
