"""The ``genlab assign`` and ``genlab grade`` subcommands (hooked in by ``genlab.cli``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_assign(args: argparse.Namespace) -> int:
    from genlab.grading import labs
    from genlab.grading.assign import AssignError, build_lab
    from genlab.grading.sandbox import Limits

    try:
        masters = [labs.resolve_master(args.lab)] if args.lab else labs.all_masters()
    except FileNotFoundError as exc:
        print(f"genlab assign: {exc}", file=sys.stderr)
        return 2
    if not masters:
        print(f"genlab assign: no lab masters (NN_name.py) in {labs.labs_dir()}", file=sys.stderr)
        return 2
    limits = Limits(timeout_s=args.timeout, memory_mb=args.memory)
    wheel = None
    if not args.no_wheel:
        from genlab.grading.install import WheelError, build_wheel

        try:
            wheel = build_wheel(Path(args.out) / "_wheel")
        except WheelError as exc:
            print(f"genlab assign: {exc}", file=sys.stderr)
            return 2
    failed = []
    for master in masters:
        try:
            build_lab(
                master, Path(args.out), private_dir=args.private_tests,
                several_labs=len(masters) > 1, limits=limits, check=not args.no_check, wheel=wheel,
            )  # fmt: skip
        except (AssignError, FileNotFoundError, ValueError) as exc:
            print(f"genlab assign: {exc}", file=sys.stderr)
            failed.append(master.stem)
    if failed:
        print(f"genlab assign: FAILED for {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from genlab.grading.grade import grade_batch
    from genlab.grading.sandbox import Limits

    limits = Limits(timeout_s=args.timeout, memory_mb=args.memory)
    try:
        grade_batch(
            [Path(p) for p in args.submissions], Path(args.out), lab=args.lab,
            dist=Path(args.dist) if args.dist else None, limits=limits,
            results_json=args.results_json, feedback_dir=args.feedback, require_isolation=args.require_isolation,
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        print(f"genlab grade: {exc}", file=sys.stderr)
        return 2
    return 0


def add_parsers(sub) -> None:
    """Add ``assign`` and ``grade`` to the ``genlab`` subcommands."""
    p = sub.add_parser("assign", help="build student notebooks and autograder bundles from labs/*.py")
    p.add_argument("lab", nargs="?", default=None, help="lab name (01_gan) or master path; default: all")
    p.add_argument("--out", default="dist", help="output folder (default dist/): dist/<lab>/{student,autograder}")
    p.add_argument("--private-tests", type=Path, default=None, metavar="DIR",
                   help="instructor's private hidden tests: DIR/<lab>/q1_private.py (or DIR/q1_private.py)")
    p.add_argument("--no-check", action="store_true",
                   help="skip grading the solutions: fast, for students (make lab); instructors and CI check them")
    p.add_argument("--no-wheel", action="store_true",
                   help="do not put genlab's wheel in the student folders (students then need genlab installed)")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="seconds for grading the solutions (default 900; the cells get 75 %%)")
    p.add_argument("--memory", type=int, default=4096, help="MB for grading the solutions (0: no limit)")
    p.set_defaults(func=_cmd_assign)

    p = sub.add_parser("grade", help="grade submitted notebooks (no Docker): CSV + feedback per student")
    p.add_argument("submissions", nargs="+", help=".ipynb files or folders of them")
    p.add_argument("--out", required=True, help="the CSV to write, e.g. grades.csv")
    p.add_argument("--lab", default=None, help="lab name, dist/<lab> or bundle folder (default: from notebook)")
    p.add_argument("--dist", default=None, help="where `genlab assign` wrote the bundles (default: dist/)")
    p.add_argument("--results-json", action="store_true", help="also write Gradescope results.json per student")
    p.add_argument("--feedback", type=Path, default=None, help="feedback folder (default: <out>_feedback/)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per submission (default 900)")
    p.add_argument("--memory", type=int, default=4096, help="MB per submission (default 4096; 0: no limit)")
    p.add_argument("--require-isolation", action="store_true",
                   help="refuse to grade unless every isolation mechanism works here (mount, pid, net, user)")
    p.set_defaults(func=_cmd_grade)
