"""A weight-sharing supernet over a search space: one network holds every candidate.

The supernet is the space's largest network: each stage at its most blocks, each block an MBConv
at the largest expansion and kernel any option of that stage has, with squeeze-excite where any
option has it, plus the 1x1 projection an identity option needs where a block strides or widens.
A candidate takes its weights by slicing (Once-for-All, BigNAS): the first ``hidden`` channels of
the expansion, depthwise and projection convs and of their norms, the centre ``k x k`` of the
depthwise kernel, the first blocks of each stage. ``forward(x, spec)`` runs one candidate on the
shared weights (training the supernet trains them); :meth:`Supernet.extract` copies a candidate's
slice into the stand-alone network ``build_model(spec)`` builds, which then computes the same
function and is scored like any trained network (BatchNorm statistics re-estimated first:
:func:`scalesearch.train.loop.precise_bn`).

Supported: spaces whose candidates share the skeleton's stages, widths, stem and head and choose,
per block, an MBConv (expansion, kernel, squeeze-excite, shortcut) or the identity, and per stage
how many blocks (NAS-Bench-Macro's and Accel-NASBench's spaces). Other spaces are refused with the
reason.
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

from scalesearch.arch.spec import Identity, MBConv, NetworkSpec
from scalesearch.arch.walk import walk
from scalesearch.errors import UsageError
from scalesearch.nn.blocks import IdentityBlock, MBConvBlock
from scalesearch.nn.builder import Network, build_model
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
    blocks: tuple[MBConv | Identity, ...]


def stage_options(space, adapt: Adapt = _unchanged) -> tuple[NetworkSpec, list[StageOptions]]:
    """A reference candidate of ``space`` (as ``adapt`` makes it) and, per stage, every block spec
    and the most blocks its candidates have. Choices are enumerated group by group (a stage's, or a
    layer's, parameters together), the others held at their first option; refused with the reason
    where the space varies what a supernet cannot share (stage count, widths, stem, head, block
    kinds other than MBConv and identity)."""
    dims = space.dimensions()
    first = {key: options[0] for key, options in dims.items()}
    groups: dict[str, list[str]] = {}
    for key in dims:  # s3_kernel: stage 3's group; s3_b1_op: that of stage 3's block 1
        groups.setdefault(_GROUP.match(key).group(0), []).append(key)
    reference = adapt(space.candidate(first))
    blocks: list[dict[MBConv | Identity, None]] = [{} for _ in reference.stages]
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
                         "shares weights only across expansion, kernel, squeeze-excite, identity and depth")

    if len(spec.stages) != len(reference.stages):
        refuse("their number of stages")
    if (spec.stem, spec.head, spec.resolution, spec.num_classes, spec.activation, spec.norm) != (
            reference.stem, reference.head, reference.resolution, reference.num_classes, reference.activation,
            reference.norm):
        refuse("stem, head, resolution, classes, activation or norm")
    if spec.norm != "batch":
        raise UsageError(f"supernet: search space {name!r} uses --norm {spec.norm}; a supernet needs batch norm")
    for a, b in zip(spec.stages, reference.stages):
        if (a.out_channels, a.stride) != (b.out_channels, b.stride):
            refuse("widths or strides")
        if not isinstance(a, (MBConv, Identity)):
            raise UsageError(f"supernet: search space {name!r} has {a.kind} blocks; a supernet shares weights across "
                             "MBConv and identity blocks only")


def _largest_block(options: StageOptions, out_channels: int, stride: int) -> MBConv:
    convs = [b for b in options.blocks if isinstance(b, MBConv)]
    if not convs:  # every option is the identity: a block with nothing to share still carries the projection
        return MBConv(out_channels=out_channels, repeats=options.repeats, stride=stride, kernel=1, expand_ratio=1)
    return MBConv(out_channels=out_channels, repeats=options.repeats, stride=stride,
                  kernel=max(b.kernel for b in convs), expand_ratio=max(b.expand_ratio for b in convs),
                  se_ratio=max(b.se_ratio for b in convs))


class Supernet(nn.Module):
    """The largest network of a space (``net``) plus identity projections (``projections``), from
    which every candidate runs (:meth:`forward`) or is copied out (:meth:`extract`)."""

    def __init__(self, space, adapt: Adapt = _unchanged) -> None:
        super().__init__()
        reference, self.options = stage_options(space, adapt)
        self.space_name, self.adapt = space.name, adapt
        stages = tuple(_largest_block(o, s.out_channels, s.stride) for o, s in zip(self.options, reference.stages))
        self.spec = dataclasses.replace(reference, name=f"{space.name}-supernet", stages=stages)
        self.net = Network(self.spec)
        self.projections = nn.ModuleDict()
        for site in walk(self.spec).sites:
            if any(isinstance(b, Identity) for b in self.options[site.stage].blocks):
                identity = Identity(out_channels=site.block.out_channels, repeats=1, stride=site.stride)
                if identity.projects(site.in_channels, site.stride):
                    self.projections[f"{site.stage}_{site.index}"] = IdentityBlock(
                        identity, site.in_channels, site.stride, 0.0, None, norm_layer(self.spec)).downsample

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
            block = spec.stages[site.stage]
            if isinstance(block, Identity):
                key = f"{site.stage}_{site.index}"
                x = self.projections[key](x) if key in self.projections else x
            else:
                x = _mbconv(features[1 + site.stage][site.index], block, x, site.in_channels, site.stride)
        x = features[-1](x) if self.spec.head is not None else x
        return self.net.classifier(torch.flatten(self.net.avgpool(x), 1))

    @torch.no_grad()
    def extract(self, spec: NetworkSpec) -> Network:
        """The stand-alone network ``build_model(spec)`` with the supernet's slice of weights and
        norm statistics: in evaluation mode it computes what ``forward(x, spec)`` does."""
        spec = self.check(spec)
        net = build_model(spec)
        net.features[0].load_state_dict(self.net.features[0].state_dict())
        if self.spec.head is not None:
            net.features[-1].load_state_dict(self.net.features[-1].state_dict())
        net.classifier.load_state_dict(self.net.classifier.state_dict())
        for site in walk(spec).sites:
            target = net.features[1 + site.stage][site.index]
            if isinstance(target, IdentityBlock):
                if target.downsample is not None:
                    target.downsample.load_state_dict(self.projections[f"{site.stage}_{site.index}"].state_dict())
                continue
            source = self.net.features[1 + site.stage][site.index]
            for dst, src in zip(_parts(target), _parts(source, like=target)):
                for name, tensor in dst.state_dict().items():
                    tensor.copy_(_slice(src.state_dict()[name], tensor.shape))
        return net


def _parts(block: MBConvBlock, like: MBConvBlock | None = None) -> list[nn.Module]:
    """The convs, norms and squeeze-excite of an MBConv in order; with ``like``, those of this (the
    supernet's) block that correspond to ``like``'s, skipping an expansion ``like`` does not have."""
    layers = list(block.block)
    if like is not None and len(layers) > 1 and _expands(block) and not _expands(like):
        layers = layers[1:]
    if like is not None and not any(isinstance(m, SqueezeExcitation) for m in like.block):
        layers = [m for m in layers if not isinstance(m, SqueezeExcitation)]
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
    """A Conv2dNormActivation of the supernet run on its first ``out`` channels (and centre kernel)."""
    conv = layer[0]
    weight = _slice(conv.weight, torch.Size((out, x.shape[1] // groups, kernel or conv.kernel_size[0],
                                             kernel or conv.kernel_size[1])))
    x = _norm(layer[1], F.conv2d(x, weight, None, stride, weight.shape[-1] // 2, 1, groups))
    return layer[2](x) if len(layer) > 2 else x


def _mbconv(block: MBConvBlock, spec: MBConv, x: torch.Tensor, in_channels: int, stride: int) -> torch.Tensor:
    """Candidate block ``spec`` on the shared weights of the supernet's ``block``."""
    layers = list(block.block)
    hidden = spec.hidden_channels(in_channels)
    out = x
    if _expands(block):
        expand, layers = layers[0], layers[1:]
        if hidden != in_channels:
            out = _conv(expand, out, hidden)
    out = _conv(layers[0], out, hidden, stride, spec.kernel, groups=hidden)
    if isinstance(layers[1], SqueezeExcitation):
        se, layers = layers[1], layers[1:]
        if spec.se_ratio > 0:
            squeeze = spec.squeeze_channels(in_channels)
            scale = F.adaptive_avg_pool2d(out, 1)
            scale = se.activation(F.conv2d(scale, se.fc1.weight[:squeeze, :hidden], se.fc1.bias[:squeeze]))
            scale = se.scale_activation(F.conv2d(scale, se.fc2.weight[:hidden, :squeeze], se.fc2.bias[:hidden]))
            out = out * scale
    out = _conv(layers[1], out, spec.out_channels)
    return out + x if spec.has_residual(in_channels, stride) else out
