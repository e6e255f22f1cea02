"""Ships ``data/`` inside the wheel as the package ``genlab._shipped`` (read through ``genlab.shipped``), so a
``pip install`` from git (Colab) has the subset, the classifier weights and the recorded runs. Everything else
is in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["genlab", "genlab.*"]) + ["genlab._shipped"],
      package_dir={"genlab._shipped": "data"})
