"""How figures are written: every figure function takes dpi; genlab demo's format, resolution and the tiny note."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from matplotlib.figure import Figure

import genlab.figures
from genlab.demos.files import FileSettings, file_settings, save_figures
from genlab.figures.gan_images import image_grid
from genlab.figures.notes import TINY_NOTE, figure_note


def _figure_functions():
    for info in pkgutil.iter_modules(genlab.figures.__path__):
        if info.name == "notes":  # notes on figures made elsewhere
            continue
        module = importlib.import_module(f"genlab.figures.{info.name}")
        for name, fn in vars(module).items():
            if inspect.isfunction(fn) and fn.__module__ == module.__name__ and not name.startswith("_") \
                    and inspect.signature(fn).return_annotation in ("Figure", Figure):
                yield f"{info.name}.{name}", fn


def test_every_figure_function_takes_dpi():
    found = dict(_figure_functions())
    assert len(found) >= 15, sorted(found)
    lacking = [name for name, fn in found.items() if "dpi" not in inspect.signature(fn).parameters]
    assert not lacking, f"figure functions without a dpi parameter: {lacking}"
    assert image_grid(np.zeros((4, 8, 8, 1)), cols=2, dpi=42).dpi == 42


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_demo_files_in_each_format_with_the_tiny_note(tmp_path, fmt, magic):
    fig = image_grid(np.zeros((4, 8, 8, 1)), cols=2)
    with file_settings(fmt, dpi=50), figure_note(TINY_NOTE):
        (path,) = save_figures({"grid.png": fig}, tmp_path)
    assert path == tmp_path / f"grid.{fmt}" and path.read_bytes().startswith(magic)
    assert [t.get_text() for t in fig.texts] == [TINY_NOTE]
    if fmt == "svg":
        assert "tiny preset: untrained" in path.read_text()


def test_without_the_note_nothing_is_written_on_the_figure(tmp_path):
    fig = image_grid(np.zeros((4, 8, 8, 1)), cols=2)
    save_figures({"grid.png": fig}, tmp_path)
    assert fig.texts == [] and (tmp_path / "grid.png").is_file()


def test_bad_format_or_dpi_is_refused():
    with pytest.raises(ValueError, match="png, svg, pdf"):
        FileSettings("jpg")
    with pytest.raises(ValueError, match="positive"):
        FileSettings("png", 0)


def test_gif_frames_carry_the_note(tmp_path):
    from PIL import Image

    from genlab.figures.gan2d import training_animation

    snaps = {s: np.random.default_rng(s).normal(size=(50, 2)) for s in (0, 10)}
    centers = np.array([[0.0, 0.0], [1.0, 1.0]])
    plain = training_animation(snaps, centers, tmp_path / "plain.gif", dpi=40)
    with figure_note(TINY_NOTE):
        noted = training_animation(snaps, centers, tmp_path / "noted.gif", dpi=40)
    first = [np.asarray(Image.open(p).convert("RGB"), float) for p in (plain, noted)]
    assert first[0].shape == first[1].shape and np.abs(first[0] - first[1]).sum() > 0  # the note changed the frame
