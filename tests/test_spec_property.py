"""Property: any mapping fed to the spec validator gives either one clear error naming a field, or a
spec whose model runs forward with the promised output shape. Hypothesis draws plausible specs and
then corrupts fields with values of every type, including wrong, missing and extra keys."""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalesearch.arch.io import spec_from_dict
from scalesearch.errors import SpecError
from scalesearch.nn.builder import build_model

KINDS = ("mbconv", "fused_mbconv", "depthwise_separable", "basic", "bottleneck")
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 2000), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=6), st.lists(st.integers(0, 4), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def block(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    out = {"block": kind, "out_channels": draw(st.integers(1, 48)), "repeats": draw(st.integers(1, 3)),
           "stride": draw(st.sampled_from([1, 2]))}
    if kind in ("mbconv", "fused_mbconv"):
        out.update(kernel=draw(st.sampled_from([1, 3, 5, 7])), expand_ratio=draw(st.sampled_from([1, 2.5, 4, 6])),
                   se_ratio=draw(st.sampled_from([0.0, 0.25, 0.5])), skip=draw(st.booleans()))
    elif kind == "depthwise_separable":
        out["kernel"] = draw(st.sampled_from([3, 5]))
    elif kind == "bottleneck":
        out["expansion"] = draw(st.sampled_from([1, 2, 4]))
    return out


@st.composite
def plausible_spec(draw: st.DrawFn) -> dict[str, Any]:
    return {"name": draw(st.text(min_size=1, max_size=8)), "resolution": draw(st.integers(8, 40)),
            "in_channels": draw(st.sampled_from([1, 3])), "num_classes": draw(st.integers(1, 12)),
            "activation": draw(st.sampled_from(["relu", "relu6", "silu", "hardswish", "gelu"])),
            "stem": {"out_channels": draw(st.integers(1, 32)), "kernel": draw(st.sampled_from([3, 5])),
                     "stride": draw(st.sampled_from([1, 2])), "pool": draw(st.booleans())},
            "stages": draw(st.lists(block(), min_size=1, max_size=3)),
            "head": draw(st.one_of(st.none(), st.fixed_dictionaries({"out_channels": st.integers(1, 64)}))),
            "dropout": draw(st.sampled_from([0.0, 0.3])), "drop_path_rate": draw(st.sampled_from([0.0, 0.2]))}


@st.composite
def corrupted_spec(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible spec with up to three fields (top level or in a stage) replaced, removed or added."""
    data = draw(plausible_spec())
    for _ in range(draw(st.integers(0, 3))):
        stages = data.get("stages") if isinstance(data.get("stages"), list) else []
        nested = [v for v in (data.get("stem"), *stages) if isinstance(v, dict)]
        target = draw(st.sampled_from(nested)) if nested and draw(st.booleans()) else data
        key = draw(st.one_of(st.sampled_from(sorted(target)), st.text(min_size=1, max_size=5)))
        action = draw(st.sampled_from(["replace", "delete"]))
        if action == "delete":
            target.pop(key, None)
        else:
            target[key] = draw(JUNK)
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted_spec())
def test_validator_and_builder_never_fail_obscurely(data: dict[str, Any]):
    try:
        spec = spec_from_dict(data)
    except SpecError as err:
        message = str(err)
        assert message and "\n" not in message and "Traceback" not in message
        assert err.field or err.reason  # says which field, or what is wrong with the whole
        return
    model = build_model(spec).eval()
    with torch.no_grad():
        out = model(torch.randn(2, spec.in_channels, spec.resolution, spec.resolution))
    assert out.shape == (2, spec.num_classes) and torch.isfinite(out).all()
