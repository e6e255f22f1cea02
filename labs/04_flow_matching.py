# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 04_flow_matching
# seed:
#   variable: SEED
#   autograder_value: 42
#   student_value: 42
# verdicts: in-process     # tests still run in the student's process (not moved to the trusted format yet)

# %% [markdown]
# # Lab 04: Fluss statt Rauschen — flow matching, the exact field, and reflow
#
# A diffusion model removes noise step by step. **Flow matching** learns something simpler to state: a
# **velocity field** $v(x, t)$ whose flow carries noise ($t = 0$) to data ($t = 1$). A sample is one
# deterministic transformation, the solution of the ODE $\dot x = v(x, t)$ started at a noise point. The
# lecture says the picture then "entsteht direkt". Does it? In this lab you build flow matching from its
# parts, check your learned field against the **exact** one (for a Gaussian mixture it has a closed form),
# and measure when one step is enough: a first flow needs many ODE steps, because its paths are
# curved; **reflow** (Liu et al. 2022) straightens them until one Euler step nearly does the job.
#
# | Begriff (Vorlesung) | English | Wo im Lab |
# |---|---|---|
# | Flow-Matching | flow matching: regress the velocity $x_1 - x_0$ of straight noise-to-data paths | §1 Q1, Q2; §3 Q5 |
# | Sampler | sampler: an ODE solver (Euler) that follows the learned field from noise to data | §1 Q3; §2; §4 |
# | Fluss, Geschwindigkeitsfeld | flow, velocity field $v(x, t)$ | Q2, Q4, Q5 |
# | exaktes Feld | the exact (oracle) marginal velocity of a Gaussian mixture | §2 Q4; Q5 (error per $t$) |
# | Reflow, gerade Pfade | reflow (rectified flow) and the straightness of the paths | §4 Q6, Q7, Q8 |
# | Entrauschen | denoising: a flow model also predicts the clean data (as a diffusion model does) | §2 (note) |
#
# **Plan.** §1 Q1 the conditional OT path and its velocity target · Q2 the flow-matching loss · Q3 an
# Euler sampler. §2 Q4 the exact velocity of a two-component mixture (derive it, then compare with
# genlab's oracle); the exact field as a "perfect model". §3 Q5 train a flow on eight Gaussians and grade
# it against the exact field. §4 Q6 reflow pairs · Q7 straightness · Q8 the 2-rectified flow, in one step.
#
# **Time.** The setup cell picks a preset from your hardware (`cpu` without a GPU; set `GENLAB_PRESET`
# to override). At `cpu` the two trainings (Q5, Q8) take about 25 and 20 seconds on a 2-core laptop and the whole
# lab computes for about one minute (measured: 58 s, Run All of the solution); on a GPU (`gpu`) a few minutes.

# %%
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.data.toy2d import RING8
from genlab.experiments.flow2d_setup import oracle_error_callback, pair_batches, train_flow
from genlab.figures.flow2d import oracle_error, samples_grid, trajectories
from genlab.metrics.modes import mode_stats
from genlab.models.mlp_field import MLPField, MLPFieldConfig
from genlab.notebook import lab_setup
from genlab.paths import oracle
from genlab.paths.affine import AffinePath
from genlab.presets import resolve_preset
from genlab.train.configs import TrainConfig
from genlab.train.optim import OptimConfig

SEED = 42  # otter sets the grading seed here; every key below comes from it
PRESET = resolve_preset(os.environ.get("GENLAB_PRESET"))  # tiny | cpu | gpu (from the hardware when unset)
lab_setup(PRESET)  # Jupyter/Colab: figures show as images; an answer not written yet says so instead of failing

# Per preset: the velocity network, the 1-rectified flow of Q5 (steps, batch), the reflow of Q8 (pairs, the Euler
# steps that simulate them, training steps), the Euler steps of the main sampler and the evaluation size.
# "minutes": Q5 + Q8 on a 2-core CPU (tiny, cpu) or one GPU (gpu).
RUNS = {
    "tiny": dict(model=MLPFieldConfig.tiny(), steps=300, batch=256, pairs=2048, pair_steps=20, reflow_steps=150,
                 sample_steps=20, n_eval=500, minutes=0.3),
    "cpu": dict(model=MLPFieldConfig(width=128, depth=4), steps=5000, batch=512, pairs=20_000, pair_steps=100,
                reflow_steps=2000, sample_steps=100, n_eval=2500, minutes=1),
    "gpu": dict(model=MLPFieldConfig(width=256, depth=4), steps=20_000, batch=1024, pairs=100_000, pair_steps=100,
                reflow_steps=10_000, sample_steps=100, n_eval=2500, minutes=5),
}
RUN = RUNS[PRESET]
OPTIM = OptimConfig(learning_rate=2e-3, warmup_steps=200, clip_norm=1.0)  # Adam, warmup, cosine decay to 0

OT = AffinePath("ot")  # genlab's conditional-OT path (to compare with yours)
RING8_MIX = oracle.GaussianMixture.isotropic(RING8.centers, RING8.sigma)  # ring8 is exactly this mixture
_apply = nnx.jit(lambda model, x, t: model(x, jnp.full(x.shape[:1], t, jnp.float32)))


def as_field(model):
    """A velocity model as a field ``(x: [B, 2], t: float) -> v: [B, 2]`` (compiled once per batch shape)."""
    return lambda x, t: _apply(model, x, t)


exact_field = jax.jit(oracle.field(RING8_MIX, OT))  # (x, t) -> the exact velocity of ring8 (§2)
k_q5, k_q8, k_eval, k_check = jax.random.split(jax.random.key(SEED), 4)
Z = jax.random.normal(k_eval, (RUN["n_eval"], 2))  # one set of noise points, shared by every sampler below
print(f"preset {PRESET}: {RUN['steps']} + {RUN['reflow_steps']} training steps, about {RUN['minutes']} min in all")

# %% [markdown]
# ## 1. Flow matching from its parts
#
# Noise $x_0 \sim \mathcal N(0, I)$ at $t = 0$, a data point $x_1$ at $t = 1$. The **conditional optimal-transport
# path** joins them by a straight line travelled at constant speed (Lipman et al. 2023; Liu et al. 2022):
#
# $$x_t = t\,x_1 + (1 - t)\,x_0, \qquad \frac{d x_t}{dt} = x_1 - x_0 .$$
#
# One pair's velocity is known, but a network only sees $x_t$ and $t$, not the pair. Flow matching regresses
# the pair's velocity anyway:
#
# $$\mathcal L(\theta) = \mathbb E_{t \sim U[0,1],\; x_0,\; x_1}\,\bigl\lVert v_\theta(x_t, t) - (x_1 - x_0)\bigr\rVert^2 ,$$
#
# whose minimiser is the average velocity of all pairs whose path passes through $x_t$ at time $t$, the
# **marginal velocity** $u(x, t) = \mathbb E[x_1 - x_0 \mid x_t = x]$. Its flow carries $\mathcal N(0, I)$ onto the data.

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 2

# %% [markdown]
# **Q1. The path and its target (2 points).** Write `q1_ot_path(x0, x1, t)`: `x0, x1: [B, d]`, `t: [B]` (one
# time per example) -> the tuple `(x_t, target)`, both `[B, d]`, with the formulas above.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q1_ot_path(x0, x1, t):
    """x0, x1: [B, d], t: [B] -> (x_t, dx_t/dt), both [B, d]."""
    # BEGIN SOLUTION
    t = jnp.asarray(t)[:, None]  # [B, 1]
    return t * x1 + (1.0 - t) * x0, x1 - x0
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %%
q1_x0, q1_x1 = jnp.zeros((3, 2)), jnp.ones((3, 2))
print("x_t at t = 0, 0.25, 1:", q1_ot_path(q1_x0, q1_x1, jnp.array([0.0, 0.25, 1.0]))[0][:, 0])

# %% [raw]
# # BEGIN TESTS

# %%
def test_q1_ends_and_shapes(q1_ot_path):
    import jax
    import jax.numpy as jnp
    import numpy as np

    k0, k1 = jax.random.split(jax.random.key(0))
    x0, x1 = jax.random.normal(k0, (4, 2)), jax.random.normal(k1, (4, 2))
    x_t, target = q1_ot_path(x0, x1, jnp.array([0.0, 0.0, 1.0, 1.0]))
    assert np.shape(x_t) == (4, 2) and np.shape(target) == (4, 2), "x_t and the target have the shape of x0: [B, d]"
    np.testing.assert_allclose(np.asarray(x_t)[:2], np.asarray(x0)[:2], atol=1e-6,
                               err_msg="at t = 0 the path is at the noise x0")
    np.testing.assert_allclose(np.asarray(x_t)[2:], np.asarray(x1)[2:], atol=1e-6,
                               err_msg="at t = 1 the path is at the data x1")

# %%
# HIDDEN
def test_q1_matches_genlab(q1_ot_path):
    import jax
    import numpy as np

    from genlab.paths.affine import AffinePath

    k0, k1, kt = jax.random.split(jax.random.key(11), 3)
    x0, x1, t = jax.random.normal(k0, (32, 3)), jax.random.normal(k1, (32, 3)) * 2.0, jax.random.uniform(kt, (32,))
    want_x, want_v = AffinePath("ot").sample(x0, x1, t)
    got_x, got_v = q1_ot_path(x0, x1, t)
    np.testing.assert_allclose(np.asarray(got_x), np.asarray(want_x), rtol=1e-5, atol=1e-6,
                               err_msg="x_t = t x1 + (1 - t) x0, each example at its own t")
    np.testing.assert_allclose(np.asarray(got_v), np.asarray(want_v), rtol=1e-5, atol=1e-6,
                               err_msg="the target is the path's velocity x1 - x0, the same at every t")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 3

# %% [markdown]
# **Q2. The flow-matching loss (3 points).** Write `q2_fm_loss(model, x0, x1, key, path)`: `x0, x1: [B, d]`
# are the pairs (Q5 draws fresh noise for them, Q8 gives simulated pairs), `path` is a path function with the
# interface of your `q1_ot_path`, and `model(x_t, t) -> [B, d]` with `t: [B]`. Follow this recipe exactly:
#
# 1. `t = jax.random.uniform(key, (B,))`;
# 2. `x_t, target = path(x0, x1, t)`;
# 3. return the mean over all elements of `(model(x_t, t) - target) ** 2` (a scalar).

# %% [raw]
# # BEGIN SOLUTION

# %%
def q2_fm_loss(model, x0, x1, key, path):
    """The conditional flow-matching loss -> scalar."""
    # BEGIN SOLUTION
    t = jax.random.uniform(key, (x1.shape[0],))
    x_t, target = path(x0, x1, t)
    return jnp.mean((model(x_t, t) - target) ** 2)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [markdown]
# A "model" that always answers 0 pays for the whole velocity: for data $x_1 = 0$ the loss is
# $\mathbb E\,x_{0,i}^2 = 1$ per coordinate. The exact velocity (§2) pays only for what $x_t$ cannot tell
# about the pair.

# %%
print("zero model, data at 0:", float(q2_fm_loss(lambda x, t: jnp.zeros_like(x), jax.random.normal(k_q5, (4096, 2)),
                                                  jnp.zeros((4096, 2)), k_q5, q1_ot_path)))

# %% [raw]
# # BEGIN TESTS

# %%
def test_q2_zero_model(q2_fm_loss):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from genlab.paths.affine import AffinePath

    x0 = jax.random.normal(jax.random.key(1), (4096, 2))
    loss = q2_fm_loss(lambda x, t: jnp.zeros_like(x), x0, jnp.zeros_like(x0), jax.random.key(2),
                      AffinePath("ot").sample)
    assert np.shape(loss) == (), f"the loss is a scalar (the mean), got shape {np.shape(loss)}"
    np.testing.assert_allclose(float(loss), float(jnp.mean(x0**2)), rtol=1e-4, err_msg=(
        "a model that answers 0 on data x1 = 0 pays the mean of (x1 - x0)^2 = x0^2 over all elements"))

# %%
# HIDDEN
def test_q2_matches_the_recipe(q2_fm_loss):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from genlab.paths.affine import AffinePath

    calls = []

    def model(x_t, t):  # reads x_t and t
        calls.append((np.shape(x_t), np.shape(t)))
        return 0.5 * x_t + t[:, None] * jnp.array([1.0, -2.0])

    path = AffinePath("ot").sample
    k0, k1 = jax.random.split(jax.random.key(21))
    x0, x1 = jax.random.normal(k0, (64, 2)), jax.random.normal(k1, (64, 2)) + 1.5
    for seed in (3, 4):
        calls.clear()
        got = float(q2_fm_loss(model, x0, x1, jax.random.key(seed), path))
        t = jax.random.uniform(jax.random.key(seed), (64,))
        x_t, target = path(x0, x1, t)
        want = float(jnp.mean((model(x_t, t) - target) ** 2))
        assert calls[0] == ((64, 2), (64,)), f"call the model once on (x_t [B, d], t [B]); it saw {calls[0]}"
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=(
            "t = jax.random.uniform(key, (B,)), then the mean squared error against the path's target"))

# %%
# HIDDEN
def test_q2_uses_the_given_path(q2_fm_loss):
    import jax
    import jax.numpy as jnp
    import numpy as np

    def path(x0, x1, t):  # not the OT path: the loss must use the path it is given
        return x1 + 0 * t[:, None], 3.0 * jnp.ones_like(x1)

    x1 = jax.random.normal(jax.random.key(5), (16, 2))
    loss = q2_fm_loss(lambda x, t: x, jnp.zeros_like(x1), x1, jax.random.key(6), path)
    np.testing.assert_allclose(float(loss), float(jnp.mean((x1 - 3.0) ** 2)), rtol=1e-5,
                               err_msg="x_t and the target come from path(x0, x1, t), the function passed in")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **Sampling** solves the ODE $\dot x = v(x, t)$ from a noise point at $t = 0$ to $t = 1$. The simplest solver,
# **Euler**, walks $N$ equal steps of size $h = 1/N$ along the field: $x_{k+1} = x_k + h\,v(x_k, t_k)$ with
# $t_k = k h$. Each step costs one evaluation of the network (NFE = $N$). On a straight path at constant
# speed one step is exact; on a curved one Euler cuts the corner.

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 2

# %% [markdown]
# **Q3. An Euler sampler (2 points).** Write `q3_euler(field, x0, steps)`: `field(x, t) -> [B, d]` with `t` a
# Python `float`, `x0: [B, d]` -> the whole **trajectory** `[steps + 1, B, d]`: $x_0$, then the state after
# every step (the last entry is the sample).

# %% [raw]
# # BEGIN SOLUTION

# %%
def q3_euler(field, x0, steps):
    """Euler from t = 0 to 1 in `steps` equal steps -> trajectory [steps + 1, B, d]."""
    # BEGIN SOLUTION
    h = 1.0 / steps
    xs = [jnp.asarray(x0)]
    for k in range(steps):
        xs.append(xs[-1] + h * field(xs[-1], k * h))
    return jnp.stack(xs)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_q3_constant_field(q3_euler):
    import jax.numpy as jnp
    import numpy as np

    xs = q3_euler(lambda x, t: jnp.ones_like(x), jnp.zeros((5, 2)), 4)
    assert np.shape(xs) == (5, 5, 2), f"the trajectory of 4 steps is [steps + 1, B, d] = (5, 5, 2), got {np.shape(xs)}"
    np.testing.assert_allclose(np.asarray(xs)[:, 0, 0], [0.0, 0.25, 0.5, 0.75, 1.0], atol=1e-6,
                               err_msg="a constant field 1 moves every point by h = 1/4 per step, from x0 to x0 + 1")

# %%
# HIDDEN
def test_q3_matches_genlab_euler(q3_euler):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from genlab.samplers.ode import odeint

    def field(x, t):  # nonlinear in x and t
        return jnp.sin(x) * (1.0 + t) - 0.5 * x

    seen = []

    def recorded(x, t):
        seen.append(float(t))
        return field(x, t)

    x0 = jax.random.normal(jax.random.key(7), (6, 2))
    for steps in (1, 3, 10):
        want = odeint(field, x0, method="euler", steps=steps, trajectory=True).xs
        seen.clear()
        got = q3_euler(recorded, x0, steps)
        np.testing.assert_allclose(seen, np.arange(steps) / steps, atol=1e-6, err_msg=(
            f"{steps} steps: evaluate the field once per step, at t_k = k / steps (k = 0 .. steps - 1)"))
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5, err_msg=(
            f"{steps} steps: x_(k+1) = x_k + h field(x_k, t_k) with h = 1 / steps, every state kept"))

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 2. The exact field
#
# For Gaussian-mixture data the marginal velocity has a closed form, so we can check a learned field
# against the truth. Take $p_1 = \sum_k \pi_k\, \mathcal N(\mu_k, \sigma_k^2 I)$ in $d$ dimensions and the OT path.
#
# 1. Given component $k$, $x_t = t x_1 + (1 - t) x_0$ is a sum of independent Gaussians:
#    $x_t \mid k \sim \mathcal N(t\mu_k,\; s_k^2 I)$ with $s_k^2 = t^2\sigma_k^2 + (1 - t)^2$.
# 2. Which component did $x_t = x$ come from? By Bayes,
#    $w_k(x) = \pi_k\,\mathcal N(x; t\mu_k, s_k^2 I) / \sum_j \pi_j\,\mathcal N(x; t\mu_j, s_j^2 I)$, a softmax over
#    the logits $\log\pi_k - \tfrac d2 \log s_k^2 - \lVert x - t\mu_k\rVert^2 / (2 s_k^2)$.
# 3. Within component $k$, the target $U = x_1 - x_0$ and $X = x_t$ are jointly Gaussian, so
#    $\mathbb E[U \mid X = x] = \mathbb E U + \frac{\mathrm{Cov}(U, X)}{\mathrm{Var}\,X}(x - \mathbb E X)$ (per coordinate).
#    **Derive** $\mathbb E U$, $\mathrm{Cov}(U, X)$ and $\mathrm{Var}\,X$ (use $x_1 = \mu_k + \sigma_k \varepsilon$ with
#    $\varepsilon, x_0$ independent standard normals), and write the result as $\mu_k + c_k\,(x - t\mu_k)$.
# 4. Average over the components: $u(x, t) = \sum_k w_k(x)\,\bigl[\mu_k + c_k (x - t\mu_k)\bigr]$.
#
# Write your $c_k$ (and a line on how you got it) in `q4_derivation` below.

# %%
q4_derivation = """
(your answer: c_k = ... because ...)
"""

# %% [raw]
# # BEGIN QUESTION
# name: q4
# points: 3

# %% [markdown]
# **Q4. The exact velocity of a two-component mixture (3 points).** Write `q4_velocity(x, t, means, sigmas,
# weights)`: `x: [B, d]`, `t`: a float in $[0, 1)$, `means: [2, d]`, `sigmas: [2]`, `weights: [2]` (summing
# to 1) -> $u(x, t)$ `[B, d]`. Compute the weights with `jax.nn.softmax` on the logits (never divide two tiny
# densities). Your formula works for any number of components; here you need two.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q4_velocity(x, t, means, sigmas, weights):
    """The marginal velocity of sum_k pi_k N(mu_k, sigma_k^2 I) on the OT path: x [B, d] -> [B, d]."""
    # BEGIN SOLUTION
    x, mu = jnp.asarray(x), jnp.asarray(means)  # [B, d], [K, d]
    sig2, d = jnp.asarray(sigmas) ** 2, x.shape[1]  # [K]
    s2 = t**2 * sig2 + (1.0 - t) ** 2  # [K] Var(x_t | k) per coordinate
    diff = x[:, None, :] - t * mu[None]  # [B, K, d] x - t mu_k
    logits = jnp.log(jnp.asarray(weights)) - 0.5 * d * jnp.log(s2) - 0.5 * jnp.sum(diff**2, -1) / s2  # [B, K]
    w = jax.nn.softmax(logits, axis=1)  # [B, K]
    c = (t * sig2 - (1.0 - t)) / s2  # [K] Cov(x1 - x0, x_t | k) / Var(x_t | k)
    return jnp.sum(w[:, :, None] * (mu[None] + c[None, :, None] * diff), axis=1)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [markdown]
# Your field against genlab's oracle (`genlab.paths.oracle.velocity`, for any mixture and any affine path),
# on a two-component mixture, at a few times:

# %%
Q4_MEANS, Q4_SIGMAS, Q4_WEIGHTS = np.array([[-1.0, 0.5], [1.5, -0.5]]), np.array([0.3, 0.1]), np.array([0.3, 0.7])
q4_mix = oracle.GaussianMixture(Q4_MEANS, Q4_SIGMAS, np.log(Q4_WEIGHTS))
q4_x = jax.random.normal(k_q5, (500, 2)) * 1.5
for t in (0.0, 0.5, 0.9, 0.99):
    q4_diff = q4_velocity(q4_x, t, Q4_MEANS, Q4_SIGMAS, Q4_WEIGHTS) - oracle.velocity(q4_mix, OT, q4_x, t)
    print(f"t = {t}: max |yours - oracle| = {float(jnp.max(jnp.abs(q4_diff))):.2e}")

# %% [raw]
# # BEGIN TESTS

# %%
def test_q4_at_t0(q4_velocity):
    import jax
    import numpy as np

    means, sigmas, weights = np.array([[-1.0, 0.5], [1.5, -0.5]]), np.array([0.3, 0.1]), np.array([0.3, 0.7])
    x = jax.random.normal(jax.random.key(0), (8, 2))
    u = q4_velocity(x, 0.0, means, sigmas, weights)
    assert np.shape(u) == (8, 2), f"one velocity per point: expected (8, 2), got {np.shape(u)}"
    np.testing.assert_allclose(np.asarray(u), weights @ means - np.asarray(x), rtol=1e-4, atol=1e-5, err_msg=(
        "at t = 0, x_t is pure noise and tells nothing about x1: u(x, 0) = E[x1] - x = sum_k pi_k mu_k - x"))

# %%
# HIDDEN
def test_q4_matches_the_oracle(q4_velocity):
    import jax
    import numpy as np

    from genlab.paths import oracle
    from genlab.paths.affine import AffinePath

    k_m, k_x = jax.random.split(jax.random.key(31))
    for means, sigmas, weights in ((np.array([[-1.0, 0.5], [1.5, -0.5]]), np.array([0.3, 0.1]), np.array([0.3, 0.7])),
                                   (np.array([[0.0, 2.0, 1.0], [0.5, -1.0, 0.0]]), np.array([0.5, 0.05]),
                                    np.array([0.5, 0.5]))):
        mix = oracle.GaussianMixture(means, sigmas, np.log(weights))
        x = mix.sample(k_x, 256) * 0.8
        for t in (0.2, 0.6, 0.9, 0.98):
            np.testing.assert_allclose(
                np.asarray(q4_velocity(x, t, means, sigmas, weights)),
                np.asarray(oracle.velocity(mix, AffinePath("ot"), x, t)), rtol=2e-3, atol=2e-3, err_msg=(
                    f"d = {means.shape[1]}, t = {t}: u = sum_k w_k [mu_k + c_k (x - t mu_k)] with "
                    "c_k = (t sigma_k^2 - (1 - t)) / s_k^2 and softmax weights"))

# %%
# HIDDEN
def test_q4_stable_near_the_data(q4_velocity):
    import numpy as np

    from genlab.paths import oracle
    from genlab.paths.affine import AffinePath

    means, sigmas, weights = np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([0.01, 0.01]), np.array([0.5, 0.5])
    mix = oracle.GaussianMixture(means, sigmas, np.log(weights))
    x = np.array([[0.99, 0.0], [-0.995, 0.002], [3.0, 3.0], [0.0, 0.0]], np.float32)
    for t in (0.995, 0.999):
        u = np.asarray(q4_velocity(x, t, means, sigmas, weights))
        assert np.all(np.isfinite(u)), \
            f"t = {t}: narrow modes near t = 1 must not give NaN/inf (far points have densities below 1e-300): " \
            "compute the weights with a softmax on the logits"
        np.testing.assert_allclose(u, np.asarray(oracle.velocity(mix, AffinePath("ot"), x, t)), rtol=1e-3, atol=1e-2,
                                   err_msg=f"t = {t}, modes of width 0.01: the exact velocity, as genlab's oracle")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **The exact field as a "perfect model".** `exact_field` is the same formula for ring8 (eight components,
# $\sigma = 0.01$), from genlab. With it there is no learning error at all: what is left is what the sampler
# costs. Watch the exact field with 1, 2, 4 and many Euler steps, from the same noise. (A flow model is also a
# denoiser: `genlab.paths.affine.convert(path, v, x_t, t, "velocity", "data")` turns a velocity into the
# posterior mean $\mathbb E[x_1 \mid x_t]$, the clean-data estimate a diffusion model makes when it *entrauscht*.)

# %%
sec2_steps = (1, 2, 4, RUN["sample_steps"])
sec2_samples = {n: np.asarray(q3_euler(exact_field, Z, n)[-1]) for n in sec2_steps}
for n, x in sec2_samples.items():
    s = mode_stats(x, RING8.centers, RING8.sigma)
    print(f"exact field, {n:>3} Euler step(s): {s.modes_covered}/8 modes, {s.high_quality_fraction:.1%} high quality")
samples_grid({f"exact field, {n} Euler step{'s' * (n > 1)}": x for n, x in sec2_samples.items()},
             centers=RING8.centers, lim=1.6)

# %% [markdown]
# One step from $t = 0$ lands every point at $x_0 + u(x_0, 0) = \mathbb E[x_1]$, the centre of the ring: the
# exact field's paths are **curved** (they start towards the mean and bend to a mode later), so even a perfect
# model needs many steps. Keep this in mind for §4.
#
# ## 3. Learn the field
#
# Now a network learns ring8's field from samples only: `MLPField` (a time-conditioned MLP) trained with your
# loss. `train_flow(model, loss_fn, batches, train_config, optim_config, key, callbacks=...)` runs genlab's
# training loop: every step calls `loss_fn(model, batch, key) -> (loss, metrics)` with `batch = batches(step)`
# (or `None` when `batches` is `None`: then the loss draws its own data from the key) and a fresh key. The
# callback records the field's error against the exact one, $\mathbb E\lVert v_\theta(x_t, t) - u(x_t, t)\rVert^2$
# at a few $t$, four times during training.

# %% [raw]
# # BEGIN QUESTION
# name: q5
# points: 3

# %% [markdown]
# **Q5. Train a flow on ring8 (3 points).** (a) Write `q5_batch_loss(model, batch, key)` (`batch` is unused):
# split `k_data, k_noise, k_t = jax.random.split(key, 3)`, draw `RUN["batch"]` data points with
# `RING8.sample(k_data, n)` and as many noise points with `jax.random.normal(k_noise, ...)`, and return
# `(loss, {})` with your `q2_fm_loss` on your `q1_ot_path` and the key `k_t`. (b) Train `q5_model =
# MLPField(RUN["model"], rngs=nnx.Rngs(SEED))` with it: `q5_history` from `train_flow` with
# `TrainConfig(steps=RUN["steps"], batch_size=RUN["batch"])`, `OPTIM`, the key `k_q5` and the callback
# `q5_check` below (`callback_every=RUN["steps"] // 4`). (c) `q5_samples`: the last state of your `q3_euler`
# with `as_field(q5_model)` from `Z` in `RUN["sample_steps"]` steps (NumPy, `[n_eval, 2]`).

# %%
q5_ts = (0.1, 0.3, 0.5, 0.7, 0.9)
q5_check = oracle_error_callback(RING8_MIX, OT, RING8, 1.0, k_check, q5_ts, 2000)  # error against the exact field

# %% [raw]
# # BEGIN SOLUTION

# %%
def q5_batch_loss(model, batch, key):
    """Fresh ring8 data and noise from the key -> (flow-matching loss, {})."""
    # BEGIN SOLUTION
    k_data, k_noise, k_t = jax.random.split(key, 3)
    x1 = RING8.sample(k_data, RUN["batch"])
    x0 = jax.random.normal(k_noise, x1.shape)
    return q2_fm_loss(model, x0, x1, k_t, q1_ot_path), {}
    # END SOLUTION


print(f"training {RUN['steps']} steps of batch {RUN['batch']}")
start = time.perf_counter()
q5_model = MLPField(RUN["model"], rngs=nnx.Rngs(SEED))  # SOLUTION
q5_untrained = q5_check(0, (q5_model,), None)["oracle_mse"]  # the error before training
# BEGIN SOLUTION
q5_history = train_flow(q5_model, q5_batch_loss, None, TrainConfig(steps=RUN["steps"], batch_size=RUN["batch"]),
                        OPTIM, k_q5, callbacks=[q5_check], callback_every=RUN["steps"] // 4)
q5_samples = np.asarray(q3_euler(as_field(q5_model), Z, RUN["sample_steps"])[-1])
# END SOLUTION
print(f"trained in {time.perf_counter() - start:.0f} s")

# %% [raw]
# # END SOLUTION

# %%
q5_loss = np.asarray(q5_history.metrics["loss"])
q5_stats = mode_stats(q5_samples, RING8.centers, RING8.sigma)
print(f"loss: first steps {q5_loss[:20].mean():.3f}, last steps {q5_loss[-200:].mean():.3f}")
print(f"{RUN['sample_steps']} Euler steps: {q5_stats.modes_covered}/8 modes, {q5_stats.high_quality_fraction:.1%} "
      "high quality (within 3 sigma of a mode)")
q5_errors = {"untrained": q5_untrained} | {f"step {e['step']}": e["oracle_mse"] for e in q5_history.evals}
for name, err in q5_errors.items():
    print(f"{name:>10}: E|v - u|^2 at t = {q5_ts}: " + ", ".join(f"{v:.3g}" for v in err))
oracle_error(q5_ts, q5_errors)

# %% [raw]
# # BEGIN TESTS

# %%
def test_q5_batch_loss_returns_a_pair(q5_batch_loss):
    import jax
    import jax.numpy as jnp
    import numpy as np

    out = q5_batch_loss(lambda x, t: jnp.zeros_like(x), None, jax.random.key(0))
    assert type(out) is tuple and len(out) == 2, "q5_batch_loss returns the pair (loss, {}) that train_flow expects"
    assert np.shape(out[0]) == () and np.isfinite(float(out[0])), "the first entry is the scalar loss"
    assert 1.2 < float(out[0]) < 1.8, (
        "a zero model pays the mean of (x1 - x0)^2: E x1_i^2 + E x0_i^2 = 0.5 + 1 = 1.5 on ring8 data and N(0, I) noise")

# %%
# HIDDEN
def test_q5_trained_as_asked(q5_history):
    import numpy as np

    from genlab.presets import resolve_preset

    steps = {"tiny": 300, "cpu": 5000, "gpu": 20_000}[resolve_preset(None)]
    assert q5_history.steps[-1] == steps, f"train for RUN['steps'] = {steps} steps"
    loss = np.asarray(q5_history.metrics["loss"], dtype=float)
    assert np.isfinite(loss).all(), "the training loss must stay finite"
    k = max(10, len(loss) // 10)
    assert loss[-k:].mean() < loss[:k].mean(), "the flow-matching loss must fall during training"
    err = [e["oracle_mse"] for e in q5_history.evals]
    assert len(err) >= 2 and np.mean(err[-1]) < np.mean(err[0]), \
        "with the oracle callback: the error against the exact field must fall as the flow trains"

# %%
# HIDDEN
def test_q5_model_covers_the_ring(q5_model, q5_samples):
    import jax
    import numpy as np

    from genlab.data.toy2d import RING8
    from genlab.metrics.modes import mode_stats
    from genlab.models.mlp_field import MLPField
    from genlab.presets import resolve_preset
    from genlab.samplers.ode import sample_flow

    preset = resolve_preset(None)
    assert isinstance(q5_model, MLPField), f"q5_model is an MLPField, got {type(q5_model).__name__}"
    assert np.shape(q5_samples)[1:] == (2,) and np.isfinite(np.asarray(q5_samples, dtype=float)).all(), \
        "q5_samples are finite points [n, 2]: the last state of your Euler trajectory"
    x = np.asarray(sample_flow(q5_model, jax.random.normal(jax.random.key(77), (2500, 2)), steps=100).x)
    s = mode_stats(x, RING8.centers, RING8.sigma)
    need = {"tiny": (1, 0.0), "cpu": (8, 0.8), "gpu": (8, 0.9)}[preset]  # measured at cpu (seed 42): 8, 0.953
    assert s.modes_covered >= need[0] and s.high_quality_fraction >= need[1], (
        f"your flow with 100 Euler steps (genlab's sampler) covers {s.modes_covered}/8 modes with "
        f"{s.high_quality_fraction:.0%} high quality; expected >= {need[0]} and >= {need[1]:.0%}")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# *Look (ungraded).* At which $t$ is the learned field furthest from the exact one, and why there? (Near
# $t = 1$ the exact field must point precisely at one of eight modes of width 0.01; the posterior over the
# modes changes abruptly between them.)
#
# ## 4. Reflow: straighten the paths
#
# The learned flow maps each noise point $x_0$ to a sample $x_1 = \mathrm{ODE}(x_0)$: a **deterministic
# coupling** of noise and data. **Reflow** (Liu, Gong & Liu 2022) trains a new flow on these pairs. The pairs
# no longer cross as independent pairs do, so the new field has little to average: its paths are close to the
# straight lines from $x_0$ to $x_1$, and a straight path travelled at constant speed needs one Euler step.
# The **straightness** of a flow $Z$ measures how far it is from that:
#
# $$S(Z) = \int_0^1 \mathbb E\,\bigl\lVert (Z_1 - Z_0) - \dot Z_t \bigr\rVert^2\, dt \quad (= 0 \text{ for straight paths at constant speed}).$$
#
# On an Euler trajectory with $N$ steps, $\dot Z_t$ on step $k$ is $N (x_{k+1} - x_k)$ and the integral is the
# mean over the steps.

# %% [raw]
# # BEGIN QUESTION
# name: q6
# points: 2

# %% [markdown]
# **Q6. Reflow pairs (2 points).** Write `q6_reflow_pairs(field, key, n, steps, euler)`: draw `x0 =
# jax.random.normal(key, (n, 2))`, run `euler(field, x0, steps)` (a sampler with the interface of your
# `q3_euler`) and return `(x0, x1)` with `x1` its last state, both `[n, 2]`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q6_reflow_pairs(field, key, n, steps, euler):
    """(x0 [n, 2], x1 = ODE(x0) [n, 2]): noise and where the flow takes it."""
    # BEGIN SOLUTION
    x0 = jax.random.normal(key, (n, 2))
    return x0, euler(field, x0, steps)[-1]
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_q6_constant_field(q6_reflow_pairs):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from genlab.samplers.ode import odeint

    def euler(field, x0, steps):  # genlab's Euler with the interface of q3_euler
        return odeint(field, jnp.asarray(x0), method="euler", steps=steps, trajectory=True).xs

    x0, x1 = q6_reflow_pairs(lambda x, t: jnp.full_like(x, 2.0), jax.random.key(3), 16, 4, euler)
    assert np.shape(x0) == (16, 2) and np.shape(x1) == (16, 2), "x0 and x1 are both [n, 2]"
    np.testing.assert_allclose(np.asarray(x0), np.asarray(jax.random.normal(jax.random.key(3), (16, 2))), atol=1e-6,
                               err_msg="x0 = jax.random.normal(key, (n, 2))")
    np.testing.assert_allclose(np.asarray(x1), np.asarray(x0) + 2.0, atol=1e-5,
                               err_msg="a constant field 2 moves every point by 2 from t = 0 to 1: x1 = x0 + 2")

# %%
# HIDDEN
def test_q6_pairs_follow_the_field_and_the_key(q6_reflow_pairs):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from genlab.samplers.ode import odeint

    calls = []

    def euler(field, x0, steps):
        calls.append(steps)
        return odeint(field, jnp.asarray(x0), method="euler", steps=steps, trajectory=True).xs

    def field(x, t):
        return jnp.stack([-x[:, 1], x[:, 0]], axis=1) * (1.0 + t)  # a rotation

    a0, a1 = q6_reflow_pairs(field, jax.random.key(5), 64, 7, euler)
    b0, b1 = q6_reflow_pairs(field, jax.random.key(5), 64, 7, euler)
    c0, _ = q6_reflow_pairs(field, jax.random.key(6), 64, 7, euler)
    assert calls == [7, 7, 7], f"call the sampler passed in once, with the given steps; calls had steps {calls}"
    np.testing.assert_array_equal(np.asarray(a0), np.asarray(b0), err_msg="the same key gives the same pairs")
    np.testing.assert_array_equal(np.asarray(a1), np.asarray(b1), err_msg="the same key gives the same pairs")
    assert not np.allclose(np.asarray(a0), np.asarray(c0)), "another key gives other noise"
    want = odeint(field, a0, method="euler", steps=7).x
    np.testing.assert_allclose(np.asarray(a1), np.asarray(want), rtol=1e-5, atol=1e-5,
                               err_msg="x1 is the last state of the sampler's trajectory from x0")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q7
# points: 2

# %% [markdown]
# **Q7. Straightness (2 points).** Write `q7_straightness(xs)`: `xs: [N + 1, B, d]`, a trajectory on the
# uniform grid $t_k = k/N$ -> $S$ as a Python `float`: the mean over the $N$ steps and the $B$ paths of
# $\lVert (x_N - x_0) - N (x_{k+1} - x_k)\rVert^2$.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q7_straightness(xs):
    """xs: [N + 1, B, d] on t_k = k / N -> S (float)."""
    # BEGIN SOLUTION
    xs = jnp.asarray(xs)
    n = xs.shape[0] - 1
    chord = xs[-1] - xs[0]  # [B, d] Z1 - Z0
    speed = n * (xs[1:] - xs[:-1])  # [N, B, d] Z' on every step
    return float(jnp.mean(jnp.sum((chord[None] - speed) ** 2, axis=-1)))
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %%
q7_ts = np.linspace(0.0, 1.0, 101)
q7_arc = np.stack([np.cos(np.pi * q7_ts), np.sin(np.pi * q7_ts)], -1)[:, None, :]  # a half circle at speed pi
print(f"half circle: S = {q7_straightness(q7_arc):.3f} (pi^2 - 4 = {np.pi**2 - 4:.3f}); "
      f"exact ring8 field: S = {q7_straightness(q3_euler(exact_field, Z, RUN['sample_steps'])):.3f}")

# %% [raw]
# # BEGIN TESTS

# %%
def test_q7_straight_line_is_zero(q7_straightness):
    import numpy as np

    ts = np.linspace(0, 1, 11)[:, None, None]
    line = np.array([[1.0, -2.0], [0.0, 3.0]])[None] * ts + np.array([[0.5, 0.5], [-1.0, 0.0]])[None]  # [11, 2, 2]
    s = q7_straightness(line)
    assert type(s) is float, f"q7_straightness returns a Python float, got {type(s).__name__}"
    assert abs(s) < 1e-8, f"a straight path at constant speed has S = 0, got {s}"

# %%
# HIDDEN
def test_q7_matches_genlab(q7_straightness):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from genlab.samplers.reflow import straightness

    for n, b, d in ((1, 4, 2), (8, 16, 2), (25, 5, 3)):
        xs = jax.random.normal(jax.random.key(n), (n + 1, b, d))
        want = float(straightness(xs, jnp.linspace(0.0, 1.0, n + 1)))
        np.testing.assert_allclose(q7_straightness(xs), want, rtol=1e-4, atol=1e-6, err_msg=(
            f"N = {n}: the mean over steps and paths of |(x_N - x_0) - N (x_(k+1) - x_k)|^2"))
    ts = np.linspace(0.0, 1.0, 201)
    arc = 2.0 * np.stack([np.cos(np.pi * ts), np.sin(np.pi * ts)], -1)[:, None, :]
    np.testing.assert_allclose(q7_straightness(arc), 4 * (np.pi**2 - 4), rtol=0.01,
                               err_msg="a half circle of radius 2 at constant speed: S = |chord - velocity|^2 = 4 (pi^2 - 4)")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q8
# points: 3

# %% [markdown]
# **Q8. The 2-rectified flow (3 points).** (a) `q8_pairs`: `RUN["pairs"]` reflow pairs of your flow from Q5
# (`as_field(q5_model)`, key `k_q8`, `RUN["pair_steps"]` steps of your `q3_euler`). (b) `q8_model`: a copy of
# `q5_model` (`nnx.clone`; the 2-rectified flow starts from the 1-rectified weights) trained with
# `q8_pair_loss(model, batch, key)` (your `q2_fm_loss` on `batch["x0"], batch["x1"]` and your `q1_ot_path`;
# return `(loss, {})`) on `batches = pair_batches(x0, x1, RUN["batch"], SEED)` (random pairs per step) for
# `RUN["reflow_steps"]` steps with `OPTIM` and the key `k_q8`. (c) `q8_straightness_before` and
# `q8_straightness_after`: your `q7_straightness` of your Euler trajectories (`RUN["sample_steps"]` steps
# from `Z`) of `q5_model` and `q8_model`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q8_pair_loss(model, batch, key):
    """Flow matching on given pairs -> (loss, {})."""
    return q2_fm_loss(model, batch["x0"], batch["x1"], key, q1_ot_path), {}  # SOLUTION


start = time.perf_counter()
# BEGIN SOLUTION
q8_pairs = q6_reflow_pairs(as_field(q5_model), k_q8, RUN["pairs"], RUN["pair_steps"], q3_euler)
q8_model = nnx.clone(q5_model)
q8_history = train_flow(q8_model, q8_pair_loss, pair_batches(np.asarray(q8_pairs[0]), np.asarray(q8_pairs[1]),
                                                             RUN["batch"], SEED),
                        TrainConfig(steps=RUN["reflow_steps"], batch_size=RUN["batch"]), OPTIM, k_q8)
q8_straightness_before = q7_straightness(q3_euler(as_field(q5_model), Z, RUN["sample_steps"]))
q8_straightness_after = q7_straightness(q3_euler(as_field(q8_model), Z, RUN["sample_steps"]))
# END SOLUTION
print(f"pairs and reflow in {time.perf_counter() - start:.0f} s")

# %% [raw]
# # END SOLUTION

# %%
print(f"straightness: 1-rectified {q8_straightness_before:.3f}, 2-rectified {q8_straightness_after:.4f} "
      f"({q8_straightness_before / q8_straightness_after:.0f}x straighter)")
q8_samples = {}
for name, m in (("1-rectified", q5_model), ("2-rectified", q8_model)):
    for n in (1, 2, 4, RUN["sample_steps"]):
        x = np.asarray(q3_euler(as_field(m), Z, n)[-1])
        s = mode_stats(x, RING8.centers, RING8.sigma)
        q8_samples[f"{name}, {n} step{'s' * (n > 1)}"] = x
        print(f"{name}, {n} Euler step{'s' * (n > 1)}: {s.modes_covered}/8 modes, {s.high_quality_fraction:.1%} "
              "high quality")
samples_grid(q8_samples, centers=RING8.centers, lim=1.6, cols=4)

# %% [markdown]
# Learned against exact, before and after reflow, from the same 64 noise points: the 1-rectified flow
# follows the exact field's curved paths; the 2-rectified flow follows the straight chords from $x_0$ to
# where the 1-rectified flow took it (what reflow aims for).

# %%
z64 = Z[:64]
q8_chords = np.stack([np.asarray(z64), np.asarray(q3_euler(as_field(q5_model), z64, RUN["sample_steps"])[-1])])
trajectories({"1-rectified (learned)": q3_euler(as_field(q5_model), z64, RUN["sample_steps"]),
              "exact field (oracle)": q3_euler(exact_field, z64, RUN["sample_steps"]),
              "2-rectified (learned)": q3_euler(as_field(q8_model), z64, RUN["sample_steps"]),
              "reflow target: chords": q8_chords}, centers=RING8.centers)

# %% [raw]
# # BEGIN TESTS

# %%
def test_q8_pairs_and_numbers(q8_pairs, q8_straightness_before, q8_straightness_after):
    import numpy as np

    x0, x1 = (np.asarray(a, dtype=float) for a in q8_pairs)
    assert x0.shape == x1.shape and x0.ndim == 2 and x0.shape[1] == 2, "q8_pairs is (x0, x1), both [n, 2]"
    assert np.isfinite(x1).all(), "the simulated endpoints x1 must be finite"
    for s in (q8_straightness_before, q8_straightness_after):
        assert type(s) is float and s >= 0, "both straightness numbers are non-negative Python floats from Q7"

# %%
# HIDDEN
def test_q8_reflow_straightens_and_one_step_works(q5_model, q8_model, q8_pairs):
    import jax
    import numpy as np

    from genlab.data.toy2d import RING8
    from genlab.metrics.modes import mode_stats
    from genlab.models.mlp_field import MLPField
    from genlab.presets import resolve_preset
    from genlab.samplers.ode import sample_flow
    from genlab.samplers.reflow import model_straightness

    preset = resolve_preset(None)
    assert isinstance(q8_model, MLPField) and q8_model is not q5_model, \
        "q8_model is a trained copy of q5_model (nnx.clone), not q5_model itself"
    n = {"tiny": 2048, "cpu": 20_000, "gpu": 100_000}[preset]
    assert len(q8_pairs[0]) == n, f"simulate RUN['pairs'] = {n} pairs"
    z = jax.random.normal(jax.random.key(78), (2500, 2))
    before, after = float(model_straightness(q5_model, z, steps=100)), float(model_straightness(q8_model, z, steps=100))
    # measured at cpu (seed 42): S 0.802 -> 0.0041 (197x), one Euler step 8/8 modes (45 % high quality)
    need_ratio, need_modes = {"tiny": (1.0, 0), "cpu": (5.0, 8), "gpu": (5.0, 8)}[preset]
    assert before / after >= need_ratio, (
        f"reflow should straighten the paths: S fell from {before:.3f} to {after:.4f} ({before / after:.1f}x), "
        f"expected at least {need_ratio}x")
    x = np.asarray(sample_flow(q8_model, z, steps=1).x)
    modes = mode_stats(x, RING8.centers, RING8.sigma).modes_covered
    assert modes >= need_modes, (
        f"the 2-rectified flow at one Euler step covers {modes}/8 modes (genlab's sampler); expected >= {need_modes}")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# *Explain (ungraded, 3–4 sentences).* Why does one Euler step of the exact field (the best a first flow can
# learn) land every point in the middle of the ring, while one step of the 2-rectified flow lands on the modes?
# What did the 2-rectified flow give up in return (compare its high-quality fraction at 100 steps with the
# 1-rectified flow's), and what would a second reflow round do? Write your answer in `q8_explanation`.

# %%
q8_explanation = """
(your answer)
"""
