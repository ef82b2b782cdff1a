"""Pseudo-labels for self-training (Noisy Student): hide labels, let a teacher label images, keep the
confident ones per class, and turn them into training targets.

The teacher labels without noise: evaluation mode, no augmentation, the whole image resized to its
resolution. Its probabilities are stored at temperature 1; ``targets`` sharpens or softens them
(``p^(1/T)``, renormalised, which is the softmax of ``logits / T``), so one labelling serves any
temperature. Filtering and balancing follow the official ``filter_unlabel.py``: a confidence
threshold, then per class the most confident images up to ``per_class``, and classes with fewer
images repeated up to it (deterministically here: every image the same number of times, the most
confident once more, so that the counts are exact).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from scalesearch.errors import UsageError
from scalesearch.train.augment import Normalize, eval_resize
from scalesearch.train.data import Split
from scalesearch.train.imagefolder import FileSplit

#: The label an unlabelled image carries in its split; the loss never sees it.
HIDDEN = -1


@dataclass(frozen=True)
class LabeledSplit:
    """A training split cut into labelled and unlabelled images. ``hidden_labels`` are the
    unlabelled images' true labels (None for data that never had them): read only to report
    ``pseudo_label_accuracy``, never handed to a loss."""

    labeled: Split | FileSplit
    unlabeled: Split | FileSplit
    hidden_labels: torch.Tensor | None


def hide_labels(split: Split | FileSplit) -> Split | FileSplit:
    """``split`` with every label replaced by :data:`HIDDEN`."""
    return dataclasses.replace(split, labels=torch.full_like(split.labels, HIDDEN))


def split_labeled(split: Split | FileSplit, fraction: float, seed: int = 0) -> LabeledSplit:
    """A seeded ``fraction`` of ``split`` (at least one image) keeps its labels; the other images
    become the unlabelled split, their labels hidden. Which images keep their labels depends on
    the seed alone, never on any label."""
    if not 0 < fraction < 1:
        raise UsageError(f"`labeled_fraction` must be in (0, 1), got {fraction:g}")
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    cut = max(1, round(len(split) * fraction))
    if cut >= len(split):
        raise UsageError(f"`labeled_fraction` {fraction:g} leaves no unlabelled image out of {len(split)}")
    labeled, unlabeled = order[:cut].sort().values, order[cut:].sort().values
    rest = split.subset(unlabeled)
    return LabeledSplit(split.subset(labeled), hide_labels(rest), rest.labels.cpu().clone())


def label(model: nn.Module, split: Split | FileSplit, normalize: Normalize, resolution: int,
          batch_size: int = 500) -> torch.Tensor:
    """The teacher's class probabilities (N x classes, float32 on the CPU, temperature 1) for every
    image of ``split`` in order: evaluation mode, no augmentation, resized to ``resolution``."""
    model.eval()
    out = []
    with torch.inference_mode():
        for images, _ in split.batches(torch.arange(len(split)), batch_size):
            logits = model(normalize(eval_resize(images, resolution)))
            out.append(torch.softmax(logits.float(), dim=1).cpu())
    return torch.cat(out)


@dataclass(frozen=True)
class Selection:
    """The unlabelled images a student trains on: ``index`` into the unlabelled split (repeats
    allowed, grouped by class), and per class the images kept (before repeating) and trained on."""

    index: torch.Tensor
    kept_per_class: list[int]
    trained_per_class: list[int]


def select(probabilities: torch.Tensor, threshold: float, per_class: int | None, balance: bool) -> Selection:
    """Filter and balance as the official code does: drop images whose top probability is below
    ``threshold``; per predicted class keep the ``per_class`` most confident (all with None); with
    ``balance``, repeat a class's images up to ``per_class`` (each ``per_class // n`` times, the
    ``per_class % n`` most confident once more)."""
    confidence, predicted = probabilities.max(dim=1)
    chosen, kept, trained = [], [], []
    for c in range(probabilities.shape[1]):
        members = ((predicted == c) & (confidence >= threshold)).nonzero().flatten()
        # most confident first; ties by index, so the order never depends on the sort's stability
        order = sorted(members.tolist(), key=lambda i: (-float(confidence[i]), i))
        if per_class is not None:
            order = order[:per_class]
        kept.append(len(order))
        if balance and per_class is not None and 0 < len(order) < per_class:
            repeats, extra = divmod(per_class, len(order))
            order = order * repeats + order[:extra]
        trained.append(len(order))
        chosen += order
    return Selection(torch.tensor(chosen, dtype=torch.int64), kept, trained)


def targets(probabilities: torch.Tensor, kind: str, temperature: float = 1.0,
            label_smoothing: float = 0.0) -> torch.Tensor:
    """Training targets from the teacher's probabilities: ``soft`` (``p^(1/T)`` renormalised) or
    ``hard`` (one-hot on the top class, smoothed by ``label_smoothing``)."""
    if kind == "soft":
        # in log space: p^(1/T) underflows to 0 for small p and low T
        return torch.softmax(torch.log(probabilities.clamp_min(1e-30)) / temperature, dim=1)
    return smoothed_one_hot(probabilities.argmax(dim=1), probabilities.shape[1], label_smoothing)


def smoothed_one_hot(labels: torch.Tensor, classes: int, label_smoothing: float) -> torch.Tensor:
    """One-hot rows with ``label_smoothing`` of the mass spread evenly over all classes."""
    one_hot = nn.functional.one_hot(labels, classes).float()
    return one_hot * (1 - label_smoothing) + label_smoothing / classes


def soft_cross_entropy(logits: torch.Tensor, target_probabilities: torch.Tensor) -> torch.Tensor:
    """Per-image cross-entropy against a target distribution: -sum_c t_c log softmax(z)_c."""
    return -(target_probabilities * torch.log_softmax(logits.float(), dim=1)).sum(dim=1)
