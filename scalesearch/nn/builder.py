"""Build a ``torch.nn.Module`` from a :class:`NetworkSpec`: stem, stages, head, pool, classifier."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from torchvision.ops.misc import Conv2dNormActivation

from scalesearch.arch.spec import NetworkSpec
from scalesearch.nn.blocks import BLOCK_BUILDERS, activation_layer


class Network(nn.Module):
    """``features`` (stem, one ``nn.Sequential`` per stage, head) -> ``avgpool`` -> ``classifier``.

    The layout and names match torchvision's EfficientNet, so its ``efficientnet_b0`` state_dict
    loads into ``build_model(efficientnet-b0)`` unchanged.
    """

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        self.spec = spec
        norm = partial(nn.BatchNorm2d, eps=spec.bn_eps)
        act = activation_layer(spec.activation)
        stem = Conv2dNormActivation(spec.in_channels, spec.stem.out_channels, spec.stem.kernel, spec.stem.stride,
                                    norm_layer=norm, activation_layer=act)
        if spec.stem.pool:
            stem.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        layers: list[nn.Module] = [stem]
        in_channels = spec.stem.out_channels
        block_id = 0
        for stage in spec.stages:
            build = BLOCK_BUILDERS[type(stage)]
            blocks = []
            for i in range(stage.repeats):
                # Stochastic depth grows linearly with block index, as in EfficientNet.
                drop_path = spec.drop_path_rate * block_id / spec.num_blocks
                blocks.append(build(stage, in_channels if i == 0 else stage.out_channels,
                                    stage.stride if i == 0 else 1, drop_path, act, norm))
                block_id += 1
            layers.append(nn.Sequential(*blocks))
            in_channels = stage.out_channels
        if spec.head is not None:
            layers.append(Conv2dNormActivation(in_channels, spec.head.out_channels, 1, norm_layer=norm,
                                               activation_layer=act))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=spec.dropout, inplace=True),
                                        nn.Linear(spec.feature_channels, spec.num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's EfficientNet initialisation: He (fan-out) convs, unit BN, uniform linear.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def build_model(spec: NetworkSpec) -> Network:
    """A freshly initialised model for ``spec``."""
    return Network(spec)
