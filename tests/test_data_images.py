"""Image loading: the embedded subset, local IDX/CIFAR folders, the tfds path (faked), and the errors."""

from __future__ import annotations

import dataclasses
import pickle
import sys
import types
from unittest import mock

import numpy as np
import pytest

from genlab.data import images, sources
from genlab.data.idx import IDXFormatError, idx_shape, read_idx, write_idx
from genlab.data.images import DatasetNotFoundError, availability_report, load_images


@pytest.fixture(autouse=True)
def _fresh_cache():
    images.clear_cache()
    yield
    images.clear_cache()


@pytest.fixture
def no_sources(monkeypatch, tmp_path):
    """Hide every source: empty $GENLAB_DATA, no system folder, no embedded file, no tfds."""
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "empty"))
    for name, spec in sources.DATASETS.items():
        monkeypatch.setitem(sources.DATASETS, name, dataclasses.replace(spec, system_dirs=(tmp_path / "no-debian",),
                                                                           shipped_dirs=()))
    monkeypatch.setattr(sources, "EMBEDDED_PATH", tmp_path / "missing.npz")
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # makes the import fail
    return tmp_path


def _fake_idx_folder(folder, n_train=30, n_test=20, seed=0):
    """Write the four Fashion-MNIST IDX files (train gzipped, test plain) with random content."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    arrays = {}
    for prefix, n, ext in (("train", n_train, ".gz"), ("t10k", n_test, "")):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", y)
        arrays[prefix] = (x, y)
    return arrays


# --- embedded subset -----------------------------------------------------------------------------

@pytest.mark.parametrize("split, per_class", [("train", 1000), ("test", 200)])
def test_embedded_subset_is_stratified(split, per_class):
    data = load_images("fashion_mnist", split, source="embedded")
    assert data.images.shape == (10 * per_class, 28, 28, 1)
    assert data.images.dtype == np.float32 and data.labels.dtype == np.int32
    assert data.images.min() >= -1.0 and data.images.max() <= 1.0
    assert data.images.min() == -1.0 and data.images.max() == 1.0  # uint8 0 and 255 both occur
    np.testing.assert_array_equal(np.bincount(data.labels, minlength=10), np.full(10, per_class))
    assert data.source.startswith("embedded:") and data.source.endswith("fashion_mnist_subset.npz")
    assert data.class_names[7] == "Sneaker" and data.num_classes == 10 and len(data) == 10 * per_class


def test_embedded_subset_rows_are_distinct_images_of_the_source():
    with np.load(sources.EMBEDDED_PATH) as npz:
        for split, n_source in (("train", 60_000), ("test", 10_000)):
            index = npz[f"{split}_index"]
            assert np.all(np.diff(index.astype(np.int64)) > 0) and index.max() < n_source  # sorted, unique
            assert npz[f"{split}_images"].dtype == np.uint8


def test_limit_and_unit_range():
    data = load_images(source="embedded", split="test", limit=7)
    assert data.images.shape == (7, 28, 28, 1) and data.labels.shape == (7,)
    np.testing.assert_allclose(images.to_unit_range(np.array([0, 255, 127], np.uint8)),
                               np.array([-1.0, 1.0, 127 / 127.5 - 1], np.float32), rtol=1e-6)


# --- local folders -------------------------------------------------------------------------------

def test_idx_roundtrip_and_header(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        write_idx(tmp_path / name, x)
        np.testing.assert_array_equal(read_idx(tmp_path / name), x)
        assert idx_shape(tmp_path / name) == (2, 3, 4)
    (tmp_path / "bad").write_bytes(b"<html>not found</html>")
    with pytest.raises(IDXFormatError, match="magic number"):
        read_idx(tmp_path / "bad")


@pytest.mark.parametrize("layout", ["fashion-mnist", "."])
def test_loads_idx_folder_from_genlab_data(monkeypatch, tmp_path, layout):
    arrays = _fake_idx_folder(tmp_path / "root" / layout)
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "root"))
    for split, prefix in (("train", "train"), ("test", "t10k")):
        data = load_images("fashion_mnist", split)
        x, y = arrays[prefix]
        assert data.source == f"local:{tmp_path / 'root' / layout}"  # pathlib drops the "/."
        np.testing.assert_array_equal(data.labels, y)
        np.testing.assert_allclose(data.images[..., 0], x / 127.5 - 1, atol=1e-6)


def test_mnist_needs_its_own_folder(monkeypatch, no_sources):
    root = no_sources / "root"
    _fake_idx_folder(root)  # files directly in $GENLAB_DATA count as Fashion-MNIST only
    monkeypatch.setenv("GENLAB_DATA", str(root))
    assert load_images("fashion_mnist", "test").source == f"local:{root}"
    with pytest.raises(DatasetNotFoundError):
        load_images("mnist", "test")
    arrays = _fake_idx_folder(root / "mnist", seed=1)
    data = load_images("mnist", "test")
    assert data.source == f"local:{root / 'mnist'}" and data.class_names[3] == "3"
    np.testing.assert_array_equal(data.labels, arrays["t10k"][1])


def test_loads_cifar10_python_batches(monkeypatch, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        chw = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, 4).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": chw.reshape(4, -1), b"labels": labels}, f)
        written[name] = (chw, labels)
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path))
    data = load_images("cifar10", "test")
    assert data.images.shape == (4, 32, 32, 3) and data.class_names[0] == "airplane"
    chw, labels = written["test_batch"]
    np.testing.assert_allclose(data.images, chw.transpose(0, 2, 3, 1) / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(data.labels, labels)
    assert load_images("cifar10", "train").images.shape == (20, 32, 32, 3)


def test_default_prefers_full_local_data_over_embedded(monkeypatch, tmp_path):
    _fake_idx_folder(tmp_path / "fashion-mnist", n_test=5)
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path))
    assert load_images(split="test").source.startswith("local:")
    assert load_images(split="test", source="embedded").source.startswith("embedded:")


# --- tensorflow-datasets, faked (mock_data needs TensorFlow itself) --------------------------------

def _fake_tfds(n=6):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, n).astype(np.int64)
    fake = types.ModuleType("tensorflow_datasets")
    fake.load = mock.Mock(return_value=("tf-image-tensor", "tf-label-tensor"))
    fake.as_numpy = mock.Mock(return_value=(x, y))
    return fake, x, y


def test_tfds_path_with_a_fake_module(monkeypatch, no_sources):
    fake, x, y = _fake_tfds()
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)
    data = load_images("mnist", "train")  # no local files: falls through to tfds
    fake.load.assert_called_once_with("mnist", split="train", as_supervised=True, batch_size=-1)
    fake.as_numpy.assert_called_once_with(("tf-image-tensor", "tf-label-tensor"))
    assert data.source == "tfds:mnist" and data.labels.dtype == np.int32
    np.testing.assert_array_equal(data.labels, y)
    np.testing.assert_allclose(data.images, x / 127.5 - 1, atol=1e-6)


def test_tfds_failure_becomes_dataset_not_found(monkeypatch, no_sources):
    fake, _, _ = _fake_tfds()
    fake.load.side_effect = ConnectionError("no network")
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)
    with pytest.raises(DatasetNotFoundError, match="no network"):
        load_images("cifar10", "test", source="tfds")


# --- errors and the report -----------------------------------------------------------------------

def test_missing_dataset_error_lists_every_way(no_sources):
    with pytest.raises(DatasetNotFoundError) as info:
        load_images("fashion_mnist", "train")
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for needle in ("GENLAB_DATA=DIR", "which does not exist", "fashion-mnist/",
                   "train-images-idx3-ubyte[.gz]", "t10k-labels-idx1-ubyte[.gz]",
                   "apt-get install dataset-fashion-mnist", "pip install 'genlab[tfds]'",
                   "make_embedded_subset.py", "tensorflow-datasets is not installed"):
        assert needle in message, needle
    with pytest.raises(DatasetNotFoundError, match="(?s)cifar-10-batches-py/.*data_batch_1"):
        load_images("cifar10", "train")


@pytest.mark.parametrize("kwargs, needle", [
    ({"name": "svhn"}, "fashion_mnist, mnist, cifar10"),
    ({"split": "validation"}, "train, test"),
    ({"source": "internet"}, "local, embedded, tfds"),
    ({"name": "mnist", "source": "embedded"}, "only fashion_mnist"),
    ({"limit": 0}, "positive"),
])
def test_bad_arguments_raise_value_error(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        load_images(**kwargs)


def test_availability_report(monkeypatch, no_sources):
    _fake_idx_folder(no_sources / "root" / "mnist", n_train=11, n_test=3)
    monkeypatch.setenv("GENLAB_DATA", str(no_sources / "root"))
    report = availability_report()
    mnist_test = next(line for line in report.splitlines() if line.split()[:4] == ["*", "mnist", "test", "local"])
    assert "3" in mnist_test.split() and str(no_sources / "root" / "mnist") in mnist_test
    assert "fashion_mnist is not available" in report and "cifar10 is not available" in report
    assert "mnist is not available" not in report.replace("fashion_mnist is not available", "")


# --- the full Fashion-MNIST shipped in data/, and broken files ---------------------------------------

def test_the_full_fashion_mnist_ships_in_data_and_is_the_default(monkeypatch):
    """A fresh clone trains and evaluates on the official splits: 60k/10k from data/fashion-mnist (headers only)."""
    monkeypatch.delenv("GENLAB_DATA", raising=False)
    spec = sources.DATASETS["fashion_mnist"]
    (folder,) = spec.shipped_dirs
    assert folder == sources.shipped("fashion-mnist") and (folder.parent / "LICENSE-fashion-mnist.txt").is_file()
    for split, n in (("train", 60_000), ("test", 10_000)):
        assert sources.find_local(spec, split) == (folder, [])  # before Debian's folder, before the subset
        assert sources.count_local(spec, split, folder) == n
    assert sources.candidate_dirs(spec).index(folder) < sources.candidate_dirs(spec).index(spec.system_dirs[0])
    assert load_images("fashion_mnist", "test", limit=5).source == f"local:{folder}"


def test_a_truncated_idx_file_is_passed_over_and_reported(monkeypatch, no_sources):
    root = no_sources / "root"
    _fake_idx_folder(root / "fashion-mnist", n_train=40, n_test=12)
    gz = root / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[: len(gz.read_bytes()) // 2])  # a download cut in half
    plain = root / "fashion-mnist" / "t10k-labels-idx1-ubyte"
    plain.write_bytes(plain.read_bytes()[:-3])
    monkeypatch.setenv("GENLAB_DATA", str(root))
    from genlab.data.idx import idx_problem

    assert "truncated" in idx_problem(gz) and "truncated" in idx_problem(plain)
    assert idx_problem(root / "fashion-mnist" / "train-labels-idx1-ubyte.gz") is None
    report = availability_report()
    assert not any(line.split()[:4] == ["*", "fashion_mnist", "train", "local"] for line in report.splitlines())
    assert "Passed over" in report and "train-images-idx3-ubyte.gz is truncated" in report
    with pytest.raises(DatasetNotFoundError, match="t10k-labels-idx1-ubyte is truncated"):
        load_images("fashion_mnist", "test")
