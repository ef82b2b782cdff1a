"""The normalisation layer a spec names (``norm``), and weight standardisation of its convolutions.

* ``batch``: BatchNorm. ``sync_batch``: BatchNorm that multi-process CUDA training turns into
  SyncBatchNorm (statistics over every process's batch; see :mod:`scalesearch.train.distributed`).
* ``frozen_batch``: BatchNorm with fixed statistics and affine terms, all buffers (torchvision's
  FrozenBatchNorm2d), as detection fine-tuning uses; a BatchNorm checkpoint loads into it.
* ``group``: GroupNorm (Wu & He 2018). A layer of C channels gets the largest group count that
  divides C and is at most ``norm_groups`` (32 by default): 24 -> 24, 40 -> 20, 112 -> 28, 1280 -> 32.
  Widths like MBConv's 24, 40 and 112 are not multiples of 32; a fixed group count would refuse
  them, and a fixed channels-per-group count would give 1280 channels 80 groups.

``weight_standardization`` standardises each output filter of every convolution that a norm
follows (zero mean, unit variance over its inputs and kernel) before it is applied, as BiT and
timm's StdConv2d do with GroupNorm. Neither changes a network's MACs.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d, SqueezeExcitation

from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import SpecError

#: Every module a spec's ``norm`` builds.
NORM_TYPES = (nn.BatchNorm2d, nn.GroupNorm, FrozenBatchNorm2d)


def group_count(channels: int, max_groups: int) -> int:
    """GroupNorm's group count for ``channels``: the largest divisor of it that is <= ``max_groups``."""
    return next(g for g in range(min(channels, max_groups), 0, -1) if channels % g == 0)


def norm_layer(spec: NetworkSpec):
    """A callable ``channels -> module``: the spec's norm at its ``bn_eps``."""
    if spec.norm == "group":
        return lambda channels: nn.GroupNorm(group_count(channels, spec.norm_groups), channels, eps=spec.bn_eps)
    if spec.norm == "frozen_batch":
        return partial(FrozenBatchNorm2d, eps=spec.bn_eps)
    return partial(nn.BatchNorm2d, eps=spec.bn_eps)  # batch, and sync_batch until training converts it


def check_group_fit(model: nn.Module, spec: NetworkSpec) -> None:
    """A ``norm_groups`` that no layer can take whole (every layer fell back to a smaller count) is
    almost surely a mistake: one line naming the widths."""
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    if spec.norm == "group" and norms and all(m.num_groups != spec.norm_groups for m in norms):
        widths = sorted({m.num_channels for m in norms})
        shown = ", ".join(map(str, widths[:8])) + (", ..." if len(widths) > 8 else "")
        raise SpecError("norm_groups", f"{spec.norm_groups} divides none of {spec.name}'s normalised widths "
                                       f"({shown}); use a count that divides most of them, e.g. 8 or 32")


class StdConv2d(nn.Conv2d):
    """A convolution whose filters are standardised (per output channel) on every call; its
    parameters and their names are a plain Conv2d's, so checkpoints move between the two."""

    eps = 1e-5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
        return self._conv_forward(x, (w - mean) / torch.sqrt(var + self.eps), self.bias)


def standardize_weights(model: nn.Module) -> int:
    """Make every convolution outside squeeze-excite gates (whose convs no norm follows) a
    :class:`StdConv2d`, keeping its parameters. Returns how many."""
    swapped = 0
    gates = {id(m) for gate in model.modules() if isinstance(gate, SqueezeExcitation) for m in gate.modules()}
    for parent in list(model.modules()):
        if id(parent) in gates:
            continue
        for child in list(parent.children()):
            if type(child) is nn.Conv2d:
                child.__class__ = StdConv2d  # same fields, same parameters: only forward changes
                swapped += 1
    return swapped
