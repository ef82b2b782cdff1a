"""Training-free scores computed at initialisation: the data-free accuracy stand-in.

Each score is computed on a freshly initialised network (seeded), in a form that needs no data;
where a method is defined on real images, a batch of them may be given instead.

- ``params``: the number of parameters. The baseline every zero-cost score must beat (White et
  al. 2022, "A Deeper Look at Zero-Cost Proxies").
- ``naswot`` (Mellor et al., ICML 2021): the log determinant of the kernel of binary activation
  codes over one batch; networks that separate the inputs of a batch into distinct linear regions
  score higher. Real images when given, standard-normal noise otherwise.
- ``synflow`` (Tanaka et al., NeurIPS 2020): the log of the sum of |theta * dR/dtheta| for R the
  output of the network with absolute weights on an all-ones input. Never uses data.
- ``zen`` (Lin et al., ICCV 2021, Zen-NAS): with every convolution and linear weight drawn from
  N(0, 1), the log of the expected change of the pre-pooling feature map under a small Gaussian
  perturbation of a Gaussian input (alpha = 0.01), plus the log of each BatchNorm layer's mean
  batch standard deviation (which the normalisation otherwise hides). Data-free by design.
- ``zico`` (Li et al., ICLR 2023): per convolution and linear layer, the sum over its weights of
  mean |gradient| / standard deviation of the gradient across mini-batches, in log, summed over
  layers. Defined on real labelled batches (two halves of the given batch); without data, on
  standard-normal images with seeded random labels.

Scores are only comparable within one metric, resolution, batch and data source.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from scalesearch.arch.spec import Spec, ViTSpec
from scalesearch.errors import UsageError
from scalesearch.nn import build_model
from scalesearch.train.augment import Normalize, eval_resize
from scalesearch.train.data import DataSet

#: Every metric a search can rank by; ``DEFAULT_METRIC`` is the one with the best measured rank
#: correlation with proxy-trained accuracy (benchmarks/results/zero_cost_vs_trained.json).
METRICS = ("params", "naswot", "synflow", "zen", "zico")
DEFAULT_METRIC = "naswot"
#: The metrics defined for a plain ViT: naswot needs ReLU-family activations, zen a convolutional
#: feature map, and synflow's all-ones pass sees nothing through a zero-initialised head.
VIT_METRICS = ("params", "zico")
_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish)
#: Zen-NAS's perturbation scale.
ZEN_ALPHA = 0.01


def params(model: nn.Module) -> float:
    """The number of trainable parameters."""
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad))


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


def synflow(model: nn.Module, resolution: int, channels: int = 3) -> float:
    """ln of the sum over parameters of |theta * dR/dtheta| on the linearised (absolute-weight)
    network, computed in float64 (the raw sum reaches 1e40 and beyond on deep networks)."""
    model = model.double().eval()  # eval: BatchNorm with its initial statistics, an affine map
    with torch.no_grad():
        for p in model.state_dict().values():
            if p.is_floating_point():
                p.abs_()
    model.zero_grad(set_to_none=True)
    ones = torch.ones(1, channels, resolution, resolution, dtype=torch.float64,
                      device=next(model.parameters()).device)
    model(ones).sum().backward()
    total = sum(float((p.detach() * p.grad).abs().sum()) for p in model.parameters() if p.grad is not None)
    return math.log(total) if total > 0 else float("-inf")


def zen(model: nn.Module, images: torch.Tensor, noise: torch.Tensor) -> float:
    """Zen-score of ``model`` (a :class:`~scalesearch.nn.builder.Network`) for Gaussian ``images``
    and an equally shaped Gaussian ``noise``; re-initialises the weights as the method specifies."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
    log_sigma = 0.0

    def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        nonlocal log_sigma
        batch_var = inputs[0].detach().double().var(dim=(0, 2, 3), unbiased=False)
        log_sigma += 0.5 * math.log(float(batch_var.mean()))

    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    model.train()  # BatchNorm normalises by batch statistics, whose scale the score adds back
    with torch.no_grad():
        clean = model.features(images)
        handles = [m.register_forward_hook(hook) for m in norms]
        try:
            perturbed = model.features(images + ZEN_ALPHA * noise)
        finally:
            for handle in handles:
                handle.remove()
    change = float((clean - perturbed).abs().sum(dim=(1, 2, 3)).mean())
    return (math.log(change) if change > 0 else float("-inf")) + log_sigma


def zico(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batches: int = 2) -> float:
    """ZiCo of ``model`` from the cross-entropy gradients of ``batches`` equal parts of
    (``images``, ``labels``)."""
    if batches < 2 or images.shape[0] < batches:
        raise UsageError(f"zico needs at least 2 batches of at least one image, got {images.shape[0]} images "
                         f"in {batches} batches")
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    grads: list[list[torch.Tensor]] = [[] for _ in layers]
    model.train()
    for part_images, part_labels in zip(images.chunk(batches), labels.chunk(batches)):
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(part_images), part_labels).backward()
        for kept, layer in zip(grads, layers):
            kept.append(layer.weight.grad.detach().flatten().double().clone())
    score = 0.0
    for kept in grads:
        stacked = torch.stack(kept)
        std = stacked.std(dim=0, unbiased=False)
        nonzero = std > 0
        ratio = float((stacked.abs().mean(dim=0)[nonzero] / std[nonzero]).sum())
        if ratio > 0:
            score += math.log(ratio)
    return score


def zero_cost_score(spec: Spec, metric: str = DEFAULT_METRIC, images: torch.Tensor | None = None,
                    labels: torch.Tensor | None = None, batch_size: int = 64, resolution: int | None = None,
                    seed: int = 0) -> float:
    """The ``metric`` score of ``spec`` at initialisation (seeded by ``seed``).

    ``images``: one normalised float batch (N, C, H, W) for the metrics defined on data (naswot;
    zico with ``labels``); without it they see standard-normal noise of ``batch_size`` images at
    ``resolution`` (zico with seeded random labels)."""
    if metric not in METRICS:
        raise UsageError(f"unknown zero-cost metric {metric!r} (known: {', '.join(METRICS)})")
    if isinstance(spec, ViTSpec) and metric not in VIT_METRICS:
        raise UsageError(f"`metric` {metric} scores convolutional networks; for a ViT use one of "
                         f"{', '.join(VIT_METRICS)}")
    if metric == "zen" and not isinstance(spec, ViTSpec) and spec.norm != "batch":
        raise UsageError(f"`metric` zen is defined on BatchNorm networks (it reads their batch statistics); "
                         f"{spec.name} has norm {spec.norm}")
    resolution = resolution or (images.shape[-1] if images is not None else spec.resolution)
    torch.manual_seed(seed)
    model = build_model(spec)
    if metric == "params":
        return params(model)
    if metric == "synflow":
        return synflow(model, resolution, spec.in_channels)
    generator = torch.Generator().manual_seed(seed)
    shape = (batch_size, spec.in_channels, resolution, resolution)
    if metric == "zen":  # Gaussian inputs by definition, whatever data there is
        return zen(model, torch.randn(shape, generator=generator), torch.randn(shape, generator=generator))
    if images is None:
        images = torch.randn(shape, generator=generator)
        labels = torch.randint(0, spec.num_classes, (batch_size,), generator=generator)
    if metric == "naswot":
        return naswot(model, images)
    if labels is None:
        raise UsageError("zico on real images needs their labels")
    return zico(model, images, labels)


def data_batch(data: DataSet, resolution: int, size: int = 64, seed: int = 0,
               channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded batch of normalised training images at ``resolution``, as networks of ``channels``
    inputs see them, and their labels."""
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))[:size]
    images, labels = next(data.train.batches(order, size))
    return Normalize.of(data.train, channels)(eval_resize(images, resolution)), labels
