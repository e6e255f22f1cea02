"""genlab for students without the repository: a wheel that ``genlab assign`` puts in every student folder.

The student notebook's setup cell installs genlab from the ``genlab-*.whl`` beside the notebook when genlab is
missing (Colab: upload the wheel with the notebook); no repository URL is involved. The wheel carries the
package and the files of ``data/`` that labs read (the embedded Fashion-MNIST subset, shipped weights,
recorded runs), not the full Fashion-MNIST (see ``setup.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from genlab.grading.labs import repo_root


class WheelError(RuntimeError):
    """genlab could not be built into a wheel (no checkout, or pip failed)."""


@contextlib.contextmanager
def checkout_lock(root: Path):
    """One wheel build of a checkout at a time: setuptools builds in the checkout's own ``build/`` folder, so two
    at once (two `genlab assign` runs, or two test workers) would write over each other's files."""
    with open(Path(root) / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_wheel(out_dir: Path, root: Path | None = None) -> Path:
    """Build genlab's wheel from the checkout ``root`` (default: this one) into ``out_dir``; returns its path."""
    root = Path(root) if root is not None else repo_root()
    if not (root / "pyproject.toml").is_file():
        raise WheelError(f"{root} is not a genlab checkout (no pyproject.toml): run genlab assign from a clone, "
                         "or pass --no-wheel and give students genlab some other way")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="genlab-wheel-") as tmp:
        command = [sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "-q", "-w", tmp]
        if importlib.util.find_spec("setuptools") is not None:
            command.insert(5, "--no-build-isolation")  # offline: build with the setuptools at hand
        with checkout_lock(root):
            done = subprocess.run(command, capture_output=True, text=True, cwd=tmp)
        wheels = sorted(Path(tmp).glob("genlab-*.whl"))
        if done.returncode or not wheels:
            raise WheelError(f"building genlab's wheel failed ({' '.join(command)}):\n{done.stderr[-2000:]}")
        target = out_dir / wheels[-1].name
        shutil.copyfile(wheels[-1], target)
    return target


# The setup cell's first lines (genlab.grading.student puts them on top of every student notebook).
INSTALL_SNIPPET = '''\
import glob, importlib, importlib.util, subprocess, sys
if importlib.util.find_spec("genlab") is None:  # e.g. Colab: install genlab from the wheel beside this notebook
    wheels = sorted(glob.glob("genlab-*.whl"))
    if not wheels:
        raise RuntimeError("genlab is not installed and no genlab-*.whl lies beside this notebook: upload the wheel "
                           "from the lab's student folder (Colab: the Files panel on the left), then run this cell again")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", wheels[-1]])
    importlib.invalidate_caches()'''
