"""Specs are validated data: load, save, round-trip, and fail with the field and the file named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from scalesearch.arch.io import builtin_bases, load_spec, resolve_spec, save_spec, spec_from_dict, spec_to_dict
from scalesearch.arch.scaling import scale
from scalesearch.arch.spec import Identity, MBConv, NetworkSpec, Stem
from scalesearch.errors import SpecError, UsageError

EXPECTED_BASES = {"efficientnet-b0", "mnasnet-a1", "mobilenet-v1", "mobilenet-v2", "resnet18", "resnet34", "resnet50",
                  "resnet101", "resnet152", "vit-ti16", "vit-s16", "vit-b16", "nas-bench-macro"}


def test_builtin_bases_are_the_documented_set():
    assert set(builtin_bases()) == EXPECTED_BASES


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_every_builtin_and_scaled_spec_round_trips(tmp_path: Path, suffix: str):
    specs = [resolve_spec(name) for name in sorted(EXPECTED_BASES)]
    specs += [scale(resolve_spec("efficientnet-b0"), phi) for phi in (-2, 0.5, 3)]
    specs += [scale(resolve_spec("efficientnet-b0"), 4, preset="official")]
    for spec in specs:
        path = save_spec(spec, tmp_path / f"{spec.name}{suffix}")
        assert load_spec(path) == spec


def test_random_specs_round_trip(tmp_path: Path, random_specs: list[NetworkSpec]):
    for spec in random_specs[:50]:
        assert load_spec(save_spec(spec, tmp_path / "s.yaml")) == spec
        assert spec_from_dict(spec_to_dict(spec)) == spec


def _b0_dict() -> dict:
    return spec_to_dict(resolve_spec("efficientnet-b0"))


def _broken(tmp_path: Path, mutate) -> Path:
    data = _b0_dict()
    mutate(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda d: d["stages"][2].update(kernel=4), "stages[2].kernel", "odd kernel"),
        (lambda d: d["stages"][1].update(stride=3), "stages[1].stride", "one of (1, 2)"),
        (lambda d: d["stages"][0].update(out_channels=-16), "stages[0].out_channels", "positive integer"),
        (lambda d: d["stages"][3].pop("out_channels"), "stages[3].out_channels", "missing required key"),
        (lambda d: d["stages"][4].update(block="conv9000"), "stages[4].block", "unknown block kind 'conv9000'"),
        (lambda d: d["stages"][4].update(kernal=3), "stages[4].kernal", "unknown key"),
        (lambda d: d["stem"].update(out_channels="32"), "stem.out_channels", "must be an integer"),
        (lambda d: d.pop("resolution"), "resolution", "missing required key"),
        (lambda d: d.update(resolution=8), "resolution", "[16, 4096]"),
        (lambda d: d.update(activation="gelu9"), "activation", "must be one of"),
        (lambda d: d.update(dropout=1.5), "dropout", "[0, 1)"),
        (lambda d: d["stages"][0].update(se_ratio=True), "stages[0].se_ratio", "must be a number"),
        (lambda d: d["stages"][0].update(expand_ratio=0.5), "stages[0].expand_ratio", "[1, 16]"),
        (lambda d: d.update(stages=[]), "stages", "non-empty"),
    ],
)
def test_bad_spec_names_file_field_and_value(tmp_path: Path, mutate, field: str, words: str):
    path = _broken(tmp_path, mutate)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {field}: "), message
    assert words in message
    assert info.value.exit_code == 2


def test_bottleneck_channels_must_divide_by_expansion(tmp_path: Path):
    data = spec_to_dict(resolve_spec("resnet50"))
    data["stages"][1]["out_channels"] = 510
    with pytest.raises(SpecError, match=r"stages\[1\]\.out_channels: must be a multiple of expansion \(4\), got 510"):
        spec_from_dict(data)


def test_constructors_validate_without_a_file():
    with pytest.raises(SpecError, match="kernel: must be an odd kernel size"):
        MBConv(out_channels=16, repeats=1, stride=1, kernel=2, expand_ratio=6)
    with pytest.raises(SpecError, match="stride"):
        Stem(out_channels=32, stride=3)


def test_specs_are_immutable():
    spec = resolve_spec("efficientnet-b0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.resolution = 300  # type: ignore[misc]


@pytest.mark.parametrize("text, message", [
    ("stages: [\n  - {block: mbconv", "not valid YAML"),
    ("- 1\n- 2\n", "must be a mapping"),
])
def test_unparsable_files_are_one_line_usage_errors(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message) as info:
        load_spec(path)
    assert "\n" not in str(info.value)


def test_unknown_base_lists_the_known_ones():
    with pytest.raises(UsageError) as info:
        resolve_spec("efficientnet-b9")
    assert "efficientnet-b0" in str(info.value) and "resnet152" in str(info.value)


def test_missing_spec_file_is_named(tmp_path: Path):
    with pytest.raises(UsageError, match="spec file not found"):
        resolve_spec(str(tmp_path / "nope.yaml"))


def test_an_identity_layer_projects_only_where_the_stride_or_the_width_changes():
    wide = Identity(out_channels=int("1280"), repeats=1, stride=1)  # equal widths, never the same int object
    assert not wide.projects(int("1280"), 1)
    assert wide.projects(int("1280"), 2) and wide.projects(640, 1)
