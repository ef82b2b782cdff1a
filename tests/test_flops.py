"""The analytic counter and fvcore agree; both agree with torchvision's published figures."""

from __future__ import annotations

import pytest
import torchvision
from torchvision.models import get_model_weights

from scalesearch.arch.io import builtin_bases, resolve_spec
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import UsageError
from scalesearch.measure.flops import analytic_count, count, fvcore_count
from scalesearch.nn import build_model

# Our base name -> torchvision model whose weights' metadata publishes GFLOPS (multiply-adds).
TORCHVISION_NAMES = {
    "efficientnet-b0": "efficientnet_b0", "mobilenet-v2": "mobilenet_v2", "resnet18": "resnet18",
    "resnet34": "resnet34", "resnet50": "resnet50", "resnet101": "resnet101", "resnet152": "resnet152",
}


@pytest.mark.parametrize("name", sorted(builtin_bases()))
def test_analytic_and_fvcore_agree_on_builtin_bases(name: str):
    spec = resolve_spec(name)
    analytic = analytic_count(spec)
    traced = fvcore_count(build_model(spec), spec.resolution)
    assert (analytic.macs, analytic.params) == (traced.macs, traced.params)  # exactly, as README says


@pytest.mark.slow
def test_analytic_and_fvcore_agree_on_200_random_specs(random_specs: list[NetworkSpec]):
    mismatches = []
    for spec in random_specs:
        analytic = analytic_count(spec)
        traced = fvcore_count(build_model(spec), spec.resolution, spec.in_channels)
        if (analytic.macs, analytic.params) != (traced.macs, traced.params):
            mismatches.append((spec.name, analytic, traced))
    assert not mismatches, mismatches[:3]


@pytest.mark.parametrize("name", sorted(TORCHVISION_NAMES))
def test_macs_match_torchvision_published_gflops(name: str):
    weights = get_model_weights(TORCHVISION_NAMES[name]).IMAGENET1K_V1
    published_g = weights.meta["_ops"]  # rounded to 3 decimals
    assert analytic_count(resolve_spec(name)).macs / 1e9 == pytest.approx(published_g, abs=0.0005)


def test_b0_is_about_0_39_g():
    assert analytic_count(resolve_spec("efficientnet-b0")).macs == pytest.approx(0.39e9, rel=0.02)


@pytest.mark.parametrize("phi", range(1, 8))
@pytest.mark.slow
def test_official_preset_macs_equal_fvcore_on_torchvision_model(phi: int):
    from scalesearch.arch.scaling import scale

    spec = scale(resolve_spec("efficientnet-b0"), phi, preset="official")
    reference = getattr(torchvision.models, f"efficientnet_b{phi}")()
    assert analytic_count(spec).macs == fvcore_count(reference, spec.resolution).macs


def test_count_at_another_resolution_and_bad_inputs():
    spec = resolve_spec("efficientnet-b0")
    assert count(spec, 112).macs < count(spec).macs / 3.5
    assert count(spec, 64, "fvcore").macs == count(spec, 64, "analytic").macs
    with pytest.raises(UsageError, match="at least 16 px"):
        count(spec, 8)
    with pytest.raises(UsageError, match="unknown counter"):
        count(spec, None, "ptflops")
