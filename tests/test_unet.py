"""U-Net: shapes in pixel and latent space, time input, cross-attention with masks, the skip switch."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from genlab.models.unet import UNet, UNetConfig, timestep_embedding
from genlab.objectives.denoise import denoise_loss
from genlab.train import fit
from genlab.train.steps import make_train_step

SMALL = UNetConfig(channels=(8, 16), time_dim=16, num_heads=2, mid_attention=False)  # pixels, 28 -> 14
COND = UNetConfig(in_channels=4, channels=(8, 16), time_dim=16, num_heads=2, attn_levels=(1,), cond_dim=6)


@nnx.jit
def apply(model, x, t, cond=None, mask=None):
    return model(x, t, cond, mask)


def n_params(model) -> int:
    return sum(p.size for p in jax.tree.leaves(nnx.state(model, nnx.Param)))


def images(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape)


@pytest.fixture(scope="module")
def small():
    return UNet(SMALL, rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def cond_model():
    return UNet(COND, rngs=nnx.Rngs(0))


def test_output_has_the_input_size_for_pixels_latents_and_odd_sizes(small, cond_model):
    assert apply(small, images((2, 28, 28, 1)), jnp.full((2,), 0.3)).shape == (2, 28, 28, 1)
    for shape in [(3, 7, 7, 4), (1, 5, 9, 4)]:  # latents (7 -> pad 8 -> 4) and an odd, non-square size
        y = apply(cond_model, images(shape), jnp.full((shape[0],), 0.3))
        assert y.shape == shape and bool(jnp.all(jnp.isfinite(y)))
    wide = UNet(dataclasses.replace(SMALL, in_channels=3, out_channels=2), rngs=nnx.Rngs(0))
    assert wide.pad_multiple() == 2 and apply(wide, images((1, 6, 6, 3)), 0.5).shape == (1, 6, 6, 2)


def test_time_accepts_float_int_and_scalar_and_changes_the_output(small):
    x = images((2, 28, 28, 1))
    y_float = apply(small, x, jnp.array([0.5, 0.5]))
    np.testing.assert_allclose(apply(small, x, 0.5), y_float, atol=1e-6)  # a scalar is broadcast
    # Integer steps and float time share one frequency range: step 500 is t = 0.5.
    np.testing.assert_allclose(apply(small, x, jnp.array([500, 500])), y_float, atol=1e-5)
    assert float(jnp.max(jnp.abs(apply(small, x, jnp.array([0.1, 0.1])) - y_float))) > 1e-3
    emb = timestep_embedding(jnp.array([0, 3]), 8)
    assert emb.shape == (2, 8)
    np.testing.assert_allclose(emb[0], [1, 1, 1, 1, 0, 0, 0, 0], atol=1e-7)  # cos(0) = 1, sin(0) = 0


def test_same_seed_same_weights():
    a, b, c = (nnx.state(UNet(SMALL, rngs=nnx.Rngs(s)), nnx.Param) for s in (7, 7, 8))
    assert all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    assert not all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(c)))


def test_cross_attention_uses_the_condition_and_ignores_masked_positions(cond_model):
    x, t = images((2, 7, 7, 4)), jnp.array([0.3, 0.7])
    cond = images((2, 5, 6), seed=1)
    mask = jnp.array([[True, True, True, False, False], [True, False, False, False, False]])
    y = apply(cond_model, x, t, cond, mask)
    assert y.shape == x.shape
    # A different condition at a used position changes the output (of both examples) ...
    other = cond.at[:, 0].set(images((2, 6), seed=2))
    assert float(jnp.min(jnp.max(jnp.abs(apply(cond_model, x, t, other, mask) - y), axis=(1, 2, 3)))) > 1e-4
    # ... anything at masked positions changes nothing.
    junk = jnp.where(mask[..., None], cond, 100.0 * images((2, 5, 6), seed=3))
    np.testing.assert_allclose(apply(cond_model, x, t, junk, mask), y, atol=1e-5)
    # A fully masked condition (an empty prompt) is the same as no condition at all.
    np.testing.assert_allclose(apply(cond_model, x, t, cond, jnp.zeros((2, 5), bool)), apply(cond_model, x, t),
                               atol=1e-5)


def test_a_condition_without_cross_attention_is_a_clear_error(small):
    with pytest.raises(ValueError, match="cond_dim"):
        small(images((1, 28, 28, 1)), 0.5, jnp.ones((1, 3, 4)))
    with pytest.raises(ValueError, match="NHWC"):
        small(images((1, 1, 28, 28)), 0.5)
    with pytest.raises(ValueError, match="attn_levels"):
        UNetConfig(channels=(8, 16), attn_levels=(2,))


@nnx.jit
def _decode_twice(model, x_a, x_b, t):
    """The forward pass of x_a, and x_a's bottleneck decoded with x_a's and with x_b's skip tensors."""
    temb = model.embed_time(t, x_a.shape[0])
    h, skips_a = model.encode(x_a, temb)
    _, skips_b = model.encode(x_b, temb)
    return model(x_a, t), model.decode(h, skips_a, temb), model.decode(h, skips_b, temb)


def test_without_skips_the_decoder_ignores_the_skip_path(small):
    no_skip = UNet(dataclasses.replace(SMALL, skip=False), rngs=nnx.Rngs(0))  # the same weights as `small`
    assert n_params(small) == n_params(no_skip)  # zeros replace the skips: the decoder is unchanged
    x_a, x_b, t = images((2, 28, 28, 1), 1), images((2, 28, 28, 1), 2), jnp.array([0.2, 0.6])
    for model, skips_matter in ((small, True), (no_skip, False)):
        y, out_a, out_b = _decode_twice(model, x_a, x_b, t)
        np.testing.assert_allclose(y, out_a, atol=1e-5)  # forward == decode(encode(x))
        # Skip tensors of a completely different image change the output only when skips are on.
        assert (float(jnp.max(jnp.abs(out_a - out_b))) > 1e-3) == skips_matter
    assert not np.allclose(apply(small, x_a, t), apply(no_skip, x_a, t), atol=1e-4)


def test_denoising_loss_falls_in_20_steps_on_tiny_data():
    x = np.asarray(jnp.tanh(images((32, 28, 28, 1), seed=4)))
    model = UNet(SMALL, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)
    step = make_train_step(functools.partial(denoise_loss, sigma_min=0.05, sigma_max=0.5))
    history = fit((model, optimizer), step, lambda s: {"image": x[(s % 4) * 8:(s % 4 + 1) * 8]}, steps=20,
                  key=jax.random.key(0), progress=False)
    loss = history.metrics["loss"]
    assert np.mean(loss[-4:]) < 0.5 * np.mean(loss[:2])
