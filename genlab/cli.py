"""The ``genlab`` command: data, eval, demo, ship, bench, assign, grade."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _cmd_data(args: argparse.Namespace) -> int:
    from genlab.data.images import availability_report

    print(availability_report())
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import jax

    from genlab import experiments
    from genlab.presets import add_xla_flags, compile_fast_for_tiny, resolve_preset

    preset = resolve_preset(args.preset)
    compile_fast_for_tiny(preset)  # before anything starts JAX's backend
    exp = experiments.get(args.experiment)
    add_xla_flags(exp.xla_flags)  # still before the backend starts: importing the experiments starts nothing
    try:
        config = exp.configure(preset, args.variant)  # the preset is resolved here, once; only configs go down
    except ValueError as err:
        raise SystemExit(f"genlab: {err}") from None
    variant = args.variant or exp.default_variant
    n_seeds = exp.default_seeds if args.seeds is None else args.seeds  # argparse refused 0 and negatives
    seeds = list(range(args.seed, args.seed + n_seeds))
    start = time.perf_counter()
    metrics = exp.run(config, seeds)
    wall = time.perf_counter() - start
    result = {
        "experiment": exp.name,
        "variant": variant,
        "preset": preset,
        "seeds": seeds,
        "metrics": metrics,
        "wall_seconds": round(wall, 2),
        "backend": jax.default_backend(),
        "devices": jax.device_count(),
    }
    if args.json:
        print(json.dumps(result, sort_keys=False))
    else:
        print(f"{exp.name} ({preset}, seeds {seeds}{', ' + variant if variant else ''}): {wall:.1f} s")
        for key, value in metrics.items():
            print(f"  {key}: {value}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from genlab.presets import compile_fast_for_tiny, resolve_preset

    preset = resolve_preset(args.preset)  # first: a bad $GENLAB_PRESET fails before anything heavy is imported
    compile_fast_for_tiny(preset)
    from genlab import experiments
    from genlab.demos.files import file_settings
    from genlab.demos.page import write_page
    from genlab.figures.notes import TINY_NOTE, figure_note

    experiments.load()
    out = Path(args.out)
    demos = sorted(experiments.DEMOS.values(), key=lambda d: (d.order, d.name))
    if args.only:
        unknown = sorted(set(args.only) - {d.name for d in demos})
        if unknown:
            raise SystemExit(f"genlab: no demo part {', '.join(unknown)}; "
                             f"the parts are {', '.join(d.name for d in demos)}")
        demos = [d for d in demos if d.name in args.only]
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with file_settings(args.format, args.dpi), figure_note(TINY_NOTE if preset == "tiny" else None):
        for demo in demos:
            start = time.perf_counter()
            print(f"[genlab demo] {demo.name} ({preset}) ...", flush=True)
            files = demo.make(demo.configure(preset), out / demo.name)
            written += files
            print(f"[genlab demo] {demo.name}: {len(files)} files in {time.perf_counter() - start:.1f} s")
    page = write_page(out, preset=preset)  # every part on disk, in lecture order, a caption each
    print(f"[genlab demo] wrote {len(written)} files under {out}/")
    for f in written:
        print(f"  {f}")
    if preset == "tiny":
        print("[genlab demo] tiny preset: the models are barely trained, so these files check that the demo runs; "
              "they are not lecture figures (each says 'tiny preset: untrained' on it). Use the cpu or gpu preset.")
    print(f"[genlab demo] open {page}")
    return 0


def _cmd_ship(args: argparse.Namespace) -> int:
    from genlab import experiments
    from genlab.presets import add_xla_flags, resolve_preset

    exp = experiments.get(args.experiment)
    add_xla_flags(exp.xla_flags)  # before anything starts JAX's backend
    if exp.name not in experiments.SHIPPERS:
        raise SystemExit(f"genlab: experiment {exp.name!r} ships no weights; these do: "
                         f"{', '.join(sorted(experiments.SHIPPERS))}")
    try:
        config = exp.configure(resolve_preset(args.preset), args.variant)
    except ValueError as err:
        raise SystemExit(f"genlab: {err}") from None
    report = experiments.SHIPPERS[exp.name](config, Path(args.out) if args.out else None)
    print(json.dumps(report))
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _cmd_bench(args: argparse.Namespace) -> int:
    from genlab.bench.config import BenchConfig
    from genlab.bench.run import check_parts, markdown, run_bench
    from genlab.figures.bench import growth_figure
    from genlab.presets import add_xla_flags, resolve_preset
    from genlab.train.xla_flags import CONV_XLA_FLAGS

    preset = resolve_preset(args.preset)
    try:
        parts = check_parts(args.only or _all_parts())
    except ValueError as err:
        raise SystemExit(f"genlab: {err}") from None
    if set(parts) - {"flow2d"}:  # U-Nets: as `genlab eval latent-diffusion` runs them (flow2d then runs under them)
        add_xla_flags(CONV_XLA_FLAGS)
    import contextlib

    import jax

    trace = jax.profiler.trace(args.profile) if args.profile else contextlib.nullcontext()
    with trace:  # a jax.profiler trace of the whole run (view it with xprof / TensorBoard's profile plugin)
        result = run_bench(getattr(BenchConfig, preset)(), parts=parts, use_peers=not args.no_peers)
    result["preset"] = preset
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(result)
    files = [out / "bench.json", out / "bench.md"]
    files[0].write_text(json.dumps(result, indent=1))
    files[1].write_text(table)
    if "growth" in result:
        files.append(out / "growth.png")
        growth_figure(result["growth"]).savefig(files[-1], dpi=120)
    result["files"] = [str(f) for f in files]
    if args.json:
        print(json.dumps(result))
    else:
        print(table)
        print("wrote " + ", ".join(result["files"]))
    return 0


def _all_parts() -> list[str]:
    from genlab.bench.config import PARTS

    return list(PARTS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="which datasets are available and from where")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("eval", help="train and evaluate a registered experiment")
    p.add_argument("experiment")
    p.add_argument("--preset", choices=["tiny", "cpu", "gpu"], default=None,
                   help="default: cpu or gpu, picked from the JAX backend")
    p.add_argument("--variant", default=None)
    p.add_argument("--seeds", type=_positive_int, default=None, help="number of seeds, >= 1 (default: per experiment)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("demo", help="train the quick models and write the lecture's figures and one page "
                                    "(runs/demo/index.html) under runs/")
    p.add_argument("--preset", choices=["tiny", "cpu", "gpu"], default=None)
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--only", nargs="*", default=None, help="names of demo parts to run")
    p.add_argument("--format", choices=["png", "svg", "pdf"], default="png",
                   help="file format of the figures (default png; animations stay GIF)")
    p.add_argument("--dpi", type=float, default=110, help="resolution of the figures (default 110)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("ship", help="retrain a model whose weights ship in data/ and write them there")
    p.add_argument("experiment")
    p.add_argument("--preset", choices=["tiny", "cpu", "gpu"], default=None)
    p.add_argument("--variant", default=None)
    p.add_argument("--out", default=None, help="folder to write to (default: the shipped folder in data/)")
    p.set_defaults(func=_cmd_ship)

    p = sub.add_parser("bench", help="time genlab against its PyTorch peers (torch, diffusers, torchcfm) here")
    p.add_argument("--preset", choices=["tiny", "cpu", "gpu"], default=None,
                   help="default: cpu or gpu, picked from the JAX backend")
    p.add_argument("--only", nargs="*", default=None,
                   help="parts to run: train_step sampling flow2d limit growth (default: all)")
    p.add_argument("--no-peers", action="store_true", help="time genlab's side only")
    p.add_argument("--out", default="runs/bench", help="folder for bench.json, bench.md and growth.png")
    p.add_argument("--profile", default=None, metavar="DIR", help="also write a jax.profiler trace of the run to DIR")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_bench)

    try:
        from genlab.grading import commands as grading_commands
    except ImportError:
        grading_commands = None
    if grading_commands is not None:
        grading_commands.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from genlab.presets import PresetError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except PresetError as err:  # e.g. GENLAB_PRESET=huge: one line, not a traceback
        print(f"genlab: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
