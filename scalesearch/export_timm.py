"""A spec as timm builds it: the arguments of timm's ``EfficientNet``, and our weights under timm's names.

``timm.create_model`` builds only registered names, and registering one takes code; a file that
carries code would run it when loaded, so the export is data instead: a JSON file holding the
architecture in timm's own block notation (``ir_r2_k3_s2_e6_c24_se0.25``) and the keyword
arguments of ``timm.models.efficientnet.EfficientNet``, the class ``create_model`` builds for
every ``efficientnet_*`` and ``mnasnet_*`` name. timm alone builds the network from it::

    import functools, json, torch
    from timm.models.efficientnet import EfficientNet, decode_arch_def
    arch = json.load(open("b0.timm.json"))
    model = EfficientNet(decode_arch_def(arch["arch_def"]), round_chs_fn=int,
                         norm_layer=functools.partial(torch.nn.BatchNorm2d, eps=arch["bn_eps"]), **arch["kwargs"])

Every width is written resolved, so timm's rounding never changes one: the stem is fixed
(``fix_stem``), the head's width given (``num_features``), ``round_chs_fn=int`` keeps each stage's,
and each block's expansion and squeeze-excite ratios are the exact quotients of our widths (``e6``
and ``se0.25`` for EfficientNet, every digit where a width was rounded). A network of ours with
frozen or synchronised BatchNorm becomes one with plain BatchNorm, which computes the same in eval.
:func:`to_timm` gives a trained network of ours as a timm one, weights included.
"""

from __future__ import annotations

import functools
import itertools
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from scalesearch.arch.spec import DepthwiseSeparable, FusedMBConv, MBConv, NetworkSpec, Spec, ViTSpec
from scalesearch.arch.walk import Site, walk
from scalesearch.errors import ExportError
from scalesearch.nn import build_model

#: timm's names for our activations (``get_act_layer`` resolves them to the same torch classes).
TIMM_ACTIVATIONS = {"silu": "silu", "relu": "relu", "relu6": "relu6", "hardswish": "hard_swish"}
#: Norms that build BatchNorm in eval (frozen and synchronised BatchNorm differ only in training).
_BATCH_NORMS = ("batch", "sync_batch", "frozen_batch")
_NORM_TYPES = (nn.BatchNorm2d, FrozenBatchNorm2d)
_TENSORS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _number(value: float) -> str:
    """A ratio as a block string writes it: short where that is exact (``6``, ``0.25``), else every digit."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def _block_string(site: Site, field: str) -> str:
    """One block in timm's notation, without its repeat count; ``field`` names it in errors. The
    stride is the stage's, as timm writes it: timm strides with a stage's first block only."""
    block, cin = site.block, site.in_channels
    if isinstance(block, DepthwiseSeparable):  # timm's "dsa": pointwise conv with activation, no shortcut
        return f"dsa_k{block.kernel}_s{block.stride}_c{block.out_channels}"
    if not isinstance(block, (MBConv, FusedMBConv)):
        raise ExportError(f"{field} is a {block.kind} block, which timm's EfficientNet lacks")
    hidden = block.hidden_channels(cin)
    conv = f"k{block.kernel}_s{block.stride}"
    # Ratios to the block's input, as timm reads them (se_from_exp=False): timm's widths,
    # round(in * e) and round(hidden * se / e), then come out as ours exactly.
    expand = f"_e{_number(hidden / cin)}" if hidden != cin else ""
    se = f"_se{_number(block.squeeze_channels(cin) / cin)}" if block.se_ratio > 0 else ""
    out = f"_c{block.out_channels}"
    if isinstance(block, FusedMBConv) and hidden == cin:  # timm's "cn": one conv, norm, activation
        if se:
            raise ExportError(f"{field} is a fused_mbconv block with expand_ratio 1 and squeeze-excite, "
                              "which timm's EfficientNet lacks")
        return f"cn_{conv}{out}" + ("_skip" if block.skip else "")
    kind = "er" if isinstance(block, FusedMBConv) else "ir" if hidden != cin else "ds"
    return f"{kind}_{conv}{expand}{out}{se}" + ("" if block.skip else "_noskip")


def _stage_strings(sites: tuple[Site, ...], field: str) -> list[str]:
    """A stage's blocks, runs of equal blocks as one string with their repeat count (``r3``)."""
    strings = [_block_string(site, field) for site in sites]
    runs = []
    for text, run in itertools.groupby(strings):
        kind, rest = text.split("_", 1)
        runs.append(f"{kind}_r{len(list(run))}_{rest}")
    return runs


def _refusal(spec: NetworkSpec) -> str | None:
    """Why timm's EfficientNet cannot build ``spec``'s stem or norms (None: it can)."""
    if spec.stem.stride != 2:
        return f"its stem has stride {spec.stem.stride}; timm's EfficientNet stem always has stride 2"
    if spec.stem.pool:
        return "its stem ends in a max pool, which timm's EfficientNet stem lacks"
    if spec.norm not in _BATCH_NORMS:
        return (f"its norm is {spec.norm}; the timm export writes BatchNorm only (timm's GroupNorm takes one "
                "group count for every width, ours picks one per width)")
    if spec.weight_standardization:
        return "it standardises its convolution weights, which timm's EfficientNet cannot"
    return None


def timm_arch(spec: Spec, resolution: int | None = None) -> dict[str, Any]:
    """``spec`` as timm's EfficientNet takes it: ``arch_def`` (timm's block strings, one list per
    stage), ``bn_eps``, ``kwargs`` (the constructor's keyword arguments), plus ``name`` and
    ``input_size`` (channels, pixels, pixels; default: the spec's resolution) for the record.
    Raises :class:`ExportError` naming what timm cannot express."""
    if isinstance(spec, ViTSpec):
        raise ExportError(f"timm cannot express {spec.name}: it is a ViT; the timm export writes "
                          "EfficientNet-style convolutional networks")
    try:
        route = walk(spec)
        arch_def = [_stage_strings(route.stage(i), f"stages[{i}]") for i in range(len(spec.stages))]
        reason = _refusal(spec)
    except ExportError as err:
        reason = str(err)
    if reason is not None:
        raise ExportError(f"timm cannot express {spec.name}: {reason}")
    size = resolution or spec.resolution
    return {
        "name": spec.name,
        "input_size": [spec.in_channels, size, size],
        "arch_def": arch_def,
        "bn_eps": spec.bn_eps,
        "kwargs": {
            "num_classes": spec.num_classes,
            "in_chans": spec.in_channels,
            "stem_size": spec.stem.out_channels,
            "stem_kernel_size": spec.stem.kernel,
            "fix_stem": True,
            "num_features": spec.head.out_channels if spec.head is not None else 0,  # 0: no head conv
            "act_layer": TIMM_ACTIVATIONS[spec.activation],
            "pad_type": "",  # symmetric padding, (k - 1) / 2 a side, as ours
            "drop_rate": spec.dropout,
            "drop_path_rate": spec.drop_path_rate,
        },
    }


def build_timm(arch: dict[str, Any]) -> nn.Module:
    """timm's EfficientNet for ``arch`` (what :func:`timm_arch` returns or the exported file holds),
    built as the module docstring's recipe builds it."""
    from timm.models.efficientnet import EfficientNet, decode_arch_def  # ~2 s to import: only when asked

    norm = functools.partial(nn.BatchNorm2d, eps=arch["bn_eps"])
    return EfficientNet(decode_arch_def(arch["arch_def"]), round_chs_fn=int, norm_layer=norm, **arch["kwargs"])


def _layers(model: nn.Module, whose: str) -> list[tuple[str, nn.Module]]:
    """The modules that hold tensors, in forward order; anything else holding one is refused."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear, *_NORM_TYPES)):
            found.append((name, module))
        elif next(module.parameters(recurse=False), None) is not None or \
                next(module.buffers(recurse=False), None) is not None:
            raise ExportError(f"{whose} layer {name} ({type(module).__name__}) has no timm counterpart")
    return found


def _shape(module: nn.Module) -> str:
    """What decides whether two layers compute the same, in words."""
    if isinstance(module, nn.Conv2d):
        k, s, p = (f"{v[0]}x{v[1]}" for v in (module.kernel_size, module.stride, module.padding))
        return (f"conv {module.in_channels}->{module.out_channels} kernel {k} stride {s} padding {p} "
                f"groups {module.groups} dilation {module.dilation[0]} bias {module.bias is not None}")
    if isinstance(module, nn.Linear):
        return f"linear {module.in_features}->{module.out_features} bias {module.bias is not None}"
    return f"norm {module.weight.shape[0]} eps {module.eps:g}"


def timm_state_dict(model: nn.Module, timm_model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s weights under ``timm_model``'s names, for ``timm_model.load_state_dict``. The two
    are walked layer by layer in forward order; a layer that differs in kind, width, kernel,
    stride, padding, groups or eps raises :class:`ExportError` naming both."""
    ours, theirs = _layers(model, "our"), _layers(timm_model, "timm's")
    state = dict(timm_model.state_dict())  # what ours lacks (frozen BatchNorm's step counter) stays timm's
    for i, ((name, mine), (timm_name, other)) in enumerate(zip(ours, theirs)):
        if _shape(mine) != _shape(other):
            raise ExportError(f"timm builds the network differently: layer {i} is {name} ({_shape(mine)}) here, "
                              f"{timm_name} ({_shape(other)}) in timm")
        for tensor in _TENSORS:
            if isinstance(getattr(other, tensor, None), torch.Tensor) and \
                    isinstance(getattr(mine, tensor, None), torch.Tensor):
                state[f"{timm_name}.{tensor}" if timm_name else tensor] = getattr(mine, tensor).detach()
    if len(ours) != len(theirs):
        raise ExportError(f"timm builds the network differently: {len(ours)} layers with weights here, "
                          f"{len(theirs)} in timm")
    return state


def to_timm(model: nn.Module) -> nn.Module:
    """A timm EfficientNet that computes what ``model`` (a network built from a spec) computes: built
    from its spec, with its weights, in its train or eval mode."""
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ExportError(f"{type(model).__name__} was not built from a spec; to_timm needs its spec")
    timm_model = build_timm(timm_arch(spec))
    timm_model.load_state_dict(timm_state_dict(model, timm_model))
    return timm_model.train(model.training)


def export_timm(spec: Spec, out: Path, resolution: int | None = None) -> Path:
    """Write ``spec`` as the JSON that the module docstring's recipe builds in timm, after checking,
    on the meta device (no memory, no time), that timm builds it layer for layer as we do."""
    arch = timm_arch(spec, resolution)
    with torch.device("meta"):
        timm_state_dict(build_model(spec), build_timm(arch))
    Path(out).write_text(_json(arch))
    return Path(out)


def _json(arch: dict[str, Any]) -> str:
    """The file's text: a key a line, and a line for each stage of ``arch_def``."""
    lines = []
    for key, value in arch.items():
        if key == "arch_def":
            stages = ",\n".join(f"    {json.dumps(stage)}" for stage in value)
            lines.append(f'  "arch_def": [\n{stages}\n  ]')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
