"""A wheel (what ``pip install "genlab @ git+..."`` builds, e.g. on Colab) carries every module and the files in
``data/``, and an installed genlab finds them through ``genlab.shipped``."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    from genlab.grading.install import checkout_lock

    out = tmp_path_factory.mktemp("wheel")
    with checkout_lock(ROOT):
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-v", "-w", str(out)],
                              check=True, cwd=out, capture_output=True, text=True)
    (path,) = out.glob("genlab-*.whl")
    (out / "build.log").write_text(done.stdout + done.stderr)
    return path


def test_building_prints_no_setuptools_deprecation_warnings(wheel):
    """`make env` used to print ~130 lines of them (a TOML-table licence, data folders missing from packages)."""
    noisy = [ln for ln in (wheel.parent / "build.log").read_text().splitlines() if "Deprecat" in ln or "BuildBackendWarning" in ln
             or "is absent from the `packages`" in ln]
    assert not noisy, noisy[:5]


def test_wheel_has_every_module_and_the_shipped_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "genlab").rglob("*.py")}
    assert modules <= names, f"modules missing from the wheel: {sorted(modules - names)}"
    data = {p.relative_to(ROOT / "data").as_posix() for p in (ROOT / "data").rglob("*") if p.is_file()}
    full = {n for n in data if n.startswith("fashion-mnist/")}  # the full data set stays in the checkout
    assert full and not {n for n in names if "/fashion-mnist/" in n}, "the wheel must not carry the full 30 MB"
    data -= full
    assert data, "data/ is empty"
    shipped = {n.removeprefix("genlab/_shipped/") for n in names if n.startswith("genlab/_shipped/")}
    assert data <= shipped, f"data/ files missing from the wheel: {sorted(data - shipped)}"


def test_installed_wheel_reads_its_own_shipped_files(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True)
    code = ("import genlab.shipped as s, genlab.data.sources as src, genlab.metrics.reference as ref;"
            "print(s.shipped_dir()); print(src.EMBEDDED_PATH.is_file(), (ref.DATA_DIR / (ref.NAME + '.npz')).is_file(),"
            " len(list(s.shipped('gan_runs').glob('*.json'))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(target), "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"}).stdout
    where, found = out.strip().splitlines()
    assert Path(where) == target / "genlab" / "_shipped"
    assert found.split()[:2] == ["True", "True"] and int(found.split()[2]) >= 2, found
