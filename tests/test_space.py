"""The MBConv search space file: every sampled candidate is a valid, savable, buildable spec."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
import yaml

from scalesearch.arch.io import load_spec, save_spec, search_spaces_dir
from scalesearch.arch.spec import MAX_REPEATS
from scalesearch.errors import SpecError, UsageError
from scalesearch.measure.flops import analytic_count
from scalesearch.nn import build_model
from scalesearch.search.space import Choices, load_space


def test_builtin_space_matches_the_mnasnet_choices():
    space = load_space("mnasnet")
    assert space.base_spec.name == "efficientnet-b0"
    dims = space.dimensions()
    assert len(dims) == 7 * 7
    assert dims["s3_expand_ratio"] == (1, 3, 4, 6) and dims["s3_kernel"] == (3, 5, 7)
    assert dims["s0_width_mult"] == (0.75, 1.0, 1.25) and dims["s6_repeats_delta"] == (-1, 0, 1)
    assert set(dims["s2_block"]) == {"mbconv", "fused_mbconv"} and set(dims["s2_skip"]) == {True, False}


def test_sampled_candidates_are_valid_and_keep_b0_strides(tmp_path: Path):
    space = load_space("mnasnet")
    rng = random.Random(7)
    for _ in range(100):
        params, spec = space.sample(rng)
        assert [s.stride for s in spec.stages] == [s.stride for s in space.base_spec.stages]
        assert spec.stem == space.base_spec.stem and spec.head == space.base_spec.head
        assert load_spec(save_spec(spec, tmp_path / "c.yaml")) == spec
        assert space.candidate(params) == spec  # deterministic, including the name
    small = space.candidate({k: v[0] if "delta" not in k else -1 for k, v in space.dimensions().items()})
    logits = build_model(small)(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2, 1000) and analytic_count(small).macs < analytic_count(space.base_spec).macs


def test_sample_with_a_filter_draws_the_same_candidates_as_rejecting_by_hand():
    space = load_space("mnasnet")
    window = (360e6, 440e6)  # find-base's default window around 400M MACs

    def inside(spec) -> bool:
        return window[0] <= analytic_count(spec).macs <= window[1]

    by_hand, rng = [], random.Random(3)
    while len(by_hand) < 3:
        params, spec = space.sample(rng)
        if inside(spec):
            by_hand.append(params)
    rng = random.Random(3)
    filtered = [space.sample(rng, accept=inside) for _ in range(3)]
    assert [params for params, _ in filtered] == by_hand
    assert all(inside(spec) for _, spec in filtered)
    with pytest.raises(UsageError, match="no candidate of search space 'mnasnet' was accepted in 5 draws"):
        space.sample(random.Random(0), accept=lambda spec: False, tries=5)


def test_candidate_rejects_values_outside_the_space():
    space = load_space("mnasnet")
    params, _ = space.sample(random.Random(0))
    with pytest.raises(UsageError, match="s2_kernel=9 is not one of"):
        space.candidate({**params, "s2_kernel": 9})


def test_a_stage_may_repeat_up_to_the_limit_and_not_past_it():
    assert Choices(repeats=(1, MAX_REPEATS)).repeats == (1, MAX_REPEATS)
    with pytest.raises(SpecError, match=rf"repeats: .*must be an integer in \[1, {MAX_REPEATS}\]"):
        Choices(repeats=(MAX_REPEATS + 1,))


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d["choices"].update(kernel=[3, 4]), "choices.kernel: must be an odd kernel size"),
    (lambda d: d["choices"].update(block=["conv"]), "choices.block: must be one of"),
    (lambda d: d["choices"].update(expand_ratio=[]), "choices.expand_ratio: must list at least one option"),
    (lambda d: d["choices"].update(repeats=[1, 2]), "choices.repeats: must be left out when repeats_delta is chosen"),
    (lambda d: d["choices"].update(op=[{"block": "identity", "kernel": 3}]),
     "choices.op[0].block: must not be identity in an option that sets other fields"),
    (lambda d: d["choices"].update(op=[{"kernel": 5}]), "choices.kernel: must be left out when an `op` option sets it"),
    (lambda d: d.update(stages=[{"stage": 9, "kernel": [3]}]),
     "stages: stage 9 is not a stage of base 'efficientnet-b0' (it has 7: 0-6)"),
    (lambda d: d.update(stages=[{"stage": 1, "kernel": [3]}, {"stage": 1, "kernel": [5]}]), "stages: must name "
                                                                                          "each stage once"),
    (lambda d: d.update(per_layer=True), "per_layer: must be false when repeats or repeats_delta is chosen"),
    (lambda d: d["choices"].update(kernal=[3]), "choices.kernal: unknown key"),
    (lambda d: d.update(base="resnet50"), "a search base must be built of mbconv/fused_mbconv stages"),
])
def test_malformed_space_file_names_the_key(tmp_path: Path, mutate, words: str):
    data = yaml.safe_load((search_spaces_dir() / "mnasnet.yaml").read_text())
    mutate(data)
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_space(str(path))
