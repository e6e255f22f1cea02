"""Flow matching on 2D data: the model, the loss, reflow pairs, straightness, energy distance, ``flow-2d``."""

from __future__ import annotations

import dataclasses
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genlab.data.toy2d import MOONS
from genlab.experiments import flow2d_setup as S
from genlab.metrics.energy import energy_distance
from genlab.models.mlp_field import MLPField, MLPFieldConfig
from genlab.objectives.flow import FlowConfig, flow_loss, make_flow_loss
from genlab.paths import oracle
from genlab.paths.affine import AffinePath
from genlab.samplers.reflow import field_straightness, pairs_from_field, reflow_pairs, straightness
from genlab.train.configs import TrainConfig
from genlab.train.optim import OptimConfig


def test_mlp_field_shapes_and_null_label():
    model = MLPField(MLPFieldConfig(width=16, depth=3, time_dim=8, num_classes=4), rngs=nnx.Rngs(0))
    x = jnp.ones((5, 2))
    assert model(x, jnp.linspace(0, 1, 5)).shape == (5, 2)
    assert model(x, 0.5, jnp.arange(5) % 4).shape == (5, 2)
    assert model.null_label == 4
    np.testing.assert_allclose(model(x, 0.5), model(x, 0.5, jnp.full((5,), 4)))


def test_flow_loss_is_the_ot_target_regression():
    """A model that outputs exactly x1 − x0 would need the pair; the loss is E‖v − (x1 − x0)‖² by hand."""
    model = MLPField(MLPFieldConfig.tiny(), rngs=nnx.Rngs(1))
    x0, x1 = jax.random.normal(jax.random.key(0), (32, 2)), jax.random.normal(jax.random.key(1), (32, 2)) + 2
    key = jax.random.key(2)
    loss, metrics = flow_loss(model, {"x0": x0, "x1": x1}, key)
    t = jax.random.uniform(jax.random.split(key, 3)[1], (32,))
    v = model(t[:, None] * x1 + (1 - t[:, None]) * x0, t)
    assert float(loss) == pytest.approx(float(jnp.mean((v - (x1 - x0)) ** 2)), rel=1e-5)
    assert float(metrics["fm_loss"]) == float(loss)


def test_condition_dropout_needs_a_null_label_and_uses_it():
    model = MLPField(dataclasses.replace(MLPFieldConfig.tiny(), num_classes=3), rngs=nnx.Rngs(0))
    batch = {"x1": jnp.ones((8, 2)), "label": jnp.zeros((8,), jnp.int32)}
    with pytest.raises(ValueError, match="null_label"):
        flow_loss(model, batch, jax.random.key(0), cond_drop=0.5)
    dropped = flow_loss(model, batch, jax.random.key(0), cond_drop=1.0, null_label=3)[0]
    null = flow_loss(model, {"x1": batch["x1"], "label": jnp.full((8,), 3)}, jax.random.key(0))[0]
    assert float(dropped) == pytest.approx(float(null), rel=1e-6)


@pytest.mark.parametrize("coupling", ["independent", "ot"])
def test_flow_loss_falls_on_toy_data(coupling):
    model = MLPField(MLPFieldConfig(width=64, depth=2, time_dim=16), rngs=nnx.Rngs(0))
    loss_fn = functools.partial(S.toy_loss, data=MOONS, scale=1.0, batch_size=128,
                                **make_flow_loss(FlowConfig(coupling=coupling)).keywords)
    history = S.train_flow(model, loss_fn, None, TrainConfig(steps=60, batch_size=128, log_every=10),
                           OptimConfig(learning_rate=3e-3), jax.random.key(0))
    losses = history.metrics["loss"]
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:5])


def test_reflow_pairs_are_deterministic_in_the_seed():
    model = MLPField(MLPFieldConfig.tiny(), rngs=nnx.Rngs(0))
    a = reflow_pairs(model, jax.random.key(3), (64, 2), steps=4)
    b = reflow_pairs(model, jax.random.key(3), (64, 2), steps=4)
    c = reflow_pairs(model, jax.random.key(4), (64, 2), steps=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])
    x0, x1 = pairs_from_field(lambda x, t: jnp.ones_like(x), jax.random.key(3), (64, 2), steps=4)
    np.testing.assert_allclose(x1, x0 + 1.0, atol=1e-6)  # a constant field moves every point by 1


def test_straightness_is_zero_for_straight_paths_and_positive_for_curved_ones():
    ts = jnp.linspace(0, 1, 11)
    x0, x1 = jnp.zeros((4, 2)), jnp.ones((4, 2))
    line = x0[None] + ts[:, None, None] * (x1 - x0)[None]
    assert float(straightness(line, ts)) == pytest.approx(0.0, abs=1e-10)
    single = oracle.GaussianMixture.empirical(np.array([[2.0, -1.0]]))  # one point: straight OT paths
    z = jax.random.normal(jax.random.key(0), (256, 2))
    assert float(field_straightness(oracle.field(single, AffinePath("ot")), z, steps=20)) < 1e-6
    arc = jnp.stack([jnp.cos(jnp.pi * ts), jnp.sin(jnp.pi * ts)], -1)[:, None, :]  # half circle at speed π
    assert float(straightness(arc, ts)) == pytest.approx(np.pi**2 - 4, rel=0.05)  # E‖chord − Ż‖² = π² − 2²


def test_energy_distance_zero_for_same_distribution_and_known_for_shifts():
    k1, k2 = jax.random.split(jax.random.key(0))
    x, y = np.asarray(jax.random.normal(k1, (800, 2))), np.asarray(jax.random.normal(k2, (800, 2)))
    assert abs(energy_distance(x, y)) < 0.01
    assert energy_distance(x, y + 2.0) > 1.0
    assert energy_distance(np.zeros((3, 1)), np.ones((4, 1))) == pytest.approx(2.0)  # 2·1 − 0 − 0


def test_moons_oracle_mixture_is_toy2d_moons():
    real = MOONS.sample_np(0, 2000)
    mix_draws = np.asarray(S.moons_mixture().sample(jax.random.key(1), 2000))
    floor = energy_distance(real, MOONS.sample_np(2, 2000))
    assert energy_distance(real, mix_draws) < floor + 0.003


@pytest.mark.slow  # 15-45 s on a loaded 2-core machine: mostly compiling the solver/NFE grid
@pytest.mark.parametrize("variant", ["icfm", "otcfm", "reflow"])
def test_flow2d_tiny_runs_and_returns_the_issue_keys(variant):
    from genlab.experiments import flow2d

    tiny = dataclasses.replace(flow2d.Flow2DConfig.tiny(), datasets=("ring8", "checkerboard"))
    config = flow2d.VARIANTS[variant](tiny)
    out = json.loads(json.dumps(flow2d.run(config, [0])))
    assert set(out) == {"ring8", "checkerboard"}
    ring = out["ring8"]
    for key in ("modes_covered_mean", "high_quality_mean", "nfe", "energy_distance_mean", "nll_mean", "nll_true",
                "straightness_mean", "oracle_error_per_t", "quality_vs_nfe", "perfect_model"):
        assert key in ring, key
    assert ring["nfe"] == config.eval.steps and ring["num_modes"] == 8
    assert len(ring["oracle_error_per_t"]["mse"]) == len(ring["oracle_error_per_t"]["step"]) >= 2
    assert "nfe" in out["checkerboard"] and "modes_covered_mean" not in out["checkerboard"]
    assert out["checkerboard"]["nll_true"] == pytest.approx(np.log(8.0))
    if variant == "reflow":
        for key in ("straightness_before", "straightness_after", "straightness_ratio"):
            assert key in ring and ring[key] > 0


def test_flow_figures_draw_one_panel_per_entry_and_reject_bad_shapes():
    from genlab.figures.flow2d import oracle_error, samples_grid, trajectories

    xs = np.cumsum(np.ones((5, 8, 2)), axis=0)  # [N + 1, B, 2]
    fig = trajectories({"a": xs, "b": xs[[0, -1]]}, centers=np.zeros((1, 2)), lines=4)
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "b"
    with pytest.raises(ValueError, match=r"\[N \+ 1, B, 2\]"):
        trajectories({"flat": xs[0]})
    assert len(samples_grid({"1": xs[0], "2": xs[-1], "3": np.full((3, 2), np.nan)}).axes) == 3
    assert [ax.get_title() for ax in samples_grid({str(i): xs[i] for i in range(5)}, cols=2).axes] == \
        ["0", "1", "2", "3", "4", ""]  # 3 rows of 2, the last panel left empty
    assert len(oracle_error([0.1, 0.5], {"step 0": [1.0, 2.0]}).axes) == 1
