"""A 10,000-image Fashion-MNIST folder shaped like the CIFAR-10 subset in ../shared/data: the first
N training images and labels of the official IDX files (9,000 for training and 1,000 for validation
after scalesearch's seeded split), with the official test files beside them. Benchmarks that
compare data sets use it so that both have the same size; the product reads it like any copy."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / ".data/fashion-mnist-10k"  # git-ignored


def _idx(path: Path) -> tuple[tuple[int, ...], bytes]:
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return shape, raw[4 + 4 * ndim:]


def _write(path: Path, shape: tuple[int, ...], body: bytes) -> None:
    header = struct.pack(">HBB", 0, 0x08, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    with gzip.open(path, "wb") as f:
        f.write(header + body)


def fashion_subset(source: Path, dest: Path = DEFAULT, images: int = 10_000) -> Path:
    """``dest`` holding the first ``images`` training images of the Fashion-MNIST IDX files in
    ``source`` (made once)."""
    if (dest / "train-labels-idx1-ubyte.gz").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    for kind in ("images-idx3", "labels-idx1"):
        shape, body = _idx(source / f"train-{kind}-ubyte.gz")
        per_item = len(body) // shape[0]
        _write(dest / f"train-{kind}-ubyte.gz", (images, *shape[1:]), body[:images * per_item])
        shutil.copy(source / f"t10k-{kind}-ubyte.gz", dest / f"t10k-{kind}-ubyte.gz")
    return dest
