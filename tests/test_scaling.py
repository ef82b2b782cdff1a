"""Compound scaling: rounding rules, the official B0..B7 table against torchvision, phi bounds."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision

from scalesearch.arch.io import resolve_spec
from scalesearch.arch.rounding import make_divisible
from scalesearch.arch.scaling import (
    MAX_PHI,
    Coefficients,
    Multipliers,
    check_multipliers,
    compound_multipliers,
    scale,
    scale_repeats,
    scale_resolution,
    smallest_phi,
)
from scalesearch.errors import UsageError
from scalesearch.measure.flops import analytic_count
from scalesearch.nn import build_model

PAPER_RESOLUTIONS = [224, 240, 260, 300, 380, 456, 528, 600]  # EfficientNet paper, B0..B7


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_make_divisible_exhaustively():
    for tenths in range(1, 40_000):
        value = tenths / 10
        got = make_divisible(value)
        nearest = max(8, int(value + 4) // 8 * 8)  # round half up to a multiple of 8
        expected = nearest + 8 if nearest < 0.9 * value else nearest
        assert got == expected
        assert got % 8 == 0 and got >= 8 and got >= 0.9 * value and got - value <= 8


def test_make_divisible_matches_torchvision():
    from torchvision.models._utils import _make_divisible

    for tenths in range(1, 20_000, 7):
        assert make_divisible(tenths / 10) == _make_divisible(tenths / 10, 8)
    for divisor in (3, 4, 5, 16):  # odd ones too: half of 3 is 1.5, not 1
        for tenths in range(1, 5_000):
            assert make_divisible(tenths / 10, divisor) == _make_divisible(tenths / 10, divisor), (tenths, divisor)
    assert make_divisible(10, 3) == 9  # exactly 90% of the value is allowed


def test_scale_repeats_rounds_up_and_ignores_float_noise():
    assert [scale_repeats(n, 1.1) for n in (1, 2, 3, 4)] == [2, 3, 4, 5]
    assert scale_repeats(5, 1.2) == 6  # 5 * 1.2 is 6.000000000000001 in floating point
    assert scale_repeats(3, 0.1) == 1  # never below one block
    for n in range(1, 50):
        for d in (0.5, 1.0, 1.2, 1.44, 3.1):
            assert scale_repeats(n, d) == math.ceil(round(n * d, 9))


def test_scale_resolution_rounds_half_up():
    assert scale_resolution(224, 1.15) == 258  # 257.6
    assert scale_resolution(101, 0.5) == 51  # 50.5 rounds up, not to even


@pytest.mark.parametrize("phi", range(8))
def test_official_preset_equals_torchvision_efficientnet(phi: int):
    spec = scale(resolve_spec("efficientnet-b0"), phi, preset="official")
    reference = getattr(torchvision.models, f"efficientnet_b{phi}")()
    ours = build_model(spec)
    assert analytic_count(spec).params == _params(reference) == _params(ours)
    assert spec.resolution == PAPER_RESOLUTIONS[phi]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    assert spec.dropout == reference.classifier[0].p


def test_torchvision_b0_weights_load_and_give_the_same_outputs():
    torch.manual_seed(0)
    reference = torchvision.models.efficientnet_b0().eval()
    ours = build_model(resolve_spec("efficientnet-b0")).eval()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name, factory", [
    ("resnet18", torchvision.models.resnet18), ("resnet34", torchvision.models.resnet34),
    ("resnet50", torchvision.models.resnet50), ("resnet101", torchvision.models.resnet101),
    ("resnet152", torchvision.models.resnet152), ("mobilenet-v2", torchvision.models.mobilenet_v2),
])
def test_bases_have_torchvision_parameter_counts(name: str, factory):
    assert analytic_count(resolve_spec(name)).params == _params(factory())


def test_mnasnet_a1_has_the_papers_counts():
    count = analytic_count(resolve_spec("mnasnet-a1"))  # Tan et al. 2019, Table 1: 312M MACs, 3.9M params
    assert (round(count.macs / 1e6), round(count.params / 1e5)) == (312, 39)


def test_scaled_spec_records_base_coefficients_and_phi():
    spec = scale(resolve_spec("efficientnet-b0"), 2, Coefficients(1.3, 1.05, 1.1))
    assert spec.scaling is not None
    assert (spec.scaling.base, spec.scaling.phi) == ("efficientnet-b0", 2)
    assert (spec.scaling.alpha, spec.scaling.beta, spec.scaling.gamma) == (1.3, 1.05, 1.1)
    assert spec.scaling.depth_mult == pytest.approx(1.69)
    assert spec.resolution == scale_resolution(224, 1.1**2)


def test_compound_family_doubles_macs_per_phi_step():
    b0 = resolve_spec("efficientnet-b0")
    macs = [analytic_count(scale(b0, phi)).macs for phi in range(8)]
    ratios = [b / a for a, b in zip(macs, macs[1:])]
    assert all(1.5 < r < 2.7 for r in ratios), ratios
    per_step = (macs[-1] / macs[0]) ** (1 / 7)
    assert per_step == pytest.approx(Coefficients().macs_ratio, rel=0.05)


def test_negative_phi_shrinks_down_to_32_px():
    b0 = resolve_spec("efficientnet-b0")
    small = scale(b0, -3)
    assert analytic_count(small).macs < analytic_count(b0).macs / 3
    assert smallest_phi(224, 1.15) == -14
    assert scale(b0, -14).resolution >= 32
    with pytest.raises(UsageError, match="below the 32 px minimum: phi must be >= -14"):
        scale(b0, -30)


def test_mobilenet_v2_head_keeps_1280_when_narrower():
    v2 = resolve_spec("mobilenet-v2")
    assert scale(v2, -2).head.out_channels == 1280
    assert scale(v2, 2).head.out_channels == make_divisible(1280 * 1.1**2)
    assert scale(resolve_spec("efficientnet-b0"), -2).head.out_channels == make_divisible(1280 / 1.21)


def test_resnet_scaling_scales_repeats_and_bottleneck_width():
    spec = scale(resolve_spec("resnet50"), 1)
    assert [s.repeats for s in spec.stages] == [4, 5, 8, 4]
    assert [s.out_channels for s in spec.stages] == [4 * make_divisible(c * 1.1) for c in (64, 128, 256, 512)]


@pytest.mark.parametrize("phi, message", [
    (MAX_PHI + 1, "too large"), (99, "too large"), (float("nan"), "too large"),
])
def test_phi_bounds(phi: float, message: str):
    with pytest.raises(UsageError, match=message):
        scale(resolve_spec("efficientnet-b0"), phi)


def test_official_preset_needs_integer_phi_0_to_7():
    for phi in (-1, 8, 2.5):
        with pytest.raises(UsageError, match="phi 0..7"):
            scale(resolve_spec("efficientnet-b0"), phi, preset="official")


@pytest.mark.parametrize("bad", [dict(alpha=0.9), dict(beta=0), dict(gamma=float("inf")), dict(alpha=True)])
def test_coefficients_below_one_are_rejected(bad: dict):
    with pytest.raises(UsageError, match=">= 1"):
        Coefficients(**bad)


def test_multipliers_are_powers_of_the_coefficients():
    m = compound_multipliers(3, Coefficients())
    assert (m.depth, m.width, m.resolution) == pytest.approx((1.2**3, 1.1**3, 1.15**3))


def test_a_refused_multiplier_is_written_out_in_full_from_a_thousand():
    base = resolve_spec("efficientnet-b0")
    for depth, shown in ((1000.0, "1,000"), (999.0, "999"), (65.5, "65.5"), (123456.0, "123,456")):
        with pytest.raises(UsageError, match=f"these multipliers give efficientnet-b0 a depth multiplier of {shown}: "
                                             "at most 64"):
            check_multipliers(base, Multipliers(depth=depth, width=1.0, resolution=1.0), None)
