"""``imagefolder:DIR`` — one folder per class, read from files by DataLoader workers.

Layouts: ``DIR/train/<class>/*`` with ``DIR/val/<class>/*`` (and optionally ``DIR/test/<class>/*``),
or ``DIR/<class>/*`` from which a seeded validation split is made. Files that are not images, or
that do not decode, are skipped and counted; an empty class folder is an error. Workers decode
each image, resize its shorter side and centre-crop it to a fixed load size, so batches stack as
uint8 tensors and get the same on-device augmentation as the in-memory data sets.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2 import functional as F

from scalesearch import signals
from scalesearch.errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
#: Default side (pixels) images are decoded to before on-device augmentation crops them.
DEFAULT_LOAD_SIZE = 256
#: Largest image accepted (8192 x 8192): a bigger one is far beyond any training image, and a
#: small file that claims to be bigger is a decompression bomb.
MAX_IMAGE_PIXELS = 8192 * 8192
#: Marks a decoding failure inside a DataLoader worker, whose exceptions reach the main process
#: wrapped in a traceback: the line after it is what the user sees.
_FAILED = "scalesearch: cannot decode"


def _check_size(path: Path | str, image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise UsageError(f"{path}: {width} x {height} pixels is over the limit of {MAX_IMAGE_PIXELS:,} pixels "
                         f"(8192 x 8192); not read")


def _leave_signals_to_the_main_process(_worker: int) -> None:
    """Ctrl-C reaches the whole process group: it is the main process's to handle (it stops the run,
    keeps what finished and exits 130), not a worker's to die of. SIGTERM keeps its default, since
    the DataLoader and multiprocessing end their workers with it; the main process reports an error
    that follows a SIGTERM as the SIGTERM (exit 143)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Files(torch.utils.data.Dataset):
    def __init__(self, paths: tuple[str, ...], labels: torch.Tensor, size: int) -> None:
        self.paths, self.labels, self.size = paths, labels, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            with Image.open(self.paths[i]) as pil:
                _check_size(self.paths[i], pil)
                image = F.pil_to_tensor(pil.convert("RGB"))
        except (OSError, ValueError, SyntaxError, UsageError, Image.DecompressionBombError) as err:
            raise OSError(f"{_FAILED}\n{self.paths[i]}: {err}") from None  # the file passed the scan, not the decode
        image = F.center_crop(F.resize(image, self.size, antialias=True), [self.size, self.size])
        return image, self.labels[i]


@dataclass(frozen=True)
class FileSplit:
    """Image files and labels; batches come from a DataLoader with ``workers`` processes."""

    paths: tuple[str, ...]
    labels: torch.Tensor
    load_size: int = DEFAULT_LOAD_SIZE
    workers: int = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    device: torch.device = torch.device("cpu")

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, index: torch.Tensor) -> "FileSplit":
        return replace(self, paths=tuple(self.paths[i] for i in index.tolist()), labels=self.labels[index])

    def on(self, device: torch.device) -> "FileSplit":
        return replace(self, device=device)

    def at_size(self, load_size: int) -> "FileSplit":
        return replace(self, load_size=load_size)

    def sample_images(self, n: int) -> torch.Tensor:
        """A seeded random sample of ``n`` images (files are sorted by class: the first ``n`` would
        be one class), decoded by the workers."""
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(0))[:n]
        return next(self.batches(order, len(order)))[0]

    def batches(self, order: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        loader = torch.utils.data.DataLoader(
            _Files(self.paths, self.labels, self.load_size), batch_size=batch_size, sampler=order.tolist(),
            num_workers=self.workers, pin_memory=self.device.type == "cuda", persistent_workers=False,
            worker_init_fn=_leave_signals_to_the_main_process if self.workers else None)
        try:
            for images, labels in loader:
                signals.check()  # a signal that came while the loader forked its workers was lost there
                yield images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
        except OSError as err:
            lines = str(err).splitlines()
            marks = [i for i, line in enumerate(lines[:-1]) if line.endswith(_FAILED)]
            if not marks:
                raise
            # The worker's message is the line after the marker (a worker's traceback comes before it).
            raise UsageError(f"image file could not be decoded: {lines[marks[-1] + 1]}") from None


def _readable(path: Path) -> bool:
    """Whether ``path`` is an image (a quick check of its header; a file that fails to decode later
    stops training with its name). An oversized image is an error, never skipped."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return False
    try:
        with Image.open(path) as image:
            _check_size(path, image)
            image.verify()
        return True
    except Image.DecompressionBombError as err:
        raise UsageError(f"{path}: over the limit of {MAX_IMAGE_PIXELS:,} pixels (8192 x 8192); not read ({err})"
                         ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False


def _scan(root: Path, classes: list[str] | None) -> tuple[FileSplit, list[str], int]:
    found = sorted(d.name for d in root.iterdir() if d.is_dir())
    if classes is None:
        classes = found
    elif found != classes:
        raise UsageError(f"{root}: class folders {found} differ from the training split's {classes}")
    if not classes:
        raise UsageError(f"{root}: no class folders (expected one sub-folder of images per class)")
    paths, labels, skipped = [], [], 0
    for label, name in enumerate(classes):
        files = sorted(p for p in (root / name).rglob("*") if p.is_file())
        good = [p for p in files if _readable(p)]
        skipped += len(files) - len(good)
        if not good:
            raise UsageError(f"{root / name}: class folder has no readable images")
        paths += [str(p) for p in good]
        labels += [label] * len(good)
    return FileSplit(tuple(paths), torch.tensor(labels, dtype=torch.int64)), classes, skipped


def load_imagefolder(folder: Path, val_fraction: float, seed: int
                     ) -> tuple[FileSplit, FileSplit | None, FileSplit | None, int, int]:
    """(train, val or None, test or None, number of classes, files skipped)."""
    if (folder / "train").is_dir():
        train, classes, skipped = _scan(folder / "train", None)
        val = test = None
        for name in ("val", "test"):
            if (folder / name).is_dir():
                split, _, more = _scan(folder / name, classes)
                skipped += more
                val, test = (split, test) if name == "val" else (val, split)
        return train, val, test, len(classes), skipped
    train, classes, skipped = _scan(folder, None)
    return train, None, None, len(classes), skipped


def load_unlabeled_folder(folder: Path) -> tuple[FileSplit, int]:
    """Every readable image under ``folder`` (class folders or none: labels are not read), each
    labelled -1; and the number of files skipped."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    good = [p for p in files if _readable(p)]
    if not good:
        raise UsageError(f"{folder}: no readable image (of {len(files)} files) to use as unlabelled data")
    hidden = torch.full((len(good),), -1, dtype=torch.int64)
    return FileSplit(tuple(str(p) for p in good), hidden), len(files) - len(good)
