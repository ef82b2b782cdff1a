"""The architecture of a network as typed, validated, immutable data.

A :class:`NetworkSpec` is a stem, a tuple of stages and an optional head. A stage is one block
kind repeated ``repeats`` times; only its first block strides and changes the channel count.
Constructors validate every field and raise :class:`~scalesearch.errors.SpecError` naming the
field and the bad value. Scaling never happens here: see :mod:`scalesearch.arch.scaling`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Union

from scalesearch.arch.rounding import make_divisible
from scalesearch.typed_data import OMIT_DEFAULT, check

ACTIVATIONS = ("silu", "relu", "relu6", "hardswish")
#: Normalisation layers (see :mod:`scalesearch.nn.norms`).
NORMS = ("batch", "group", "sync_batch", "frozen_batch")
STRIDES = (1, 2)
KERNELS = (1, 3, 5, 7, 9)
MIN_RESOLUTION_PX = 16


#: The longest network name: it becomes file names and table rows.
MAX_NAME = 200
#: Upper limits no real network reaches (EfficientNet-B7: 600 px, at most 13 blocks a stage and
#: 3,840 channels; ResNet-152: 36 blocks in a stage), checked before any work so that a typo or
#: a hostile file fails at once instead of hanging or exhausting memory.
MAX_RESOLUTION_PX = 4096
MAX_REPEATS = 256
MAX_CHANNELS = 16384
MAX_CLASSES = 100_000


def _positive_int(field: str, value: int, upper: int | None = None) -> None:
    check(isinstance(value, int) and not isinstance(value, bool) and value > 0, field, value,
           "must be a positive integer")
    if upper is not None:
        check(value <= upper, field, value, f"must be at most {upper:,}")


def _ratio(field: str, value: float, *, upper: float = 1.0, upper_inclusive: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    ok = ok and (value <= upper if upper_inclusive else value < upper)
    bound = "]" if upper_inclusive else ")"
    check(ok, field, value, f"must be in [0, {upper:g}{bound}")


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _kernel(value: int) -> None:
    check(value in KERNELS and not isinstance(value, bool), "kernel", value,
           f"must be an odd kernel size in {KERNELS}")


def _stride(value: int) -> None:
    check(value in STRIDES and not isinstance(value, bool), "stride", value, f"must be one of {STRIDES}")


@dataclass(frozen=True)
class _Stage:
    """What every stage has: its width, how many blocks, and the first block's stride."""

    kind: ClassVar[str]
    out_channels: int
    repeats: int
    stride: int

    def __post_init__(self) -> None:
        _positive_int("out_channels", self.out_channels, MAX_CHANNELS)
        _positive_int("repeats", self.repeats, MAX_REPEATS)
        _stride(self.stride)


def _expand(value: float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 1 <= value <= 16
    check(ok, "expand_ratio", value, "must be a number in [1, 16]")


@dataclass(frozen=True)
class _InvertedResidual(_Stage):
    """Fields shared by MBConv and fused-MBConv: expand, (depthwise or full) conv, SE, project."""

    kernel: int
    expand_ratio: float
    se_ratio: float = 0.0
    skip: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _kernel(self.kernel)
        _expand(self.expand_ratio)
        _ratio("se_ratio", self.se_ratio)
        check(isinstance(self.skip, bool), "skip", self.skip, "must be true or false")

    def hidden_channels(self, in_channels: int) -> int:
        """Width after expansion: ``in * expand_ratio`` rounded to a multiple of 8 (``in`` when the
        ratio is 1). When it equals ``in_channels`` the block has no expansion conv."""
        return in_channels if self.expand_ratio == 1 else make_divisible(in_channels * self.expand_ratio)

    def squeeze_channels(self, in_channels: int) -> int:
        """Squeeze-excite bottleneck width, relative to the block's input as in EfficientNet."""
        return max(1, int(in_channels * self.se_ratio))

    def has_residual(self, in_channels: int, stride: int) -> bool:
        """Identity shortcut: only when asked for and shapes allow it."""
        return self.skip and stride == 1 and in_channels == self.out_channels


@dataclass(frozen=True)
class MBConv(_InvertedResidual):
    """Inverted residual with a depthwise conv (MobileNetV2, EfficientNet)."""

    kind: ClassVar[str] = "mbconv"


@dataclass(frozen=True)
class FusedMBConv(_InvertedResidual):
    """MBConv whose expansion and depthwise convs are fused into one full conv (EfficientNetV2)."""

    kind: ClassVar[str] = "fused_mbconv"


@dataclass(frozen=True)
class DepthwiseSeparable(_Stage):
    """Depthwise conv then pointwise conv, each with norm and activation (MobileNetV1)."""

    kind: ClassVar[str] = "depthwise_separable"
    kernel: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        _kernel(self.kernel)


@dataclass(frozen=True)
class BasicBlock(_Stage):
    """Two 3x3 convs with an identity shortcut, or a 1x1 projection where the stride or width
    changes (ResNet-18/34)."""

    kind: ClassVar[str] = "basic"


@dataclass(frozen=True)
class Bottleneck(_Stage):
    """1x1 reduce, 3x3, 1x1 expand by ``expansion``, with a shortcut (ResNet-50/101/152); the 3x3
    carries the stride, as in torchvision's ResNet (v1.5)."""

    kind: ClassVar[str] = "bottleneck"
    expansion: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive_int("expansion", self.expansion)
        check(self.out_channels % self.expansion == 0, "out_channels", self.out_channels,
               f"must be a multiple of expansion ({self.expansion})")

    @property
    def mid_channels(self) -> int:
        """Channels of the inner 3x3 conv."""
        return self.out_channels // self.expansion


@dataclass(frozen=True)
class Identity(_Stage):
    """No layer: the input passes unchanged, or through a 1x1 conv and norm (no activation) where
    the stride or the width changes. A search space's "skip this layer" choice (NAS-Bench-Macro)."""

    kind: ClassVar[str] = "identity"

    def projects(self, in_channels: int, stride: int) -> bool:
        """Whether the block needs its 1x1 projection (the shape changes)."""
        return stride != 1 or in_channels != self.out_channels


Block = Union[MBConv, FusedMBConv, DepthwiseSeparable, BasicBlock, Bottleneck, Identity]
BLOCK_KINDS: dict[str, type] = {
    cls.kind: cls for cls in (MBConv, FusedMBConv, DepthwiseSeparable, BasicBlock, Bottleneck, Identity)
}


@dataclass(frozen=True)
class Stem:
    """First conv (norm + activation), optionally followed by a 3x3 stride-2 max pool (ResNet)."""

    out_channels: int
    kernel: int = 3
    stride: int = 2
    pool: bool = False

    def __post_init__(self) -> None:
        _positive_int("out_channels", self.out_channels, MAX_CHANNELS)
        _kernel(self.kernel)
        _stride(self.stride)
        check(isinstance(self.pool, bool), "pool", self.pool, "must be true or false")


@dataclass(frozen=True)
class Head:
    """1x1 conv (norm + activation) before pooling. ``scale_below_base: false`` keeps it at base
    width when the width multiplier is below 1, as MobileNetV2 does."""

    out_channels: int
    scale_below_base: bool = True

    def __post_init__(self) -> None:
        _positive_int("out_channels", self.out_channels, MAX_CHANNELS)
        check(isinstance(self.scale_below_base, bool), "scale_below_base", self.scale_below_base,
               "must be true or false")


@dataclass(frozen=True)
class ScalingRecord:
    """How a spec was derived: from which base, with which coefficients and phi."""

    base: str
    phi: float | None  # None: explicit multipliers (single-dimension scaling, custom sizes), no compound phi
    depth_mult: float
    width_mult: float
    resolution_mult: float
    alpha: float | None = None
    beta: float | None = None
    gamma: float | None = None
    preset: str | None = None
    mlp_mult: float | None = field(default=None, metadata=OMIT_DEFAULT)  # a ViT's MLP multiplier (sovit)

    def __post_init__(self) -> None:
        check(isinstance(self.base, str) and self.base.isprintable(), "base", self.base, "must be a printable name")
        check(self.phi is None or _finite(self.phi) and -64 <= self.phi <= 16, "phi", self.phi,
               "must be a number in [-64, 16]")
        for name in ("depth_mult", "width_mult", "resolution_mult"):
            value = getattr(self, name)
            check(_finite(value) and 0 < value <= 64, name, value, "must be a number in (0, 64]")
        check(self.mlp_mult is None or _finite(self.mlp_mult) and 0 < self.mlp_mult <= 64, "mlp_mult",
              self.mlp_mult, "must be a number in (0, 64]")
        for name in ("alpha", "beta", "gamma"):
            value = getattr(self, name)
            check(value is None or _finite(value) and 1 <= value <= 4, name, value, "must be a number in [1, 4]")
        check(self.preset is None or isinstance(self.preset, str), "preset", self.preset, "must be a name")


@dataclass(frozen=True)
class NetworkSpec:
    """A whole image classifier: stem -> stages -> head -> global pool -> dropout -> linear."""

    name: str
    resolution: int
    stem: Stem
    stages: tuple[Block, ...]
    head: Head | None = None
    num_classes: int = 1000
    in_channels: int = 3
    activation: str = "silu"
    dropout: float = 0.0
    drop_path_rate: float = 0.0
    bn_eps: float = 1e-5  # every norm's epsilon
    scaling: ScalingRecord | None = None
    # Written to a spec file only when set: spec files (and digests) from before they existed stay the same.
    norm: str = field(default="batch", metadata=OMIT_DEFAULT)  # one of NORMS
    norm_groups: int = field(default=32, metadata=OMIT_DEFAULT)  # the most groups a GroupNorm layer gets
    weight_standardization: bool = field(default=False, metadata=OMIT_DEFAULT)

    def __post_init__(self) -> None:
        check(isinstance(self.name, str) and self.name.strip() != "", "name", self.name, "must be a non-empty string")
        check(len(self.name) <= MAX_NAME and self.name.isprintable(), "name", self.name,
               f"must be printable (no control characters) and at most {MAX_NAME} characters")
        check(isinstance(self.resolution, int) and not isinstance(self.resolution, bool)
               and MIN_RESOLUTION_PX <= self.resolution <= MAX_RESOLUTION_PX, "resolution", self.resolution,
               f"must be an integer in [{MIN_RESOLUTION_PX}, {MAX_RESOLUTION_PX}] (pixels)")
        check(isinstance(self.stages, tuple) and len(self.stages) > 0, "stages", self.stages,
               "must be a non-empty list of stages")
        for i, stage in enumerate(self.stages):
            check(type(stage) in BLOCK_KINDS.values(), f"stages[{i}]", stage, "must be a block spec")
        _positive_int("num_classes", self.num_classes, MAX_CLASSES)
        _positive_int("in_channels", self.in_channels, MAX_CHANNELS)
        check(self.activation in ACTIVATIONS, "activation", self.activation, f"must be one of {ACTIVATIONS}")
        _ratio("dropout", self.dropout)
        _ratio("drop_path_rate", self.drop_path_rate)
        check(isinstance(self.bn_eps, (int, float)) and not isinstance(self.bn_eps, bool) and 0 < self.bn_eps < 1,
               "bn_eps", self.bn_eps, "must be in (0, 1)")
        check(self.norm in NORMS, "norm", self.norm, f"must be one of {NORMS}")
        _positive_int("norm_groups", self.norm_groups, MAX_CHANNELS)
        check(isinstance(self.weight_standardization, bool), "weight_standardization", self.weight_standardization,
              "must be true or false")

    @property
    def num_blocks(self) -> int:
        """Total blocks over all stages (each stage contributes ``repeats``)."""
        return sum(stage.repeats for stage in self.stages)

    @property
    def feature_channels(self) -> int:
        """Channels entering the classifier."""
        return self.head.out_channels if self.head is not None else self.stages[-1].out_channels


POOLS = ("gap", "token")
POSEMBS = ("sincos2d", "learned")
#: The most encoder blocks of a ViT (ViT-G has 48).
MAX_DEPTH = 256


@dataclass(frozen=True)
class ViTSpec:
    """A plain Vision Transformer (Dosovitskiy et al.; big_vision's "Better plain ViT baselines"):
    patch embedding -> position embedding -> ``depth`` pre-norm encoder blocks (``heads``-head
    self-attention, a GELU MLP of ``mlp_dim``) -> LayerNorm -> pool -> [pre-logits] -> linear.

    ``pool`` is ``gap`` (mean over patch tokens) or ``token`` (a class token); ``posemb`` is
    ``sincos2d`` (fixed, big_vision's ``posemb_sincos_2d``) or ``learned``; ``rep_size`` adds a
    tanh pre-logits layer; ``zero_head`` starts the classifier at zero. The defaults are big_vision's
    S/16 choices. Written with ``kind: vit`` in a spec file."""

    name: str
    resolution: int
    patch: int
    width: int
    depth: int
    heads: int
    mlp_dim: int
    kind: str = "vit"
    pool: str = "gap"
    posemb: str = "sincos2d"
    rep_size: int | None = None
    zero_head: bool = True
    num_classes: int = 1000
    in_channels: int = 3
    dropout: float = 0.0
    drop_path_rate: float = 0.0
    scaling: ScalingRecord | None = None

    def __post_init__(self) -> None:
        check(self.kind == "vit", "kind", self.kind, "must be vit")
        check(isinstance(self.name, str) and self.name.strip() != "" and len(self.name) <= MAX_NAME
              and self.name.isprintable(), "name", self.name,
              f"must be a printable, non-empty string of at most {MAX_NAME} characters")
        check(isinstance(self.resolution, int) and not isinstance(self.resolution, bool)
              and MIN_RESOLUTION_PX <= self.resolution <= MAX_RESOLUTION_PX, "resolution", self.resolution,
              f"must be an integer in [{MIN_RESOLUTION_PX}, {MAX_RESOLUTION_PX}] (pixels)")
        _positive_int("patch", self.patch, self.resolution)
        check(self.resolution % self.patch == 0, "resolution", self.resolution,
              f"must be divisible by the patch size ({self.patch} px)")
        _positive_int("width", self.width, MAX_CHANNELS)
        _positive_int("depth", self.depth, MAX_DEPTH)
        _positive_int("heads", self.heads, self.width)
        check(self.width % self.heads == 0, "width", self.width, f"must be divisible by heads ({self.heads})")
        _positive_int("mlp_dim", self.mlp_dim, 4 * MAX_CHANNELS)
        check(self.pool in POOLS, "pool", self.pool, f"must be one of {POOLS}")
        check(self.posemb in POSEMBS, "posemb", self.posemb, f"must be one of {POSEMBS}")
        if self.posemb == "sincos2d":
            check(self.width % 4 == 0 and self.width >= 8, "width", self.width,
                  "must be a multiple of 4 and at least 8 for sincos2d position embeddings")
        if self.rep_size is not None:
            _positive_int("rep_size", self.rep_size, MAX_CHANNELS)
        check(isinstance(self.zero_head, bool), "zero_head", self.zero_head, "must be true or false")
        _positive_int("num_classes", self.num_classes, MAX_CLASSES)
        _positive_int("in_channels", self.in_channels, MAX_CHANNELS)
        _ratio("dropout", self.dropout)
        _ratio("drop_path_rate", self.drop_path_rate)

    @property
    def num_blocks(self) -> int:
        """Encoder blocks."""
        return self.depth

    @property
    def tokens(self) -> int:
        """Tokens the encoder sees: one per patch, plus the class token with ``pool: token``."""
        return (self.resolution // self.patch) ** 2 + (self.pool == "token")

    @property
    def feature_channels(self) -> int:
        """Channels entering the classifier."""
        return self.rep_size or self.width


#: Any network a spec file describes.
Spec = Union[NetworkSpec, ViTSpec]
