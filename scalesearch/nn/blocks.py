"""One ``nn.Module`` per block kind. Each takes its stage spec plus the per-block facts the stage
decides (input channels, stride, drop-path probability) and never sees a trial or a scaler.

Submodule names follow torchvision (``block``/``stochastic_depth`` for MBConv, ``conv1``/``bn1``/
``downsample`` for ResNet blocks) so that torchvision checkpoints map onto built models.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from torch import nn
from torchvision.ops import SqueezeExcitation, StochasticDepth
from torchvision.ops.misc import Conv2dNormActivation

from scalesearch.arch.spec import BasicBlock, Bottleneck, DepthwiseSeparable, FusedMBConv, Identity, MBConv
from scalesearch.nn.norms import NORM_TYPES

Layer = Callable[..., nn.Module]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "silu": nn.SiLU, "relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish,
}


def activation_layer(name: str) -> Layer:
    """The activation class for a spec's ``activation`` name, in-place."""
    return partial(_ACTIVATIONS[name], inplace=True)


def projection(in_channels: int, out_channels: int, stride: int, norm: Layer) -> nn.Sequential:
    """The 1x1 conv and norm that carry a shortcut across a change of width or resolution."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), norm(out_channels))


class _InvertedResidualBlock(nn.Module):
    """Shared body of MBConv and fused-MBConv: ``block`` plus an optional drop-path shortcut."""

    def __init__(self, layers: list[nn.Module], use_res_connect: bool, drop_path: float) -> None:
        super().__init__()
        self.block = nn.Sequential(*layers)
        self.use_res_connect = use_res_connect
        self.stochastic_depth = StochasticDepth(drop_path, "row")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + x
        return out

    def residual_norm(self) -> nn.Module | None:
        """The last norm of the branch that the shortcut adds to (None without a shortcut)."""
        if not self.use_res_connect:
            return None
        return [m for m in self.block.modules() if isinstance(m, NORM_TYPES)][-1]


class MBConvBlock(_InvertedResidualBlock):
    """Expand 1x1 -> depthwise kxk -> squeeze-excite -> project 1x1, with an optional shortcut."""

    def __init__(self, spec: MBConv, in_channels: int, stride: int, drop_path: float, act: Layer, norm: Layer) -> None:
        hidden = spec.hidden_channels(in_channels)
        layers: list[nn.Module] = []
        if hidden != in_channels:
            layers.append(Conv2dNormActivation(in_channels, hidden, 1, norm_layer=norm, activation_layer=act))
        layers.append(Conv2dNormActivation(hidden, hidden, spec.kernel, stride, groups=hidden,
                                           norm_layer=norm, activation_layer=act))
        if spec.se_ratio > 0:
            layers.append(SqueezeExcitation(hidden, spec.squeeze_channels(in_channels), activation=act))
        layers.append(Conv2dNormActivation(hidden, spec.out_channels, 1, norm_layer=norm, activation_layer=None))
        super().__init__(layers, spec.has_residual(in_channels, stride), drop_path)


class FusedMBConvBlock(_InvertedResidualBlock):
    """Full kxk conv (expansion fused in) -> squeeze-excite -> project 1x1; without expansion the
    kxk conv maps straight to the output width."""

    def __init__(self, spec: FusedMBConv, in_channels: int, stride: int, drop_path: float, act: Layer,
                 norm: Layer) -> None:
        hidden = spec.hidden_channels(in_channels)
        expands = hidden != in_channels
        first_out = hidden if expands else spec.out_channels
        layers: list[nn.Module] = [Conv2dNormActivation(in_channels, first_out, spec.kernel, stride,
                                                        norm_layer=norm, activation_layer=act)]
        if spec.se_ratio > 0:
            layers.append(SqueezeExcitation(first_out, spec.squeeze_channels(in_channels), activation=act))
        if expands:
            layers.append(Conv2dNormActivation(hidden, spec.out_channels, 1, norm_layer=norm, activation_layer=None))
        super().__init__(layers, spec.has_residual(in_channels, stride), drop_path)


class DepthwiseSeparableBlock(nn.Sequential):
    """Depthwise kxk then pointwise 1x1, each with norm and activation; no shortcut (MobileNetV1)."""

    def __init__(self, spec: DepthwiseSeparable, in_channels: int, stride: int, drop_path: float, act: Layer,
                 norm: Layer) -> None:
        super().__init__(
            Conv2dNormActivation(in_channels, in_channels, spec.kernel, stride, groups=in_channels,
                                 norm_layer=norm, activation_layer=act),
            Conv2dNormActivation(in_channels, spec.out_channels, 1, norm_layer=norm, activation_layer=act),
        )


class _ResidualBlock(nn.Module):
    """Shared tail of ResNet blocks: shortcut (identity or 1x1 projection), drop path, activation."""

    def _shortcut(self, in_channels: int, out_channels: int, stride: int, drop_path: float, act: Layer,
                  norm: Layer) -> None:
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = projection(in_channels, out_channels, stride, norm)
        self.stochastic_depth = StochasticDepth(drop_path, "row")
        self.relu = act()

    def _merge(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.stochastic_depth(out) + identity)


class BasicResidualBlock(_ResidualBlock):
    """3x3 -> 3x3 with a shortcut (ResNet-18/34)."""

    def __init__(self, spec: BasicBlock, in_channels: int, stride: int, drop_path: float, act: Layer,
                 norm: Layer) -> None:
        super().__init__()
        out = spec.out_channels
        self.conv1 = nn.Conv2d(in_channels, out, 3, stride, 1, bias=False)
        self.bn1 = norm(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = norm(out)
        self._shortcut(in_channels, out, stride, drop_path, act, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self._merge(self.bn2(self.conv2(out)), x)

    def residual_norm(self) -> nn.Module:
        """The last norm of the residual branch."""
        return self.bn2


class BottleneckResidualBlock(_ResidualBlock):
    """1x1 reduce -> 3x3 (strided) -> 1x1 expand, with a shortcut (ResNet-50/101/152, v1.5)."""

    def __init__(self, spec: Bottleneck, in_channels: int, stride: int, drop_path: float, act: Layer,
                 norm: Layer) -> None:
        super().__init__()
        mid, out = spec.mid_channels, spec.out_channels
        self.conv1 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn1 = norm(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn2 = norm(mid)
        self.conv3 = nn.Conv2d(mid, out, 1, bias=False)
        self.bn3 = norm(out)
        self._shortcut(in_channels, out, stride, drop_path, act, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self._merge(self.bn3(self.conv3(out)), x)

    def residual_norm(self) -> nn.Module:
        """The last norm of the residual branch."""
        return self.bn3


class IdentityBlock(nn.Module):
    """The input unchanged, or a 1x1 conv and norm (``downsample``) where the shape changes."""

    def __init__(self, spec: Identity, in_channels: int, stride: int, drop_path: float, act: Layer,
                 norm: Layer) -> None:
        super().__init__()
        self.downsample = None
        if spec.projects(in_channels, stride):
            self.downsample = projection(in_channels, spec.out_channels, stride, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.downsample is None else self.downsample(x)


#: The builder for each block kind.
BLOCK_BUILDERS: dict[type, type[nn.Module]] = {
    MBConv: MBConvBlock,
    FusedMBConv: FusedMBConvBlock,
    DepthwiseSeparable: DepthwiseSeparableBlock,
    BasicBlock: BasicResidualBlock,
    Bottleneck: BottleneckResidualBlock,
    Identity: IdentityBlock,
}
