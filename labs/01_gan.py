# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 01_gan
# seed:
#   variable: SEED
#   autograder_value: 42
#   student_value: 42

# %% [markdown]
# # Lab 01: GANs — Generator gegen Diskriminator, Mode Collapse und Divergenz, in Zahlen
#
# A GAN trains two networks against each other: the **generator** G turns noise z into samples,
# the **discriminator** D tells real samples from generated ones. The lecture names the two ways
# this game goes wrong: **mode collapse** (G produces only a few kinds of output) and **divergence**
# (one network wins, the other stops learning, training never settles). In this lab you measure both,
# on a data set where every "kind of output" can be counted: eight Gaussians on a ring (`ring8`).
#
# | Begriff (Vorlesung) | English | Wo im Lab |
# |---|---|---|
# | Generator | generator G(z) | §1, Q1 (its loss), Q3 |
# | Diskriminator | discriminator D(x) (returns a logit) | §1, Q1 (its loss), Q4 (packing) |
# | Mode Collapse | mode collapse: G covers few of the 8 modes | Q2 (the metric), Q3 (reproduce), Q4 (fix), Q5 |
# | Divergenz | divergence: the game does not settle; D overpowers G; NaN | Q1 (saturating loss), Q5, Q6 (R1) |
#
# **Plan.** Q1 losses · Q2 the mode-coverage metric · Q3 train a vanilla GAN and watch it collapse ·
# Q4 implement PacGAN packing and watch coverage come back · Q5 diagnose pre-recorded failing runs ·
# Q6 the smallest GAN that diverges (DiracGAN) and the R1 penalty that makes it converge.
#
# **Time.** The setup cell picks a preset from your hardware (`cpu` without a GPU). At `cpu` the
# two trainings (Q3, Q4) take about a minute each on a 2-core laptop, the whole lab well under
# 15 minutes; on a GPU (`gpu`) a few minutes in total.

# %%
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from genlab.data.toy2d import RING8, batch_sampler
from genlab.diagnostics.coverage import SampleRecorder, coverage_callback
from genlab.figures.dirac import dirac_portrait
from genlab.figures.gan2d import coverage_over_time, d_outputs_and_grad_norms, samples_over_training
from genlab.models.gan import MLPDiscriminator, MLPGenerator
from genlab.notebook import lab_setup
from genlab.objectives.gan import GANSettings, make_gan_step
from genlab.presets import resolve_preset
from genlab.samplers.gan import generate
from genlab.train import fit

SEED = 42  # otter sets the grading seed here; every key below comes from it
PRESET = resolve_preset(os.environ.get("GENLAB_PRESET"))  # tiny | cpu | gpu (from the hardware when unset)
lab_setup(PRESET)  # Jupyter/Colab: figures show as images; an answer not written yet says so instead of failing

# One GAN run on ring8 per preset. The networks are the classic 2D setup (Metz et al. 2017):
# G = MLP 256 -> 128 -> 128 -> 2, D = MLP 2 -> 128 -> 1; Adam (beta1 = 0.5) with a cosine decay of the
# learning rate to 0, so that the samples settle on the modes at the end.
RUNS = {
    "tiny": dict(steps=1500, batch_size=256, lr=2e-3, eval_every=300, takes="about 20 s (2-core CPU)"),
    "cpu": dict(steps=6000, batch_size=256, lr=2e-3, eval_every=500, takes="about 1 min (2-core CPU)"),
    "gpu": dict(steps=10000, batch_size=256, lr=2e-3, eval_every=1000, takes="under a minute (GPU)"),
}
RUN = RUNS[PRESET]
N_EVAL = 2500  # samples per evaluation (the VEEGAN protocol)
print(f"preset {PRESET}: {RUN['steps']} steps per training; the trainings in Q3 and Q4 take {RUN['takes']} each")

# %% [markdown]
# ## 1. The data: eight modes on a ring
#
# `RING8` has 8 Gaussian modes with means $(\cos 2\pi k/8, \sin 2\pi k/8)$, $k = 0..7$, and a very
# small standard deviation $\sigma = 0.01$: a good sample lies almost exactly on one of 8 points.
# `RING8.centers` is the `[8, 2]` array of means, `RING8.sigma` the standard deviation.

# %%
real = np.asarray(RING8.sample(jax.random.key(SEED), N_EVAL))  # [2500, 2]
print("real samples:", real.shape, "centers:", RING8.centers.shape, "sigma:", RING8.sigma)

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 2

# %% [markdown]
# **Q1. The two losses (2 points).** D returns a *logit* $l$ (a real number); its probability that
# the input is real is $D(x) = \sigma(l)$. Write
#
# - `q1_discriminator_loss(real_logits, fake_logits)`: the loss D minimises,
#   $-\mathbb{E}\log D(x) - \mathbb{E}\log(1 - D(G(z)))$ (binary cross-entropy: real = 1, fake = 0);
# - `q1_generator_loss(fake_logits)`: the **non-saturating** generator loss $-\mathbb{E}\log D(G(z))$.
#
# Both take `[B]` arrays and return a scalar (mean over the batch). Write them **on the logits**, not
# on $\sigma(l)$: $\log\sigma(l)$ rounds to $-\infty$ for $l = -100$ in float32. The identities
# $-\log\sigma(l) = \mathrm{softplus}(-l)$ and $-\log(1-\sigma(l)) = \mathrm{softplus}(l)$ help
# (`jax.nn.softplus`, `jax.nn.log_sigmoid`).

# %% [raw]
# # BEGIN SOLUTION

# %%
def q1_discriminator_loss(real_logits, fake_logits):
    """real_logits, fake_logits: [B] -> scalar."""
    # BEGIN SOLUTION
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
    # END SOLUTION


def q1_generator_loss(fake_logits):
    """fake_logits: [B] -> scalar (non-saturating)."""
    # BEGIN SOLUTION
    return jnp.mean(jax.nn.softplus(-fake_logits))
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_q1_at_zero(q1_discriminator_loss, q1_generator_loss):
    import jax.numpy as jnp
    import numpy as np

    # D undecided (D = 1/2 everywhere): D loss 2 log 2, G loss log 2
    d = q1_discriminator_loss(jnp.zeros(4), jnp.zeros(4))
    g = q1_generator_loss(jnp.zeros(4))
    assert d is not None and g is not None, "both losses must return a value (a function without `return` gives None)"
    for loss in (d, g):
        assert type(loss) in (np.ndarray, np.float32, np.float64, float), \
            f"a loss is a number (a JAX or NumPy scalar), not a {type(loss).__name__}"
    assert np.shape(d) == () and np.shape(g) == (), "both losses must return a scalar: the mean over the batch"
    assert abs(float(d) - 2 * np.log(2)) < 1e-4, \
        f"with D undecided (logits 0, D = 1/2) the discriminator loss is 2 log 2 = 1.386, not {float(d):.4g}"
    assert abs(float(g) + np.log(2)) > 1e-4, ("q1_generator_loss is -log 2 at logits 0: that is the saturating loss "
                                              "log(1 - D(G(z))); the non-saturating loss -log D(G(z)) is +log 2 there")
    assert abs(float(g) - np.log(2)) < 1e-4, \
        f"with D undecided (logits 0, D = 1/2) the generator loss -log D(G(z)) is log 2 = 0.693, not {float(g):.4g}"

# %%
def test_q1_stable_for_large_logits(q1_discriminator_loss, q1_generator_loss):
    import jax.numpy as jnp
    import numpy as np

    big = jnp.full((3,), 100.0)
    values = [q1_discriminator_loss(big, -big), q1_discriminator_loss(-big, big), q1_generator_loss(-big)]
    assert all(v is not None for v in values), "both losses must return a value (a function without `return` gives None)"
    assert all(type(v) in (np.ndarray, np.float32, np.float64, float) and np.shape(v) == () for v in values), \
        "both losses return a scalar number"
    d_sure, d_fooled, g_lost = (float(v) for v in values)  # D right and certain; D wrong and certain; G rejected
    assert np.isfinite([d_sure, d_fooled, g_lost]).all(), (
        "a loss is inf or nan at logits +-100: write it on the logits (softplus, log_sigmoid), not as "
        "log(sigmoid(l)), which rounds to log(0) = -inf in float32")
    assert abs(d_sure) < 1e-3 and abs(d_fooled - 200) < 1e-2 and abs(g_lost - 100) < 1e-2, (
        f"at logits +-100 the losses must be 0 (D right), 200 (D wrong) and 100 (G rejected), "
        f"got {d_sure:.4g}, {d_fooled:.4g}, {g_lost:.4g}")

# %%
def test_q1_non_saturating_gradient(q1_generator_loss):
    import jax
    import jax.numpy as jnp
    import numpy as np

    # D rejects the fakes (logit -8, D(G(z)) ~ 3e-4): the NS gradient per logit stays near -1/B
    logits = jnp.full((4,), -8.0)
    grad = q1_generator_loss.grad(logits)  # jax.grad of your loss, taken in your notebook's process
    assert type(grad) is np.ndarray and grad.shape == (4,), "the gradient of the loss has the logits' shape [B]"
    per_sample = 4 * grad.astype(float)
    d_fake = float(jax.nn.sigmoid(-8.0))
    assert np.allclose(per_sample, -(1 - d_fake), rtol=1e-3), (
        f"where D rejects the fakes (logit -8, D(G(z)) = {d_fake:.1e}) the non-saturating loss keeps a gradient of "
        f"-(1 - D(G(z))) = -0.9997 per sample, yours is {per_sample[0]:.3g}: a saturating loss lets it vanish there "
        "and G stops learning")

# %%
# HIDDEN
def test_q1_matches_genlab(q1_discriminator_loss, q1_generator_loss):
    import jax
    import numpy as np

    from genlab.objectives import gan

    k_r, k_f = jax.random.split(jax.random.key(3))
    real, fake = 3 * jax.random.normal(k_r, (64,)), 3 * jax.random.normal(k_f, (64,))
    for loss in (q1_discriminator_loss(real, fake), q1_generator_loss(fake)):
        assert type(loss) in (np.ndarray, np.float32, np.float64, float), "both losses return a number"
    d, want_d = float(q1_discriminator_loss(real, fake)), float(gan.discriminator_loss(real, fake, "non_saturating"))
    g, want_g = float(q1_generator_loss(fake)), float(gan.generator_loss(fake, "non_saturating"))
    assert abs(d - want_d) < 1e-4 * abs(want_d), \
        f"on random logits the discriminator loss should be {want_d:.5g} (binary cross-entropy, real = 1), got {d:.5g}"
    assert abs(g - want_g) < 1e-4 * abs(want_g), \
        f"on random logits the generator loss should be {want_g:.5g} (-mean log D(G(z))), got {g:.5g}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# *Why "non-saturating"?* The original minimax generator minimises $\log(1 - D(G(z)))$. Its derivative
# with respect to the logit is $-\sigma(l) = -D(G(z))$: when D confidently rejects the fakes
# ($D(G(z)) \to 0$, early in training) the gradient vanishes and G stops learning. The non-saturating
# loss has derivative $-(1 - D(G(z))) \approx -1$ there. The cell below shows both (per sample).

# %%
for logit in (-8.0, -2.0, 0.0, 2.0):
    sat = jax.grad(lambda l: jnp.log1p(-jax.nn.sigmoid(l)))(logit)  # d/dl log(1 - D)
    ns = jax.grad(lambda l: -jax.nn.log_sigmoid(l))(logit)  # d/dl -log D
    d = float(jax.nn.sigmoid(logit))
    print(f"D(G(z)) = {d:.4f}: saturating {float(sat):+.4f}, non-saturating {float(ns):+.4f}")

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 2

# %% [markdown]
# **Q2. Counting modes (2 points).** The VEEGAN metrics (Srivastava et al. 2017) judge N samples
# against K known modes with standard deviation $\sigma$:
#
# - a sample is **high quality** if its Euclidean distance to its *nearest* mode is at most $3\sigma$;
# - a mode is **covered** if at least one high-quality sample has it as its nearest mode.
#
# Write `q2_mode_coverage(samples, centers, sigma)` for `samples: [N, 2]`, `centers: [K, 2]` that
# returns the tuple `(modes_covered, high_quality_fraction)`: an `int` in 0..K and a `float` in [0, 1].
# A perfect sampler of `ring8` scores 8 modes and about $1 - e^{-4.5} \approx 98.9\,\%$ high quality.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q2_mode_coverage(samples, centers, sigma):
    """samples: [N, 2], centers: [K, 2] -> (modes covered, fraction of high-quality samples)."""
    # BEGIN SOLUTION
    x, c = np.asarray(samples, np.float64), np.asarray(centers, np.float64)
    dist = np.sqrt(((x[:, None, :] - c[None, :, :]) ** 2).sum(-1))  # [N, K]
    nearest = dist.argmin(axis=1)  # [N]
    hq = dist.min(axis=1) <= 3 * sigma  # [N]
    return len(np.unique(nearest[hq])), float(hq.mean())
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %%
q2_real_coverage = q2_mode_coverage(real, RING8.centers, RING8.sigma)
print("real data:", q2_real_coverage)

# %% [raw]
# # BEGIN TESTS

# %%
def test_q2_real_data(q2_mode_coverage):
    import jax
    import numpy as np

    from genlab.data.toy2d import RING8

    x = np.asarray(RING8.sample(jax.random.key(0), 2500))
    out = q2_mode_coverage(x, RING8.centers, RING8.sigma)
    assert type(out) in (tuple, list) and len(out) == 2, \
        f"q2_mode_coverage must return the pair (modes_covered, high_quality_fraction), got {type(out).__name__}"
    modes, hq = out
    assert type(modes) in (int, np.int64, np.int32, np.ndarray) and np.ndim(modes) == 0, \
        f"modes_covered is an int, not a {type(modes).__name__}"
    assert type(hq) in (float, np.float64, np.float32, np.ndarray) and np.ndim(hq) == 0, \
        f"high_quality_fraction is a float, not a {type(hq).__name__}"
    assert int(modes) == 8, f"real ring8 data covers all 8 modes, got {modes}"
    assert 0.97 < float(hq) <= 1.0, f"real data is about 98.9 % high quality (within 3 sigma), got {float(hq):.4g}"

# %%
def test_q2_three_sigma_rule(q2_mode_coverage):
    import numpy as np

    centers = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # one good sample at mode 0; mode 1 only has samples at 4 sigma; mode 2 none; one sample far away
    x = np.array([[0.02, 0.0], [1.04, 0.0], [1.0, -0.04], [5.0, 5.0]])
    out = q2_mode_coverage(x, centers, 0.01)
    assert type(out) in (tuple, list) and len(out) == 2, \
        f"q2_mode_coverage must return the pair (modes_covered, high_quality_fraction), got {type(out).__name__}"
    modes, hq = out
    assert int(modes) == 1, ("samples 4 sigma from mode 1 are not high quality, so they do not cover it: "
                             f"1 mode covered, not {modes}")
    assert abs(float(hq) - 0.25) < 1e-9, f"1 of the 4 samples lies within 3 sigma of its nearest mode: 0.25, not {hq}"
    modes, hq = q2_mode_coverage(x, centers, 0.02)  # now 1.04 is within 3 sigma = 0.06
    assert (int(modes), float(hq)) == (2, 0.75), \
        f"with sigma = 0.02 three samples lie within 3 sigma and cover 2 modes: (2, 0.75), not ({modes}, {hq})"
    # two close modes: the sample lies within 3 sigma of both but is nearest to the second only
    modes, _ = q2_mode_coverage(np.array([[0.028, 0.0]]), np.array([[0.0, 0.0], [0.05, 0.0]]), 0.01)
    assert int(modes) == 1, "a sample covers only its *nearest* mode, even if another is within 3 sigma"

# %%
# HIDDEN
def test_q2_matches_genlab(q2_mode_coverage):
    import numpy as np

    from genlab.data.toy2d import GRID25, RING8
    from genlab.metrics.modes import mode_stats

    rng = np.random.default_rng(0)
    for data, n in ((RING8, 300), (GRID25, 500)):
        k = len(data.centers)
        for spread in (1.0, 3.0, 10.0):  # from mostly good to mostly bad samples
            idx = rng.integers(0, k // 2 + 1, n)  # only some modes are used
            x = data.centers[idx] + spread * data.sigma * rng.normal(size=(n, 2))
            want = mode_stats(x, data.centers, data.sigma)
            out = q2_mode_coverage(x, data.centers, data.sigma)
            assert type(out) in (tuple, list) and len(out) == 2, "q2_mode_coverage returns (modes_covered, hq)"
            modes, hq = out
            assert int(modes) == want.modes_covered, \
                f"{data.name}, samples spread {spread} sigma: {want.modes_covered} modes are covered, not {modes}"
            assert abs(float(hq) - want.high_quality_fraction) < 1e-9, (
                f"{data.name}, samples spread {spread} sigma: the high-quality fraction is "
                f"{want.high_quality_fraction:.4f}, not {float(hq):.4f}")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 2. Training a GAN on ring8
#
# A GAN's settings live in one `GANSettings(...)`: the loss (`loss="non_saturating"`, Q1's) and, in Q4,
# the packing degree. `build_gan(key, settings)` makes G, D and their optimisers for those settings.
# `make_gan_step(settings, sample_real=ring8_batch)` is genlab's train step: one D update (on a fresh
# real batch and fresh fakes), then one G update; `ring8_batch(key)` draws its real batch of
# `RUN["batch_size"]` ring8 points. `fit(objects, step, batches, steps=..., key=...)` runs it; with
# `batches=None` the step draws its own data from its key. `coverage_callback` evaluates the VEEGAN
# numbers every `eval_every` steps into `history.evals`; a `SampleRecorder` keeps 500 samples at each
# evaluation for the figures.

# %%
ring8_batch = batch_sampler("ring8", RUN["batch_size"])  # ring8_batch(key) -> [B, 2] real points


def build_gan(key, settings):
    """(G, D, opt_g, opt_d) for ring8; D reads `settings.pack` samples at once (2 * pack inputs)."""
    k_g, k_d = jax.random.split(key)
    G = MLPGenerator(latent_dim=256, width=128, depth=2, rngs=nnx.Rngs(k_g))
    D = MLPDiscriminator(in_dim=2 * settings.pack, width=128, depth=1, rngs=nnx.Rngs(k_d))
    lr = optax.cosine_decay_schedule(RUN["lr"], RUN["steps"])
    opt_g = nnx.Optimizer(G, optax.adam(lr, b1=0.5), wrt=nnx.Param)
    opt_d = nnx.Optimizer(D, optax.adam(lr, b1=0.5), wrt=nnx.Param)
    return G, D, opt_g, opt_d


def nearest_mode_counts(samples, centers):
    """How many samples have each mode as nearest mode, good or not: [K] ints."""
    d2 = ((np.asarray(samples)[:, None, :] - np.asarray(centers)[None]) ** 2).sum(-1)
    return np.bincount(d2.argmin(axis=1), minlength=len(centers))


k_q3, k_q4, k_eval = jax.random.split(jax.random.key(SEED), 3)

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 2

# %% [markdown]
# **Q3. Reproduce mode collapse (2 points).** Train the vanilla GAN for `RUN["steps"]` steps:
# build it with `build_gan(k_init, q3_settings)`, run `fit` with the step `q3_step` and key `k_train`, and pass
# `callbacks=[q3_eval, q3_snapshots]` and `callback_every=RUN["eval_every"]`. Keep the returned history in
# `q3_history`. Then draw `q3_samples`: `N_EVAL` samples of the trained G as a NumPy array
# `[2500, 2]` (use `generate(G, k_eval, N_EVAL)`), and measure them:
#
# - `q3_modes, q3_hq`: your `q2_mode_coverage` of `q3_samples`;
# - `q3_top_share`: the fraction of samples whose nearest mode is the *most popular* nearest mode
#   (use `nearest_mode_counts`). It ignores sample quality: 1/8 for a perfect sampler, 1 for a
#   generator that puts everything near one mode.

# %% [raw]
# # BEGIN SOLUTION

# %%
k_init, k_train = jax.random.split(k_q3)
q3_settings = GANSettings(loss="non_saturating")
q3_step = make_gan_step(q3_settings, sample_real=ring8_batch)
q3_eval = coverage_callback(RING8, k_eval, N_EVAL)
q3_snapshots = SampleRecorder(k_eval, 500)
q3_G, q3_D, q3_opt_g, q3_opt_d = build_gan(k_init, q3_settings)
start = time.perf_counter()
# q3_history = fit(...): your code here
# BEGIN SOLUTION
q3_history = fit((q3_G, q3_D, q3_opt_g, q3_opt_d), q3_step, None, steps=RUN["steps"], key=k_train,
                 callbacks=[q3_eval, q3_snapshots], callback_every=RUN["eval_every"], desc="Q3 vanilla GAN")
# END SOLUTION
print(f"trained in {time.perf_counter() - start:.0f} s")
q3_samples = np.asarray(generate(q3_G, k_eval, N_EVAL))  # SOLUTION
q3_modes, q3_hq = q2_mode_coverage(q3_samples, RING8.centers, RING8.sigma)  # SOLUTION
q3_top_share = nearest_mode_counts(q3_samples, RING8.centers).max() / len(q3_samples)  # SOLUTION

# %% [raw]
# # END SOLUTION

# %%
print(f"vanilla GAN: {q3_modes}/8 modes, {q3_hq:.1%} high quality, largest mode share {q3_top_share:.0%}")
print("modes covered during training:", [(e["step"], e["modes_covered"]) for e in q3_history.evals])

# %% [raw]
# # BEGIN TESTS

# %%
def test_q3_samples(q3_samples, q3_modes, q3_hq, q3_top_share):
    import numpy as np

    for name, value in (("q3_samples", q3_samples), ("q3_modes", q3_modes), ("q3_hq", q3_hq),
                        ("q3_top_share", q3_top_share)):
        assert value is not None and value is not Ellipsis, f"{name} is not set yet: compute it in the cell under Q3"
    assert type(q3_samples) is np.ndarray, f"q3_samples must be a NumPy array (np.asarray(...)), got {type(q3_samples).__name__}"
    x = q3_samples.astype(float)
    assert x.shape == (2500, 2), f"q3_samples must be N_EVAL = 2500 points [2500, 2], got shape {x.shape}"
    assert np.isfinite(x).all(), "q3_samples holds NaN or inf: the generator diverged; train it again"
    assert 0 <= int(q3_modes) <= 8 and 0.0 <= float(q3_hq) <= 1.0, \
        f"q3_modes counts modes (0..8) and q3_hq is a fraction (0..1), got {q3_modes} and {q3_hq}"
    assert 1 / 8 <= float(q3_top_share) <= 1.0, \
        f"q3_top_share is the fraction of samples at the most popular mode, at least 1/8, got {q3_top_share}"

# %%
# HIDDEN
def test_q3_numbers_come_from_your_functions(q3_samples, q3_modes, q3_hq, q3_top_share, q2_mode_coverage):
    import numpy as np

    from genlab.data.toy2d import RING8

    assert type(q3_samples) is np.ndarray, "q3_samples must be a NumPy array"
    x = q3_samples.astype(float)
    modes, hq = q2_mode_coverage(x, RING8.centers, RING8.sigma)  # your Q2, right or wrong: Q3 grades only its use
    assert (int(q3_modes), float(q3_hq)) == (int(modes), float(hq)), \
        f"q3_modes, q3_hq must be your q2_mode_coverage of q3_samples, i.e. {(int(modes), float(hq))}"
    d2 = ((x[:, None] - RING8.centers[None]) ** 2).sum(-1)
    share = np.bincount(d2.argmin(1), minlength=8).max() / len(x)
    assert abs(float(q3_top_share) - share) < 1e-6, \
        f"q3_top_share is the largest count of nearest_mode_counts(q3_samples, ...) over 2500: {share:.4f}"

# %%
# HIDDEN
def test_q3_collapsed(q3_samples, q3_history):
    import numpy as np

    from genlab.data.toy2d import RING8
    from genlab.grading.channel import Record
    from genlab.grading.settings import for_preset
    from genlab.metrics.modes import mode_stats  # the reference metric judges the samples, not your Q2

    steps = for_preset({"tiny": 1500, "cpu": 6000, "gpu": 10000})  # RUNS[...]["steps"], at the grader's preset
    assert type(q3_history) is Record and type(q3_history.steps) is list, "q3_history is the History that fit returns"
    assert q3_history.steps[-1] == steps, f"train for RUN['steps'] = {steps} steps with fit"
    assert type(q3_samples) is np.ndarray, "q3_samples must be a NumPy array"
    x = q3_samples.astype(float)
    s = mode_stats(x, RING8.centers, RING8.sigma)
    d2 = ((x[:, None] - RING8.centers[None]) ** 2).sum(-1)
    share = np.bincount(d2.argmin(1), minlength=8).max() / len(x)
    assert share >= 0.3, f"the vanilla GAN should crowd its samples near few modes (largest share {share:.2f}, expected >= 0.3)"
    assert s.modes_covered <= 5, f"the vanilla GAN should cover few modes, it covers {s.modes_covered} of 8"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Where were the samples during training? Each panel is one evaluation (500 samples, the same z
# every time; red crosses: the 8 modes). Then the discriminator's outputs and both gradient norms.

# %%
samples_over_training(q3_snapshots.snapshots, RING8.centers, history=q3_history, title="vanilla GAN on ring8")

# %%
d_outputs_and_grad_norms(q3_history, "vanilla GAN (non-saturating loss)")

# %% [raw]
# # BEGIN QUESTION
# name: q4
# points: 3

# %% [markdown]
# **Q4. Fix it: PacGAN packing (3 points).** A collapsed generator fools D sample by sample: each fake
# lies near a real mode. PacGAN (Lin et al. 2018) lets D judge **m samples at once**: it concatenates
# m real (or m fake) samples into one input. A batch of m fakes that all sit on the same mode looks
# nothing like m real samples, which come from different modes, so D can now punish collapse.
#
# (a) Write `q4_pack(x, m)`: `[B, d] -> [B/m, m·d]`, row i the concatenation of samples
# `i·m, ..., i·m + m − 1` (in that order). Raise a `ValueError` when B is not a multiple of m.
#
# (b) Train the same GAN with packing m = 4: `q4_settings = GANSettings(..., pack=4)`, then
# `build_gan(k_init, q4_settings)` (D widens to 4 samples) and `make_gan_step(q4_settings, ...)` (the step
# packs with `genlab.objectives.gan.pack`, which does what your `q4_pack` does). Keep `q4_history`,
# `q4_samples`, `q4_modes, q4_hq` and `q4_top_share` exactly as in Q3.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q4_pack(x, m):
    """x: [B, d] -> [B/m, m*d]."""
    # BEGIN SOLUTION
    if x.shape[0] % m:
        raise ValueError(f"batch size {x.shape[0]} is not a multiple of m = {m}")
    return x.reshape(x.shape[0] // m, m * x.shape[1])
    # END SOLUTION


k_init, k_train = jax.random.split(k_q4)
q4_eval = coverage_callback(RING8, k_eval, N_EVAL)
q4_snapshots = SampleRecorder(k_eval, 500)
q4_settings = GANSettings(loss="non_saturating", pack=4)  # SOLUTION
q4_step = make_gan_step(q4_settings, sample_real=ring8_batch)  # SOLUTION
q4_G, q4_D, q4_opt_g, q4_opt_d = build_gan(k_init, q4_settings)  # SOLUTION
start = time.perf_counter()
# q4_history = fit(...): your code here
# BEGIN SOLUTION
q4_history = fit((q4_G, q4_D, q4_opt_g, q4_opt_d), q4_step, None, steps=RUN["steps"], key=k_train,
                 callbacks=[q4_eval, q4_snapshots], callback_every=RUN["eval_every"], desc="Q4 PacGAN4")
# END SOLUTION
print(f"trained in {time.perf_counter() - start:.0f} s")
q4_samples = np.asarray(generate(q4_G, k_eval, N_EVAL))  # SOLUTION
q4_modes, q4_hq = q2_mode_coverage(q4_samples, RING8.centers, RING8.sigma)  # SOLUTION
q4_top_share = nearest_mode_counts(q4_samples, RING8.centers).max() / len(q4_samples)  # SOLUTION

# %% [raw]
# # END SOLUTION

# %%
print(f"vanilla GAN: {q3_modes}/8 modes, {q3_hq:.1%} high quality, largest mode share {q3_top_share:.0%}")
print(f"PacGAN4:     {q4_modes}/8 modes, {q4_hq:.1%} high quality, largest mode share {q4_top_share:.0%}")

# %% [raw]
# # BEGIN TESTS

# %%
def test_q4_pack_small(q4_pack):
    import numpy as np

    x = np.arange(12.0).reshape(6, 2)
    p = q4_pack(x, 3)
    assert p is not None, "q4_pack must return the packed array (a function without `return` gives None)"
    assert type(p) is np.ndarray, f"q4_pack returns an array, not a {type(p).__name__}"
    assert p.shape == (2, 6), f"[6, 2] packed by m = 3 is [2, 6] (B/m rows of m*d numbers), got {p.shape}"
    assert np.array_equal(p[0], [0, 1, 2, 3, 4, 5]), \
        f"row 0 of the packed batch is samples 0, 1, 2 one after the other: [0 1 2 3 4 5], got {p[0]}"

# %%
def test_q4_samples(q4_samples, q4_modes, q4_top_share):
    import numpy as np

    for name, value in (("q4_samples", q4_samples), ("q4_modes", q4_modes), ("q4_top_share", q4_top_share)):
        assert value is not None and value is not Ellipsis, f"{name} is not set yet: compute it in the cell under Q4"
    assert type(q4_samples) is np.ndarray, f"q4_samples must be a NumPy array (np.asarray(...)), got {type(q4_samples).__name__}"
    x = q4_samples.astype(float)
    assert x.shape == (2500, 2) and np.isfinite(x).all(), f"q4_samples must be 2500 finite points [2500, 2], got {x.shape}"
    assert 0 <= int(q4_modes) <= 8 and 1 / 8 <= float(q4_top_share) <= 1.0, \
        f"q4_modes counts modes (0..8), q4_top_share is a fraction >= 1/8; got {q4_modes} and {q4_top_share}"

# %%
# HIDDEN
def test_q4_pack_matches_genlab(q4_pack):
    import jax
    import numpy as np

    from genlab.objectives.gan import pack

    x = np.asarray(jax.random.normal(jax.random.key(1), (24, 2)))
    for m in (1, 2, 4, 8):
        got = q4_pack(x, m)
        assert type(got) is np.ndarray and got.shape == (24 // m, 2 * m), f"q4_pack(x, {m}) of 24 samples is [{24 // m}, {2 * m}]"
        assert np.allclose(got, np.asarray(pack(x, m))), \
            f"q4_pack(x, {m}) of 24 samples: row i must be samples i*m .. i*m + m - 1 concatenated"
    try:
        q4_pack(x, 5)
    except ValueError:
        pass
    else:
        raise AssertionError("q4_pack(x, 5) with 24 samples must raise ValueError: 24 is not a multiple of 5")

# %%
# HIDDEN
def test_q4_numbers_come_from_your_functions(q4_samples, q4_modes, q4_hq, q4_top_share, q2_mode_coverage):
    import numpy as np

    from genlab.data.toy2d import RING8

    assert type(q4_samples) is np.ndarray, "q4_samples must be a NumPy array"
    x = q4_samples.astype(float)
    modes, hq = q2_mode_coverage(x, RING8.centers, RING8.sigma)  # your Q2, right or wrong: Q4 grades only its use
    assert (int(q4_modes), float(q4_hq)) == (int(modes), float(hq)), \
        f"q4_modes, q4_hq must be your q2_mode_coverage of q4_samples, i.e. {(int(modes), float(hq))}"
    d2 = ((x[:, None] - RING8.centers[None]) ** 2).sum(-1)
    share = np.bincount(d2.argmin(1), minlength=8).max() / len(x)
    assert abs(float(q4_top_share) - share) < 1e-6, \
        f"q4_top_share is the largest count of nearest_mode_counts(q4_samples, ...) over 2500: {share:.4f}"

# %%
# HIDDEN
def test_q4_packing_covers_more(q4_samples, q4_history, q3_samples):
    import numpy as np

    from genlab.data.toy2d import RING8
    from genlab.grading.channel import Record
    from genlab.grading.settings import for_preset, preset
    from genlab.metrics.modes import mode_stats  # the reference metric judges the samples, not your Q2

    steps = for_preset({"tiny": 1500, "cpu": 6000, "gpu": 10000})  # RUNS[...]["steps"], at the grader's preset
    assert type(q4_history) is Record and type(q4_history.steps) is list, "q4_history is the History that fit returns"
    assert q4_history.steps[-1] == steps, f"train for RUN['steps'] = {steps} steps with fit"
    assert type(q4_samples) is np.ndarray and type(q3_samples) is np.ndarray, "q3_samples and q4_samples are NumPy arrays"
    x4, x3 = q4_samples.astype(float), q3_samples.astype(float)
    s4, s3 = mode_stats(x4, RING8.centers, RING8.sigma), mode_stats(x3, RING8.centers, RING8.sigma)
    d2 = ((x4[:, None] - RING8.centers[None]) ** 2).sum(-1)
    share = np.bincount(d2.argmin(1), minlength=8).max() / len(x4)
    assert share <= 0.25, f"PacGAN4 should spread its samples over the modes (largest share {share:.2f}, expected <= 0.25)"
    assert s4.modes_covered > s3.modes_covered, \
        f"packing should cover more modes than the vanilla GAN ({s4.modes_covered} vs {s3.modes_covered})"
    need = for_preset({"tiny": 3, "cpu": 6, "gpu": 7})
    assert s4.modes_covered >= need, f"PacGAN4 covers {s4.modes_covered} modes at {preset()}, expected >= {need}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
samples_over_training(q4_snapshots.snapshots, RING8.centers, history=q4_history, title="PacGAN4 on ring8")

# %%
coverage_over_time({"vanilla GAN": q3_history, "PacGAN4": q4_history})

# %% [markdown]
# *Reflect (ungraded).* Packing fixed the *coverage*; look at the high-quality fraction too. Which
# of the two numbers would a person looking at single samples notice? Why does a D that sees one
# sample at a time have no reason to punish a generator that always produces the same good sample?

# %% [markdown]
# ## 3. Reading a training run: pre-recorded failures
#
# A GAN's losses do not fall the way a classifier's do, so "is this run OK?" needs other numbers.
# `data/gan_runs/` holds histories of real runs recorded with genlab (ring8, different settings):
# the train metrics of every step (`history.metrics`: `d_real` = mean D(x), `d_fake` = mean D(G(z)),
# `d_loss`, `g_loss`, `grad_norm_d`, `grad_norm_g`) and the VEEGAN evaluations every few hundred steps
# (`history.evals`: dicts with `step`, `modes_covered`, `n_modes`, `high_quality_fraction`).

# %%
from genlab.diagnostics.records import load_history, load_info
from genlab.shipped import shipped

GAN_RUNS_DIR = shipped("gan_runs")  # data/gan_runs in the checkout, packaged in an installed genlab
q5_paths = sorted(GAN_RUNS_DIR.glob("*.json"))
q5_runs = {p.stem: load_history(p) for p in q5_paths}
for p in q5_paths:
    h, last = q5_runs[p.stem], q5_runs[p.stem].evals[-1]
    print(f"{p.stem}: {load_info(p).get('what', '')}\n    {h.steps[-1]} steps; last evaluation: "
          f"{last['modes_covered']}/{last['n_modes']} modes, {last['high_quality_fraction']:.1%} high quality")

# %% [raw]
# # BEGIN QUESTION
# name: q5
# points: 2

# %% [markdown]
# **Q5. Diagnose a run (2 points).** Write `q5_classify(history)` that returns one of the strings
# `"divergence"`, `"mode collapse"`, `"healthy"`, by these rules, checked in this order:
#
# 1. **divergence** if any train metric is NaN or infinite (the run blew up), or if over the last
#    10 % of the recorded steps the mean of `d_fake` is below 0.05 *and* the mean of `d_real` is
#    above 0.95 (D wins outright; the generator's gradient has vanished, see Q1);
# 2. **mode collapse** if the last evaluation covers at most half of the modes;
# 3. **healthy** otherwise.
#
# Then classify every recorded run: `q5_labels = {name: q5_classify(h) for name, h in q5_runs.items()}`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q5_classify(history):
    """history: a genlab History -> "divergence" | "mode collapse" | "healthy"."""
    # BEGIN SOLUTION
    m = {k: np.asarray(v, dtype=float) for k, v in history.metrics.items()}
    if any(not np.isfinite(v).all() for v in m.values()):
        return "divergence"
    tail = max(1, len(history.steps) // 10)
    if m["d_fake"][-tail:].mean() < 0.05 and m["d_real"][-tail:].mean() > 0.95:
        return "divergence"
    last = history.evals[-1]
    if last["modes_covered"] <= last["n_modes"] / 2:
        return "mode collapse"
    return "healthy"
    # END SOLUTION


q5_labels = {name: q5_classify(h) for name, h in q5_runs.items()}  # SOLUTION

# %% [raw]
# # END SOLUTION

# %%
print("recorded runs:", q5_labels)
print("your own runs:", {"Q3 vanilla": q5_classify(q3_history), "Q4 PacGAN4": q5_classify(q4_history)})

# %% [raw]
# # BEGIN TESTS

# %%
def test_q5_blown_up_run(q5_classify):
    from genlab.train.history import History

    n = 100
    metrics = {"d_real": [0.5] * n, "d_fake": [0.5] * n, "grad_norm_g": [1.0] * n, "d_loss": [1.4] * n}
    metrics["d_loss"][-1] = float("nan")
    evals = [{"step": 50, "modes_covered": 8, "n_modes": 8, "high_quality_fraction": 0.9}]
    got = q5_classify(History(steps=list(range(1, n + 1)), metrics=metrics, evals=evals))
    assert type(got) is str, f"q5_classify returns a str, not a {type(got).__name__}"
    assert got == "divergence", f"a NaN in the metrics means the run blew up: 'divergence' (rule 1), not {got!r}"

# %%
def test_q5_discriminator_wins(q5_classify):
    from genlab.train.history import History

    n = 200
    d_real, d_fake = [0.5] * 150 + [0.99] * 50, [0.5] * 150 + [0.01] * 50  # D(x) -> 1, D(G(z)) -> 0 at the end
    metrics = {"d_real": d_real, "d_fake": d_fake, "grad_norm_g": [1.0] * n, "d_loss": [1.3] * n}
    evals = [{"step": s, "modes_covered": 1, "n_modes": 8, "high_quality_fraction": 0.9} for s in (100, 200)]
    got = q5_classify(History(steps=list(range(1, n + 1)), metrics=metrics, evals=evals))
    assert type(got) is str, f"q5_classify returns a str, not a {type(got).__name__}"
    assert got == "divergence", (f"D(x) ~ 1 and D(G(z)) ~ 0 over the last 10 % means D won and G's gradient vanished "
                                 f"(Q1): 'divergence', checked before mode collapse; got {got!r}")

# %%
# HIDDEN
def test_q5_synthetic_runs(q5_classify):
    import numpy as np

    from genlab.train.history import History

    def run(d_real, d_fake, modes, n=200):
        metrics = {"d_real": list(d_real), "d_fake": list(d_fake), "grad_norm_g": [1.0] * n, "d_loss": [1.3] * n}
        evals = [{"step": s, "modes_covered": modes, "n_modes": 8, "high_quality_fraction": 0.9}
                 for s in (50, 100, 150, 200)]
        return History(steps=list(range(1, n + 1)), metrics=metrics, evals=evals)

    flat = np.full(200, 0.5)
    wins = np.concatenate([np.full(150, 0.5), np.full(50, 0.99)])  # D(x) -> 1 over the last quarter
    loses = np.concatenate([np.full(150, 0.5), np.full(50, 0.01)])  # D(G(z)) -> 0
    for d_real, d_fake, modes, want, why in (
        (flat, flat, 8, "healthy", "8 of 8 modes and a balanced D"),
        (flat, flat, 5, "healthy", "5 of 8 modes is more than half"),
        (flat, flat, 4, "mode collapse", "4 of 8 modes is at most half"),
        (flat, flat, 1, "mode collapse", "1 of 8 modes"),
        (wins, loses, 8, "divergence", "D(x) ~ 1 and D(G(z)) ~ 0 at the end: D won"),
        (wins, flat, 1, "mode collapse", "D(x) alone near 1 is not divergence"),
    ):
        got = q5_classify(run(d_real, d_fake, modes))
        assert type(got) is str and got == want, f"{why}: expected {want!r}, got {got!r}"

# %%
# HIDDEN
def test_q5_recorded_runs(q5_classify, q5_labels):
    import numpy as np

    from genlab.diagnostics.records import load_history
    from genlab.shipped import shipped

    def rules(h):  # the three rules of Q5
        m = {k: np.asarray(v, dtype=float) for k, v in h.metrics.items()}
        if any(not np.isfinite(v).all() for v in m.values()):
            return "divergence"
        tail = max(1, len(h.steps) // 10)
        if m["d_fake"][-tail:].mean() < 0.05 and m["d_real"][-tail:].mean() > 0.95:
            return "divergence"
        return "mode collapse" if h.evals[-1]["modes_covered"] <= h.evals[-1]["n_modes"] / 2 else "healthy"

    runs = sorted(shipped("gan_runs").glob("*.json"))
    assert runs, "no recorded runs in data/gan_runs"
    assert type(q5_labels) is dict, "q5_labels must be the dict {run name: q5_classify(history)}"
    for path in runs:
        h = load_history(path)
        got, want = q5_classify(h), rules(h)
        assert type(got) is str and got == want, f"recorded run {path.stem}: the rules of Q5 give {want!r}, q5_classify says {got!r}"
        assert type(q5_labels.get(path.stem)) is str and q5_labels.get(path.stem) == got, f"q5_labels[{path.stem!r}] must be q5_classify of that run ({got!r})"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# genlab's `diagnose(history)` reads the same numbers with more care: it averages over windows, calls
# D "overpowering" only when the generator's gradient norm has also collapsed, and spots modes that
# *hop* from one evaluation to the next. Each finding says when the problem began, the evidence, and
# what to try. Where does it agree with your three rules, and where not?

# %%
from genlab.diagnostics.gan import diagnose

for name, h in q5_runs.items():
    print(f"--- {name}: you say {q5_labels[name]!r}")
    for finding in diagnose(h):
        print("   ", finding)

# %% [markdown]
# The run whose fakes D rejects most confidently, drawn: mean D(x) and D(G(z)) (left) and the gradient
# norms of both networks (right, log scale).

# %%
q5_show = min(q5_runs, key=lambda name: float(np.mean(q5_runs[name].metrics["d_fake"][-50:])))
d_outputs_and_grad_norms(q5_runs[q5_show], q5_show)

# %% [markdown]
# *Reflect (ungraded).* With the saturating loss, the derivative of G's loss with respect to a fake's
# logit is $-D(G(z)) \approx 0$ here (Q1). Yet G's gradient norm need not be small: it is that tiny
# factor times the slope of D, and a very confident D is very steep. What does the generator do with
# such gradients? Look at the modes covered by this run over time.

# %% [markdown]
# ## 4. Divergence: the smallest GAN that does not converge
#
# DiracGAN (Mescheder, Geiger & Nowozin 2018, §2.2) strips a GAN to two numbers. The real data is the
# point 0; the generator puts all its mass at $\theta$; the discriminator is linear, $D_\psi(x) = \psi x$
# (a logit). With $f(t) = -\log(1 + e^{-t})$ the game value is
#
# $$L(\theta, \psi) = f(\psi\theta) + f(0), \qquad f'(t) = \sigma(-t).$$
#
# G descends L in $\theta$, D ascends it in $\psi$. The equilibrium is $(\theta, \psi) = (0, 0)$: G on
# the data, D indifferent. The **R1 penalty** $\frac{\gamma}{2}\,\mathbb{E}\,\|\nabla_x D(x_\text{real})\|^2$
# is here $\frac{\gamma}{2}\psi^2$: D descends it, i.e. its ascent direction gets $-\gamma\psi$.

# %% [raw]
# # BEGIN QUESTION
# name: q6
# points: 2

# %% [markdown]
# **Q6. Divergence and its fix (2 points).** Write `q6_dirac_step(theta, psi, lr, gamma)`: one
# *simultaneous* gradient step (both updates use the old $(\theta, \psi)$):
#
# $$\theta \leftarrow \theta - \text{lr}\cdot\psi f'(\psi\theta), \qquad
#   \psi \leftarrow \psi + \text{lr}\cdot\big(\theta f'(\psi\theta) - \gamma\psi\big).$$
#
# It returns the new pair `(theta, psi)`. Then start at $(1, 1)$, take 500 steps with `lr = 0.1`, once
# with $\gamma = 0$ and once with $\gamma = 0.3$, and keep the distances $\|(\theta, \psi)\|$ from the
# equilibrium after the 500 steps in `q6_norm_plain` and `q6_norm_r1` (floats).

# %% [raw]
# # BEGIN SOLUTION

# %%
def q6_dirac_step(theta, psi, lr, gamma):
    """One simultaneous gradient step of DiracGAN with R1 weight gamma -> (theta, psi)."""
    # BEGIN SOLUTION
    fp = jax.nn.sigmoid(-psi * theta)  # f'(psi * theta)
    return theta - lr * psi * fp, psi + lr * (theta * fp - gamma * psi)
    # END SOLUTION


def q6_run(gamma, steps=500, lr=0.1):
    """The path [(theta, psi), ...] from (1, 1): steps + 1 rows."""
    path = [(1.0, 1.0)]
    for _ in range(steps):
        path.append(tuple(float(v) for v in q6_dirac_step(*path[-1], lr, gamma)))
    return np.array(path)


q6_path_plain, q6_path_r1 = q6_run(0.0), q6_run(0.3)
q6_norm_plain = float(np.linalg.norm(q6_path_plain[-1]))  # SOLUTION
q6_norm_r1 = float(np.linalg.norm(q6_path_r1[-1]))  # SOLUTION

# %% [raw]
# # END SOLUTION

# %%
print(f"after 500 steps: |(theta, psi)| = {q6_norm_plain:.3f} without R1, {q6_norm_r1:.2e} with gamma = 0.3")

# %% [raw]
# # BEGIN TESTS

# %%
def test_q6_one_step(q6_dirac_step):
    import numpy as np

    out = q6_dirac_step(1.0, 1.0, 0.1, 0.0)
    assert type(out) in (tuple, list) and len(out) == 2, \
        f"q6_dirac_step must return the pair (theta, psi), got {type(out).__name__}"
    s = 1 / (1 + np.exp(1.0))  # f'(1) = sigma(-1)
    want = (1 - 0.1 * s, 1 + 0.1 * s)
    assert np.allclose([float(v) for v in out], want, rtol=1e-5), (
        f"one step from (1, 1) with lr 0.1: theta - lr psi f'(psi theta), psi + lr theta f'(psi theta) = "
        f"({want[0]:.5f}, {want[1]:.5f}), got ({float(out[0]):.5f}, {float(out[1]):.5f})")

# %%
def test_q6_r1_converges(q6_norm_plain, q6_norm_r1):
    import numpy as np

    for name, value in (("q6_norm_plain", q6_norm_plain), ("q6_norm_r1", q6_norm_r1)):
        assert value is not None and value is not Ellipsis, f"{name} is not set yet: compute it in the cell under Q6"
        assert type(value) in (float, np.float64, np.float32, np.ndarray) and np.ndim(value) == 0, \
            f"{name} is a float, not a {type(value).__name__}"
    assert float(q6_norm_plain) > 2 ** 0.5, (f"without R1 simultaneous steps spiral away from (0, 0): the distance "
                                            f"grows beyond its start sqrt(2), got {float(q6_norm_plain):.3g}")
    assert float(q6_norm_r1) < 1e-2, ("with R1 (gamma = 0.3) the game converges to (0, 0): the distance after 500 "
                                      f"steps is below 0.01, got {float(q6_norm_r1):.3g}")

# %%
# HIDDEN
def test_q6_matches_genlab(q6_dirac_step):
    import numpy as np

    from genlab.diagnostics.dirac import simulate

    for gamma, start in ((0.0, (1.0, 1.0)), (0.3, (1.0, 1.0)), (1.0, (-0.5, 2.0))):
        want = np.asarray(simulate(50, 0.1, "simultaneous", "saturating", gamma, start))[-1]
        p = start
        for _ in range(50):
            p = q6_dirac_step(p[0], p[1], 0.1, gamma)
        got = np.array([float(v) for v in p])
        assert np.allclose(got, want, rtol=1e-4, atol=1e-6), \
            f"50 steps from {start} with gamma = {gamma} end at {np.round(want, 5)}, yours at {np.round(got, 5)}"

# %%
# HIDDEN
def test_q6_distance_after_500_steps(q6_norm_plain):
    import numpy as np

    # shared/REFERENCES.md (Mescheder et al. 2018): 2.25 after 500 steps without R1
    assert type(q6_norm_plain) in (float, np.float64, np.float32, np.ndarray), "q6_norm_plain is a float"
    assert abs(float(q6_norm_plain) - 2.25) < 0.02 * 2.25, \
        f"without R1, 500 steps from (1, 1) end at distance 2.25 from (0, 0), got {float(q6_norm_plain):.4g}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The four DiracGAN games side by side: arrows are the gradient field, the blue line is 500 steps from
# (1, 1). Your two runs are the first and the last panel.

# %%
dirac_portrait()

# %% [markdown]
# *Reflect (ungraded).* Near the equilibrium the gradient field of the plain game is a rotation
# (Jacobian eigenvalues $\pm 0.5i$): simultaneous gradient steps move along the tangent of a circle and
# so always a little *outwards*. Where does R1 put the eigenvalues ($-\gamma/2 \pm i\sqrt{1-\gamma^2}/2$),
# and why does that make the spiral shrink? How does this relate to the oscillating modes of Q3?

# %% [markdown]
# ## Going further (ungraded, outside the notebook)
#
# The same stories with more seeds, measured the way the course's tables are:
#
# ```bash
# genlab eval gan-ring8 --variant vanilla --seeds 5 --json   # collapse: at most 2 of 8 modes per seed, flagged
# genlab eval gan-ring8 --variant fixed --seeds 5 --json     # PacGAN2 + R1: 8/8 modes, ~98 % high quality
# genlab eval gan-divergence --seeds 3 --json                # a too-strong D: saturating loss vs non-saturating
#                                                            # vs the fix (about 10 min on 2 cores)
# genlab demo --only gan2d                                   # the lecture figures and GIFs of this lab
# ```
#
# In `gan-divergence`, D takes 5 steps at 30x G's learning rate against a generator that starts as a point.
# With the saturating loss G's gradient falls to about 1e-10 and it never leaves the origin; the
# non-saturating loss keeps the gradient alive but lands on one mode; non-saturating + R1 + PacGAN2 (with a
# fairer learning rate for G) covers all 8. Which of your Q5 rules would flag each of the three runs?
