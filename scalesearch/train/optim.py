"""What a recipe makes for a training run besides the data: the optimiser, the learning-rate
schedule, the loss and the autocast dtype (shared by :mod:`.loop` and :mod:`.supernet`)."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from scalesearch.train.recipes import Recipe


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimiser over ``model``'s parameters."""
    # No weight decay on norm parameters and biases (1-D tensors), as timm and RSB do.
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if recipe.optimizer == "lamb":
        from timm.optim import Lamb

        return Lamb(groups, lr=recipe.lr)
    if recipe.optimizer == "adamw":  # decoupled decay: each step shrinks weights by lr x weight_decay
        return torch.optim.AdamW(groups, lr=recipe.lr)
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=True)


def make_schedule(optimizer: torch.optim.Optimizer, recipe: Recipe,
                  steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up for the recipe's warm-up epochs, then cosine decay to 0, stepped every batch."""
    warmup = int(recipe.warmup_epochs * steps_per_epoch)
    total = recipe.epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a recipe's ``precision`` on ``device``; None trains in fp32."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def make_loss(recipe: Recipe, num_classes: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The recipe's loss: cross-entropy with its label smoothing, or BCE on one-hot targets."""
    if recipe.loss == "bce":
        bce = nn.BCEWithLogitsLoss()

        def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            if target.ndim == 1:
                target = nn.functional.one_hot(target, num_classes).float()
            return bce(logits, target)

        return loss
    ce = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    return lambda logits, target: ce(logits, target)
