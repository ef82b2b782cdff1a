"""Training-free scores computed at initialisation: the data-free accuracy stand-in.

- ``naswot`` (Mellor et al., 2021, "Neural Architecture Search without Training"): the log
  determinant of the kernel of binary activation codes over one batch; networks that separate the
  inputs of a batch into distinct linear regions score higher. Uses a batch of real images when
  there is data and standard-normal noise when there is none.
- ``synflow`` (Tanaka et al., 2020): the log of the sum of |theta * dR/dtheta| for R the output of the network
  with absolute weights on an all-ones input. Needs no data at all; grows with network size.

Scores are only comparable within one metric, resolution and batch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import UsageError
from scalesearch.nn import build_model
from scalesearch.train.augment import Normalize, eval_resize
from scalesearch.train.data import DataSet

METRICS = ("naswot", "synflow")
_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish)


def naswot(model: nn.Module, images: torch.Tensor) -> float:
    """log|K| with K[i, j] the number of activation units on which inputs i and j agree in sign."""
    n = images.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        codes = (inputs[0].detach().reshape(n, -1) > 0).to(torch.float64).cpu()
        kernel.add_(codes @ codes.T).add_((1 - codes) @ (1 - codes).T)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _ACTIVATIONS)]
    if not handles:
        raise UsageError("naswot needs a network with ReLU/ReLU6/SiLU/Hardswish activations")
    try:
        model.train()  # batch statistics, as the method specifies
        with torch.no_grad():
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if sign > 0 else float("-inf")


def synflow(model: nn.Module, resolution: int) -> float:
    """ln of the sum over parameters of |theta * dR/dtheta| on the linearised (absolute-weight)
    network, computed in float64 (the raw sum reaches 1e40 and beyond on deep networks)."""
    model = model.double().eval()  # eval: BatchNorm with its initial statistics, an affine map
    with torch.no_grad():
        for p in model.state_dict().values():
            if p.is_floating_point():
                p.abs_()
    model.zero_grad(set_to_none=True)
    ones = torch.ones(1, 3, resolution, resolution, dtype=torch.float64, device=next(model.parameters()).device)
    model(ones).sum().backward()
    total = sum(float((p.detach() * p.grad).abs().sum()) for p in model.parameters() if p.grad is not None)
    return math.log(total) if total > 0 else float("-inf")


def zero_cost_score(spec: NetworkSpec, metric: str = "naswot", images: torch.Tensor | None = None,
                    batch_size: int = 64, resolution: int | None = None, seed: int = 0) -> float:
    """The ``metric`` score of ``spec`` at initialisation (seeded). ``images``: one normalised float
    batch (N, 3, H, W); without it, naswot sees standard-normal noise at ``resolution``."""
    if metric not in METRICS:
        raise UsageError(f"unknown zero-cost metric {metric!r} (known: {', '.join(METRICS)})")
    resolution = resolution or (images.shape[-1] if images is not None else spec.resolution)
    torch.manual_seed(seed)
    model = build_model(spec)
    if metric == "synflow":
        return synflow(model, resolution)
    if images is None:
        images = torch.randn(batch_size, 3, resolution, resolution, generator=torch.Generator().manual_seed(seed))
    return naswot(model, images)


def data_batch(data: DataSet, resolution: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """A seeded batch of normalised training images at ``resolution``, as the networks see them."""
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))[:size]
    images, _ = next(data.train.batches(order, size))
    return Normalize.of(data.train)(eval_resize(images, resolution))
