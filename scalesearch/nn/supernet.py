"""A weight-sharing supernet over a search space: one network holds every candidate.

The supernet is the space's largest network: each stage at its most blocks and its widest output,
each block an MBConv at the largest expansion and kernel any option of that stage has, with
squeeze-excite where any option has it; beside it, where a stage may also be a fused MBConv, the
largest fused MBConv of that stage (its own weights: a full conv shares nothing with a depthwise
one), and the 1x1 projection an identity option needs where a block strides or widens. A candidate
takes its weights by slicing (Once-for-All, BigNAS): the first channels of every conv and norm (the
expansion's ``hidden``, a stage's output width, the next stage's input), the centre ``k x k`` of a
kernel, the first blocks of each stage. ``forward(x, spec)`` runs one candidate on the shared
weights (training the supernet trains them); :meth:`Supernet.extract` copies a candidate's slice
into the stand-alone network ``build_model(spec)`` builds, which then computes the same function
and is scored like any trained network (BatchNorm statistics re-estimated first:
:func:`scalesearch.train.loop.precise_bn`).

Supported: spaces whose candidates share the skeleton's stages, strides, stem and head and choose,
per block, an MBConv or a fused MBConv (expansion, kernel, squeeze-excite, shortcut, output width)
or the identity, and per stage how many blocks (NAS-Bench-Macro's, Accel-NASBench's and the MnasNet
space). Other spaces are refused with the reason.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.ops import SqueezeExcitation

from scalesearch.arch.spec import FusedMBConv, Identity, MBConv, NetworkSpec
from scalesearch.arch.walk import walk
from scalesearch.errors import UsageError
from scalesearch.nn.blocks import FusedMBConvBlock, IdentityBlock, MBConvBlock, projection
from scalesearch.nn.builder import Network, build_block, build_model
from scalesearch.nn.norms import norm_layer

#: What a candidate becomes before it runs (e.g. a recipe's classes, resolution and stem).
Adapt = Callable[[NetworkSpec], NetworkSpec]


def _unchanged(spec: NetworkSpec) -> NetworkSpec:
    return spec


_GROUP = re.compile(r"s\d+_(?:b\d+_)?")
#: The most candidates enumerated per group of a space's choices to find a stage's options.
MAX_GROUP_OPTIONS = 100_000


@dataclasses.dataclass(frozen=True)
class StageOptions:
    """What a stage can be across the space: its most blocks and the block specs it may hold."""

    repeats: int
    blocks: tuple[MBConv | FusedMBConv | Identity, ...]

    def of_kind(self, kind: type) -> list:
        return [b for b in self.blocks if type(b) is kind]

    @property
    def out_channels(self) -> int:
        """The stage's widest output."""
        return max(b.out_channels for b in self.blocks)


def stage_options(space, adapt: Adapt = _unchanged) -> tuple[NetworkSpec, list[StageOptions]]:
    """A reference candidate of ``space`` (as ``adapt`` makes it) and, per stage, every block spec
    and the most blocks its candidates have. Choices are enumerated group by group (a stage's, or a
    layer's, parameters together), the others held at their first option; refused with the reason
    where the space varies what a supernet cannot share (stage count, strides, stem, head, block
    kinds other than MBConv, fused MBConv and identity)."""
    dims = space.dimensions()
    first = {key: options[0] for key, options in dims.items()}
    groups: dict[str, list[str]] = {}
    for key in dims:  # s3_kernel: stage 3's group; s3_b1_op: that of stage 3's block 1
        groups.setdefault(_GROUP.match(key).group(0), []).append(key)
    reference = adapt(space.candidate(first))
    blocks: list[dict[MBConv | FusedMBConv | Identity, None]] = [{} for _ in reference.stages]
    repeats = [0] * len(reference.stages)
    for keys in groups.values():
        count = math.prod(len(dims[k]) for k in keys)
        if count > MAX_GROUP_OPTIONS:
            raise UsageError(f"supernet: search space {space.name!r} has {count:,} options for one group "
                             f"({', '.join(keys)}); at most {MAX_GROUP_OPTIONS:,} are enumerated")
        for values in itertools.product(*(dims[k] for k in keys)):
            spec = adapt(space.candidate({**first, **dict(zip(keys, values))}))
            _check_shared(space.name, reference, spec)
            for i, stage in enumerate(spec.stages):
                blocks[i].setdefault(dataclasses.replace(stage, repeats=1))
                repeats[i] = max(repeats[i], stage.repeats)
    return reference, [StageOptions(r, tuple(b)) for r, b in zip(repeats, blocks)]


def _check_shared(name: str, reference: NetworkSpec, spec: NetworkSpec) -> None:
    def refuse(what: str) -> None:
        raise UsageError(f"supernet: the candidates of search space {name!r} differ in {what}; a supernet "
                         "shares weights only across block kind, expansion, kernel, squeeze-excite, shortcut, "
                         "width, identity and depth")

    if len(spec.stages) != len(reference.stages):
        refuse("their number of stages")
    if (spec.stem, spec.head, spec.resolution, spec.num_classes, spec.activation, spec.norm) != (
            reference.stem, reference.head, reference.resolution, reference.num_classes, reference.activation,
            reference.norm):
        refuse("stem, head, resolution, classes, activation or norm")
    if spec.norm != "batch":
        raise UsageError(f"supernet: search space {name!r} uses --norm {spec.norm}; a supernet needs batch norm")
    for a, b in zip(spec.stages, reference.stages):
        if a.stride != b.stride:
            refuse("strides")
        if type(a) not in (MBConv, FusedMBConv, Identity):
            raise UsageError(f"supernet: search space {name!r} has {a.kind} blocks; a supernet shares weights across "
                             "MBConv, fused-MBConv and identity blocks only")


def _largest_block(options: StageOptions, stride: int, kind: type = MBConv) -> MBConv | FusedMBConv:
    """The block of ``kind`` whose slices are every option of that kind in the stage (at the stage's
    widest output, so that it also serves the stage's other kinds' widths downstream)."""
    convs = options.of_kind(kind)
    if not convs:  # every option is the identity: a block with nothing to share still carries the projection
        return kind(out_channels=options.out_channels, repeats=options.repeats, stride=stride, kernel=1,
                    expand_ratio=1)
    return kind(out_channels=options.out_channels, repeats=options.repeats, stride=stride,
                kernel=max(b.kernel for b in convs), expand_ratio=max(b.expand_ratio for b in convs),
                se_ratio=max(b.se_ratio for b in convs))


class Supernet(nn.Module):
    """The largest network of a space (``net``) plus identity projections (``projections``), from
    which every candidate runs (:meth:`forward`) or is copied out (:meth:`extract`)."""

    def __init__(self, space, adapt: Adapt = _unchanged) -> None:
        super().__init__()
        reference, self.options = stage_options(space, adapt)
        self.space_name, self.adapt = space.name, adapt
        # A stage's main block is an MBConv unless every option is a fused one; fused options beside
        # MBConv ones get their own largest block per layer (``fused``).
        main = [FusedMBConv if o.of_kind(FusedMBConv) and not o.of_kind(MBConv) else MBConv for o in self.options]
        stages = tuple(_largest_block(o, s.stride, k) for o, s, k in zip(self.options, reference.stages, main))
        self.spec = dataclasses.replace(reference, name=f"{space.name}-supernet", stages=stages)
        self.net = Network(self.spec)
        self.fused = nn.ModuleDict()
        self.projections = nn.ModuleDict()
        widths_vary = any(len({b.out_channels for b in o.blocks}) > 1 for o in self.options)
        for site in walk(self.spec).sites:
            options, key = self.options[site.stage], f"{site.stage}_{site.index}"
            if main[site.stage] is MBConv and options.of_kind(FusedMBConv):
                fused = _largest_block(options, site.stride, FusedMBConv)
                self.fused[key] = build_block(self.spec, fused, site.in_channels, site.stride)
                _check_fused_fits(space.name, options, self.fused[key])
            if main[site.stage] is FusedMBConv:
                _check_fused_fits(space.name, options, self.net.features[1 + site.stage][site.index])
            if options.of_kind(Identity):
                identity = Identity(out_channels=site.block.out_channels, repeats=1, stride=site.stride)
                # With widths that vary, any identity layer may change the width: each gets a projection.
                if widths_vary or identity.projects(site.in_channels, site.stride):
                    self.projections[key] = projection(site.in_channels, site.block.out_channels, site.stride,
                                                       norm_layer(self.spec))

    def check(self, spec: NetworkSpec) -> NetworkSpec:
        """``spec`` as the supernet runs it (adapted); a network it does not hold is refused, naming
        the first difference."""
        spec = self.adapt(spec)
        _check_shared(self.space_name, self.spec, spec)
        for i, (stage, options) in enumerate(zip(spec.stages, self.options)):
            if stage.repeats > options.repeats or dataclasses.replace(stage, repeats=1) not in options.blocks:
                raise UsageError(f"supernet: stage {i} of {spec.name!r} ({stage}) is not an option of search "
                                 f"space {self.space_name!r}")
        return spec

    def forward(self, x: torch.Tensor, spec: NetworkSpec) -> torch.Tensor:
        """Candidate ``spec`` (as :meth:`check` returns it) on the shared weights."""
        features = self.net.features
        x = features[0](x)
        for site in walk(spec).sites:
            block, key = spec.stages[site.stage], f"{site.stage}_{site.index}"
            if isinstance(block, Identity):
                if block.projects(site.in_channels, site.stride):
                    x = _conv(self.projections[key], x, block.out_channels, site.stride)
            else:
                x = _inverted_residual(self._block(site.stage, site.index, block), block, x, site.in_channels,
                                       site.stride)
        if self.spec.head is not None:
            x = _conv(features[-1], x, self.spec.head.out_channels)
        x = torch.flatten(self.net.avgpool(x), 1)
        linear = self.net.classifier[-1]
        return F.linear(self.net.classifier[:-1](x), linear.weight[:, :x.shape[1]], linear.bias)

    def _block(self, stage: int, index: int, spec: MBConv | FusedMBConv) -> MBConvBlock | FusedMBConvBlock:
        """The supernet's block that holds the weights of layer ``index`` of ``stage`` for ``spec``'s kind."""
        key = f"{stage}_{index}"
        return self.fused[key] if isinstance(spec, FusedMBConv) and key in self.fused \
            else self.net.features[1 + stage][index]

    @torch.no_grad()
    def extract(self, spec: NetworkSpec) -> Network:
        """The stand-alone network ``build_model(spec)`` with the supernet's slice of weights and
        norm statistics: in evaluation mode it computes what ``forward(x, spec)`` does."""
        spec = self.check(spec)
        net = build_model(spec)
        _copy_sliced(net.features[0], self.net.features[0])
        if self.spec.head is not None:
            _copy_sliced(net.features[-1], self.net.features[-1])
        _copy_sliced(net.classifier, self.net.classifier)
        for site in walk(spec).sites:
            target = net.features[1 + site.stage][site.index]
            if isinstance(target, IdentityBlock):
                if target.downsample is not None:
                    _copy_sliced(target.downsample, self.projections[f"{site.stage}_{site.index}"])
                continue
            source = self._block(site.stage, site.index, site.block)
            for dst, src in zip(target.block, _parts(source, target), strict=True):
                _copy_sliced(dst, src)
        return net


def _check_fused_fits(name: str, options: StageOptions, block: FusedMBConvBlock) -> None:
    """A fused option without expansion maps its full conv straight to its output width, a slice of the
    largest fused block's first conv: refused where that conv is narrower than the stage's widest output."""
    first = block.block[0][0].out_channels
    if any(b.expand_ratio == 1 and b.out_channels > first for b in options.of_kind(FusedMBConv)):
        raise UsageError(f"supernet: search space {name!r} has a fused-MBConv option without expansion wider than "
                         f"its largest fused block's first conv ({first} channels)")


def _copy_sliced(target: nn.Module, source: nn.Module) -> None:
    """Every tensor of ``target`` from ``source``'s tensor of the same name, sliced to its shape."""
    state = source.state_dict()
    for name, tensor in target.state_dict().items():
        tensor.copy_(_slice(state[name], tensor.shape))


def _parts(block: MBConvBlock | FusedMBConvBlock, like: MBConvBlock | FusedMBConvBlock) -> list[nn.Module]:
    """The layers (convs with norms, squeeze-excite) of the supernet's ``block`` that correspond to
    those of ``like``, a candidate's block of the same kind: without the expansion (an MBConv) or
    the projection (a fused MBConv) ``like`` does not have, and without squeeze-excite where it has none."""
    layers = list(block.block)
    if not any(isinstance(m, SqueezeExcitation) for m in like.block):
        layers = [m for m in layers if not isinstance(m, SqueezeExcitation)]
    if len(layers) > len(like.block):
        layers = layers[1:] if isinstance(block, MBConvBlock) else layers[:-1]
    return layers


def _expands(block: MBConvBlock) -> bool:
    """Whether the block starts with an expansion (a dense 1x1 conv) rather than its depthwise conv."""
    return block.block[0][0].groups == 1


def _slice(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """The leading channels of ``tensor`` in every dimension, and the centre of a larger kernel."""
    if tensor.ndim == 0:
        return tensor
    index = []
    for have, want in zip(tensor.shape, shape):
        start = (have - want) // 2 if len(index) >= 2 else 0  # spatial dims (3rd, 4th): the centre
        index.append(slice(start, start + want))
    return tensor[tuple(index)]


def _norm(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    momentum = 0.0 if bn.momentum is None else bn.momentum
    return F.batch_norm(x, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c],
                        bn.training, momentum, bn.eps)


def _conv(layer: nn.Sequential, x: torch.Tensor, out: int, stride: int = 1, kernel: int | None = None,
          groups: int = 1) -> torch.Tensor:
    """A conv, norm (and activation) of the supernet run on its first ``out`` channels, the input's
    channels and the centre ``kernel``."""
    conv = layer[0]
    weight = _slice(conv.weight, torch.Size((out, x.shape[1] // groups, kernel or conv.kernel_size[0],
                                             kernel or conv.kernel_size[1])))
    x = _norm(layer[1], F.conv2d(x, weight, None, stride, weight.shape[-1] // 2, 1, groups))
    return layer[2](x) if len(layer) > 2 else x


def _squeeze_excite(se: SqueezeExcitation, x: torch.Tensor, squeeze: int) -> torch.Tensor:
    channels = x.shape[1]
    scale = F.adaptive_avg_pool2d(x, 1)
    scale = se.activation(F.conv2d(scale, se.fc1.weight[:squeeze, :channels], se.fc1.bias[:squeeze]))
    scale = se.scale_activation(F.conv2d(scale, se.fc2.weight[:channels, :squeeze], se.fc2.bias[:channels]))
    return x * scale


def _inverted_residual(block: MBConvBlock | FusedMBConvBlock, spec: MBConv | FusedMBConv, x: torch.Tensor,
                       in_channels: int, stride: int) -> torch.Tensor:
    """Candidate block ``spec`` on the shared weights of the supernet's ``block`` (of the same kind)."""
    layers = list(block.block)
    hidden = spec.hidden_channels(in_channels)
    out = x
    if isinstance(spec, FusedMBConv):  # full kxk conv to the hidden width (to the output without expansion)
        out = _conv(layers.pop(0), out, hidden if hidden != in_channels else spec.out_channels, stride, spec.kernel)
    else:
        if _expands(block):
            expand = layers.pop(0)
            if hidden != in_channels:
                out = _conv(expand, out, hidden)
        out = _conv(layers.pop(0), out, hidden, stride, spec.kernel, groups=hidden)
    if layers and isinstance(layers[0], SqueezeExcitation):
        se = layers.pop(0)
        if spec.se_ratio > 0:
            out = _squeeze_excite(se, out, spec.squeeze_channels(in_channels))
    if isinstance(spec, MBConv) or hidden != in_channels:
        out = _conv(layers[0], out, spec.out_channels)
    return out + x if spec.has_residual(in_channels, stride) else out
