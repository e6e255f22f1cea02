"""Image datasets: Fashion-MNIST (default), MNIST and CIFAR-10, as float32 NHWC in [-1, 1].

    data = load_images("fashion_mnist", "train")   # ImageSet
    data.images  # [N, 28, 28, 1] float32 in [-1, 1]   (CIFAR-10: [N, 32, 32, 3])
    data.labels  # [N] int32
    data.source  # e.g. "local:/usr/share/datasets/fashion-mnist"

Sources, tried in this order unless ``source=`` forces one (see :mod:`genlab.data.sources`):
  1. "local": the full dataset from files under $GENLAB_DATA, the full Fashion-MNIST shipped in data/fashion-mnist,
     or Debian's /usr/share/datasets/fashion-mnist (truncated or corrupt files are passed over, with the reason);
  2. "embedded": the 10,000/2,000-image Fashion-MNIST subset committed in data/ (works offline, anywhere);
  3. "tfds": tensorflow-datasets, if installed (``pip install 'genlab[tfds]'``).
The full local data comes first because models trained on 60,000 images are better; the subset makes
every lab and test run without a download. ``genlab data`` prints what is available.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np

from genlab.data import sources
from genlab.data.sources import DATASETS, ENV_VAR, SOURCES, SPLITS, DatasetSpec


class DatasetNotFoundError(FileNotFoundError):
    """No source holds the dataset; the message lists every way to get it."""


@dataclasses.dataclass(frozen=True, eq=False)
class ImageSet:
    """A labelled image set. ``images: [N, H, W, C]`` float32 in [-1, 1]; ``labels: [N]`` int32."""

    images: np.ndarray
    labels: np.ndarray
    source: str  # "<local|embedded|tfds>:<path or name>"
    class_names: tuple[str, ...]
    name: str = ""
    split: str = ""

    def __post_init__(self):
        n_images, n_labels = len(self.images), len(self.labels)
        if n_images != n_labels:
            raise ValueError(f"an ImageSet needs one label per image: {n_images} images but {n_labels} labels")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1]: ``x / 127.5 - 1``."""
    x = images.astype(np.float32)  # a fresh array, so the in-place ops below are safe (and fast)
    x /= np.float32(127.5)
    x -= np.float32(1.0)
    return x


def clear_cache() -> None:
    """Forget the arrays loaded so far (tests call this after changing $GENLAB_DATA or faking tfds)."""
    _read_cached.cache_clear()


@functools.lru_cache(maxsize=16)
def _read_cached(kind: str, name: str, split: str, location: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 arrays of one split from one source, read once per process. ``location`` keys the cache."""
    spec = DATASETS[name]
    if kind == "local":
        images, labels = sources.read_local(spec, split, Path(location))
    elif kind == "embedded":
        images, labels = sources.read_embedded(split)
    else:
        images, labels = sources.read_tfds(spec, split)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _check(name: str, split: str, source: str | None) -> DatasetSpec:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    if source is not None and source not in SOURCES:
        raise ValueError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)} (or None for automatic)")
    if source == "embedded" and name != sources.EMBEDDED_NAME:
        raise ValueError(
            f"the embedded subset holds only {sources.EMBEDDED_NAME}, not {name!r}: "
            "use source='local' or 'tfds', or leave source=None"
        )
    return DATASETS[name]


def _locate(spec: DatasetSpec, split: str, kind: str) -> tuple[str | None, str]:
    """(cache location if this source has the split, else None; why not)."""
    if kind == "local":
        found, problems = sources.find_local(spec, split)
        if found is not None:
            return str(found), ""
        if problems:
            return None, "local: " + "; ".join(problems)
        looked = ", ".join(str(d) for d in sources.candidate_dirs(spec)) or f"nowhere: {ENV_VAR} is not set"
        return None, f"local: no folder with {' + '.join(spec.files(split))} (looked in: {looked})"
    if kind == "embedded":
        if spec.name != sources.EMBEDDED_NAME:
            return None, f"embedded: only {sources.EMBEDDED_NAME} is embedded"
        if sources.EMBEDDED_PATH.is_file():
            return str(sources.EMBEDDED_PATH), ""
        return None, f"embedded: {sources.EMBEDDED_PATH} is missing (rebuild: python scripts/make_embedded_subset.py)"
    if sources.tfds_module() is None:
        return None, "tfds: tensorflow-datasets is not installed"
    return spec.name, ""


def how_to_get(spec: DatasetSpec) -> str:
    """Every way to make ``spec`` loadable, as lines for an error message or a report."""
    env = os.environ.get(ENV_VAR)
    env_note = "(not set)"
    if env:
        env_note = f"(now {env!r}" + ("" if Path(env).is_dir() else ", which does not exist") + ")"
    where = f"DIR/{spec.folders[0]}/" + (" (or directly in DIR/)" if spec.files_in_root else "")
    names = spec.files("train") + spec.files("test")
    suffix = "[.gz]" if spec.file_format == "idx" else ""
    lines = [f"  - set {ENV_VAR}=DIR {env_note} and put these files in {where}:"]
    lines += [f"      {n}{suffix}" for n in names]
    if spec.file_format == "cifar":
        lines.append("    (the 'CIFAR-10 python version', cifar-10-python.tar.gz, extracted)")
    if spec.apt_package:
        lines.append(f"  - apt-get install {spec.apt_package}   (installs {spec.system_dirs[0]})")
    if spec.name == sources.EMBEDDED_NAME:
        lines.append(f"  - the embedded subset {sources.EMBEDDED_PATH}: python scripts/make_embedded_subset.py")
    lines.append(f"  - pip install 'genlab[tfds]'   (tensorflow-datasets downloads {spec.name} on first use)")
    return "\n".join(lines)


def load_images(
    name: str = "fashion_mnist", split: str = "train", source: str | None = None, limit: int | None = None
) -> ImageSet:
    """Load ``split`` of ``name`` as an :class:`ImageSet` (``images: [N, H, W, C]`` float32 in [-1, 1]).

    ``source``: None tries "local", "embedded", "tfds" in order; a name forces that source.
    ``limit``: keep only the first ``limit`` examples (the files are in shuffled class order).
    Raises ValueError for an unknown name/split/source and DatasetNotFoundError when no source has it.
    """
    spec = _check(name, split, source)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of examples or None, got {limit}")
    reasons = []
    for kind in (source,) if source else SOURCES:
        location, why = _locate(spec, split, kind)
        if location is None:
            reasons.append(why)
            continue
        try:
            images, labels = _read_cached(kind, name, split, location)
        except Exception as err:
            if kind != "tfds":
                raise
            reasons.append(f"tfds: tfds.load failed: {type(err).__name__}: {err}")
            continue
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
        return ImageSet(
            to_unit_range(images), labels.astype(np.int32), f"{kind}:{location}", spec.class_names, name, split
        )
    tried = "\n".join(f"  - {r}" for r in reasons)
    raise DatasetNotFoundError(
        f"dataset {name!r} (split {split!r}) not found{'' if source is None else f' in source {source!r}'}.\n"
        f"Tried:\n{tried}\nWays to get it:\n{how_to_get(spec)}"
    )


def availability_report() -> str:
    """A table for ``genlab data``: each dataset, split and source, with count and location.

    ``*`` marks the source that ``load_images(name, split)`` uses by default. Reads only file headers.
    """
    rows = [("", "dataset", "split", "source", "count", "location")]
    missing, passed_over = [], []
    for spec in DATASETS.values():
        any_split = False
        for split in SPLITS:
            chosen = False
            for kind in SOURCES:
                if kind == "embedded" and spec.name != sources.EMBEDDED_NAME:
                    continue
                location, why = _locate(spec, split, kind)
                if kind == "tfds":
                    count, where = sources.tfds_status(spec, split)
                elif location is None:
                    count, where = None, why.split(": ", 1)[1]
                elif kind == "local":
                    count, where = sources.count_local(spec, split, Path(location)), location
                else:
                    count, where = sources.count_embedded(split), location
                if kind == "local":
                    passed_over += [p for p in sources.find_local(spec, split)[1] if p not in passed_over]
                mark = "*" if location is not None and not chosen else ""
                chosen = chosen or bool(mark)
                rows.append((mark, spec.name, split, kind, "-" if count is None else str(count), where))
            any_split = any_split or chosen
        if not any_split:
            missing.append(spec)
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] for r in rows]
    env = os.environ.get(ENV_VAR)
    lines += ["", f"* = the source load_images(name, split) uses.  {ENV_VAR}=" + (repr(env) if env else "(not set)")]
    if passed_over:
        lines += ["", "Passed over (truncated or corrupt files):"] + [f"  - {p}" for p in passed_over]
    for spec in missing:
        lines += ["", f"{spec.name} is not available. Ways to get it:", how_to_get(spec)]
    return "\n".join(lines)
