"""The reference classifier: network shapes, augmentation, training, shipped weights."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genlab.data.images import load_images
from genlab.data.augment import augment, random_shift
from genlab.experiments import get
from genlab.experiments.classifier import ClassifierExperimentConfig, run, train_classifier
from genlab.objectives.classification import classification_loss
from genlab.metrics.reference import (
    REGENERATE,
    ReferenceClassifier,
    load_model,
    reference_classifier,
    save_reference,
)
from genlab.models.classifier import ClassifierConfig, ClassifierNet
from genlab.train.optim import OptimConfig, make_optimizer
from genlab.train.steps import make_train_step

TINY = ClassifierConfig.tiny()


def _net(config=TINY):
    return ClassifierNet.from_config(config, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("convs_per_stage", [1, 2])
def test_shapes(convs_per_stage):
    config = dataclasses.replace(TINY, convs_per_stage=convs_per_stage)
    net = _net(config)
    x = jnp.zeros((3, 28, 28, 1))
    assert net(x).shape == (3, 10)
    assert net.features(x).shape == (3, config.features)


def test_dropout_only_with_a_key():
    net = _net(dataclasses.replace(TINY, dropout=0.5))
    x = jax.random.normal(jax.random.key(0), (4, 28, 28, 1))
    np.testing.assert_array_equal(net(x), net(x))
    a, b = net(x, dropout_key=jax.random.key(1)), net(x, dropout_key=jax.random.key(2))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, net(x, dropout_key=jax.random.key(1)))


def test_augmentation():
    x = jax.random.uniform(jax.random.key(0), (8, 28, 28, 1), minval=-1, maxval=1)
    np.testing.assert_array_equal(augment(x, jax.random.key(1), max_shift=0, flip=False), x)
    y = augment(x, jax.random.key(1))
    assert y.shape == x.shape
    np.testing.assert_array_equal(y, augment(x, jax.random.key(1)))
    assert not np.allclose(y, x)
    # a shift keeps the image content (up to the border) and fills with black (-1)
    dot = jnp.full((1, 28, 28, 1), -1.0).at[0, 14, 14, 0].set(1.0)
    shifted = random_shift(jnp.repeat(dot, 64, 0), jax.random.key(2), 2)
    rows, cols = np.nonzero(np.asarray(shifted[..., 0]) > 0)[1:]
    assert np.all(np.abs(rows - 14) <= 2) and np.all(np.abs(cols - 14) <= 2)
    assert len(rows) == 64 and len(set(zip(rows, cols))) > 5


def test_loss_falls_in_20_steps():
    net = _net(dataclasses.replace(TINY, dropout=0.0))
    opt = make_optimizer(net, OptimConfig(learning_rate=3e-3, warmup_steps=1, weight_decay=1e-4), 20)
    step = make_train_step(functools.partial(classification_loss, max_shift=0, flip=False))
    data = load_images("fashion_mnist", "train", source="embedded", limit=64)
    batch = {"image": jnp.asarray(data.images), "label": jnp.asarray(data.labels)}
    losses = [float(step(net, opt, batch, jax.random.key(i))["loss"]) for i in range(20)]
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])


def test_training_is_deterministic():
    data = load_images("fashion_mnist", "train", source="embedded", limit=256)
    tiny = ClassifierExperimentConfig.tiny()
    config = dataclasses.replace(tiny, train=dataclasses.replace(tiny.train, steps=5))
    _, h1 = train_classifier(config, data, progress=False)
    _, h2 = train_classifier(config, data, progress=False)
    assert h1.metrics["loss"] == h2.metrics["loss"]


def test_save_load_round_trip(tmp_path):
    net = _net()
    save_reference(net, TINY, {"test_accuracy": 0.5}, tmp_path)
    loaded, config, info = load_model(tmp_path)
    assert config == TINY and info["test_accuracy"] == 0.5
    x = jax.random.uniform(jax.random.key(0), (5, 28, 28, 1), minval=-1, maxval=1)
    np.testing.assert_allclose(loaded(x), net(x), atol=1e-6)
    ref = ReferenceClassifier(loaded, config, info)
    np.testing.assert_allclose(ref.features(x, chunk=2), net.features(x), atol=1e-6)
    np.testing.assert_array_equal(ref.predict(np.asarray(x)[..., 0]), np.argmax(net(x), -1))


def test_missing_weights_name_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="genlab ship classifier"):
        load_model(tmp_path)
    assert "ship" in REGENERATE


def test_shipped_reference_classifier():
    ref = reference_classifier()
    assert reference_classifier() is ref  # loaded once
    test = load_images("fashion_mnist", "test", source="embedded")  # 2,000 images, 200 per class
    labels = ref.predict(test.images)
    assert labels.shape == (2000,)
    assert np.mean(labels == test.labels) >= 0.88
    feats = ref.features(test.images[:7])
    assert feats.shape == (7, ref.config.features) and np.all(np.isfinite(feats))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        ref.predict(np.full((2, 28, 28, 1), 255.0))


def test_experiment_reports_accuracy_and_source():
    out = run(get("classifier").configure("tiny", "embedded"), [0])
    assert out["train_source"].startswith("embedded:") and out["num_train"] == 10_000
    assert 0.0 <= out["test_accuracy"] <= 1.0 and out["num_params"] > 0
    assert out["test_accuracy_per_seed"] == [out["test_accuracy"]]
