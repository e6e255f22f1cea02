"""The training engine: loss falls, resume is exact, the NaN guard fires, 4 devices equal 1."""

import functools
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from genlab.train import NonFiniteError, checkpoint, fit
from genlab.train.steps import make_train_step


class TinyMLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.l1 = nnx.Linear(4, 16, rngs=rngs)
        self.l2 = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(nnx.relu(self.l1(x)))


def regression_loss(model, batch, key, noise=0.0):
    x, y = batch["x"], batch["y"]
    x = x + noise * jax.random.normal(key, x.shape)
    loss = jnp.mean((model(x)[:, 0] - y) ** 2)
    return loss, {"mse": loss}


def make_batches(seed=0, n=256, batch=32):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32) + 0.3).astype(np.float32)

    def batches(step):
        r = np.random.default_rng([seed, step])
        idx = r.choice(n, batch, replace=False)
        return {"x": x[idx], "y": y[idx]}

    return batches


def new_run(lr=1e-2):
    model = TinyMLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(lr), wrt=nnx.Param)
    return model, optimizer


def params_of(model):
    return jax.tree.leaves(nnx.state(model, nnx.Param))


def test_loss_falls_on_a_tiny_model():
    model, opt = new_run()
    step = make_train_step(functools.partial(regression_loss, noise=0.01))
    hist = fit((model, opt), step, make_batches(), steps=60, key=jax.random.key(0), progress=False)
    loss = hist.metrics["loss"]
    assert len(loss) == 60 and hist.steps == list(range(1, 61))
    assert np.mean(loss[-10:]) < 0.2 * np.mean(loss[:5])
    assert "grad_norm" in hist.metrics


def test_resume_equals_an_uninterrupted_run(tmp_path):
    step = make_train_step(functools.partial(regression_loss, noise=0.1))
    key = jax.random.key(1)
    model_a, opt_a = new_run()
    hist_a = fit((model_a, opt_a), step, make_batches(), steps=40, key=key, progress=False)

    # The "killed" run: 25 steps, checkpoint every 10 (the newest is at step 20).
    model_b, opt_b = new_run()
    fit((model_b, opt_b), step, make_batches(), steps=25, key=key, run_dir=tmp_path,
        checkpoint_every=10, progress=False)
    assert [p.name for p in checkpoint.all_checkpoints(tmp_path)][-1] == "step_00000025"
    # Simulate a kill after step 20: drop the final checkpoint so the resume starts at 20.
    import shutil
    shutil.rmtree(tmp_path / "step_00000025")

    model_c, opt_c = new_run(lr=1e-2)  # fresh objects, as after a restart
    hist_c = fit((model_c, opt_c), step, make_batches(), steps=40, key=key, run_dir=tmp_path,
                 checkpoint_every=10, progress=False)
    for a, c in zip(params_of(model_a), params_of(model_c)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))
    assert hist_c.steps == hist_a.steps
    np.testing.assert_array_equal(hist_c.metrics["loss"], hist_a.metrics["loss"])


def test_callbacks_run_every_n_steps_and_at_the_end():
    model, opt = new_run()
    step = make_train_step(regression_loss)
    calls = []

    def cb(done, objects, history):
        calls.append(done)
        return {"probe": float(done) * 2}

    hist = fit((model, opt), step, make_batches(), steps=25, key=jax.random.key(0), callbacks=[cb],
               callback_every=10, progress=False)
    assert calls == [10, 20, 25]
    steps, values = hist.series("probe")
    assert list(steps) == [10, 20, 25] and list(values) == [20.0, 40.0, 50.0]
    with pytest.raises(KeyError, match="no metric 'nope'"):
        hist.series("nope")


def test_nan_guard_names_step_metric_and_checkpoint(tmp_path):
    model, opt = new_run()
    good = make_batches()

    def batches(step):  # the data goes bad at step 17 (0-based): the 18th step
        b = good(step)
        if step == 17:
            b = {"x": b["x"] * np.float32("nan"), "y": b["y"]}
        return b

    step = make_train_step(regression_loss)
    with pytest.raises(NonFiniteError) as err:
        fit((model, opt), step, batches, steps=40, key=jax.random.key(0), run_dir=tmp_path,
            checkpoint_every=5, log_every=4, progress=False)
    e = err.value
    assert e.step == 18 and e.metric in {"loss", "grad_norm", "mse"}
    assert e.last_checkpoint is not None and e.last_checkpoint.name == "step_00000015"
    msg = str(e)
    assert "step 18" in msg and repr(e.metric) in msg and "step_00000015" in msg and "learning rate" in msg
    assert e.history.steps[-1] == 18
    # Nothing after the bad step was checkpointed.
    assert checkpoint.latest(tmp_path).name == "step_00000015"


def test_restore_from_a_missing_folder_is_a_clear_error(tmp_path):
    model, opt = new_run()
    with pytest.raises(FileNotFoundError, match="no genlab checkpoint"):
        checkpoint.restore(tmp_path / "nothing", (model, opt))


MULTI_DEVICE_SCRIPT = textwrap.dedent(
    """
    import json, sys, functools
    import jax
    sys.path.insert(0, {tests!r})
    from test_engine import new_run, make_batches, regression_loss
    from genlab.train import fit
    from genlab.train.steps import make_train_step
    model, opt = new_run()
    inner = make_train_step(functools.partial(regression_loss, noise=0.1))
    spans = set()
    def step(model, opt, batch, key):
        spans.add(len(getattr(batch["x"], "sharding", None).device_set) if hasattr(batch["x"], "sharding") else 0)
        return inner(model, opt, batch, key)
    k = {steps_per_call}
    hist = fit((model, opt), step if k == 1 else inner, make_batches(), steps=30, key=jax.random.key(3),
               progress=False, steps_per_call=k)
    print(json.dumps({{"devices": jax.device_count(), "spans": sorted(spans), "loss": hist.metrics["loss"]}}))
    """
)


def _run_with_devices(n: int, steps_per_call: int = 1) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}", JAX_PLATFORMS="cpu")
    script = MULTI_DEVICE_SCRIPT.format(tests=os.path.dirname(__file__), steps_per_call=steps_per_call)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_four_devices_give_the_same_losses_as_one():
    one, four = _run_with_devices(1), _run_with_devices(4)
    assert one["devices"] == 1 and four["devices"] == 4
    assert one["spans"] == [0] and four["spans"] == [4]  # every batch was split across all four devices
    np.testing.assert_allclose(four["loss"], one["loss"], rtol=1e-4, atol=1e-6)


def test_four_devices_with_several_steps_per_call_give_the_same_losses_as_one():
    one, four = _run_with_devices(1), _run_with_devices(4, steps_per_call=8)
    assert four["devices"] == 4 and len(four["loss"]) == 30
    np.testing.assert_allclose(four["loss"], one["loss"], rtol=1e-4, atol=1e-6)


def _run(steps_per_call, *, batches=True, steps=40, **kw):
    model, opt = new_run()
    if batches:
        step, data = make_train_step(functools.partial(regression_loss, noise=0.1)), make_batches()
    else:  # the step draws its own data from its key, as flow-2d's does
        def loss(model, batch, key):
            x = jax.random.normal(key, (32, 4))
            return regression_loss(model, {"x": x, "y": x @ jnp.array([1.0, -2.0, 0.5, 0.0])}, key)

        step, data = make_train_step(loss), None
    hist = fit((model, opt), step, data, steps=steps, key=jax.random.key(5), progress=False,
               steps_per_call=steps_per_call, **kw)
    return hist, params_of(model)


@pytest.mark.parametrize("batches", [True, False], ids=["host batches", "data from the key"])
def test_several_steps_per_call_equal_single_steps(batches):
    """K steps in one compiled lax.scan: the same batches and keys step by step, every step's metrics recorded,
    the same model (up to float rounding), including a tail shorter than K (40 = 4 x 9 + 4)."""
    one, p_one = _run(1, batches=batches)
    nine, p_nine = _run(9, batches=batches, log_every=7)
    assert nine.steps == one.steps == list(range(1, 41))
    for name in ("loss", "grad_norm", "mse"):
        np.testing.assert_allclose(nine.metrics[name], one.metrics[name], rtol=1e-5, atol=1e-7, err_msg=name)
    for a, b in zip(p_nine, p_one):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert not np.allclose(one.metrics["loss"][0], one.metrics["loss"][-1]), "it trained"


def test_several_steps_per_call_stop_at_checkpoints_and_callbacks(tmp_path):
    """A call never crosses a checkpoint or callback step: both happen at the same steps as with single steps,
    and a run resumed from a checkpoint equals the uninterrupted one."""
    calls = []

    def cb(done, objects, history):
        calls.append(done)

    full, p_full = _run(1, steps=25)
    part, _ = _run(4, steps=13, run_dir=tmp_path, checkpoint_every=5, callbacks=[cb], callback_every=6)
    assert calls == [6, 12, 13]
    assert [p.name for p in checkpoint.all_checkpoints(tmp_path)][-2:] == ["step_00000010", "step_00000013"]
    resumed, p_resumed = _run(4, steps=25, run_dir=tmp_path, checkpoint_every=5)
    assert resumed.steps == full.steps
    np.testing.assert_allclose(resumed.metrics["loss"], full.metrics["loss"], rtol=1e-5, atol=1e-7)
    for a, b in zip(p_resumed, p_full):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_nan_guard_names_the_step_inside_a_call():
    good = make_batches()

    def batches(step):
        b = good(step)
        return {"x": b["x"] * np.float32("nan"), "y": b["y"]} if step == 17 else b

    model, opt = new_run()
    with pytest.raises(NonFiniteError) as err:
        fit((model, opt), make_train_step(regression_loss), batches, steps=40, key=jax.random.key(0),
            progress=False, steps_per_call=8, log_every=4)
    assert err.value.step == 18 and err.value.history.steps[-1] == 18


def test_steps_per_call_must_be_positive():
    model, opt = new_run()
    with pytest.raises(ValueError, match="steps_per_call must be >= 1"):
        fit((model, opt), make_train_step(regression_loss), make_batches(), steps=4, key=jax.random.key(0),
            progress=False, steps_per_call=0)
