"""GAN losses, penalties and packing: values and gradients on known inputs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from genlab.data.toy2d import GRID25, RING8
from genlab.models.gan import MLPDiscriminator, MLPGenerator
from genlab.models.layers.minibatch import minibatch_stddev
from genlab.objectives import gan


def test_discriminator_loss_values():
    real, fake = jnp.array([0.0, 2.0]), jnp.array([0.0, -1.0])
    bce = np.mean(np.log1p(np.exp(-np.array([0.0, 2.0])))) + np.mean(np.log1p(np.exp([0.0, -1.0])))
    for kind in ("minimax", "non_saturating"):
        np.testing.assert_allclose(gan.discriminator_loss(real, fake, kind), bce, rtol=1e-6)
    np.testing.assert_allclose(gan.discriminator_loss(real, fake, "wgan"), -0.5 - 1.0, rtol=1e-6)
    np.testing.assert_allclose(gan.discriminator_loss(real, fake, "hinge"), 0.5 + 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="choose one of"):
        gan.discriminator_loss(real, fake, "lsgan")


def test_saturating_gradient_vanishes_and_non_saturating_does_not():
    # D confidently rejects the fakes: logit -8, D(G(z)) = σ(-8) ≈ 3e-4.
    logits = jnp.full((4,), -8.0)
    d_fake = jax.nn.sigmoid(-8.0)
    g_sat = jax.grad(lambda l: gan.generator_loss(l, "minimax"))(logits) * 4  # per-example d/dl
    g_ns = jax.grad(lambda l: gan.generator_loss(l, "non_saturating"))(logits) * 4
    np.testing.assert_allclose(g_sat, -d_fake, rtol=1e-5)  # -D(G(z)) -> 0
    np.testing.assert_allclose(g_ns, -(1 - d_fake), rtol=1e-5)  # ≈ -1
    assert abs(float(g_sat[0])) < 1e-3 and abs(float(g_ns[0]) + 1) < 1e-3
    # Both G losses push the fake logit up (negative gradient).
    np.testing.assert_allclose(gan.generator_loss(logits, "minimax"), -np.log1p(np.exp(-8.0)), rtol=1e-5)


def test_r1_has_the_factor_one_half():
    w = jnp.array([3.0, -4.0])  # D(x) = w·x: ‖∇D‖² = 25 everywhere
    D = lambda x: x @ w
    x = jnp.ones((5, 2))
    np.testing.assert_allclose(gan.r1_penalty(D, x, gamma=2.0), 25.0, rtol=1e-6)
    np.testing.assert_allclose(gan.r1_penalty(D, x, gamma=10.0), 125.0, rtol=1e-6)


def test_gradient_penalty_interpolates_with_uniform_weights():
    # D(x) = ‖x‖²/2 has ∇D(x̂) = x̂ = ε·1 with real = 1, fake = 0: the penalty reveals ε.
    D = lambda x: 0.5 * jnp.sum(x**2, axis=1)
    real, fake = jnp.ones((4000, 1)), jnp.zeros((4000, 1))
    key = jax.random.key(0)
    eps = jax.random.uniform(key, (4000, 1))
    expected = np.mean((np.abs(np.asarray(eps[:, 0])) - 1.0) ** 2)
    np.testing.assert_allclose(gan.gradient_penalty(D, real, fake, key), expected, rtol=1e-4)
    np.testing.assert_allclose(expected, 1 / 3, atol=0.02)  # E(ε−1)² = 1/3 for ε ~ U(0,1) (2 for N(0,1))


def test_pack_shapes_and_order():
    x = jnp.arange(12.0).reshape(6, 2)
    p = gan.pack(x, 3)
    assert p.shape == (2, 6)
    np.testing.assert_array_equal(p[0], [0, 1, 2, 3, 4, 5])
    img = jnp.arange(4 * 3 * 3 * 1.0).reshape(4, 3, 3, 1)
    pi = gan.pack(img, 2)
    assert pi.shape == (2, 3, 3, 2)
    np.testing.assert_array_equal(pi[1, ..., 0], img[2, ..., 0])
    np.testing.assert_array_equal(pi[1, ..., 1], img[3, ..., 0])
    with pytest.raises(ValueError, match="multiple of the packing degree"):
        gan.pack(x, 4)


def test_minibatch_stddev_sees_a_collapsed_batch():
    same = jnp.ones((8, 3))
    spread = jax.random.normal(jax.random.key(0), (8, 3))
    assert minibatch_stddev(same).shape == (8, 4)
    assert float(minibatch_stddev(same)[0, -1]) < 1e-3 < float(minibatch_stddev(spread)[0, -1])


@pytest.mark.parametrize("settings, data", [
    (gan.GANSettings(), RING8),
    (gan.GANSettings(loss="minimax", r1_gamma=1.0, pack=2), GRID25),
    (gan.GANSettings(loss="wgan", gp_weight=10.0, n_critic=2), RING8),
    (gan.GANSettings(loss="hinge"), RING8),
])
def test_train_step_returns_the_metric_names(settings, data):
    G = MLPGenerator(latent_dim=4, width=16, rngs=nnx.Rngs(0))
    D = MLPDiscriminator(in_dim=2 * settings.pack, width=16, rngs=nnx.Rngs(1))
    opt_g = nnx.Optimizer(G, optax.adam(1e-3), wrt=nnx.Param)
    opt_d = nnx.Optimizer(D, optax.adam(1e-3), wrt=nnx.Param)
    before = np.asarray(G.out.kernel[...]).copy()
    sample_real = functools.partial(data.sample, n=32)
    m = gan.make_gan_step(settings, sample_real=sample_real)(G, D, opt_g, opt_d, None, jax.random.key(0))
    assert set(m) == {"d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "penalty"}
    assert all(np.isfinite(float(v)) for v in m.values())
    assert not np.allclose(before, np.asarray(G.out.kernel[...]))
    assert (float(m["penalty"]) > 0) == (settings.r1_gamma > 0 or settings.gp_weight > 0)


def test_train_step_with_an_explicit_batch():
    G = MLPGenerator(latent_dim=4, width=16, rngs=nnx.Rngs(0))
    D = MLPDiscriminator(width=16, rngs=nnx.Rngs(1))
    opt_g = nnx.Optimizer(G, optax.adam(1e-3), wrt=nnx.Param)
    opt_d = nnx.Optimizer(D, optax.adam(1e-3), wrt=nnx.Param)
    batch = {"x": jnp.zeros((16, 2))}
    m = gan.gan_train_step(G, D, opt_g, opt_d, batch, jax.random.key(1), settings=gan.GANSettings())
    assert 0 < float(m["d_real"]) < 1 and 0 < float(m["d_fake"]) < 1
    with pytest.raises(ValueError, match="no sample_real"):
        gan.gan_train_step(G, D, opt_g, opt_d, None, jax.random.key(1), settings=gan.GANSettings())


def test_the_step_draws_real_data_from_sample_real_for_every_critic_update():
    """Without a batch the step calls sample_real(key) once per D update: n_critic fresh real batches."""
    calls = []

    def sample_real(key):
        calls.append(key)
        return RING8.sample(key, 16)

    G = MLPGenerator(latent_dim=4, width=16, rngs=nnx.Rngs(0))
    D = MLPDiscriminator(width=16, rngs=nnx.Rngs(1))
    opt_g = nnx.Optimizer(G, optax.adam(1e-3), wrt=nnx.Param)
    opt_d = nnx.Optimizer(D, optax.adam(1e-3), wrt=nnx.Param)
    gan.make_gan_step(gan.GANSettings(n_critic=3), sample_real)(G, D, opt_g, opt_d, None, jax.random.key(2))
    assert len(calls) == 3  # traced once per critic update
