"""Compound scaling as pure functions: ``scale(base, phi, coefficients)`` returns a new spec.

EfficientNet scales depth by d = alpha^phi, width by w = beta^phi and resolution by
r = gamma^phi, with alpha * beta^2 * gamma^2 ~= 2 so that MACs roughly double per phi step.
Rounding follows the official implementation: channels to a multiple of 8, never below 90%
of the unrounded value; repeats rounded up; stem and head widths scaled like every stage.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

from scalesearch.arch.rounding import make_divisible
from scalesearch.arch.spec import MAX_RESOLUTION_PX, Block, Bottleneck, ScalingRecord, Spec, ViTSpec
from scalesearch.errors import UsageError, shown

MIN_SCALED_RESOLUTION_PX = 32
MAX_PHI = 16
#: Largest alpha, beta or gamma (EfficientNet's are 1.2, 1.1 and 1.15).
MAX_COEFFICIENT = 4.0
#: Largest depth or width multiplier a scaled network may get (EfficientNet-B7: 3.1 and 2.0).
MAX_MULTIPLIER = 64.0
# ``repeats * depth_mult`` can land a hair above an integer in floating point (5 * 1.2 may be
# 6.000000000000001); without this tolerance ceil() would add a whole block.
_CEIL_TOLERANCE = 1e-9


def scale_channels(channels: int, width_mult: float) -> int:
    """Channels after width scaling (EfficientNet's ``round_filters``)."""
    return make_divisible(channels * width_mult)


def scale_repeats(repeats: int, depth_mult: float) -> int:
    """Blocks in a stage after depth scaling, rounded up (EfficientNet's ``round_repeats``)."""
    return max(1, math.ceil(repeats * depth_mult - _CEIL_TOLERANCE))


def scale_resolution(resolution: int, resolution_mult: float) -> int:
    """Input pixels after resolution scaling, rounded half up to an integer."""
    return int(math.floor(resolution * resolution_mult + 0.5))


@dataclass(frozen=True)
class Coefficients:
    """alpha (depth), beta (width), gamma (resolution) per unit of phi; each >= 1."""

    alpha: float = 1.2
    beta: float = 1.1
    gamma: float = 1.15

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 1:
                raise UsageError(f"{name} must be a number >= 1, got {shown(value)} "
                                 f"(alpha, beta, gamma >= 1 keep phi monotone)")
            if value > MAX_COEFFICIENT:
                raise UsageError(f"{name} must be at most {MAX_COEFFICIENT:g}, got {shown(value)} "
                                 f"(EfficientNet's are 1.2, 1.1 and 1.15)")

    @property
    def macs_ratio(self) -> float:
        """alpha * beta^2 * gamma^2: the approximate MACs growth per unit of phi."""
        return self.alpha * self.beta**2 * self.gamma**2


@dataclass(frozen=True)
class Multipliers:
    """What scaling multiplies: depth, width, resolution; the dropout to set (None: keep); and a
    ViT's MLP dimension (None: 4 x the scaled width)."""

    depth: float
    width: float
    resolution: float
    dropout: float | None = None
    mlp: float | None = None


#: "Getting ViT in Shape" (Alabdulmohsin et al., NeurIPS 2023), Section 4.1: the compute-optimal
#: shape grows as t^s with compute t, "s_depth ~= 0.45, s_width ~= 0.22, and s_MLP ~= 0.6"
#: (image classification; its multitask decoder gave 0.49, 0.25 and 0.62).
SOVIT_EXPONENTS = {"depth": 0.45, "width": 0.22, "mlp": 0.6}


def sovit_multipliers(compute: float) -> Multipliers:
    """A ViT's shape for ``compute`` x the base's compute: depth t^0.45, width t^0.22, MLP t^0.6,
    the resolution kept (:data:`SOVIT_EXPONENTS`)."""
    return Multipliers(compute ** SOVIT_EXPONENTS["depth"], compute ** SOVIT_EXPONENTS["width"], 1.0,
                       mlp=compute ** SOVIT_EXPONENTS["mlp"])


def check_phi(phi: float) -> None:
    """Reject phi values no network should be built from. Negative phi is bounded by the
    32 px minimum resolution instead (see :func:`apply_multipliers`)."""
    if not math.isfinite(phi) or phi > MAX_PHI:
        shown = str(int(phi)) if math.isfinite(phi) and float(phi).is_integer() else f"{phi:g}"
        raise UsageError(f"phi {shown} is too large: at most {MAX_PHI} (EfficientNet-B7 is phi 7)")


def smallest_phi(resolution: int, gamma: float) -> int:
    """The most negative integer phi that keeps ``resolution * gamma^phi`` at or above 32 px."""
    if gamma <= 1:
        raise ValueError("resolution only shrinks with gamma > 1")
    phi = 0
    while scale_resolution(resolution, gamma ** (phi - 1)) >= MIN_SCALED_RESOLUTION_PX:
        phi -= 1
    return phi


def compound_multipliers(phi: float, coefficients: Coefficients) -> Multipliers:
    """d = alpha^phi, w = beta^phi, r = gamma^phi."""
    check_phi(phi)
    return Multipliers(coefficients.alpha**phi, coefficients.beta**phi, coefficients.gamma**phi)


@dataclass(frozen=True)
class PresetRow:
    """One published network of a preset table: its phi and multipliers, resolution (px, for a
    224 px base) and dropout."""

    phi: int
    width_mult: float
    depth_mult: float
    resolution: int
    dropout: float


@dataclass(frozen=True)
class Preset:
    name: str
    phis: tuple[PresetRow, ...]


@lru_cache(maxsize=None)
def _official_table() -> dict[int, PresetRow]:
    from scalesearch.arch.io import read_data_file, search_spaces_dir
    from scalesearch.typed_data import decode

    preset = decode(Preset, read_data_file(search_spaces_dir() / "presets" / "official.yaml"))
    return {row.phi: row for row in preset.phis}


PRESETS = ("official",)


def official_multipliers(phi: float) -> Multipliers:
    """The published EfficientNet B0..B7 multipliers for phi in 0..7."""
    table = _official_table()
    if phi not in table:
        raise UsageError(f"`preset` official has phi 0..7 only (EfficientNet-B0..B7), got phi {phi:g}")
    row = table[int(phi)]
    return Multipliers(row.depth_mult, row.width_mult, row.resolution / table[0].resolution, row.dropout)


def scale_block(block: Block, m: Multipliers) -> Block:
    """One stage with its repeats and channels scaled."""
    if isinstance(block, Bottleneck):
        out = scale_channels(block.mid_channels, m.width) * block.expansion
    else:
        out = scale_channels(block.out_channels, m.width)
    return dataclasses.replace(block, out_channels=out, repeats=scale_repeats(block.repeats, m.depth))


def check_multipliers(base: Spec, m: Multipliers, phi: float | None) -> None:
    """Refuse multipliers that would build a network no machine holds (before any is built)."""
    cause, s = (f"phi {phi:g}", "s") if phi is not None else ("these multipliers", "")
    if m.mlp is not None and not isinstance(base, ViTSpec):
        raise UsageError(f"{base.name} is a convolutional network: an MLP multiplier (the sovit rule) scales ViTs only")
    for what, value in (("depth", m.depth), ("width", m.width), ("MLP", m.mlp or 1.0)):
        if not (math.isfinite(value) and 0 < value <= MAX_MULTIPLIER):
            raise UsageError(f"{cause} give{s} {base.name} a {what} multiplier of {_number(value)}: at most "
                             f"{MAX_MULTIPLIER:g} (EfficientNet-B7 has depth 3.1, width 2.0)")
    if not (math.isfinite(m.resolution) and 0 < base.resolution * m.resolution <= MAX_RESOLUTION_PX):
        raise UsageError(f"{cause} scale{s} {base.name}'s {base.resolution} px input to "
                         f"{_number(base.resolution * m.resolution)} px: at most {MAX_RESOLUTION_PX} px")


def _number(x: float) -> str:
    """For messages: ``4,294,967,296`` rather than ``4.295e+09``."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


#: A scaled ViT's head width: heads = width / 64, as ViT-Ti/S/B (192/3, 384/6, 768/12).
VIT_HEAD_DIM = 64


def _multiple_of_head(value: float) -> int:
    return max(VIT_HEAD_DIM, round(value / VIT_HEAD_DIM) * VIT_HEAD_DIM)


def scale_vit(base: ViTSpec, m: Multipliers, *, name: str, record: ScalingRecord) -> ViTSpec:
    """A ViT with ``m`` applied: depth x d (rounded up), width x w rounded to a multiple of 64
    (at least 64) with heads = width / 64, MLP = 4 x width (or, with an MLP multiplier, the base's
    MLP x it, rounded to a multiple of 64), and the resolution x r rounded to a multiple of the
    patch (the patch stays; the tokens grow, position embeddings are resampled)."""
    width = _multiple_of_head(base.width * m.width)
    mlp_dim = 4 * width if m.mlp is None else _multiple_of_head(base.mlp_dim * m.mlp)
    resolution = max(base.patch, round(base.resolution * m.resolution / base.patch) * base.patch)
    if resolution < MIN_SCALED_RESOLUTION_PX:
        raise UsageError(f"{name} would take {resolution} px: below the {MIN_SCALED_RESOLUTION_PX} px minimum")
    return dataclasses.replace(base, name=name, resolution=resolution, depth=scale_repeats(base.depth, m.depth),
                               width=width, heads=width // VIT_HEAD_DIM, mlp_dim=mlp_dim,
                               dropout=base.dropout if m.dropout is None else m.dropout, scaling=record)


def apply_multipliers(base: Spec, m: Multipliers, *, name: str, record: ScalingRecord) -> Spec:
    """A new spec with ``m`` applied to every stage, the stem, the head and the resolution
    (a ViT's depth, width and tokens: :func:`scale_vit`)."""
    if isinstance(base, ViTSpec):
        return scale_vit(base, m, name=name, record=record)
    resolution = scale_resolution(base.resolution, m.resolution)
    if resolution < MIN_SCALED_RESOLUTION_PX:
        if base.resolution < MIN_SCALED_RESOLUTION_PX:  # no phi helps: the base itself is too small
            raise UsageError(f"{base.name}'s {base.resolution} px input is below the {MIN_SCALED_RESOLUTION_PX} px "
                             f"minimum of a scaled network: give the base a resolution of at least "
                             f"{MIN_SCALED_RESOLUTION_PX} px")
        hint = (f": phi must be >= {smallest_phi(base.resolution, record.gamma)}"
                if record.gamma is not None and record.gamma > 1 else "")
        what = f"phi {record.phi:g}" if record.phi is not None else f"a resolution multiplier of {m.resolution:.3g}"
        raise UsageError(f"{what} scales {base.name}'s {base.resolution} px input to {resolution} px, "
                         f"below the {MIN_SCALED_RESOLUTION_PX} px minimum{hint}")
    head = base.head
    if head is not None and (head.scale_below_base or m.width >= 1):
        head = dataclasses.replace(head, out_channels=scale_channels(head.out_channels, m.width))
    return dataclasses.replace(
        base,
        name=name,
        resolution=resolution,
        stem=dataclasses.replace(base.stem, out_channels=scale_channels(base.stem.out_channels, m.width)),
        stages=tuple(scale_block(b, m) for b in base.stages),
        head=head,
        dropout=base.dropout if m.dropout is None else m.dropout,
        scaling=record,
    )


def with_multipliers(base: Spec, depth: float = 1.0, width: float = 1.0, resolution: float = 1.0,
                     name: str | None = None, mlp: float | None = None) -> Spec:
    """``base`` with explicit depth/width/resolution (and a ViT's MLP) multipliers (not a compound
    phi: the record's phi is None), recorded as such: single-dimension scaling and custom sizes
    such as B0 at width 0.5."""
    m = Multipliers(depth, width, resolution, mlp=mlp)
    check_multipliers(base, m, None)
    record = ScalingRecord(base=base.name, phi=None, depth_mult=depth, width_mult=width, resolution_mult=resolution,
                           mlp_mult=mlp)
    label = name or f"{base.name}-d{depth:g}-w{width:g}-r{resolution:g}"
    return apply_multipliers(base, m, name=label, record=record)


def scaled_name(base_name: str, phi: float, rule: str | None) -> str:
    """``efficientnet-b0-phi3``, or with a preset or the sovit rule ``efficientnet-b0-official-phi3``,
    ``vit-s16-sovit-phi1``."""
    return f"{base_name}-{rule + '-' if rule else ''}phi{phi:g}"


#: How ``scale`` turns phi into multipliers: EfficientNet's alpha/beta/gamma, or the sovit rule
#: (compute 2^phi spent on depth, width and MLP by :data:`SOVIT_EXPONENTS`; ViTs only).
SCALE_STRATEGIES = ("compound", "sovit")


def scale(base: Spec, phi: float, coefficients: Coefficients | None = None,
          preset: str | None = None, strategy: str = "compound") -> Spec:
    """Scale ``base`` by compound coefficient ``phi``; the result records base, coefficients and phi.

    With ``preset="official"`` the published B0..B7 table replaces the formula (phi in 0..7).
    With ``strategy="sovit"`` (a ViT base), phi doubles the compute per step and
    :func:`sovit_multipliers` shapes it. Negative phi shrinks the base, down to a 32 px input.
    """
    if preset is not None and preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    if strategy not in SCALE_STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r} (known: {', '.join(SCALE_STRATEGIES)})")
    if strategy == "sovit":
        if preset is not None or coefficients is not None:
            raise UsageError("the sovit strategy has its own exponents: give no alpha, beta, gamma or preset")
        check_phi(phi)
        m = sovit_multipliers(2.0 ** phi)
        check_multipliers(base, m, phi)
        record = ScalingRecord(base=base.name, phi=phi, depth_mult=m.depth, width_mult=m.width,
                               resolution_mult=m.resolution, mlp_mult=m.mlp)
        return apply_multipliers(base, m, name=scaled_name(base.name, phi, "sovit"), record=record)
    coefficients = coefficients or Coefficients()
    m = official_multipliers(phi) if preset == "official" else compound_multipliers(phi, coefficients)
    check_multipliers(base, m, phi)
    if preset == "official":
        record = ScalingRecord(base=base.name, phi=phi, depth_mult=m.depth, width_mult=m.width,
                               resolution_mult=m.resolution, preset=preset)
    else:
        record = ScalingRecord(base=base.name, phi=phi, depth_mult=m.depth, width_mult=m.width,
                               resolution_mult=m.resolution, alpha=coefficients.alpha,
                               beta=coefficients.beta, gamma=coefficients.gamma)
    return apply_multipliers(base, m, name=scaled_name(base.name, phi, preset), record=record)


def scale_family(base: Spec, phis: list[float], coefficients: Coefficients | None = None,
                 preset: str | None = None, strategy: str = "compound") -> list[Spec]:
    """``base`` scaled to every phi of ``phis`` (all validated before the caller writes anything)."""
    return [scale(base, phi, coefficients, preset, strategy) for phi in phis]
