"""DCGAN networks: shapes (conditional and not), G's range, conditioning matters, and the shared GAN step runs."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from genlab.models.gan.dcgan import DCGANConfig, Discriminator, Generator, build, pixel_norm
from genlab.objectives.gan import GANSettings, make_gan_step

B = 4


def tiny(**kw) -> DCGANConfig:
    return dataclasses.replace(DCGANConfig.tiny(), **kw)


@pytest.mark.parametrize("num_classes", [0, 10])
def test_shapes(num_classes):
    cfg = tiny(num_classes=num_classes)
    G, D = build(cfg, jax.random.key(0))
    z = jax.random.normal(jax.random.key(1), (B, G.latent_dim))
    label = jnp.arange(B) % 10 if num_classes else None
    x = G(z, label)
    assert x.shape == (B, 28, 28, 1)
    assert D(x, label).shape == (B,)


def test_generator_output_lies_in_minus_one_one():
    G = Generator(latent_dim=8, channels=(8, 4), rngs=nnx.Rngs(0))
    z = 50.0 * jax.random.normal(jax.random.key(2), (16, 8))  # large inputs push tanh to its limits
    x = np.asarray(G(z))
    assert np.all(np.isfinite(x)) and x.min() >= -1.0 and x.max() <= 1.0
    assert x.std() > 0  # not a constant image


def test_labels_change_the_conditional_outputs():
    cfg = tiny(num_classes=10)
    G, D = build(cfg, jax.random.key(0))
    z = jnp.repeat(jax.random.normal(jax.random.key(1), (1, G.latent_dim)), 2, axis=0)  # same z twice
    label = jnp.array([0, 7])
    x = G(z, label)
    assert not np.allclose(x[0], x[1])
    same_x = jnp.repeat(x[:1], 2, axis=0)
    logits = D(same_x, label)  # projection term differs by class
    assert not np.isclose(logits[0], logits[1])


def test_conditional_modules_demand_labels():
    G, D = build(tiny(num_classes=10), jax.random.key(0))
    with pytest.raises(ValueError, match="class-conditional"):
        G(jnp.zeros((B, G.latent_dim)))
    with pytest.raises(ValueError, match="class-conditional"):
        D(jnp.zeros((B, 28, 28, 1)))


def test_unconditional_modules_ignore_labels():
    G, D = build(tiny(), jax.random.key(0))
    z = jnp.ones((B, G.latent_dim))
    np.testing.assert_array_equal(G(z), G(z, jnp.zeros(B, jnp.int32)))


def test_minibatch_std_and_packing_widen_the_discriminator_input():
    D = Discriminator.from_config(tiny(minibatch_std=True), pack=2, rngs=nnx.Rngs(0))
    assert D(jnp.zeros((B, 28, 28, 2))).shape == (B,)
    x = jax.random.normal(jax.random.key(3), (B, 28, 28, 2))
    collapsed = jnp.repeat(x[:1], B, axis=0)
    # With minibatch-stddev, D's output on one image depends on the rest of the batch.
    assert not np.isclose(D(x)[0], D(jnp.concatenate([x[:1], collapsed[1:]]))[0])


def test_pixel_norm_gives_unit_rms_features():
    h = pixel_norm(jax.random.normal(jax.random.key(4), (3, 5, 5, 8)) * 7.0)
    np.testing.assert_allclose(jnp.sqrt(jnp.mean(h**2, axis=-1)), 1.0, rtol=1e-4)


@pytest.mark.parametrize(
    "settings,num_classes",
    [
        (GANSettings(loss="non_saturating", r1_gamma=1.0), 0),
        (GANSettings(loss="minimax"), 10),
    ],
)
def test_a_few_shared_train_steps_give_finite_metrics(settings, num_classes):
    cfg = tiny(num_classes=num_classes, minibatch_std=True)
    G, D = build(cfg, jax.random.key(0), pack=settings.pack)
    opt_g = nnx.Optimizer(G, optax.adam(1e-3, b1=0.5), wrt=nnx.Param)
    opt_d = nnx.Optimizer(D, optax.adam(1e-3, b1=0.5), wrt=nnx.Param)
    step = make_gan_step(settings)
    rng = np.random.default_rng(0)
    before = np.asarray(G.up28.kernel[...]).copy()
    for s in range(3):
        batch = {"x": rng.uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)}
        if num_classes:
            batch["label"] = rng.integers(0, num_classes, 8).astype(np.int32)
        metrics = step(G, D, opt_g, opt_d, batch, jax.random.key(s))
    for name in ("d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"):
        assert np.isfinite(float(metrics[name])), name
    assert not np.allclose(before, np.asarray(G.up28.kernel[...]))  # G was updated
