"""Build the Fashion-MNIST subset committed in data/ (the offline default of ``genlab.data.images``).

What it writes, from the full Fashion-MNIST IDX files (default: Debian's ``dataset-fashion-mnist``
package at /usr/share/datasets/fashion-mnist):

  data/fashion_mnist_subset.npz   (``np.savez_compressed``)
    train_images  uint8  [10000, 28, 28]   1,000 images of each of the 10 classes
    train_labels  uint8  [10000]
    train_index   uint16 [10000]           row of each image in the original 60,000-image train file
    test_images   uint8  [2000, 28, 28]    200 images of each class
    test_labels   uint8  [2000]
    test_index    uint16 [2000]            row in the original 10,000-image test file
  data/LICENSE-fashion-mnist.txt  Zalando's MIT licence, which asks to ship it with copies of the data.

How it picks them (deterministic): ``rng = np.random.default_rng(SEED)``; for each class c = 0..9 in
order, first for train then for test, ``rng.choice`` draws the per-class count of the rows whose label
is c, without replacement. The chosen rows are then sorted, so the subset keeps the original file order
(classes interleaved as in the source). Same source files and seed -> byte-identical arrays.

Usage:
  python scripts/make_embedded_subset.py [--src /usr/share/datasets/fashion-mnist] [--out data]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from genlab.data.idx import read_idx

SEED = 20170825  # Fashion-MNIST's release date; any fixed value works.
PER_CLASS = {"train": 1000, "test": 200}
FILES = {"train": "train", "test": "t10k"}  # IDX file prefixes
NUM_CLASSES = 10
DEFAULT_SRC = Path("/usr/share/datasets/fashion-mnist")
LICENSE = """\
The MIT License (MIT) Copyright © [2017] Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and \
associated documentation files (the “Software”), to deal in the Software without restriction, including \
without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell \
copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the \
following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial \
portions of the Software.

THE SOFTWARE IS PROVIDED “AS IS”, WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT \
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO \
EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER \
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE \
USE OR OTHER DEALINGS IN THE SOFTWARE.

---
Source of the data: https://github.com/zalandoresearch/fashion-mnist (Xiao, Rasul & Vollgraf, 2017,
arXiv:1708.07747). The file fashion_mnist_subset.npz beside this licence holds 12,000 of its images,
chosen by scripts/make_embedded_subset.py.
"""


def _find(src: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (src / name).is_file():
            return src / name
    raise FileNotFoundError(
        f"{src / stem}[.gz] not found: install Debian's dataset-fashion-mnist package "
        "(apt-get install dataset-fashion-mnist) or pass --src DIR with the four Fashion-MNIST IDX files"
    )


def stratified_rows(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices with exactly ``per_class`` rows of each class 0..9, drawn without replacement."""
    picks = []
    for c in range(NUM_CLASSES):
        rows = np.flatnonzero(labels == c)
        if rows.size < per_class:
            raise ValueError(f"class {c} has only {rows.size} rows, fewer than the {per_class} asked for")
        picks.append(rng.choice(rows, size=per_class, replace=False))
    return np.sort(np.concatenate(picks))


def build_subset(src: Path, seed: int = SEED) -> dict[str, np.ndarray]:
    """The arrays of the subset, keyed as in the .npz (see the module docstring)."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for split, prefix in FILES.items():
        images = read_idx(_find(src, f"{prefix}-images-idx3-ubyte"))  # [N, 28, 28] uint8
        labels = read_idx(_find(src, f"{prefix}-labels-idx1-ubyte"))  # [N] uint8
        rows = stratified_rows(labels, PER_CLASS[split], rng)
        arrays[f"{split}_images"] = images[rows]
        arrays[f"{split}_labels"] = labels[rows].astype(np.uint8)
        arrays[f"{split}_index"] = rows.astype(np.uint16)
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()

    arrays = build_subset(args.src, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    npz = args.out / "fashion_mnist_subset.npz"
    np.savez_compressed(npz, **arrays)
    (args.out / "LICENSE-fashion-mnist.txt").write_text(LICENSE, encoding="utf-8")
    for key, value in arrays.items():
        digest = hashlib.sha256(value.tobytes()).hexdigest()[:16]
        print(f"{key:13s} {value.dtype!s:6s} {list(value.shape)!s:16s} sha256 {digest}")
    print(f"wrote {npz} ({npz.stat().st_size / 1e6:.2f} MB) and {args.out / 'LICENSE-fashion-mnist.txt'}")


if __name__ == "__main__":
    main()
