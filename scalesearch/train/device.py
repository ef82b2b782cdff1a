"""The device a run trains on: the name given (``cpu``, ``cuda``, ``cuda:N``) checked before any
work starts, and a data split placed on it.
"""

from __future__ import annotations

import torch

from scalesearch.errors import UsageError
from scalesearch.train.data import Split
from scalesearch.train.imagefolder import FileSplit
from scalesearch.train.recipes import Recipe


def resolve_device(name: str) -> torch.device:
    """``cpu`` or ``cuda`` (or ``cuda:N``), checked before any work starts."""
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"`device` {name}: no CUDA device on this machine (use `device` cpu)")
        return torch.device(name)
    raise UsageError(f"`device` must be cpu or cuda, got {name!r}")


def on_device(split: Split | FileSplit, device: torch.device, recipe: Recipe) -> Split | FileSplit:
    """In-memory splits move to the device once; file splits decode a little above the training size."""
    if isinstance(split, FileSplit):
        split = split.at_size(max(recipe.resolution, round(recipe.resolution / 0.875)))
    return split.on(device)
