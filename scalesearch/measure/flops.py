"""Multiply-adds (MACs, EfficientNet's "FLOPS") and parameters, two ways.

* :func:`analytic_count` walks the spec alone, in microseconds: what the search loop calls.
* :func:`fvcore_count` traces the built model with fvcore's ``FlopCountAnalysis``.

Both count the same operations: every convolution (including the squeeze-excite 1x1 convs) and
the classifier's linear layer, one MAC per fused multiply-add, at batch size 1. Neither counts
batch norm, activations, pooling, residual additions or the squeeze-excite gating multiply:
that is how EfficientNet's 0.39 G for B0 and torchvision's published figures are counted
(fvcore's own batch-norm and pooling handles, left out here, would add 4.1% to B0). Parameters
are the model's trainable tensors (BN running statistics are buffers, not parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from fvcore.nn import FlopCountAnalysis

from scalesearch.arch.spec import (
    MAX_RESOLUTION_PX,
    MIN_RESOLUTION_PX,
    BasicBlock,
    Bottleneck,
    DepthwiseSeparable,
    FusedMBConv,
    Identity,
    MBConv,
    Spec,
    ViTSpec,
)
from scalesearch.arch.walk import walk
from scalesearch.errors import UsageError

#: fvcore operator names that are multiply-accumulate work (conv and matrix products).
FVCORE_MAC_OPS = frozenset({"conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum"})


@dataclass(frozen=True)
class Count:
    """Multiply-adds and parameters of a network at one input resolution."""

    macs: int
    params: int
    resolution: int
    counter: str


class _Tally:
    """Accumulates MACs and params while walking a spec's layers; ``size`` is the feature map side."""

    def __init__(self, size: int, norm_params: int = 2) -> None:
        self.macs = 0
        self.params = 0
        self.size = size
        self.norm_params = norm_params  # per channel: scale and shift, none when frozen (buffers)

    def conv(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
             bias: bool = False, norm: bool = True) -> None:
        # "same" padding ((k - 1) / 2, k odd): output side is ceil(size / stride).
        self.size = (self.size - 1) // stride + 1
        weights = cout * (cin // groups) * kernel * kernel
        self.macs += weights * self.size * self.size
        self.params += weights + (cout if bias else 0) + (self.norm_params * cout if norm else 0)

    def squeeze_excite(self, channels: int, squeeze: int) -> None:
        # Two 1x1 convs with bias on the pooled 1x1 map.
        self.macs += 2 * channels * squeeze
        self.params += 2 * channels * squeeze + squeeze + channels

    def linear(self, cin: int, cout: int) -> None:
        self.macs += cin * cout
        self.params += cin * cout + cout


def _mbconv(t: _Tally, spec: MBConv, cin: int, stride: int) -> None:
    hidden = spec.hidden_channels(cin)
    if hidden != cin:
        t.conv(cin, hidden, 1)
    t.conv(hidden, hidden, spec.kernel, stride, groups=hidden)
    if spec.se_ratio > 0:
        t.squeeze_excite(hidden, spec.squeeze_channels(cin))
    t.conv(hidden, spec.out_channels, 1)


def _fused_mbconv(t: _Tally, spec: FusedMBConv, cin: int, stride: int) -> None:
    hidden = spec.hidden_channels(cin)
    first_out = hidden if hidden != cin else spec.out_channels
    t.conv(cin, first_out, spec.kernel, stride)
    if spec.se_ratio > 0:
        t.squeeze_excite(first_out, spec.squeeze_channels(cin))
    if hidden != cin:
        t.conv(hidden, spec.out_channels, 1)


def _depthwise_separable(t: _Tally, spec: DepthwiseSeparable, cin: int, stride: int) -> None:
    t.conv(cin, cin, spec.kernel, stride, groups=cin)
    t.conv(cin, spec.out_channels, 1)


def _shortcut(t: _Tally, cin: int, cout: int, stride: int, size_in: int) -> None:
    if stride != 1 or cin != cout:
        main_size, t.size = t.size, size_in
        t.conv(cin, cout, 1, stride)
        t.size = main_size


def _basic(t: _Tally, spec: BasicBlock, cin: int, stride: int) -> None:
    size_in = t.size
    t.conv(cin, spec.out_channels, 3, stride)
    t.conv(spec.out_channels, spec.out_channels, 3)
    _shortcut(t, cin, spec.out_channels, stride, size_in)


def _bottleneck(t: _Tally, spec: Bottleneck, cin: int, stride: int) -> None:
    size_in = t.size
    mid = spec.mid_channels
    t.conv(cin, mid, 1)
    t.conv(mid, mid, 3, stride)
    t.conv(mid, spec.out_channels, 1)
    _shortcut(t, cin, spec.out_channels, stride, size_in)


def _identity(t: _Tally, spec: Identity, cin: int, stride: int) -> None:
    if spec.projects(cin, stride):
        t.conv(cin, spec.out_channels, 1, stride)


_BLOCK_COUNTERS = {
    MBConv: _mbconv, FusedMBConv: _fused_mbconv, DepthwiseSeparable: _depthwise_separable,
    BasicBlock: _basic, Bottleneck: _bottleneck, Identity: _identity,
}


def vit_count(spec: ViTSpec, resolution: int | None = None) -> Count:
    """A ViT's MACs and params: the patch embedding, and per encoder block the QKV and output
    projections, the two attention products (Q K^T and A V, tokens^2 x width each) and the MLP;
    then the pre-logits and the head. LayerNorm, softmax, GELU, the position embedding and the
    pooling are not counted (as batch norm and activations are not for CNNs). A resolution other
    than the spec's changes the tokens, not the parameters."""
    resolution = resolution or spec.resolution
    t = _Tally(resolution)
    w, m = spec.width, spec.mlp_dim
    t.conv(spec.in_channels, w, spec.patch, spec.patch, bias=True, norm=False)  # stride = kernel: no padding
    t.size = resolution // spec.patch
    tokens = t.size * t.size + (spec.pool == "token")
    block_params = 2 * 2 * w + (3 * w * w + 3 * w) + (w * w + w) + (w * m + m) + (m * w + w)
    t.macs += spec.depth * (tokens * (3 * w * w + w * w + 2 * w * m) + 2 * tokens * tokens * w)
    t.params += spec.depth * block_params + 2 * w + (w if spec.pool == "token" else 0)
    if spec.posemb == "learned":
        t.params += (spec.resolution // spec.patch) ** 2 * w
    if spec.rep_size:
        t.linear(w, spec.rep_size)
    t.linear(spec.feature_channels, spec.num_classes)
    return Count(macs=t.macs, params=t.params, resolution=resolution, counter="analytic")


def analytic_count(spec: Spec, resolution: int | None = None) -> Count:
    """MACs and params from the spec alone (no model is built). A stage's first block (it strides
    and changes the width) is counted, then one of the identical others, times their number: a
    stage costs the same to count whatever its repeats. ViTs: :func:`vit_count`."""
    if isinstance(spec, ViTSpec):
        return vit_count(spec, resolution)
    resolution = resolution or spec.resolution
    route = walk(spec, resolution)
    t = _Tally(resolution, norm_params=0 if spec.norm == "frozen_batch" else 2)
    t.conv(spec.in_channels, spec.stem.out_channels, spec.stem.kernel, spec.stem.stride)
    for i in range(len(spec.stages)):
        first, *others = route.stage(i)
        for site, times in ((first, 1), *([(others[0], len(others))] if others else [])):
            macs, params, t.size = t.macs, t.params, site.size
            _BLOCK_COUNTERS[type(site.block)](t, site.block, site.in_channels, site.stride)
            t.macs += (t.macs - macs) * (times - 1)
            t.params += (t.params - params) * (times - 1)
    t.size = route.head_size
    if spec.head is not None:
        t.conv(route.head_channels, spec.head.out_channels, 1)
    t.linear(spec.feature_channels, spec.num_classes)
    return Count(macs=t.macs, params=t.params, resolution=resolution, counter="analytic")


def analytic_macs(spec: Spec, resolution: int | None = None) -> int:
    """Multiply-adds from the spec alone; see :func:`analytic_count`."""
    return analytic_count(spec, resolution).macs


def fvcore_count(model: torch.nn.Module, resolution: int, in_channels: int = 3) -> Count:
    """MACs (convolutions and matrix products only) and params of a built model, via fvcore."""
    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(1, in_channels, resolution, resolution)
        analysis = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        macs = sum(n for op, n in analysis.by_operator().items() if op in FVCORE_MAC_OPS)
    finally:
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return Count(macs=int(macs), params=params, resolution=resolution, counter="fvcore")


COUNTERS = ("analytic", "fvcore")


def check_resolution(resolution: int | None) -> None:
    """An input side asked for on the command line: None (the spec's), or a size a spec may have."""
    if resolution is not None and resolution < MIN_RESOLUTION_PX:
        raise UsageError(f"resolution must be at least {MIN_RESOLUTION_PX} px, got {resolution}")
    if resolution is not None and resolution > MAX_RESOLUTION_PX:
        raise UsageError(f"resolution must be at most {MAX_RESOLUTION_PX} px, got {resolution}")


def count(spec: Spec, resolution: int | None = None, counter: str = "analytic") -> Count:
    """MACs and params of ``spec`` at ``resolution`` (default: the spec's) with the chosen counter."""
    if counter not in COUNTERS:
        raise UsageError(f"unknown counter {counter!r} (known: {', '.join(COUNTERS)})")
    check_resolution(resolution)
    if counter == "analytic":
        return analytic_count(spec, resolution)
    from scalesearch.nn import build_model

    return fvcore_count(build_model(spec), resolution or spec.resolution, spec.in_channels)
