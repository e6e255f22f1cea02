"""Ships ``data/`` inside the wheel as the package ``genlab._shipped`` (read through ``genlab.shipped``), so a
``pip install`` of the wheel (the student folder's, e.g. on Colab) has the subset, the weights and the recorded runs.
Its sub-folders are listed as packages too (setuptools warns about each one otherwise); the full Fashion-MNIST in
``data/fashion-mnist`` stays out of the wheel (it is not an importable name, and no package-data pattern takes
``.gz``). Everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import find_packages, setup

DATA = Path(__file__).resolve().parent / "data"
SHIPPED = ["genlab._shipped"] + [f"genlab._shipped.{p.name}" for p in sorted(DATA.iterdir())
                                 if p.is_dir() and p.name.isidentifier()]

setup(packages=find_packages(include=["genlab", "genlab.*"]) + SHIPPED,
      package_dir={"genlab._shipped": "data"})
