"""Flow matching on text-conditioned latents (``genlab eval flow-latent``): the loss reads a text condition and
drops it like the diffusion loss; reflow pairs are deterministic; the experiment runs end to end at tiny."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genlab.objectives.flow import flow_loss


class Probe:
    """A 'network' that returns a constant and records what it was called with."""

    def __init__(self):
        self.calls = []

    def __call__(self, x_t, t, cond, cond_mask):
        self.calls.append((t, cond, cond_mask))
        return jnp.zeros_like(x_t)


def test_flow_loss_with_a_text_condition_targets_x1_minus_x0_and_drops_the_condition():
    k0, k1 = jax.random.split(jax.random.key(0))
    x0, x1 = jax.random.normal(k0, (6, 7, 7, 4)), jax.random.normal(k1, (6, 7, 7, 4))
    cond, mask = jnp.ones((6, 5, 8)), jnp.ones((6, 5), bool)
    probe = Probe()
    loss, metrics = flow_loss(probe, {"x0": x0, "x1": x1, "cond": cond, "cond_mask": mask}, jax.random.key(1))
    np.testing.assert_allclose(loss, jnp.mean((x1 - x0) ** 2), rtol=1e-6)  # a zero field misses the whole target
    t, seen_cond, seen_mask = probe.calls[-1]
    assert t.dtype == jnp.float32 and bool(jnp.all((t >= 0) & (t <= 1))), "flow time is a float in [0, 1]"
    assert bool(jnp.all(seen_mask)) and float(metrics["fm_loss"]) == float(loss)
    flow_loss(probe, {"x0": x0, "x1": x1, "cond": cond, "cond_mask": mask}, jax.random.key(1), cond_drop=1.0)
    _, dropped_cond, dropped_mask = probe.calls[-1]
    assert not bool(jnp.any(dropped_mask)) and float(jnp.abs(dropped_cond).sum()) == 0.0, \
        "cond_drop = 1 gives every example the null condition (zeros, every token masked out)"


@pytest.mark.slow
def test_flow_latent_ships_at_tiny_reports_every_step_count_and_loads(tmp_path):
    from genlab.experiments import get
    from genlab.experiments.flow_latent import load_flow_pipeline, ship

    config = get("flow-latent").configure("tiny", None)
    out = ship(config, tmp_path)  # the run of `genlab eval flow-latent`, weights written
    for steps in config.eval.euler_steps:
        for key in (f"prompt_accuracy_{steps}", f"reflow_prompt_accuracy_{steps}", f"fd_{steps}", f"reflow_fd_{steps}"):
            assert np.isfinite(out[key]), key
    assert 0 <= out["prompt_accuracy_1"] <= 1 and out["straightness_before"] > 0 and out["straightness_after"] > 0
    assert out["reflow_pairs"] == config.reflow.pairs
    pipe = load_flow_pipeline("reflow", tmp_path)
    assert pipe.is_flow
    images = pipe(["a coat", "a dark sneaker"], steps=1, guidance=1.0, seed=0)
    assert images.shape == (2, 28, 28, 1) and np.all(np.abs(images) <= 1)
    with pytest.raises(ValueError, match="unknown flow model"):
        load_flow_pipeline("rectified", tmp_path)
