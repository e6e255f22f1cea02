"""The diffusion objective (targets, condition dropout, the loss falls) and the EMA of the weights."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genlab.models.unet import UNet, UNetConfig
from genlab.objectives.diffusion import diffusion_loss, drop_condition, null_condition
from genlab.schedules.diffusion import make_schedule
from genlab.train.ema import ema_decay, ema_update, with_ema
from genlab.train.optim import OptimConfig, make_optimizer
from genlab.train.steps import make_train_step

SCHEDULE = make_schedule("linear")


class PixelNet(nnx.Module):
    """A tiny stand-in for the U-Net: a per-pixel MLP on [x_t, t / T, mean condition]."""

    def __init__(self, c: int, d: int = 0, *, rngs: nnx.Rngs):
        self.d = d
        self.fc1 = nnx.Linear(c + 1 + d, 32, rngs=rngs)
        self.fc2 = nnx.Linear(32, c, rngs=rngs)

    def __call__(self, x, t, cond=None, cond_mask=None):
        b, h, w, _ = x.shape
        feats = [x, jnp.broadcast_to((t / 1000.0)[:, None, None, None], (b, h, w, 1))]
        if self.d:
            m = cond_mask.astype(x.dtype)[..., None]
            c = (cond * m).sum(1) / jnp.maximum(m.sum(1), 1.0)
            feats.append(jnp.broadcast_to(c[:, None, None, :], (b, h, w, self.d)))
        return self.fc2(nnx.silu(self.fc1(jnp.concatenate(feats, axis=-1))))


def zero_model(x, t, cond=None, cond_mask=None):
    return jnp.zeros_like(x)


@pytest.mark.parametrize("prediction, expected", [("eps", 1.0), ("x0", 4.0), ("v", None)])
def test_loss_of_a_zero_output_is_the_target_power(prediction, expected):
    """Output 0: the loss is E[target^2]: 1 for eps, E[x0^2] for x0, alpha^2 + sigma^2 x0^2 averaged for v."""
    x0 = jnp.full((2048, 2, 2, 1), 2.0)
    loss, metrics = diffusion_loss(zero_model, {"x0": x0}, jax.random.key(0), schedule=SCHEDULE,
                                   prediction=prediction)
    if expected is None:  # E_t[abar + (1 - abar) * 4]
        expected = float(np.mean(SCHEDULE.alphas_cumprod64 + (1 - SCHEDULE.alphas_cumprod64) * 4.0))
    assert float(loss) == pytest.approx(expected, rel=0.05) and float(metrics["mse"]) == float(loss)


def test_condition_dropout():
    cond, mask = jnp.ones((4000, 3, 2)), jnp.ones((4000, 3), bool)
    c, m, dropped = drop_condition(jax.random.key(0), cond, mask, 0.1)
    assert float(dropped.mean()) == pytest.approx(0.1, abs=0.015)
    assert not bool(m[dropped].any()) and bool(m[~dropped].all())  # default null: every token masked out
    null = jnp.full((3, 2), 7.0)
    c, m, dropped = drop_condition(jax.random.key(0), cond, mask, 1.0, null_cond=null, null_mask=jnp.array(
        [True, True, False]))
    assert bool(dropped.all()) and bool((c == 7.0).all()) and bool((m == jnp.array([True, True, False])).all())
    c, m, dropped = drop_condition(jax.random.key(0), cond, None, 0.0)
    assert not bool(dropped.any()) and bool(m.all())


def test_null_condition_shapes():
    cond = jnp.ones((5, 3, 2))
    null, mask = null_condition(cond)
    assert null.shape == (5, 3, 2) and mask.shape == (5, 3) and not bool(mask.any())
    null, mask = null_condition(cond, jnp.zeros((1, 3, 2)))
    assert null.shape == (5, 3, 2) and bool(mask.all())
    with pytest.raises(ValueError, match="pad the null caption"):
        null_condition(cond, jnp.zeros((4, 2)))


def test_loss_uses_the_condition_and_reports_dropout():
    model = PixelNet(1, 2, rngs=nnx.Rngs(0))
    batch = {"x0": jnp.ones((64, 2, 2, 1)), "cond": jnp.ones((64, 3, 2)), "cond_mask": jnp.ones((64, 3), bool)}
    _, metrics = diffusion_loss(model, batch, jax.random.key(0), schedule=SCHEDULE, cond_drop=0.5)
    assert 0.3 < float(metrics["cond_dropped"]) < 0.7
    with pytest.raises(ValueError, match="unknown prediction"):
        diffusion_loss(model, batch, jax.random.key(0), schedule=SCHEDULE, prediction="score")


def _loss_before_after(model, loss_fn, batch, steps=20, lr=1e-2):
    """The loss at one fixed (t, noise) draw before and after ``steps`` Adam steps on fresh draws."""
    evaluate = lambda: float(loss_fn(model, batch, jax.random.key(99))[0])  # noqa: E731
    before = evaluate()
    step = make_train_step(loss_fn)
    opt = make_optimizer(model, OptimConfig(learning_rate=lr, schedule="constant"), steps)
    for s in range(steps):
        metrics = step(model, opt, batch, jax.random.fold_in(jax.random.key(0), s))
    assert np.isfinite(float(metrics["loss"]))
    return before, evaluate()


@pytest.mark.parametrize("prediction", ["eps", "v", "x0"])
def test_loss_falls_with_a_tiny_model(prediction):
    x0 = 1.0 + 0.1 * jax.random.normal(jax.random.key(1), (32, 4, 4, 1))  # tiny data: nearly one value
    loss_fn = functools.partial(diffusion_loss, schedule=SCHEDULE, prediction=prediction)
    before, after = _loss_before_after(PixelNet(1, rngs=nnx.Rngs(0)), loss_fn, {"x0": x0}, steps=20)
    assert after < 0.6 * before


@pytest.mark.slow  # the U-Net's eager build and a jit of its gradient: ~20 s on a busy 2-core machine
def test_loss_falls_with_a_tiny_unet():
    unet = UNet(UNetConfig(in_channels=4, channels=(8, 16), time_dim=16, num_heads=2, cond_dim=8),
                rngs=nnx.Rngs(0))
    k1, k2 = jax.random.split(jax.random.key(1))
    batch = {"x0": jax.random.normal(k1, (16, 7, 7, 4)) * 0.5 + 1.0, "cond": jax.random.normal(k2, (16, 5, 8)),
             "cond_mask": jnp.ones((16, 5), bool)}
    before, after = _loss_before_after(unet, functools.partial(diffusion_loss, schedule=SCHEDULE), batch, lr=3e-3)
    assert after < 0.8 * before


def test_ema_update():
    model, ema = PixelNet(1, rngs=nnx.Rngs(0)), PixelNet(1, rngs=nnx.Rngs(1))
    before = np.asarray(ema.fc1.kernel[...])
    ema_update(ema, model, 1.0)
    np.testing.assert_array_equal(ema.fc1.kernel[...], before)  # decay 1: unchanged
    ema_update(ema, model, 0.5)
    np.testing.assert_allclose(ema.fc1.kernel[...], 0.5 * before + 0.5 * np.asarray(model.fc1.kernel[...]),
                               rtol=1e-6)
    ema_update(ema, model, 0.0)
    np.testing.assert_array_equal(ema.fc1.kernel[...], model.fc1.kernel[...])  # decay 0: a copy
    assert float(ema_decay(0.999, 0)) == pytest.approx(0.1) and ema_decay(0.999) == 0.999


def test_with_ema_trains_and_averages():
    model = PixelNet(1, rngs=nnx.Rngs(0))
    ema = nnx.clone(model)
    step = with_ema(make_train_step(functools.partial(diffusion_loss, schedule=SCHEDULE)), 0.9, warmup=True)
    opt = make_optimizer(model, OptimConfig(learning_rate=1e-2, schedule="constant"), 5)
    batch = {"x0": jnp.ones((8, 2, 2, 1))}
    for s in range(5):
        metrics = step(model, opt, ema, batch, jax.random.key(s))
    assert float(metrics["ema_decay"]) == pytest.approx(5 / 14)  # (1 + n) / (10 + n) at n = 4
    e, m = np.asarray(ema.fc2.kernel[...]), np.asarray(model.fc2.kernel[...])
    assert not np.allclose(e, m) and np.all(np.isfinite(e))
