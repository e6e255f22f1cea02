# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 05_diffusion_vs_flow
# seed:
#   variable: SEED
#   autograder_value: 42
#   student_value: 42
# verdicts: in-process     # tests still run in the student's process (not moved to the trusted format yet)

# %% [markdown]
# # Lab 05: Diffusion vs Flow, gemessen
#
# The lecture ends with two claims. A **diffusion model** learns to predict the noise and, when it generates,
# removes it "Schritt für Schritt" over many iterations. **Flow matching** learns a transformation from noise to
# data and "wendet diese einmalig deterministische Transformation an → Bild entsteht direkt". In this lab you
# measure both claims. Two networks of the *same* architecture, with the *same* initial weights, trained on the
# *same* data stream for the *same* number of steps × batch size; only the objective differs (ε-prediction
# against velocity on the straight OT path). Then many samplers, each at a budget of 1, 2, 4, ... network
# evaluations (**NFE**), on 8 Gaussians on a ring (σ = 0.01), where "good" is measurable: every mode hit, and
# samples within 3σ of a mode (*high quality*).
#
# And one more tool: for Gaussian-mixture data the ideal field is known in closed form (the **oracle**). The same
# sampler on the oracle is the **perfect model**: whatever it still gets wrong is the sampler's fault
# (discretisation), and the gap between your model and the perfect model is the model's fault.
#
# | Begriff (Vorlesung) | English | Wo im Lab |
# |---|---|---|
# | Diffusionsmodell | diffusion model: ε-prediction, sampled with DDPM, DDIM, DPM-Solver++ or as an ODE | §1 Q1, Q2, §2 Q3 |
# | Flow-Matching | flow matching: a velocity field from noise to data, OT path, reflow | Q1, Q3, Q5 |
# | Sampler | sampler / ODE solver and its number of network evaluations (NFE) | Q2, Q3, Q4 |
# | Entrauschen | denoising: the jump x̂_data = (x_t − b ε̂) / a, and the denoiser's error | Q1, Q2, Q6 |
#
# **Plan.** §1 Q1 one point, two parameterisations · Q2 the diffusion model as an ODE. §2 Q3 train the matched
# models and measure quality against NFE · Q4 model error or sampler error? · Q5 the lecture's claims, from your
# numbers. §3 Q6 where each network errs, per time.
#
# **Time.** The setup cell picks a preset from your hardware (`cpu` without a GPU; set `GENLAB_PRESET` to
# override). At `cpu` the training in Q3 takes about 2½ minutes on a 2-core laptop and the measurements about
# as long: the whole lab computes for about 6–7 minutes (at most 15).

# %%
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from genlab.data.toy2d import toy2d
from genlab.experiments.diffusion_vs_flow import ARM, DiffusionVsFlowConfig, train_models, trajectories
from genlab.experiments.dvf_setup import field_errors, sample_model, sample_oracle, snr_matched
from genlab.experiments.flow2d_setup import energy_distance, quality, scaled_mixture
from genlab.figures.diffusion_vs_flow import quality_vs_nfe, trajectories as trajectory_figure
from genlab.notebook import lab_setup
from genlab.paths.affine import AffinePath, convert
from genlab.presets import resolve_preset
from genlab.samplers.pf_ode import oracle_eps, pf_ode, solve_range
from genlab.schedules.diffusion import make_schedule
from genlab.train.keys import eval_key

SEED = 42  # otter sets the grading seed here; every key below comes from it
PRESET = resolve_preset(os.environ.get("GENLAB_PRESET"))  # tiny | cpu | gpu (from the hardware when unset)
lab_setup(PRESET)  # Jupyter/Colab: figures show as images; an answer not written yet says so instead of failing

# Per preset: the experiment's config (networks, objectives, training), the NFE budgets, the samples per run.
# "minutes": the training of Q3 on a 2-core CPU (tiny, cpu) or one GPU (gpu).
RUNS = {
    "tiny": dict(config=DiffusionVsFlowConfig.tiny(), nfe=(1, 2), samples=128, minutes=0.3),
    "cpu": dict(config=DiffusionVsFlowConfig.cpu(), nfe=(1, 2, 4, 8, 16, 32), samples=1000, minutes=2.5),
    "gpu": dict(config=DiffusionVsFlowConfig.gpu(), nfe=(1, 2, 4, 8, 16, 32, 64, 128), samples=2500, minutes=3),
}
RUN = RUNS[PRESET]
DATA = "ring8"  # 8 Gaussians on the unit circle, σ = 0.01
LAB_ARMS = ("ddpm", "ddim", "dpm_solver", "pf_euler", "flow_euler", "flow_heun", "rf2_euler")
PATH_VP, PATH_OT = AffinePath("vp"), AffinePath("ot")  # the diffusion model's path, and the flow's
SCHEDULE = make_schedule(RUN["config"].diffusion.schedule)  # DDPM's linear schedule, T = 1000
MIX = scaled_mixture(DATA, 1.0)  # the data's exact Gaussian mixture: the oracle
k_z, k_real, k_floor, k_ddpm, k_x0, k_x1 = jax.random.split(eval_key(SEED), 6)
LAB_Z = jax.random.normal(k_z, (RUN["samples"], 2))  # the start noise of every sampler run
LAB_KEY = k_ddpm  # DDPM's own noise
LAB_REAL = np.asarray(toy2d(DATA).sample(k_real, RUN["samples"]))  # held-out real samples
LAB_FLOOR = energy_distance(np.asarray(toy2d(DATA).sample(k_floor, RUN["samples"])), LAB_REAL)  # real vs real
LAB_X0, LAB_X1 = jax.random.normal(k_x0, (1000, 2)), toy2d(DATA).sample(k_x1, 1000)  # pairs for Q6
print(f"preset {PRESET}: budgets {RUN['nfe']}, {RUN['samples']} samples per run; "
      f"the training in Q3 takes about {RUN['minutes']} min")
print(f"energy distance of two real samples (the floor): {LAB_FLOOR:.5f}")

# %% [markdown]
# ## 1. One point, two parameterisations
#
# Both models live on an affine path $x_t = a_t\,x_\text{data} + b_t\,\varepsilon$ with noise $\varepsilon \sim
# \mathcal N(0, I)$, time $t$ running from noise ($t = 0$) to data ($t = 1$):
#
# - **flow matching** on the OT path: $a_t = t$, $b_t = 1 - t$; the network predicts the velocity
#   $v = \dot a\,x_\text{data} + \dot b\,\varepsilon$ (here $x_\text{data} - \varepsilon$);
# - the **diffusion model** (DDPM's linear schedule) on the VP path: $a_t^2 + b_t^2 = 1$, with $a_t^2 = \bar\alpha$
#   of the training step whose noise level this is; the network predicts the noise $\varepsilon$.
#
# Given $x_t$, a prediction of ε determines $\hat x_\text{data} = (x_t - b\,\hat\varepsilon)/a$, and then the
# velocity. `PATH_VP.coeffs(t)` returns `(a, b, da, db)` (ȧ and ḃ are the time derivatives).

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 2

# %% [markdown]
# **Q1. Conversions (2 points).** (a) Write `q1_eps_to_velocity(eps, x_t, a, b, da, db)`: the velocity
# $\dot a\,\hat x_\text{data} + \dot b\,\hat\varepsilon$ implied by a noise prediction (`eps, x_t: [B, 2]`, the
# coefficients numbers). (b) Write `q1_velocity_to_data(v, x_t, t)`: the data $\hat x_\text{data}$ implied by a
# velocity on the **OT** path at time `t` (a number). *Hint:* on the OT path $x_t = t\,x_\text{data} + (1-t)\,\varepsilon$
# and $v = x_\text{data} - \varepsilon$; eliminate ε.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q1_eps_to_velocity(eps, x_t, a, b, da, db):
    """ε̂ at x_t -> the path's velocity ȧ x̂_data + ḃ ε̂: [B, 2]."""
    # BEGIN SOLUTION
    data = (x_t - b * eps) / a
    return da * data + db * eps
    # END SOLUTION


def q1_velocity_to_data(v, x_t, t):
    """v̂ at x_t on the OT path -> x̂_data: [B, 2]."""
    return x_t + (1.0 - t) * v  # SOLUTION

# %% [raw]
# # END SOLUTION

# %%
q1_x, q1_eps = jax.random.normal(jax.random.key(SEED), (2, 4, 2))
q1_a, q1_b, q1_da, q1_db = (float(c) for c in PATH_VP.coeffs(0.6))
print("yours - genlab's convert:", float(jnp.max(jnp.abs(
    q1_eps_to_velocity(q1_eps, q1_x, q1_a, q1_b, q1_da, q1_db)
    - convert(PATH_VP, q1_eps, q1_x, 0.6, "eps", "velocity")))))

# %% [raw]
# # BEGIN TESTS

# %%
def test_q1_eps_to_velocity_zero_noise(q1_eps_to_velocity):
    import numpy as np

    x = np.array([[1.0, 2.0]])
    v = q1_eps_to_velocity(np.zeros((1, 2)), x, 0.5, 0.8, 2.0, -1.0)
    np.testing.assert_allclose(np.asarray(v), 2.0 * x / 0.5, rtol=1e-5,
                               err_msg="with ε̂ = 0: x̂_data = x_t / a and v = ȧ x̂_data")

# %%
def test_q1_velocity_to_data_at_t0(q1_velocity_to_data):
    import numpy as np

    x, v = np.array([[0.3, -1.0]]), np.array([[2.0, 1.0]])
    np.testing.assert_allclose(np.asarray(q1_velocity_to_data(v, x, 0.0)), x + v, rtol=1e-5,
                               err_msg="at t = 0, x_t = ε and v = x_data − ε, so x_data = x_t + v")

# %%
# HIDDEN
def test_q1_matches_genlab(q1_eps_to_velocity, q1_velocity_to_data):
    import jax
    import numpy as np

    from genlab.paths.affine import AffinePath, convert

    x, p = jax.random.normal(jax.random.key(3), (2, 16, 2))
    for kind in ("vp", "cosine"):
        for t in (0.2, 0.5, 0.9):
            path = AffinePath(kind)
            a, b, da, db = (float(c) for c in path.coeffs(t))
            np.testing.assert_allclose(np.asarray(q1_eps_to_velocity(p, x, a, b, da, db)),
                                       np.asarray(convert(path, p, x, t, "eps", "velocity")), rtol=1e-4, atol=1e-5,
                                       err_msg=f"{kind} path, t = {t}: v = ȧ (x_t − b ε̂)/a + ḃ ε̂")
    for t in (0.1, 0.5, 0.95):
        np.testing.assert_allclose(np.asarray(q1_velocity_to_data(p, x, t)),
                                   np.asarray(convert(AffinePath("ot"), p, x, t, "velocity", "data")), rtol=1e-4,
                                   atol=1e-5, err_msg=f"OT path, t = {t}: x_data = x_t + (1 − t) v")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## The diffusion model as an ODE
#
# DDPM samples by drawing fresh noise at every step; DDIM and DPM-Solver++ do not. All of them follow the
# same **probability-flow ODE** (Song et al. 2021): $dx/dt = v(x, t)$ with $v$ the velocity of Q1(a) computed
# from $\hat\varepsilon$. So the diffusion model can be sampled with *any* ODE solver, the same ones the flow
# uses. One catch: on the VP path ḃ grows without bound as $b \to 0$ (at the data end), so the ODE is solved from
# the noisiest training step's time `t0` to the least noisy one's `t1` (b ≈ 0.01), and then the last bit is a
# **denoising jump** $\hat x_\text{data} = (x - b\,\hat\varepsilon)/a$: one more network evaluation.

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 3

# %% [markdown]
# **Q2. Euler on the probability-flow ODE (3 points).** Write `q2_pf_euler(eps_fn, z, t0, t1, steps)`:
# `eps_fn(x, t) -> ε̂` (`x: [B, 2]`, `t` a number); start at `x = z`; take `steps` Euler steps of equal size from
# `t0` to `t1` on the VP path (`PATH_VP.coeffs(t)`, your `q1_eps_to_velocity`); then the denoising jump at `t1`.
# Return `(x_data, nfe)`, `nfe` the number of `eps_fn` calls (a Python `int`).

# %% [raw]
# # BEGIN SOLUTION

# %%
def q2_pf_euler(eps_fn, z, t0, t1, steps):
    """Euler on the VP probability-flow ODE from t0 to t1, then x̂_data = (x − b ε̂)/a -> (x_data, nfe)."""
    # BEGIN SOLUTION
    x, h = z, (t1 - t0) / steps
    for i in range(steps):
        t = t0 + i * h
        a, b, da, db = PATH_VP.coeffs(t)
        x = x + h * q1_eps_to_velocity(eps_fn(x, t), x, a, b, da, db)
    a, b, _, _ = PATH_VP.coeffs(t1)
    return (x - b * eps_fn(x, t1)) / a, steps + 1
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [markdown]
# Your sampler on the *exact* ε of the ring (the oracle), against genlab's `pf_ode`: the same numbers.

# %%
Q2_T0, Q2_T1 = solve_range(SCHEDULE, PATH_VP)  # the flow times of training steps 999 and 0
q2_x, q2_nfe = q2_pf_euler(oracle_eps(MIX, PATH_VP), LAB_Z[:200], Q2_T0, Q2_T1, 16)
q2_ref = pf_ode(oracle_eps(MIX, PATH_VP), LAB_Z[:200], PATH_VP, t0=Q2_T0, t1=Q2_T1, method="euler", steps=16)
print(f"t0 = {Q2_T0:.4f}, t1 = {Q2_T1:.4f}; NFE yours {q2_nfe}, genlab {q2_ref.nfe}; "
      f"max |yours - genlab| = {float(jnp.max(jnp.abs(q2_x - q2_ref.x))):.1e}")

# %% [raw]
# # BEGIN TESTS

# %%
def test_q2_returns_samples_and_nfe(q2_pf_euler):
    import jax.numpy as jnp

    x, nfe = q2_pf_euler(lambda x, t: jnp.zeros_like(x), jnp.ones((3, 2)), 0.0, 0.9, 4)
    assert x.shape == (3, 2), f"the samples keep the shape of z, got {x.shape}"
    assert type(nfe) is int and nfe == 5, f"4 Euler steps and the denoising jump are 5 evaluations, got {nfe!r}"

# %%
# HIDDEN
def test_q2_matches_genlab_pf_ode(q2_pf_euler):
    import jax
    import numpy as np

    from genlab.paths import oracle
    from genlab.paths.affine import AffinePath
    from genlab.samplers.pf_ode import oracle_eps, pf_ode

    path = AffinePath("vp")
    mix = oracle.GaussianMixture.isotropic(np.array([[1.0, 0.0], [-0.5, 0.8]]), 0.2)
    z = jax.random.normal(jax.random.key(9), (32, 2))
    for steps, (t0, t1) in ((3, (0.0, 0.99)), (10, (-0.003, 0.999))):
        x, nfe = q2_pf_euler(oracle_eps(mix, path), z, t0, t1, steps)
        ref = pf_ode(oracle_eps(mix, path), z, path, t0=t0, t1=t1, method="euler", steps=steps)
        assert nfe == ref.nfe, f"{steps} steps: {ref.nfe} evaluations (the jump included), got {nfe}"
        np.testing.assert_allclose(np.asarray(x), np.asarray(ref.x), rtol=1e-3, atol=1e-3,
                                   err_msg=f"{steps} equal Euler steps from t0 to t1, then the jump at t1")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 2. Matched models, many samplers
#
# `train_models(config, DATA, SEED)` trains three networks and returns them as `.diffusion`, `.flow` and
# `.rectified`: the diffusion model (genlab's ε-prediction loss, DDPM's schedule), the flow (conditional flow
# matching on the OT path) from the same initial weights on the same batches, and the **2-rectified flow**: the
# flow trained further on pairs (noise, where the flow takes it) so that its paths straighten (reflow, Liu et
# al. 2022; this one gets extra training).
#
# The arms (`ARM[name]`): `ddpm`, `ddim`, `dpm_solver` (the diffusion model's own samplers), `pf_euler` (its
# ODE, your Q2), `flow_euler`, `flow_heun`, `rf2_euler`. For a budget of `nfe` evaluations,
# `ARM[name].steps_for(nfe)` gives the number of steps (None: the arm cannot run on that budget; Heun needs 2
# evaluations a step), and `ARM[name].spec(RUN["config"], steps)` the sampler; then
#
# - `sample_model(net, LAB_Z, LAB_KEY, spec=spec)` -> `(x, nfe, _)` with your trained network `net`,
# - `sample_oracle(LAB_Z, LAB_KEY, mix=MIX, spec=spec)` -> the same with the oracle (the perfect model),
#
# and `quality(np.asarray(x), DATA, LAB_REAL)` -> `{"modes_covered", "num_modes", "high_quality",
# "energy_distance"}` (VEEGAN: a sample is high quality within 3σ of a mode; a perfect sampler has 98.9 %).

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 3

# %% [markdown]
# **Q3. Quality against NFE (3 points).** (a) Train: `q3_models = train_models(RUN["config"], DATA, SEED)`.
# (b) Write `q3_quality_at(models, arm, nfe, perfect=False)`: the quality dict of arm `arm` at budget `nfe` (None
# when the arm cannot run on it); with `perfect=True` the same sampler on the oracle. The network of an arm is
# `getattr(models, ARM[arm].model)`. (c) Fill `q3_table[arm][nfe]` for every arm in `LAB_ARMS` and every budget in
# `RUN["nfe"]`, and `q3_perfect[arm][nfe]` likewise for every arm but `rf2_euler` (its own oracle has no
# closed form).

# %% [raw]
# # BEGIN SOLUTION

# %%
print(f"training three networks, about {RUN['minutes']} min")
start = time.perf_counter()
q3_models = train_models(RUN["config"], DATA, SEED)  # SOLUTION
print(f"trained in {time.perf_counter() - start:.0f} s")


def q3_quality_at(models, arm, nfe, perfect=False):
    """Quality of ``arm`` at budget ``nfe`` on LAB_Z (None if it cannot run on that budget)."""
    # BEGIN SOLUTION
    steps = ARM[arm].steps_for(nfe)
    if steps is None:
        return None
    spec = ARM[arm].spec(RUN["config"], steps)
    if perfect:
        x, _, _ = sample_oracle(LAB_Z, LAB_KEY, mix=MIX, spec=spec)
    else:
        x, _, _ = sample_model(getattr(models, ARM[arm].model), LAB_Z, LAB_KEY, spec=spec)
    return quality(np.asarray(x), DATA, LAB_REAL)
    # END SOLUTION


start = time.perf_counter()
# BEGIN SOLUTION
q3_table = {arm: {n: q3_quality_at(q3_models, arm, n) for n in RUN["nfe"]} for arm in LAB_ARMS}
q3_perfect = {arm: {n: q3_quality_at(q3_models, arm, n, perfect=True) for n in RUN["nfe"]}
              for arm in LAB_ARMS if arm != "rf2_euler"}
# END SOLUTION
print(f"measured in {time.perf_counter() - start:.0f} s")

# %% [raw]
# # END SOLUTION

# %%
print(f"{'modes / high quality':<20}" + "".join(f"{'NFE ' + str(n):>13}" for n in RUN["nfe"]))
for arm in LAB_ARMS:
    for name, rows in ((arm, q3_table), (arm + " (perfect)", q3_perfect)):
        if arm in rows:
            cells = [f"{q['modes_covered']}/8 {q['high_quality']:6.1%}" if q else "-" for q in rows[arm].values()]
            print(f"{name:<20}" + "".join(f"{c:>13}" for c in cells))


def q3_summary(table, perfect):  # the table in the shape genlab's figure reads
    def point(arm, n):
        q = table[arm][n]
        if q is None:
            return None
        p = {"nfe": n, "model": q}
        if arm in perfect and perfect[arm][n] is not None:
            p["perfect_model"] = perfect[arm][n]
        return p

    return {"data": DATA, "energy_floor": LAB_FLOOR, "table": {a: [point(a, n) for n in RUN["nfe"]] for a in table}}


quality_vs_nfe(q3_summary(q3_table, q3_perfect), {a: ARM[a].label for a in LAB_ARMS})

# %% [raw]
# # BEGIN TESTS

# %%
def test_q3_table_shape(q3_table, q3_perfect):
    from genlab.presets import resolve_preset

    nfe = {"tiny": (1, 2), "cpu": (1, 2, 4, 8, 16, 32), "gpu": (1, 2, 4, 8, 16, 32, 64, 128)}[resolve_preset(None)]
    arms = ("ddpm", "ddim", "dpm_solver", "pf_euler", "flow_euler", "flow_heun", "rf2_euler")
    assert set(q3_table) == set(arms), f"q3_table needs exactly the arms {arms}"
    assert set(q3_perfect) == set(arms) - {"rf2_euler"}, "q3_perfect: every arm but rf2_euler"
    for arm in arms:
        assert set(q3_table[arm]) == set(nfe), f"q3_table[{arm!r}] needs the budgets {nfe}"
    assert q3_table["flow_heun"][1] is None, "Heun cannot run on one evaluation: None"
    assert q3_table["ddim"][1]["num_modes"] == 8, "each cell is the dict that quality() returns"

# %%
# HIDDEN
def test_q3_cells_are_your_models(q3_models, q3_table, q3_perfect, LAB_Z, LAB_REAL, LAB_KEY):
    import numpy as np

    from genlab.experiments.diffusion_vs_flow import ARM, DiffusionVsFlowConfig
    from genlab.experiments.dvf_setup import sample_model, sample_oracle
    from genlab.experiments.flow2d_setup import quality, scaled_mixture
    from genlab.presets import resolve_preset

    preset = resolve_preset(None)
    config = getattr(DiffusionVsFlowConfig, preset)()
    nfe = max(q3_table["flow_euler"])
    for arm, n in (("flow_euler", nfe), ("ddim", 2), ("pf_euler", nfe), ("rf2_euler", 1)):
        spec = ARM[arm].spec(config, ARM[arm].steps_for(n))
        x, _, _ = sample_model(getattr(q3_models, ARM[arm].model), LAB_Z, LAB_KEY, spec=spec)
        want = quality(np.asarray(x), "ring8", LAB_REAL)
        got = q3_table[arm][n]
        assert got["modes_covered"] == want["modes_covered"], f"{arm} at NFE {n}: modes {want['modes_covered']}"
        np.testing.assert_allclose(got["high_quality"], want["high_quality"], atol=2e-3,
                                   err_msg=f"{arm} at NFE {n}: your trained network, the arm's spec, LAB_Z")
    xo, _, _ = sample_oracle(LAB_Z, LAB_KEY, mix=scaled_mixture("ring8", 1.0),
                             spec=ARM["ddim"].spec(config, ARM["ddim"].steps_for(2)))
    np.testing.assert_allclose(q3_perfect["ddim"][2]["energy_distance"],
                               quality(np.asarray(xo), "ring8", LAB_REAL)["energy_distance"], atol=1e-4,
                               err_msg="the perfect model runs the same sampler on the oracle (sample_oracle)")

# %%
# HIDDEN
def test_q3_trained_as_asked(q3_models, q3_table):
    from genlab.experiments.diffusion_vs_flow import DiffusionVsFlowConfig
    from genlab.presets import resolve_preset

    import numpy as np

    preset = resolve_preset(None)
    want = getattr(DiffusionVsFlowConfig, preset)()
    for name in ("diffusion", "flow", "rectified"):
        assert getattr(q3_models, name).config == want.model, f"{name}: train RUN['config'] as it is"
    info = q3_models.info
    assert np.isfinite([info["diffusion_loss"], info["flow_loss"], info["reflow_loss"]]).all(), "finite losses"
    if preset != "tiny":  # a few seconds of training at tiny: no promise yet
        assert info["diffusion_loss"] < info["diffusion_loss_first"] and info["flow_loss"] < info["flow_loss_first"], \
            "the losses must fall during training"
        best = max(q3_table["flow_euler"])
        assert q3_table["flow_euler"][best]["modes_covered"] >= 6, \
            "the flow at its largest budget should cover at least 6 of the 8 modes: train as asked"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# **Model error or sampler error?** Take the energy distance $D$ to the real samples (small is good; two real
# samples give `LAB_FLOOR`). For an arm at a budget, the perfect model's excess $D_\text{perfect} - D_\text{floor}$ is
# what the **sampler** (its discretisation) costs; $D_\text{model} - D_\text{perfect}$ is what the **model** costs
# on top (its field is not the exact one).

# %% [raw]
# # BEGIN QUESTION
# name: q4
# points: 3

# %% [markdown]
# **Q4. Separate the two errors (3 points).** For every arm of `q3_perfect` and every budget: (a)
# `q4_sampler_error[arm][nfe]` $= D_\text{perfect} - $ `LAB_FLOOR`; (b) `q4_model_error[arm][nfe]` $= D_\text{model}
# - D_\text{perfect}$ (None where the arm cannot run on the budget); (c) `q4_model_dominates_from[arm]`: the smallest
# budget from which on (at it and at every larger budget of `RUN["nfe"]`) the model error is larger than the
# sampler error; None if there is none. All numbers Python floats (or ints for the budgets).

# %% [raw]
# # BEGIN SOLUTION

# %%
# BEGIN SOLUTION
q4_sampler_error = {a: {n: None if q is None else float(q["energy_distance"] - LAB_FLOOR) for n, q in rows.items()}
                    for a, rows in q3_perfect.items()}
q4_model_error = {a: {n: None if q is None else float(q3_table[a][n]["energy_distance"] - q["energy_distance"])
                      for n, q in rows.items()} for a, rows in q3_perfect.items()}
q4_model_dominates_from = {}
for a in q3_perfect:
    q4_model_dominates_from[a] = None
    for n in sorted(RUN["nfe"], reverse=True):
        m, s = q4_model_error[a][n], q4_sampler_error[a][n]
        if m is None or m <= s:
            break
        q4_model_dominates_from[a] = n
# END SOLUTION

# %% [raw]
# # END SOLUTION

# %%
for a in q3_perfect:
    cells = [f"{q4_model_error[a][n]:+.4f}/{q4_sampler_error[a][n]:+.4f}" if q4_model_error[a][n] is not None
             else "-" for n in RUN["nfe"]]
    print(f"{a:<11} model/sampler: " + "  ".join(cells), f" -> model error dominates from {q4_model_dominates_from[a]}")

# %% [raw]
# # BEGIN TESTS

# %%
def test_q4_types(q4_sampler_error, q4_model_error, q4_model_dominates_from):
    arms = ("ddpm", "ddim", "dpm_solver", "pf_euler", "flow_euler", "flow_heun")
    for name, d in (("q4_sampler_error", q4_sampler_error), ("q4_model_error", q4_model_error)):
        assert set(d) == set(arms), f"{name} has one entry per arm of q3_perfect"
        assert all(v is None or type(v) is float for row in d.values() for v in row.values()), \
            f"{name}: Python floats (None where the arm cannot run)"
    assert set(q4_model_dominates_from) == set(arms)

# %%
# HIDDEN
def test_q4_from_your_numbers(q3_table, q3_perfect, LAB_FLOOR, q4_sampler_error, q4_model_error,
                              q4_model_dominates_from):
    import numpy as np

    for a, rows in q3_perfect.items():
        nfes = sorted(rows)
        want_from = None
        for n in reversed(nfes):
            if rows[n] is None:
                assert q4_model_error[a][n] is None and q4_sampler_error[a][n] is None, f"{a}, NFE {n}: None"
                break
            s = rows[n]["energy_distance"] - LAB_FLOOR
            m = q3_table[a][n]["energy_distance"] - rows[n]["energy_distance"]
            np.testing.assert_allclose(q4_sampler_error[a][n], s, atol=1e-6, err_msg=f"{a}, NFE {n}: D_perfect − floor")
            np.testing.assert_allclose(q4_model_error[a][n], m, atol=1e-6, err_msg=f"{a}, NFE {n}: D_model − D_perfect")
            if m <= s:
                break
            want_from = n
        assert q4_model_dominates_from[a] == want_from, \
            f"{a}: from your numbers the model error dominates from NFE {want_from}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## The lecture's claims, from your numbers
#
# Call an arm **good** at a budget when it covers all 8 modes and at least 90 % of its samples are high quality.

# %% [raw]
# # BEGIN QUESTION
# name: q5
# points: 3

# %% [markdown]
# **Q5. Which claim holds where (3 points).** From `q3_table`: (a) `q5_first_good[arm]`: the smallest budget
# at which the arm is good (None if at none), for every arm of `LAB_ARMS`. (b) `q5_fastest`: the name of an arm
# with the smallest first good budget (None if no arm is ever good). (c) "Flow matching: Bild entsteht direkt".
# `q5_direct` is `"A"` if the flow with Euler covers all 8 modes in **one** evaluation, `"B"` if it does not but the
# 2-rectified flow does, `"C"` if neither does.

# %% [raw]
# # BEGIN SOLUTION

# %%
# BEGIN SOLUTION
def _good(q):
    return q is not None and q["modes_covered"] == 8 and q["high_quality"] >= 0.9


q5_first_good = {a: min((n for n, q in q3_table[a].items() if _good(q)), default=None) for a in LAB_ARMS}
q5_fastest = min((a for a in LAB_ARMS if q5_first_good[a] is not None), key=lambda a: q5_first_good[a], default=None)
one = {a: q3_table[a][1] is not None and q3_table[a][1]["modes_covered"] == 8 for a in ("flow_euler", "rf2_euler")}
q5_direct = "A" if one["flow_euler"] else "B" if one["rf2_euler"] else "C"
# END SOLUTION

# %% [raw]
# # END SOLUTION

# %%
print("first good budget:", q5_first_good, "| fastest:", q5_fastest, "| direct:", q5_direct)

# %% [raw]
# # BEGIN TESTS

# %%
def test_q5_types(q5_first_good, q5_direct):
    assert set(q5_first_good) == {"ddpm", "ddim", "dpm_solver", "pf_euler", "flow_euler", "flow_heun", "rf2_euler"}
    assert all(v is None or type(v) is int for v in q5_first_good.values()), "budgets are ints (or None)"
    assert q5_direct in ("A", "B", "C"), "q5_direct is one of 'A', 'B', 'C'"

# %%
# HIDDEN
def test_q5_from_your_table(q3_table, q5_first_good, q5_fastest, q5_direct):
    def good(q):
        return q is not None and q["modes_covered"] == 8 and q["high_quality"] >= 0.9

    want = {a: min((n for n, q in rows.items() if good(q)), default=None) for a, rows in q3_table.items()}
    assert q5_first_good == want, f"from your table the first good budgets are {want}"
    reached = [v for v in want.values() if v is not None]
    if reached:
        assert q5_fastest in want and want[q5_fastest] == min(reached), \
            f"q5_fastest must be an arm that is good at NFE {min(reached)}"
    else:
        assert q5_fastest is None, "no arm is ever good in your table: q5_fastest is None"
    flow = q3_table["flow_euler"][1]["modes_covered"] == 8
    rf2 = q3_table["rf2_euler"][1]["modes_covered"] == 8
    letter = "A" if flow else "B" if rf2 else "C"
    assert q5_direct == letter, f"in your table at NFE 1: flow {flow}, 2-rectified {rf2}: the answer is {letter}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# *Explain (ungraded, 3–5 sentences, `q5_explanation`).* Does "Schritt für Schritt, viele Iterationen" describe
# the diffusion model, or its ancestral sampler DDPM? Compare DDPM with DDIM and DPM-Solver++ (the same network!)
# and with the flow. Does "direkt" hold for flow matching as trained, or only after reflow? Use Q4: at small
# budgets, is it the model or the sampler that fails?

# %%
q5_explanation = """
(your answer)
"""

# %% [markdown]
# The paths themselves, from the same 16 noise points at 8 evaluations: the ancestral DDPM jitters, the diffusion
# model's ODE curves (its path bends the noise towards the data), the flow's paths are nearly straight, the
# rectified flow's straight; the last two panels are the exact fields.

# %%
q5_paths = trajectories(RUN["config"], DATA, q3_models, points=16, nfe=8 if PRESET != "tiny" else 1, seed=SEED)
trajectory_figure(q5_paths, toy2d(DATA).centers)

# %% [markdown]
# ## 3. Where does each network err?
#
# At a time $t$ both models imply a **denoiser** $\hat x_\text{data}(x_t)$ (Q1); the exact one is the posterior mean
# $\mathbb E[x_\text{data} \mid x_t]$. At the same signal-to-noise ratio the two paths are the same up to a scale,
# so the denoiser error $\mathbb E\lVert \hat x_\text{data} - \mathbb E[x_\text{data} \mid x_t]\rVert^2$ compares the
# models in one currency. `snr_matched(PATH_VP, ts)` -> `(taus, scale)`: the diffusion times with the SNR of the
# OT times `ts`; `field_errors(net, LAB_X0, LAB_X1, ts, taus, kind=..., mix=MIX, path=PATH_VP)` -> `(native,
# denoiser)`, each one number per time (`kind="diffusion"` for the diffusion network, `"flow"` for the flows).

# %% [raw]
# # BEGIN QUESTION
# name: q6
# points: 2

# %% [markdown]
# **Q6. The denoiser's error per time (2 points).** (a) `q6_errors[name]` for `name` in `("diffusion", "flow",
# "rectified")`: the list of denoiser errors (Python floats) at the times `Q6_TS`. (b) `q6_worst_t[name]`: the
# time of `Q6_TS` where that error is largest.

# %%
Q6_TS = (0.1, 0.3, 0.5, 0.7, 0.9, 0.97)

# %% [raw]
# # BEGIN SOLUTION

# %%
# BEGIN SOLUTION
q6_taus, _ = snr_matched(PATH_VP, np.asarray(Q6_TS))
q6_errors = {}
for name in ("diffusion", "flow", "rectified"):
    _, q6_d = field_errors(getattr(q3_models, name), LAB_X0, LAB_X1, np.asarray(Q6_TS, np.float32),
                           np.asarray(q6_taus, np.float32), kind="diffusion" if name == "diffusion" else "flow",
                           mix=MIX, path=PATH_VP)
    q6_errors[name] = [float(v) for v in q6_d]
q6_worst_t = {name: Q6_TS[int(np.argmax(e))] for name, e in q6_errors.items()}
# END SOLUTION

# %% [raw]
# # END SOLUTION

# %%
for name, e in q6_errors.items():
    print(f"{name:<10}" + "  ".join(f"t={t}: {v:.2e}" for t, v in zip(Q6_TS, e)), "| worst at", q6_worst_t[name])

# %% [raw]
# # BEGIN TESTS

# %%
def test_q6_shapes(q6_errors, q6_worst_t):
    assert set(q6_errors) == {"diffusion", "flow", "rectified"}
    assert all(len(e) == 6 and all(type(v) is float for v in e) for e in q6_errors.values()), \
        "six Python floats per network, one per time of Q6_TS"
    assert set(q6_worst_t) == set(q6_errors)

# %%
# HIDDEN
def test_q6_from_your_networks(q3_models, q6_errors, q6_worst_t, LAB_X0, LAB_X1):
    import numpy as np

    from genlab.experiments.dvf_setup import field_errors, snr_matched
    from genlab.experiments.flow2d_setup import scaled_mixture
    from genlab.paths.affine import AffinePath

    ts = (0.1, 0.3, 0.5, 0.7, 0.9, 0.97)
    path = AffinePath("vp")
    taus, _ = snr_matched(path, np.asarray(ts))
    for name in ("diffusion", "flow", "rectified"):
        _, want = field_errors(getattr(q3_models, name), LAB_X0, LAB_X1, np.asarray(ts, np.float32),
                               np.asarray(taus, np.float32), kind="diffusion" if name == "diffusion" else "flow",
                               mix=scaled_mixture("ring8", 1.0), path=path)
        np.testing.assert_allclose(q6_errors[name], np.asarray(want), rtol=1e-3, atol=1e-7,
                                   err_msg=f"{name}: the denoiser errors of field_errors at Q6_TS")
        assert q6_worst_t[name] == ts[int(np.argmax(q6_errors[name]))], f"{name}: the time of the largest error"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# *Explain (ungraded, `q6_explanation`).* Near $t = 1$ the posterior mean is almost $x_t$ itself; near $t = 0$ it
# is almost the data mean. Where in between is denoising hardest for a ring of 8 sharp modes, and why do both
# networks agree on that? How does that connect to the samplers' trouble at small budgets?

# %%
q6_explanation = """
(your answer)
"""

# %% [markdown]
# ## Beyond 2D: the text-to-image models (ungraded)
#
# `genlab eval diffusion-vs-flow` runs the same comparison on the latent text-to-image U-Nets of lab 03 and lab 04
# (one architecture, one budget, guidance w = 3; prompt accuracy of 200 class prompts, 2 seeds, at `cpu`). One row
# is new: genlab's default text-to-image model (`TextToImage.load()`), the same U-Net trained as a diffusion model
# that predicts $v = \alpha\varepsilon - \sigma x_0$ on a schedule rescaled to zero terminal SNR (500 prompts, seed 0):
#
# | model, sampler | NFE 1 | NFE 2 |
# |---|---|---|
# | diffusion, ε-prediction (lab 03), DDIM | 0.42 | 0.47 |
# | diffusion, v-prediction with zero terminal SNR, DDIM | 0.91 | 0.99 |
# | flow matching (lab 04), Euler | 0.87 | 0.96 |
# | 2-rectified flow, Euler | 0.96 | 0.96 |
#
# *Think (ungraded):* the lecture says flow matching "transforms noise directly". Which part of that is the flow
# objective, and which part is the parameterisation and the schedule? (Hint: DDIM with a v-model at zero terminal
# SNR is an ODE step from pure noise whose first x0 estimate is $-\hat v$; compare it with one Euler step of a flow.)
