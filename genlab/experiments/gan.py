"""2D GAN experiments: ``gan-ring8``, ``gan-grid25`` (--variant vanilla|fixed), ``gan-divergence``, demo ``gan2d``.

- vanilla: the classic Metz et al. 2017 setup (see ``gan2d_setup``): non-saturating loss, Adam 1e-4, β1 = 0.5,
  batch 512. On ring8 it collapses onto one or two modes and hops between them.
- fixed: PacGAN packing (m = 2, Lin et al. 2018) + R1 (γ = 0.01, Mescheder et al. 2018) with a deeper G,
  a two-layer leaky-ReLU D, Adam β2 = 0.99 and a final cosine decay of the learning rates (sharp modes).
- divergence: the saturating (minimax) loss against a discriminator far ahead of G (see ``divergence_config``):
  D(G(z)) -> 0 and the generator's gradient vanishes. The non-saturating loss keeps the gradient alive (but
  collapses onto one mode); the fix (non-saturating + R1 + PacGAN2, a fair G learning rate) covers every mode.
Metrics follow VEEGAN (shared/REFERENCES.md): 2,500 samples, high quality within 3σ, a mode covered if it has a
high-quality sample; mean and std over seeds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from genlab.experiments import register, register_demo
from genlab.experiments.gan2d_setup import Gan2DConfig, summarise, train_gan2d
from genlab.presets import resolve_preset

VARIANTS = ("vanilla", "fixed")


def vanilla_config(dataset: str, preset: str) -> Gan2DConfig:
    """Metz et al. 2017 setup (the defaults of Gan2DConfig)."""
    preset = resolve_preset(preset)
    if preset == "tiny":
        return Gan2DConfig(dataset, steps=60, batch_size=64, latent_dim=8, g_width=32, d_width=32,
                           eval_every=20, n_eval=500)
    return Gan2DConfig(dataset, steps={"cpu": 5000, "gpu": 20_000}[preset], eval_every=500)


def fixed_config(dataset: str, preset: str) -> Gan2DConfig:
    """PacGAN2 + R1 with a deeper G, a final cosine decay of the learning rates, networks at unit data scale.

    R1's γ is 0.01 at unit scale; grid25 (radius 4) is scaled by 4, so γ = 0.01 · 4² there (the same penalty
    in the networks' coordinates). Settings were tuned on seeds 0-3 (ring8) and 0-2 (grid25), so seed 4 is
    the only unseen one. Without packing (pack=1) the same recipe collapsed completely on grid25 (seed 1).
    """
    preset = resolve_preset(preset)
    scale = {"ring8": 1.0, "grid25": 4.0}.get(dataset, 1.0)
    base = Gan2DConfig(dataset, loss="non_saturating", pack=2, r1_gamma=0.01 * scale**2, data_scale=scale,
                       batch_size=256, latent_dim=16, g_width=128, g_depth=3, d_width=128, d_depth=2,
                       d_activation="leaky_relu", beta1=0.5, beta2=0.99, final_lr=0.02)
    if dataset == "grid25":  # 25 modes take longer to find and sharpen: more steps, a longer decay
        base = dataclasses.replace(base, lr_g=1e-3, lr_d=1e-3, decay_from=0.3, steps=30_000)
    else:
        base = dataclasses.replace(base, lr_g=1e-3, lr_d=1e-3, decay_from=0.5, steps=15_000)
    if preset == "tiny":
        return dataclasses.replace(base, steps=60, batch_size=64, g_width=32, d_width=32, eval_every=20,
                                   n_eval=500)
    if preset == "gpu":
        return dataclasses.replace(base, steps=2 * base.steps, eval_every=2000)
    return dataclasses.replace(base, eval_every=2000)


DIVERGENCE_ARMS = ("minimax", "non_saturating", "fixed")
ARM_LABELS = {"minimax": "saturating loss", "non_saturating": "non-saturating loss",
              "fixed": "the fix: NS + R1 + PacGAN2, G lr x10"}


def divergence_config(arm: str, preset: str) -> Gan2DConfig:
    """A discriminator far ahead of the generator, three ways to play against it.

    Setting (Goodfellow 2014 §3, "early in learning D can reject samples with high confidence"): G starts as an
    almost-point mass at the origin (its output layer initialised x0.01), 1 away from every ring8 mode; D (two
    hidden layers) takes 5 Adam steps at lr 3e-3 per G step. Arms:

    - ``minimax``: saturating G loss log(1 - D(G(z))) at G lr 1e-4 (D moves 150x as much): its gradient
      ~ -D(G(z)) vanishes, G stays at the origin.
    - ``non_saturating``: only the loss changed to -log D(G(z)): the gradient stays alive and G reaches the data,
      but onto one mode.
    - ``fixed``: what ``diagnose`` suggests: non-saturating + R1 (γ = 0.1) + PacGAN2, and G's learning rate raised
      to 1e-3 with the fixed variant's optimiser (β2 = 0.99, cosine decay over the second half). D keeps its
      5 steps at lr 3e-3. It reaches every mode, sharply.
    """
    if arm not in DIVERGENCE_ARMS:
        raise ValueError(f"unknown divergence arm {arm!r}: choose one of {', '.join(DIVERGENCE_ARMS)}")
    preset = resolve_preset(preset)
    loss = "minimax" if arm == "minimax" else "non_saturating"
    base = Gan2DConfig("ring8", loss=loss, n_critic=5, d_width=128, d_depth=2, lr_g=1e-4, lr_d=3e-3,
                       beta1=0.5, batch_size=256, g_out_init=0.01)
    if arm == "fixed":
        base = dataclasses.replace(base, r1_gamma=0.1, pack=2, lr_g=1e-3, beta2=0.99, decay_from=0.5,
                                   final_lr=0.02)
    if preset == "tiny":
        return dataclasses.replace(base, steps=40, batch_size=64, latent_dim=8, g_width=32, d_width=32,
                                   eval_every=20, n_eval=500)
    return dataclasses.replace(base, steps={"cpu": 8000, "gpu": 16_000}[preset], eval_every=500)


def config(dataset: str, variant: str, preset: str) -> Gan2DConfig:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    return (vanilla_config if variant == "vanilla" else fixed_config)(dataset, preset)


def _run_seeds(cfg: Gan2DConfig, seeds: list[int]) -> dict:
    return {**summarise([train_gan2d(cfg, s) for s in seeds], seeds), "config": dataclasses.asdict(cfg)}


@register("gan-ring8", description="GAN on 8 Gaussians on a ring (σ = 0.01): modes covered and % high quality",
          variants=VARIANTS, default_seeds=5)
def run_ring8(preset: str, seeds: list[int], variant: str | None = None) -> dict:
    return _run_seeds(config("ring8", variant or "vanilla", preset), seeds)


@register("gan-grid25", description="GAN on a 5x5 grid of Gaussians (σ = 0.05): modes covered and % high quality",
          variants=VARIANTS, default_seeds=5)
def run_grid25(preset: str, seeds: list[int], variant: str | None = None) -> dict:
    return _run_seeds(config("grid25", variant or "vanilla", preset), seeds)


@register("gan-divergence", description="a too-strong D: saturating loss (G's gradient vanishes) vs non-saturating "
          "vs the fix", default_seeds=3)
def run_divergence(preset: str, seeds: list[int], variant: str | None = None) -> dict:
    out = {}
    for arm in DIVERGENCE_ARMS:
        runs = [train_gan2d(divergence_config(arm, preset), s) for s in seeds]
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
DEMO_STEPS = {"tiny": (60, 60, 40), "cpu": (2500, 5000, 4000), "gpu": (5000, 15_000, 8000)}  # vanilla, fixed, div.


@register_demo("gan2d", order=20)
def make_demo(preset: str, out_dir: Path) -> list[Path]:
    """Collapse vs fix on ring8 (samples, GIFs, coverage), D outputs/gradient norms, and the DiracGAN portrait."""
    from genlab.data.toy2d import toy2d
    from genlab.figures.dirac import dirac_portrait
    from genlab.figures.gan2d import (arms_comparison, coverage_over_time, d_outputs_and_grad_norms,
                                      samples_over_training, training_animation)

    preset = resolve_preset(preset)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_van, n_fix, n_div = DEMO_STEPS[preset]
    centers = toy2d("ring8").centers
    van_cfg = dataclasses.replace(vanilla_config("ring8", preset), steps=n_van, eval_every=max(n_van // 15, 1))
    fix_cfg = dataclasses.replace(fixed_config("ring8", preset), steps=n_fix, eval_every=max(n_fix // 15, 1))
    vanilla, fixed = train_gan2d(van_cfg, 0, snapshots=500), train_gan2d(fix_cfg, 0, snapshots=500)
    arms = {arm: train_gan2d(dataclasses.replace(divergence_config(arm, preset), steps=n_div,
                                                 eval_every=max(n_div // 16, 1)), 0, snapshots=500)
            for arm in DIVERGENCE_ARMS}
    divergent = arms["minimax"]

    def save(fig, name: str) -> Path:
        path = out_dir / name
        fig.savefig(path, dpi=110)
        return path

    files = [
        save(samples_over_training(vanilla.snapshots, centers, history=vanilla.history,
                                   title="vanilla GAN (Metz 2017 setup): mode collapse"), "ring8_vanilla_samples.png"),
        save(samples_over_training(fixed.snapshots, centers, history=fixed.history,
                                   title="PacGAN2 + R1: every mode"), "ring8_fixed_samples.png"),
        save(coverage_over_time({"vanilla": vanilla.history, "PacGAN2 + R1": fixed.history}), "ring8_coverage.png"),
        save(d_outputs_and_grad_norms(vanilla.history, "vanilla GAN (non-saturating loss)"), "ring8_vanilla_d.png"),
        save(d_outputs_and_grad_norms(divergent.history, "saturating loss vs a too-strong D: G's gradient vanishes"),
             "ring8_divergence_d.png"),
        save(arms_comparison({ARM_LABELS[a]: (r.history, r.snapshots[max(r.snapshots)]) for a, r in arms.items()},
                             centers, title="a too-strong D (5 steps at lr 3e-3 per G step): three ways to play"),
             "ring8_divergence_arms.png"),
        save(dirac_portrait(), "diracgan_portrait.png"),
        training_animation(vanilla.snapshots, centers, out_dir / "ring8_vanilla.gif", history=vanilla.history,
                           title="vanilla GAN"),
        training_animation(fixed.snapshots, centers, out_dir / "ring8_fixed.gif", history=fixed.history,
                           title="PacGAN2 + R1"),
    ]
    for name, run in (("vanilla", vanilla), ("fixed", fixed), *((f"divergence {a}", r) for a, r in arms.items())):
        for finding in run.findings:
            print(f"[gan2d demo] {name}: {finding}")
    return files


# ------------------------------------------------------------------------------- pre-recorded failing runs
def record_failing_runs(out_dir: str | Path = "data/gan_runs", preset: str = "cpu", seed: int = 0) -> list[Path]:
    """Train the vanilla (collapse) and divergence (saturating loss, first 1,000 steps) runs and save their
    histories as JSON.

    These are the pre-recorded runs that labs diagnose (``genlab.diagnostics.records.load_history``).
    Run: ``python -c "from genlab.experiments.gan import record_failing_runs; record_failing_runs()"``.
    """
    from genlab.diagnostics.records import save_history

    out_dir = Path(out_dir)
    runs = {
        "collapse": (vanilla_config("ring8", preset), "vanilla GAN (Metz 2017 setup) on ring8: mode collapse"),
        "divergence": (dataclasses.replace(divergence_config("minimax", preset), steps=1000, eval_every=100),
                       "saturating loss vs a too-strong discriminator on ring8: D wins, G's gradient vanishes"),
    }
    paths = []
    for name, (cfg, what) in runs.items():
        run = train_gan2d(cfg, seed)
        info = {"what": what, "seed": seed, "preset": preset, "config": dataclasses.asdict(cfg),
                "final": {k: v for k, v in run.final.items()}, "findings": [f.kind for f in run.findings]}
        paths.append(save_history(run.history, out_dir / f"{name}.json", max_points=500, info=info))
    return paths
