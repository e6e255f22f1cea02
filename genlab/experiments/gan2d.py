"""2D GAN experiments: ``gan-ring8``, ``gan-grid25`` (--variant vanilla|fixed), ``gan-divergence``, demo ``gan2d``.

- vanilla: the classic setup of Metz et al. 2017 (unrolled GANs, §3.1) that VEEGAN and PacGAN reuse:
  G = MLP 256 → 128 → 128 → 2 (ReLU), D = MLP 2 → 128 → 1 (ReLU), the non-saturating loss, Adam 1e-4,
  β1 = 0.5, batch 512. On ring8 it collapses onto one or two modes and hops between them.
- fixed: PacGAN packing (m = 2, Lin et al. 2018) + R1 (γ = 0.01, Mescheder et al. 2018) with a deeper G,
  a two-layer leaky-ReLU D, Adam β2 = 0.99 and a final cosine decay of the learning rates (sharp modes).
- divergence: the saturating (minimax) loss against a discriminator far ahead of G (:class:`DivergenceConfig`):
  D(G(z)) -> 0 and the generator's gradient vanishes. The non-saturating loss keeps the gradient alive (but
  collapses onto one mode); the fix (non-saturating + R1 + PacGAN2, a fair G learning rate) covers every mode.
Metrics follow VEEGAN (shared/REFERENCES.md): 2,500 samples, high quality within 3σ, a mode covered if it has a
high-quality sample; mean and std over seeds.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import jax
import numpy as np

from genlab.data.toy2d import Mixture, batch_sampler, toy2d
from genlab.demos.gan2d import write_gan2d_demo
from genlab.diagnostics.coverage import SampleRecorder, coverage_callback, coverage_eval
from genlab.diagnostics.gan import diagnose, diagnose_callback
from genlab.experiments import identity, register, register_demo
from genlab.experiments.gan_common import GANRun, build_players, cached_gan_step, fit_gan, gan_adam, run_record
from genlab.models.gan.mlp import MLPGANConfig, build
from genlab.objectives.gan import GANSettings
from genlab.train.configs import TrainConfig
from genlab.train.keys import eval_key
from genlab.train.optim import OptimConfig


@dataclasses.dataclass(frozen=True)
class Gan2DEval:
    every: int = 500  # VEEGAN evaluation period (steps)
    n_samples: int = 2500  # samples per evaluation


@dataclasses.dataclass(frozen=True)
class Gan2DConfig:
    """One 2D GAN run. Defaults: the vanilla (Metz 2017) setup on ring8 at the ``cpu`` preset."""

    data: str | Mixture = "ring8"  # a genlab.data.toy2d mixture: a name, or your own toy2d.Mixture
    model: MLPGANConfig = MLPGANConfig()
    objective: GANSettings = GANSettings(loss="non_saturating")
    optim_g: OptimConfig = gan_adam(1e-4)
    optim_d: OptimConfig = gan_adam(1e-4)
    train: TrainConfig = TrainConfig(steps=5000, batch_size=512, log_every=500)  # metrics fetched at evaluations
    eval: Gan2DEval = Gan2DEval()

    @classmethod
    def cpu(cls):
        return cls()


def tiny_preset(config: Gan2DConfig, steps: int) -> Gan2DConfig:
    """``config`` at toy size: small networks and batches, 500 samples every 20 steps."""
    return dataclasses.replace(config, model=dataclasses.replace(config.model, latent_dim=8, g_width=32, d_width=32),
                               train=TrainConfig(steps=steps, batch_size=64, log_every=20),
                               eval=Gan2DEval(every=20, n_samples=500))


def with_steps(config: Gan2DConfig, steps: int, every: int | None = None) -> Gan2DConfig:
    """``config`` for ``steps`` steps (and, given ``every``, evaluated and logged every ``every`` steps)."""
    if every is None:
        return dataclasses.replace(config, train=dataclasses.replace(config.train, steps=steps))
    return dataclasses.replace(config, train=dataclasses.replace(config.train, steps=steps, log_every=every),
                               eval=dataclasses.replace(config.eval, every=every))


# ------------------------------------------------------------------------------------- gan-ring8, gan-grid25
@dataclasses.dataclass(frozen=True)
class FixedSizes:
    """What the fixed recipe sets that depends on the data set and the preset (it trains longer, on smaller
    batches, from a smaller latent, and works at the data's scale)."""

    train: TrainConfig = TrainConfig(steps=15_000, batch_size=256, log_every=2000)
    eval_every: int = 2000
    latent_dim: int = 16
    decay_from: float = 0.5  # the final cosine decay of both learning rates starts here
    data_scale: float = 1.0  # the data's radius: the networks work at unit scale


@dataclasses.dataclass(frozen=True)
class Ring8Config(Gan2DConfig):
    """``gan-ring8``: the vanilla setup; ``fixed`` holds the sizes of the fixed recipe at the same preset."""

    fixed: FixedSizes = FixedSizes()

    @classmethod
    def tiny(cls):
        base = tiny_preset(cls(), steps=60)
        return dataclasses.replace(base, fixed=dataclasses.replace(base.fixed, train=base.train,
                                                                   eval_every=base.eval.every))

    @classmethod
    def gpu(cls):
        base = with_steps(cls(), 20_000)
        fixed_train = dataclasses.replace(base.fixed.train, steps=2 * base.fixed.train.steps)
        return dataclasses.replace(base, fixed=dataclasses.replace(base.fixed, train=fixed_train))


@dataclasses.dataclass(frozen=True)
class Grid25Config(Ring8Config):
    """``gan-grid25``: the same presets on 25 modes of radius 4. Its 25 modes take longer to find and sharpen:
    the fixed recipe trains twice as long, with a longer decay, at data scale 4."""

    data: str = "grid25"
    fixed: FixedSizes = FixedSizes(train=TrainConfig(steps=30_000, batch_size=256, log_every=2000),
                                   decay_from=0.3, data_scale=4.0)


def fixed(config: Ring8Config) -> Ring8Config:
    """PacGAN2 + R1 with a deeper G, a final cosine decay of the learning rates, networks at unit data scale.

    R1's γ is 0.01 at unit scale; grid25 (radius 4) is scaled by 4, so γ = 0.01 · 4² there (the same penalty
    in the networks' coordinates). Settings were tuned on seeds 0-3 (ring8) and 0-2 (grid25), so seed 4 is
    the only unseen one. Without packing (pack=1) the same recipe collapsed completely on grid25 (seed 1).
    """
    f = config.fixed
    optim = gan_adam(1e-3, b2=0.99, decay_from=f.decay_from, final_fraction=0.02)
    model = dataclasses.replace(config.model, latent_dim=f.latent_dim, g_depth=3, d_depth=2,
                                d_activation="leaky_relu", data_scale=f.data_scale)
    return dataclasses.replace(config, model=model, optim_g=optim, optim_d=optim, train=f.train,
                               objective=GANSettings(loss="non_saturating", pack=2, r1_gamma=0.01 * f.data_scale**2),
                               eval=dataclasses.replace(config.eval, every=f.eval_every))


VARIANTS = {"vanilla": identity, "fixed": fixed}


# ---------------------------------------------------------------------------------------- gan-divergence
@dataclasses.dataclass(frozen=True)
class DivergenceConfig(Gan2DConfig):
    """A discriminator far ahead of the generator (the ``minimax`` arm; :data:`ARMS` are the other two).

    Setting (Goodfellow 2014 §3, "early in learning D can reject samples with high confidence"): G starts as an
    almost-point mass at the origin (its output layer initialised x0.01), 1 away from every ring8 mode; D (two
    hidden layers) takes 5 Adam steps at lr 3e-3 per G step, G's saturating loss log(1 - D(G(z))) at lr 1e-4
    (D moves 150x as much).
    """

    model: MLPGANConfig = MLPGANConfig(d_depth=2, g_out_init=0.01)
    objective: GANSettings = GANSettings(loss="minimax", n_critic=5)
    optim_d: OptimConfig = gan_adam(3e-3)
    train: TrainConfig = TrainConfig(steps=8000, batch_size=256, log_every=500)

    @classmethod
    def tiny(cls):
        return tiny_preset(cls(), steps=40)

    @classmethod
    def gpu(cls):
        return with_steps(cls(), 16_000)


def non_saturating(config: DivergenceConfig) -> DivergenceConfig:
    """Only the loss changed to -log D(G(z)): the gradient stays alive and G reaches the data, but onto one mode."""
    return dataclasses.replace(config, objective=dataclasses.replace(config.objective, loss="non_saturating"))


def divergence_fix(config: DivergenceConfig) -> DivergenceConfig:
    """What ``diagnose`` suggests: non-saturating + R1 (γ = 0.1) + PacGAN2, and G's learning rate raised to 1e-3
    with the fixed variant's optimiser (β2 = 0.99, cosine decay over the second half). D keeps its 5 steps at
    lr 3e-3. It reaches every mode, sharply."""
    decay = {"b2": 0.99, "decay_from": 0.5, "final_fraction": 0.02}
    return dataclasses.replace(
        config, objective=dataclasses.replace(config.objective, loss="non_saturating", r1_gamma=0.1, pack=2),
        optim_g=dataclasses.replace(config.optim_g, learning_rate=1e-3, **decay),
        optim_d=dataclasses.replace(config.optim_d, **decay))


ARMS = {"minimax": identity, "non_saturating": non_saturating, "fixed": divergence_fix}
ARM_LABELS = {"minimax": "saturating loss", "non_saturating": "non-saturating loss",
              "fixed": "the fix: NS + R1 + PacGAN2, G lr x10"}


# ------------------------------------------------------------------------------------------- training
def train_gan2d(config: Gan2DConfig, seed: int, *, snapshots: int = 0, live_diagnose: bool = False,
                progress: bool = False, run_dir=None) -> GANRun:
    """Train one seed; evaluate VEEGAN coverage every ``config.eval.every`` steps and at the end.

    snapshots: keep that many samples per evaluation for figures (0: none).
    live_diagnose: print diagnose findings while training. A NaN stops the run; ``error`` then holds it.
    """
    mixture = toy2d(config.data)
    objects = build_players(build, config, seed)
    k_train, k_eval, k_snap = jax.random.split(eval_key(seed), 3)  # the GAN runs draw every key from eval_key
    callbacks = [coverage_callback(mixture, k_eval, config.eval.n_samples)]
    recorder = SampleRecorder(k_snap, snapshots) if snapshots else None
    if recorder:
        callbacks.append(recorder)
        recorder(0, objects, None)
    if live_diagnose:
        callbacks.append(diagnose_callback())
    step = cached_gan_step(objects, config.objective, batch_sampler(config.data, config.train.batch_size))
    history, error, seconds = fit_gan(objects, step, None, config.train, k_train, callbacks=callbacks,
                                      every=config.eval.every, progress=progress, run_dir=run_dir,
                                      desc=f"gan {mixture.name} seed {seed}")
    G, D = objects[:2]
    final = coverage_eval(G, mixture, k_eval, config.eval.n_samples)
    return GANRun(config, G, D, history, final, diagnose(history), recorder.snapshots if recorder else {},
                  seconds, error)


def summarise(runs: list[GANRun], seeds: list[int]) -> dict:
    """Mean and std over seeds of modes covered and high-quality fraction, per-seed numbers and findings."""
    modes = np.array([r.final["modes_covered"] for r in runs], float)
    hq = np.array([r.final["high_quality_fraction"] for r in runs], float)
    return {
        "dataset": toy2d(runs[0].config.data).name,
        "n_modes": runs[0].final["n_modes"],
        "modes_covered_mean": float(modes.mean()),
        "modes_covered_std": float(modes.std()),
        "high_quality_mean": float(hq.mean()),
        "high_quality_std": float(hq.std()),
        "per_seed": [
            {"seed": s, "modes_covered": int(r.final["modes_covered"]),
             "high_quality_fraction": round(float(r.final["high_quality_fraction"]), 4), **run_record(r)}
            for s, r in zip(seeds, runs)
        ],
        "seconds_per_seed": float(np.mean([r.seconds for r in runs])),
    }


# ---------------------------------------------------------------------------------------- registrations
def run_modes(config: Gan2DConfig, seeds: list[int]) -> dict:
    return {**summarise([train_gan2d(config, s) for s in seeds], seeds), "config": dataclasses.asdict(config)}


register("gan-ring8", config=Ring8Config, variants=VARIANTS, default_seeds=5,
         description="GAN on 8 Gaussians on a ring (σ = 0.01): modes covered and % high quality")(run_modes)
register("gan-grid25", config=Grid25Config, variants=VARIANTS, default_seeds=5,
         description="GAN on a 5x5 grid of Gaussians (σ = 0.05): modes covered and % high quality")(run_modes)


@register("gan-divergence", config=DivergenceConfig, default_seeds=3,
          description="a too-strong D: saturating loss (G's gradient vanishes) vs non-saturating vs the fix")
def run_divergence(config: DivergenceConfig, seeds: list[int]) -> dict:
    out = {}
    for arm, edit in ARMS.items():
        runs = [train_gan2d(edit(config), s) for s in seeds]
        summary = summarise(runs, seeds)
        tail = max(1, len(runs[0].history.steps) // 10)  # the last 10 % of the steps

        def tail_mean(name: str) -> float:
            return float(sum(sum(r.history.metrics[name][-tail:]) / tail for r in runs) / len(runs))

        summary.update(final_d_fake_mean=tail_mean("d_fake"), final_d_real_mean=tail_mean("d_real"),
                       final_grad_norm_g_mean=tail_mean("grad_norm_g"),
                       modes_visited_mean=float(sum(r.final["modes_visited"] for r in runs) / len(runs)))
        out[arm] = summary
    return out


# ------------------------------------------------------------------------------------------------ demo
@dataclasses.dataclass(frozen=True)
class Gan2DDemoConfig:
    """Collapse vs fix on ring8 and the three divergence arms, shortened to these step counts (seed 0)."""

    ring8: Ring8Config = Ring8Config()
    divergence: DivergenceConfig = DivergenceConfig()
    vanilla_steps: int = 2500
    fixed_steps: int = 5000
    divergence_steps: int = 4000
    evaluations: int = 15  # per ring8 run (the divergence arms: one more)
    snapshots: int = 500  # samples kept per evaluation for the figures

    @classmethod
    def tiny(cls):
        return cls(Ring8Config.tiny(), DivergenceConfig.tiny(), vanilla_steps=60, fixed_steps=60, divergence_steps=40)

    @classmethod
    def cpu(cls):
        return cls()

    @classmethod
    def gpu(cls):
        return cls(Ring8Config.gpu(), DivergenceConfig.gpu(), vanilla_steps=5000, fixed_steps=15_000,
                   divergence_steps=8000)


def shortened(config: Gan2DConfig, steps: int, evaluations: int) -> Gan2DConfig:
    return with_steps(config, steps, every=max(steps // evaluations, 1))


@register_demo("gan2d", config=Gan2DDemoConfig, order=20)
def make_demo(config: Gan2DDemoConfig, out_dir: Path) -> list[Path]:
    """Collapse vs fix on ring8 (samples, GIFs, coverage), D outputs/gradient norms, and the DiracGAN portrait."""
    train = functools.partial(train_gan2d, seed=0, snapshots=config.snapshots)
    vanilla = train(shortened(config.ring8, config.vanilla_steps, config.evaluations))
    fixed_run = train(shortened(fixed(config.ring8), config.fixed_steps, config.evaluations))
    arms = {arm: train(shortened(edit(config.divergence), config.divergence_steps, config.evaluations + 1))
            for arm, edit in ARMS.items()}
    for name, run in (("vanilla", vanilla), ("fixed", fixed_run), *((f"divergence {a}", r) for a, r in arms.items())):
        for finding in run.findings:
            print(f"[gan2d demo] {name}: {finding}")
    return write_gan2d_demo(out_dir, vanilla, fixed_run, {ARM_LABELS[a]: r for a, r in arms.items()},
                            divergent=arms["minimax"], centers=toy2d(config.ring8.data).centers)
