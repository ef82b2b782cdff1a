"""Build a ``torch.nn.Module`` from a :class:`NetworkSpec`: stem, stages, head, pool, classifier.

Also :func:`with_norm`, a spec given another norm and checked by building it once (the layers'
widths, which decide whether a group count fits any of them, are known only once it is built).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn
from torchvision.ops.misc import Conv2dNormActivation

from scalesearch.arch.spec import Block, NetworkSpec, Spec, ViTSpec
from scalesearch.arch.walk import walk
from scalesearch.errors import SpecError, UsageError
from scalesearch.nn.blocks import BLOCK_BUILDERS, Layer, activation_layer
from scalesearch.nn.norms import NORM_TYPES, check_group_fit, norm_layer, standardize_weights
from scalesearch.nn.vit import VisionTransformer


def _layers(spec: NetworkSpec) -> tuple[Layer, Layer]:
    return norm_layer(spec), activation_layer(spec.activation)


def build_stem(spec: NetworkSpec) -> nn.Sequential:
    """First conv with norm and activation, plus ResNet's max pool when ``stem.pool``."""
    norm, act = _layers(spec)
    stem = Conv2dNormActivation(spec.in_channels, spec.stem.out_channels, spec.stem.kernel, spec.stem.stride,
                                norm_layer=norm, activation_layer=act)
    if spec.stem.pool:
        stem.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    return stem


def build_block(spec: NetworkSpec, stage: Block, in_channels: int, stride: int, drop_path: float = 0.0) -> nn.Module:
    """One block of ``stage`` (the builder registered for its kind)."""
    norm, act = _layers(spec)
    return BLOCK_BUILDERS[type(stage)](stage, in_channels, stride, drop_path, act, norm)


def build_head_conv(spec: NetworkSpec, in_channels: int) -> nn.Module | None:
    """The 1x1 head conv with norm and activation, or None for networks without one."""
    if spec.head is None:
        return None
    norm, act = _layers(spec)
    return Conv2dNormActivation(in_channels, spec.head.out_channels, 1, norm_layer=norm, activation_layer=act)


def build_classifier(spec: NetworkSpec) -> nn.Sequential:
    """Dropout then the linear layer (global pooling happens before it)."""
    return nn.Sequential(nn.Dropout(p=spec.dropout, inplace=True), nn.Linear(spec.feature_channels, spec.num_classes))


class Network(nn.Module):
    """``features`` (stem, one ``nn.Sequential`` per stage, head) -> ``avgpool`` -> ``classifier``.

    The layout and names match torchvision's EfficientNet, so its ``efficientnet_b0`` state_dict
    loads into ``build_model(efficientnet-b0)`` unchanged.
    """

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        self.spec = spec
        layers: list[nn.Module] = [build_stem(spec)]
        route = walk(spec)
        for i in range(len(spec.stages)):
            # Stochastic depth grows linearly with the block's number in the network, as in EfficientNet.
            layers.append(nn.Sequential(*(
                build_block(spec, site.block, site.in_channels, site.stride,
                            spec.drop_path_rate * site.number / spec.num_blocks) for site in route.stage(i))))
        head = build_head_conv(spec, route.head_channels)
        if head is not None:
            layers.append(head)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = build_classifier(spec)
        self._init_weights()
        check_group_fit(self, spec)
        if spec.weight_standardization:
            standardize_weights(self)

    def _init_weights(self) -> None:
        # torchvision's EfficientNet initialisation (He fan-out convs, unit BN), except that the
        # classifier's uniform bound is 1/sqrt(in_features), not 1/sqrt(out_features): with 1000
        # classes the two agree (0.028 vs 0.032), with 10 classes the latter starts training at
        # logits of std ~3.7 and a loss of ~6 instead of ln(10).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, NORM_TYPES):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def build_model(spec: Spec) -> nn.Module:
    """A freshly initialised model for ``spec``: a :class:`Network`, or a ViT for a :class:`ViTSpec`."""
    if isinstance(spec, ViTSpec):
        return VisionTransformer(spec)
    return Network(spec)


def zero_init_residuals(model: nn.Module) -> int:
    """Zero the scale of the last norm on every residual branch, so that each residual block starts
    as the identity (Goyal et al. 2017; timm's ``zero_init_last``): a short, high-learning-rate
    schedule then cannot blow up a deep network's early activations. Returns the norms zeroed."""
    norms = [m.residual_norm() for m in model.modules() if hasattr(m, "residual_norm")]
    for norm in norms:
        if norm is not None:
            nn.init.zeros_(norm.weight)
    return sum(norm is not None for norm in norms)


def with_norm(spec: Spec, norm: str | None = None, groups: int | None = None,
              standardize: bool | None = None) -> Spec:
    """``spec`` with another norm, group count or weight standardisation (None keeps the spec's),
    checked by building it once; a ViT keeps its LayerNorms and refuses."""
    if norm is None and groups is None and standardize is None:
        return spec
    if isinstance(spec, ViTSpec):
        raise UsageError(f"{spec.name} is a ViT: its norms are LayerNorms, which `norm` does not change")
    changes = {k: v for k, v in (("norm", norm), ("norm_groups", groups), ("weight_standardization", standardize))
               if v is not None}
    try:
        changed = dataclasses.replace(spec, **changes)
        if changed.norm == "group":
            Network(changed)
    except SpecError as err:
        raise UsageError(f"`{err.field}`: {err.reason}") from None
    return changed
