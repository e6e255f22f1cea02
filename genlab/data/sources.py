"""Where image datasets come from: local files, the embedded subset, or tensorflow-datasets.

Each reader returns raw ``uint8`` arrays, ``images: [N, H, W, C]`` and ``labels: [N]``;
:mod:`genlab.data.images` picks the source, caches, and scales to [-1, 1].

Local layouts (``.gz`` optional for IDX files):
  $GENLAB_DATA/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]   (or the files in $GENLAB_DATA)
  $GENLAB_DATA/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
  $GENLAB_DATA/cifar-10-batches-py/{data_batch_1..5, test_batch}                 (CIFAR-10 python version)
  data/fashion-mnist/ in the checkout                                           (the full Fashion-MNIST, shipped)
  /usr/share/datasets/fashion-mnist/                                             (apt-get install dataset-fashion-mnist)
MNIST and Fashion-MNIST use the same file names, so IDX files lying directly in $GENLAB_DATA are
taken as Fashion-MNIST (the default dataset); MNIST must be in its own ``mnist`` folder.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pickle
from pathlib import Path
from types import ModuleType

import numpy as np

from genlab.data.idx import idx_problem, idx_shape, read_idx
from genlab.shipped import shipped

ENV_VAR = "GENLAB_DATA"
SPLITS: tuple[str, ...] = ("train", "test")
SOURCES: tuple[str, ...] = ("local", "embedded", "tfds")  # the default search order
EMBEDDED_PATH = shipped("fashion_mnist_subset.npz")
EMBEDDED_NAME = "fashion_mnist"
CIFAR_PER_BATCH = 10_000  # images in each CIFAR-10 python batch file


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What a dataset looks like and where its files may lie."""

    name: str  # also its tensorflow-datasets name
    shape: tuple[int, int, int]  # [H, W, C] of one image
    class_names: tuple[str, ...]
    file_format: str  # "idx" or "cifar"
    folders: tuple[str, ...]  # sub-folders of $GENLAB_DATA to look in, in order
    files_in_root: bool  # whether the files may lie directly in $GENLAB_DATA
    system_dirs: tuple[Path, ...] = ()  # folders that OS packages install
    apt_package: str | None = None
    sizes: tuple[tuple[str, int], ...] = ()  # full size of each split
    shipped_dirs: tuple[Path, ...] = ()  # folders of the full data shipped in data/ (searched before system_dirs)

    def files(self, split: str) -> tuple[str, ...]:
        """File names one split needs (IDX names without ``.gz``)."""
        if self.file_format == "cifar":
            return tuple(f"data_batch_{i}" for i in range(1, 6)) if split == "train" else ("test_batch",)
        prefix = "train" if split == "train" else "t10k"
        return (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")


_IDX_SIZES = (("train", 60_000), ("test", 10_000))
DATASETS: dict[str, DatasetSpec] = {
    "fashion_mnist": DatasetSpec(
        "fashion_mnist", (28, 28, 1),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        "idx", ("fashion-mnist", "fashion_mnist"), True,
        (Path("/usr/share/datasets/fashion-mnist"),), "dataset-fashion-mnist", _IDX_SIZES,
        shipped_dirs=(shipped("fashion-mnist"),),
    ),
    "mnist": DatasetSpec(
        "mnist", (28, 28, 1), tuple(str(d) for d in range(10)), "idx", ("mnist",), False, sizes=_IDX_SIZES,
    ),
    "cifar10": DatasetSpec(
        "cifar10", (32, 32, 3),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        "cifar", ("cifar-10-batches-py", "cifar10/cifar-10-batches-py", "cifar10"), True,
        sizes=(("train", 50_000), ("test", 10_000)),
    ),
}


# --- local files ---------------------------------------------------------------------------------

def _file(directory: Path, name: str, fmt: str) -> Path | None:
    for candidate in ((f"{name}.gz", name) if fmt == "idx" else (name,)):
        if (directory / candidate).is_file():
            return directory / candidate
    return None


def candidate_dirs(spec: DatasetSpec) -> list[Path]:
    """Folders searched for local files, in order: under $GENLAB_DATA, the full data shipped in ``data/``
    (Fashion-MNIST), then the OS package's folder."""
    dirs: list[Path] = []
    root = os.environ.get(ENV_VAR)
    if root:
        root_path = Path(root).expanduser()
        dirs += [root_path / folder for folder in spec.folders]
        if spec.files_in_root:
            dirs.append(root_path)
    return dirs + list(spec.shipped_dirs) + list(spec.system_dirs)


def has_files(spec: DatasetSpec, split: str, directory: Path) -> bool:
    """Whether ``directory`` holds every file of ``split`` (whole or not)."""
    return all(_file(directory, name, spec.file_format) for name in spec.files(split))


def folder_problem(spec: DatasetSpec, split: str, directory: Path) -> str | None:
    """Why the files of ``split`` in ``directory`` cannot be used (a truncated IDX file), or None. Cheap."""
    if spec.file_format != "idx":
        return None
    for name in spec.files(split):
        problem = idx_problem(_file(directory, name, "idx"))
        if problem:
            return f"{directory}: {problem}; download it again or delete it"
    return None


def find_local(spec: DatasetSpec, split: str) -> tuple[Path | None, list[str]]:
    """(the first candidate folder whose files of ``split`` are all there and whole, or None; the problems of
    folders passed over because a file is truncated or corrupt)."""
    problems = []
    for directory in candidate_dirs(spec):
        if has_files(spec, split, directory):
            problem = folder_problem(spec, split, directory)
            if problem is None:
                return directory, problems
            problems.append(problem)
    return None, problems


def _unpickle(path: Path) -> dict:
    # CIFAR-10's official python version is pickled; only open files you downloaded yourself.
    with open(path, "rb") as f:
        return pickle.load(f, encoding="bytes")


def read_local(spec: DatasetSpec, split: str, directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """``images: uint8 [N, H, W, C]``, ``labels: uint8 [N]`` from the files in ``directory``."""
    paths = [_file(directory, name, spec.file_format) for name in spec.files(split)]
    if spec.file_format == "idx":
        images, labels = (read_idx(p) for p in paths)
        return images[..., None].astype(np.uint8), labels.astype(np.uint8)
    batches = [_unpickle(p) for p in paths]
    images = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = np.concatenate([np.asarray(b[b"labels"]) for b in batches])
    return np.ascontiguousarray(images, np.uint8), labels.astype(np.uint8)


def count_local(spec: DatasetSpec, split: str, directory: Path) -> int:
    """Number of examples in the local files, from the headers (IDX) or the batch count (CIFAR)."""
    if spec.file_format == "cifar":
        return CIFAR_PER_BATCH * len(spec.files(split))
    return idx_shape(_file(directory, spec.files(split)[1], "idx"))[0]


# --- the embedded Fashion-MNIST subset -----------------------------------------------------------

def read_embedded(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The committed subset (scripts/make_embedded_subset.py): 1,000 (train) / 200 (test) images per class."""
    with np.load(EMBEDDED_PATH) as npz:
        return npz[f"{split}_images"][..., None], npz[f"{split}_labels"]


def count_embedded(split: str) -> int:
    with np.load(EMBEDDED_PATH) as npz:
        return int(npz[f"{split}_labels"].shape[0])


# --- tensorflow-datasets (optional extra, imported lazily) ---------------------------------------

def tfds_module() -> ModuleType | None:
    """``tensorflow_datasets`` if it can be imported, else None."""
    try:
        return importlib.import_module("tensorflow_datasets")
    except ImportError:
        return None


def read_tfds(spec: DatasetSpec, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Load through ``tfds.load(name, split, as_supervised=True, batch_size=-1)``, which downloads on first use."""
    tfds = tfds_module()
    if tfds is None:
        raise ImportError("tensorflow-datasets is not installed: pip install 'genlab[tfds]'")
    data = tfds.load(spec.name, split=split, as_supervised=True, batch_size=-1)
    images, labels = tfds.as_numpy(data)
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[1:] != spec.shape:
        raise ValueError(f"tfds {spec.name!r} gave images of shape {images.shape[1:]}, expected {spec.shape}")
    return images.astype(np.uint8), np.asarray(labels).astype(np.uint8)


def tfds_status(spec: DatasetSpec, split: str) -> tuple[int | None, str]:
    """(examples ready on disk or None, a few words) without downloading anything."""
    tfds = tfds_module()
    if tfds is None:
        return None, "not installed (pip install 'genlab[tfds]')"
    try:
        builder = tfds.builder(spec.name)
        if not builder.is_prepared():
            return None, f"installed; not downloaded yet (the first load downloads it to {builder.data_dir})"
        return int(builder.info.splits[split].num_examples), str(builder.data_dir)
    except Exception as err:  # a report line, not a failure: show what tfds said
        return None, f"installed, but tfds.builder failed: {type(err).__name__}: {err}"
