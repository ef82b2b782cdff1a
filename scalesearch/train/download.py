"""``--download``: fetch a public data set into the folder ``--data`` names, once.

Nothing is downloaded unless the user asks: every ``--data`` source is read from local files.
With ``--download``, torchvision's own downloaders (checksummed, with their mirrors) fetch
CIFAR-10, CIFAR-100, Fashion-MNIST or MNIST into the folder, unless its training files are
already there; the loaders in :mod:`scalesearch.train.data` then read that folder as usual.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from scalesearch.errors import ScalesearchError, UsageError
from scalesearch.train.data import KINDS, parse_data_arg, training_files_present

#: ``--data`` kinds that can be downloaded, with torchvision's dataset class for each.
DOWNLOADABLE = {"cifar10": "CIFAR10", "cifar100": "CIFAR100", "fashion-mnist": "FashionMNIST", "mnist": "MNIST"}


class DownloadError(ScalesearchError):
    """The download failed (no network, a checksum mismatch, a full disk): a runtime failure."""


def download(text: str) -> bool:
    """Fetch the data set a ``--data KIND:DIR`` argument names into DIR (made if missing) unless its
    training files are already there; True when something was downloaded."""
    kind, _, path = text.partition(":")
    if kind not in DOWNLOADABLE:
        if kind not in KINDS:
            parse_data_arg(text)  # the usual message for an unknown kind
        raise UsageError(f"`download`: {kind} cannot be downloaded (only {', '.join(DOWNLOADABLE)})")
    if not path:
        raise UsageError(f"`data` {kind} needs a folder to download into: `data` {kind}:DIR `download`")
    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"`download`: cannot create {folder}: {err.strerror}") from None
    if training_files_present(kind, folder):
        return False
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, DOWNLOADABLE[kind])
    try:
        # torchvision prints progress on stdout, which belongs to --json: send it to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            dataset_class(root=str(folder), train=True, download=True)
            dataset_class(root=str(folder), train=False, download=True)
    except (OSError, RuntimeError) as err:  # urllib's URLError is an OSError
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        raise DownloadError(f"could not download {kind} into {folder}: {lines[-1] if lines else type(err).__name__} "
                            f"(copy the files there yourself and run without `download`)") from None
    return True
