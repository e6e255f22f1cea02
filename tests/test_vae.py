"""VAE: shapes, reparameterisation gradients, the KL in closed form, the latent scale, the loss falls."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from genlab.models.vae import VAE, LatentScale, VAEConfig, VAEOutput, reparameterize
from genlab.objectives.vae import gaussian_kl, vae_loss
from genlab.pipelines.latents import latent_scale_from_data, set_latent_scale
from genlab.train import checkpoint, fit
from genlab.train.steps import make_train_step

TINY = VAEConfig.tiny()


@pytest.fixture(scope="module")
def vae():
    return VAE(TINY, rngs=nnx.Rngs(0))


def images(n, seed=0):
    return jnp.tanh(jax.random.normal(jax.random.key(seed), (n, 28, 28, 1)))


@nnx.jit
def apply(model, x, key=None):
    return model(x, key)


def test_shapes_and_dataclass_output(vae):
    out = apply(vae, images(3), jax.random.key(1))
    assert isinstance(out, VAEOutput)
    assert out.recon.shape == (3, 28, 28, 1)
    assert out.mean.shape == out.logvar.shape == out.z.shape == (3, 7, 7, 4) == (3, *TINY.latent_shape())
    with pytest.raises(ValueError, match="multiples of 4"):
        vae.encode(jnp.zeros((1, 30, 30, 1)))


def test_sampling_is_explicit(vae):
    x = images(2)
    det = apply(vae, x)
    np.testing.assert_array_equal(det.z, det.mean)  # no key: z is the posterior mean
    a, b = apply(vae, x, jax.random.key(1)), apply(vae, x, jax.random.key(1))
    np.testing.assert_array_equal(a.z, b.z)  # same key, same sample
    assert not np.allclose(a.z, apply(vae, x, jax.random.key(2)).z)


def test_reparameterisation_gradient_is_the_textbook_one():
    mean, logvar, key = jnp.array([0.5, -1.0, 2.0]), jnp.array([0.0, -2.0, 1.0]), jax.random.key(3)
    eps = jax.random.normal(key, mean.shape)
    g_mean, g_logvar = jax.grad(lambda m, lv: jnp.sum(reparameterize(m, lv, key)), argnums=(0, 1))(mean, logvar)
    np.testing.assert_allclose(g_mean, jnp.ones(3), rtol=1e-6)  # dz/dmean = 1
    np.testing.assert_allclose(g_logvar, 0.5 * jnp.exp(0.5 * logvar) * eps, rtol=1e-5)  # dz/dlogvar = sigma*eps/2


def test_reconstruction_gradient_reaches_the_encoder_through_the_sample(vae):
    x = images(2)

    @nnx.jit
    def recon_grads(model):  # no KL term: the encoder learns only through z = mean + sigma * eps
        return nnx.grad(lambda m: jnp.mean((m(x, jax.random.key(0)).recon - x) ** 2))(model)

    grads = recon_grads(vae)
    enc_out = grads.enc_out.kernel[...]  # [3, 3, C, 2 * latent]: the mean and the logvar halves
    lat = TINY.latent_channels
    assert float(jnp.abs(enc_out[..., :lat]).sum()) > 0 and float(jnp.abs(enc_out[..., lat:]).sum()) > 0


@pytest.mark.parametrize("m, logvar", [(0.0, 0.0), (1.0, 0.0), (-0.7, np.log(0.3)), (2.0, np.log(2.5))])
def test_kl_closed_form_matches_known_values_and_monte_carlo(m, logvar):
    kl = float(gaussian_kl(jnp.float32(m), jnp.float32(logvar)))
    s2 = np.exp(logvar)
    assert kl == pytest.approx(0.5 * (m**2 + s2 - 1 - logvar), abs=1e-6)  # KL(N(m, s2) || N(0, 1))
    if (m, logvar) == (0.0, 0.0):
        assert kl == 0.0
    if (m, logvar) == (1.0, 0.0):
        assert kl == pytest.approx(0.5)
    # Monte Carlo: E_q[log q(z) - log p(z)] with 400k samples; its standard error is < 0.01 here.
    z = m + np.sqrt(s2) * np.random.default_rng(0).standard_normal(400_000)
    log_q = -0.5 * ((z - m) ** 2 / s2 + np.log(2 * np.pi * s2))
    log_p = -0.5 * (z**2 + np.log(2 * np.pi))
    assert np.mean(log_q - log_p) == pytest.approx(kl, abs=0.02)


def test_latent_scale_gives_unit_variance_and_is_saved_but_not_trained(vae, tmp_path):
    x = np.asarray(images(64, seed=5))
    scale = set_latent_scale(vae, x, jax.random.key(0), batch_size=32)
    assert float(vae.latent_scale[...]) == pytest.approx(scale)
    z = np.asarray(nnx.jit(lambda m, x, k: m.to_latent(x, k))(vae, jnp.asarray(x), jax.random.key(9)))
    assert np.std(z) == pytest.approx(1.0, abs=0.05)  # fresh noise, same data: still about unit variance
    assert np.std(z / scale) != pytest.approx(1.0, abs=0.1)  # (not unit variance before scaling)
    assert latent_scale_from_data(vae, x, jax.random.key(0), batch_size=64) == pytest.approx(scale)
    # from_latent undoes the scale: decoding scaled latents equals decoding unscaled ones.
    z_unscaled = z / scale
    both = nnx.jit(lambda m, zs, zu: (m.from_latent(zs), m.decode(zu)))(vae, jnp.asarray(z[:2]),
                                                                          jnp.asarray(z_unscaled[:2]))
    np.testing.assert_allclose(*both, atol=1e-5)
    # It is not a parameter (the optimiser updates nnx.Param only; see the training test) but checkpoints keep it.
    assert isinstance(vae.latent_scale, LatentScale) and not isinstance(vae.latent_scale, nnx.Param)
    assert "latent_scale" not in nnx.state(vae, nnx.Param) and "latent_scale" in nnx.state(vae)
    checkpoint.save(tmp_path, (vae,), 1)
    fresh = VAE(TINY, rngs=nnx.Rngs(1))
    checkpoint.restore(checkpoint.latest(tmp_path), (fresh,))
    assert float(fresh.latent_scale[...]) == pytest.approx(scale)


def test_loss_falls_in_20_steps_on_tiny_data():
    x = np.asarray(images(32, seed=7))
    model = VAE(TINY, rngs=nnx.Rngs(0))
    model.latent_scale[...] = 0.5
    optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)
    step = make_train_step(functools.partial(vae_loss, kl_weight=1e-3))
    history = fit((model, optimizer), step, lambda s: {"image": x[(s % 4) * 8:(s % 4 + 1) * 8]}, steps=20,
                  key=jax.random.key(0), progress=False)
    loss, kl = history.metrics["loss"], history.metrics["kl_per_dim"]
    assert np.mean(loss[-4:]) < 0.7 * np.mean(loss[:2])
    assert all(np.isfinite(kl)) and min(kl) >= 0
    assert float(model.latent_scale[...]) == 0.5  # training leaves the latent scale alone
