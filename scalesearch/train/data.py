"""Image classification data from local files, held as uint8 tensors (N, C, H, W).

``--data KIND:PATH`` chooses the source: ``cifar10:DIR`` / ``cifar100:DIR`` (the python pickle
batches; whichever ``data_batch_N`` are present), ``fashion-mnist:DIR`` / ``mnist:DIR`` (IDX files,
gzipped or not), ``imagefolder:DIR`` (one folder per class, with ``train/`` and ``val/`` subfolders
or a split made here) and ``synthetic`` (generated, for smoke runs). Nothing is downloaded here
(``--download`` is :mod:`scalesearch.train.download`).
A fixed, seeded validation split is carved out of the training set; the test split is separate.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import pickle
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

try:  # numpy 2 moved them; pickles name either module
    from numpy._core.multiarray import _reconstruct
    from numpy._core.multiarray import scalar as _scalar
except ImportError:  # numpy 1
    from numpy.core.multiarray import _reconstruct
    from numpy.core.multiarray import scalar as _scalar

from scalesearch.errors import UsageError
from scalesearch.train.imagefolder import FileSplit, load_imagefolder

KINDS = ("cifar10", "cifar100", "fashion-mnist", "mnist", "imagefolder", "synthetic")


@dataclass(frozen=True)
class Split:
    """Images held in memory as uint8 (N x C x H x W) with integer labels: small data sets, which
    live on the training device and are augmented there in batches."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: torch.Tensor) -> "Split":
        return Split(self.images[index], self.labels[index])

    def on(self, device: torch.device) -> "Split":
        """The same split with its tensors on ``device`` (moved once, before training)."""
        return Split(self.images.to(device), self.labels.to(device))

    def sample_images(self, n: int) -> torch.Tensor:
        """``n`` images (splits are held in seeded random order, so the first ``n`` are a sample)."""
        return self.images[:n]

    def batches(self, order: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """uint8 images and labels, ``batch_size`` at a time, in ``order`` (indices)."""
        order = order.to(self.labels.device)
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            yield self.images[index], self.labels[index]


@dataclass(frozen=True)
class DataSet:
    """Train / validation / test splits of one source; ``synthetic`` is True for generated data."""

    name: str
    train: "Split | FileSplit"
    val: "Split | FileSplit"
    test: "Split | FileSplit | None"
    num_classes: int
    synthetic: bool = False
    skipped_files: int = 0

    @property
    def channels(self) -> int:
        return int(self.train.sample_images(1).shape[1])


def dataset_record(data: DataSet) -> dict[str, Any]:
    """A data set as committed results name it, portably: its kind, image counts and a content
    digest (SHA-256 of the training and validation images and labels; of file names, relative to
    nothing, and labels for image folders), never the folder it was read from."""
    hasher = hashlib.sha256()
    for split in (data.train, data.val):
        if isinstance(split, Split):
            hasher.update(split.images.contiguous().numpy().tobytes())
        else:
            hasher.update("\n".join(Path(p).name for p in split.paths).encode())
        hasher.update(split.labels.numpy().tobytes())
    return {"kind": data.name.partition(":")[0], "train_images": len(data.train), "val_images": len(data.val),
            "sha256": hasher.hexdigest()[:16]}


def parse_data_arg(text: str) -> tuple[str, Path | None]:
    """``"cifar10:/data/cifar"`` -> ("cifar10", Path); ``"synthetic"`` -> ("synthetic", None)."""
    kind, _, path = text.partition(":")
    if kind not in KINDS:
        raise UsageError(f"unknown data kind {kind!r} in `data` {text!r} (known: {', '.join(KINDS)}; "
                         f"e.g. cifar10:DIR or synthetic)")
    if kind == "synthetic":
        return kind, None
    if not path:
        raise UsageError(f"`data` {kind} needs a folder: `data` {kind}:DIR")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UsageError(f"`data` {text}: folder not found: {folder}")
    return kind, folder


def validation_split(train: Split | FileSplit, fraction: float,
                     seed: int) -> tuple[Split | FileSplit, Split | FileSplit]:
    """A fixed, seeded split of ``train`` into (train, validation)."""
    n = len(train)
    n_val = max(1, int(round(n * fraction)))
    if n_val >= n:
        raise UsageError(f"validation fraction {fraction} leaves no training images out of {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return train.subset(order[n_val:]), train.subset(order[:n_val])


class _DataOnly(pickle.Unpickler):
    """An unpickler that admits only what a CIFAR python batch holds: dicts, lists, bytes, str and
    numbers, numpy arrays and numpy scalars (data, never callables); any other global (os.system,
    say) is refused before it is looked up, so a crafted file cannot run code when it is read."""

    _ARRAYS = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
               ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
               ("numpy.core.multiarray", "scalar"): _scalar, ("numpy._core.multiarray", "scalar"): _scalar}

    def find_class(self, module: str, name: str):  # pickle's hook
        try:
            return self._ARRAYS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it asks for {module}.{name}, which a data file never needs") from None


def _unpickle(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            batch = _DataOnly(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, AttributeError,
            UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not a CIFAR python batch ({err or type(err).__name__})") from None
    if not isinstance(batch, dict):
        raise UsageError(f"{path}: not a CIFAR python batch (expected a dict, got {type(batch).__name__})")
    return {k.decode(errors="replace") if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _cifar_split(files: list[Path], label_key: str, classes: int) -> Split:
    images, labels = [], []
    for path in files:
        batch = _unpickle(path)
        if "data" not in batch or label_key not in batch:
            raise UsageError(f"{path}: a CIFAR batch needs the keys 'data' and {label_key!r}, got {sorted(batch)}")
        data, names = batch["data"], batch[label_key]
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            shown = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
            raise UsageError(f"{path}: 'data' must be uint8 rows of 3072 pixels (32 x 32 x 3), got {shown}")
        if not isinstance(names, (list, np.ndarray)) or len(names) != data.shape[0]:
            raise UsageError(f"{path}: {data.shape[0]} images but {len(names) if hasattr(names, '__len__') else 0} "
                             f"labels")
        label_array = np.asarray(names)
        if label_array.dtype.kind not in "iu":
            raise UsageError(f"{path}: labels must be integers in [0, {classes}), got {label_array.dtype} values")
        if label_array.size and not (0 <= label_array.min() and label_array.max() < classes):
            raise UsageError(f"{path}: labels must be integers in [0, {classes}), got values from "
                             f"{label_array.min()} to {label_array.max()}")
        images.append(data)
        labels.append(label_array.astype(np.int64))
    data = np.concatenate(images).reshape(-1, 3, 32, 32)
    return Split(torch.from_numpy(data.copy()), torch.from_numpy(np.concatenate(labels)))


def _cifar_files(folder: Path, classes: int) -> tuple[list[Path], Path]:
    """The training batches present and the test batch's path; ``folder`` may be the batches folder
    or its parent (where torchvision's download puts it)."""
    inner = "cifar-10-batches-py" if classes == 10 else "cifar-100-python"
    if (folder / inner).is_dir():
        folder = folder / inner
    if classes == 10:
        return sorted(folder.glob("data_batch_[1-5]")), folder / "test_batch"
    return [folder / "train"] if (folder / "train").is_file() else [], folder / "test"


def load_cifar(folder: Path, classes: int) -> tuple[Split, Split | None]:
    """CIFAR-10 (``data_batch_1..5``, ``test_batch``) or CIFAR-100 (``train``, ``test``) python batches;
    ``folder`` may be the batches folder or its parent."""
    train_files, test_file = _cifar_files(folder, classes)
    if classes == 10:
        label_key, expected = "labels", "data_batch_1..data_batch_5 and test_batch"
    else:
        label_key, expected = "fine_labels", "train and test"
    if not train_files:
        raise UsageError(f"{test_file.parent}: no CIFAR-{classes} training batches (expected the python-format "
                         f"files {expected})")
    test = _cifar_split([test_file], label_key, classes) if test_file.is_file() else None
    return _cifar_split(train_files, label_key, classes), test


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes with ``ndim`` dimensions, its header checked against its size."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:  # gzip's truncated or corrupt streams among them
        raise UsageError(f"{path}: cannot be read ({err}); replace the file with a sound copy") from None
    if len(raw) < 4:
        raise UsageError(f"{path}: not an IDX file (only {len(raw)} bytes)")
    zero, dtype_code, dims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise UsageError(f"{path}: not an IDX file of unsigned bytes")
    if dims != ndim or len(raw) < 4 + 4 * dims:
        raise UsageError(f"{path}: expected {ndim} dimensions in the IDX header, got {dims}")
    shape = struct.unpack(f">{dims}I", raw[4:4 + 4 * dims])
    expected = 4 + 4 * dims + math.prod(shape)  # Python ints: a hostile header cannot overflow them
    if len(raw) != expected:
        raise UsageError(f"{path}: the header says {' x '.join(map(str, shape))} bytes of data, but the file holds "
                         f"{len(raw) - 4 - 4 * dims} (cut short, or not this file)")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _idx_file(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


#: Classes of MNIST and Fashion-MNIST.
IDX_CLASSES = 10
#: Where torchvision's download puts the IDX files, below the folder it is given.
IDX_SUBFOLDERS = {"fashion-mnist": "FashionMNIST/raw", "mnist": "MNIST/raw"}


def _idx_folder(folder: Path, kind: str) -> Path:
    """``folder``, or torchvision's ``<Name>/raw`` below it when the files are there instead."""
    inner = folder / IDX_SUBFOLDERS[kind]
    if _idx_file(folder, "train-images-idx3-ubyte") is None and _idx_file(inner, "train-images-idx3-ubyte"):
        return inner
    return folder


def training_files_present(kind: str, folder: Path) -> bool:
    """Whether ``folder`` already holds the training files of a ``cifar10``, ``cifar100``,
    ``fashion-mnist`` or ``mnist`` data set."""
    if kind in ("cifar10", "cifar100"):
        return bool(_cifar_files(folder, 10 if kind == "cifar10" else 100)[0])
    return _idx_file(_idx_folder(folder, kind), "train-images-idx3-ubyte") is not None


def load_idx(folder: Path, kind: str) -> tuple[Split, Split | None]:
    """MNIST-format IDX files: ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
    and optionally the ``t10k-`` pair for the test split; in ``folder`` or torchvision's
    ``FashionMNIST/raw`` / ``MNIST/raw`` below it."""
    folder = _idx_folder(folder, kind)

    def pair(prefix: str) -> Split | None:
        images = _idx_file(folder, f"{prefix}-images-idx3-ubyte")
        labels = _idx_file(folder, f"{prefix}-labels-idx1-ubyte")
        if images is None or labels is None:
            return None
        x, y = _read_idx(images, 3), _read_idx(labels, 1)
        if len(x) != len(y):
            raise UsageError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels")
        if y.size and y.max() >= IDX_CLASSES:
            raise UsageError(f"{labels}: labels must be in [0, {IDX_CLASSES}), got {int(y.max())}")
        return Split(torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64)))

    train = pair("train")
    if train is None:
        raise UsageError(f"{folder}: expected train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] "
                         f"(and t10k-* for the test split)")
    return train, pair("t10k")


def synthetic(num_classes: int = 10, size: int = 32, train: int = 2000, test: int = 500,
              seed: int = 0) -> tuple[Split, Split]:
    """Learnable generated images: each class a fixed random colour pattern plus noise."""
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.rand(num_classes, 3, size, size, generator=g) * 255

    def make(n: int) -> Split:
        labels = torch.randint(0, num_classes, (n,), generator=g)
        images = 0.6 * prototypes[labels] + 0.4 * torch.rand(n, 3, size, size, generator=g) * 255
        return Split(images.clamp(0, 255).to(torch.uint8), labels)

    return make(train), make(test)


def load_data(text: str, val_fraction: float = 0.1, seed: int = 0, train_images: int | None = None) -> DataSet:
    """The data set named by a ``--data`` argument, with its seeded validation split; with
    ``train_images``, only that many (seeded, random) of the training split are kept, for quick
    proxies (validation is untouched, so accuracies stay comparable)."""
    if not 0 < val_fraction < 1:
        raise UsageError(f"`val_fraction` must be in (0, 1), got {val_fraction}")
    if train_images is not None and train_images < 1:
        raise UsageError(f"`train_images` must be >= 1, got {train_images}")
    kind, folder = parse_data_arg(text)
    skipped, val = 0, None
    if kind == "synthetic":
        train, test = synthetic()
        classes = 10
    elif kind in ("cifar10", "cifar100"):
        classes = 10 if kind == "cifar10" else 100
        train, test = load_cifar(folder, classes)
    elif kind in ("fashion-mnist", "mnist"):
        train, test = load_idx(folder, kind)
        classes = 10
    else:
        train, val, test, classes, skipped = load_imagefolder(folder, val_fraction, seed)
    if val is None:
        train, val = validation_split(train, val_fraction, seed)
    if train_images is not None and train_images < len(train):
        train = train.subset(torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:train_images])
    return DataSet(name=kind if folder is None else f"{kind}:{folder}", train=train, val=val, test=test,
                   num_classes=classes, synthetic=kind == "synthetic", skipped_files=skipped)
