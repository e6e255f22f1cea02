"""Record the failing 2D GAN runs that lab 01 diagnoses (data/gan_runs/*.json).

What it writes (``genlab.diagnostics.records.save_history``: the history thinned to 500 steps, 5 digits):

  data/gan_runs/collapse.json     gan-ring8 --variant vanilla (its preset): mode collapse
  data/gan_runs/divergence.json   the saturating-loss arm of gan-divergence, its first 1,000 steps
                                  (evaluated every 100): D wins, G's gradient vanishes

The same preset and seed give the same histories (the runs are pure functions of the seed).

Usage:
  python scripts/record_gan_runs.py [--preset cpu] [--seed 0] [--out data/gan_runs]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from genlab.diagnostics.records import save_history
from genlab.experiments import gan2d

DIVERGENCE_STEPS = 1000  # the first steps are where the gradient vanishes
DIVERGENCE_EVERY = 100


def record_failing_runs(out_dir: str | Path = "data/gan_runs", preset: str = "cpu", seed: int = 0) -> list[Path]:
    """Train the collapse and divergence runs at ``preset`` and save their histories as JSON under ``out_dir``."""
    collapse = gan2d.VARIANTS["vanilla"](getattr(gan2d.Ring8Config, preset)())
    divergence = getattr(gan2d.DivergenceConfig, preset)()
    divergence = dataclasses.replace(
        divergence, train=dataclasses.replace(divergence.train, steps=DIVERGENCE_STEPS, log_every=DIVERGENCE_EVERY),
        eval=dataclasses.replace(divergence.eval, every=DIVERGENCE_EVERY))
    runs = {
        "collapse": (collapse, "vanilla GAN (Metz 2017 setup) on ring8: mode collapse"),
        "divergence": (divergence, "saturating loss vs a too-strong discriminator on ring8: D wins, "
                                   "G's gradient vanishes"),
    }
    paths = []
    for name, (config, what) in runs.items():
        run = gan2d.train_gan2d(config, seed)
        info = {"what": what, "seed": seed, "preset": preset, "config": dataclasses.asdict(config),
                "final": dict(run.final), "findings": [f.kind for f in run.findings]}
        paths.append(save_history(run.history, Path(out_dir) / f"{name}.json", max_points=500, info=info))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=("tiny", "cpu", "gpu"), default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="data/gan_runs")
    args = parser.parse_args(argv)
    for path in record_failing_runs(args.out, args.preset, args.seed):
        print(path)


if __name__ == "__main__":
    main()
