"""The rules a command applies before any work, tested at the library call that holds each one:
coefficient defaults, strategy and coefficient exclusivity, a train request's family and init
compatibility, study names and run folders, multiplier and strategy lists, candidate draws and
backend defaults. (cli.py only parses flags and renders; its own tests go through the commands.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from scalesearch.arch.io import resolve_spec
from scalesearch.arch.scaling import Coefficients, scale_family
from scalesearch.errors import UsageError
from scalesearch.measure.latency import BenchConfig, default_backend
from scalesearch.pipeline import default_run_dir as pipeline_dir
from scalesearch.quantities import parse_multipliers
from scalesearch.report import norm_words
from scalesearch.runs import given_coefficients, resolve_start, scaled_family, study_dir
from scalesearch.search.compare import default_run_dir as compare_dir
from scalesearch.search.compare import parse_strategies
from scalesearch.search.config import default_study_name
from scalesearch.search.grid import default_study_name as grid_study
from scalesearch.search.objective import target_objective
from scalesearch.search.space import load_space
from scalesearch.train.family import plan_training


def test_given_coefficients_fill_the_rest_with_efficientnets_and_say_how(tmp_path):
    assert given_coefficients() == (None, "")
    assert given_coefficients(beta=1.3) == (Coefficients(1.2, 1.3, 1.15), "given")
    assert given_coefficients(alpha=1.4, gamma=1.05) == (Coefficients(1.4, 1.1, 1.05), "given")
    path = tmp_path / "c.json"
    path.write_text('{"alpha": 1.5, "beta": 1.05, "gamma": 1.1}')
    assert given_coefficients(path=path) == (Coefficients(1.5, 1.05, 1.1), f"file {path}")
    for one in ({"alpha": 1.3}, {"beta": 1.0}, {"gamma": 1.2}):
        with pytest.raises(UsageError, match="give coefficients one way: `coefficients` FILE or `alpha`"):
            given_coefficients(**one, path=path)


def test_sovit_scales_by_its_own_exponents_and_refuses_coefficients():
    start = resolve_start("vit-s16")
    sovit = scaled_family(start, [1], strategy="sovit")
    assert sovit == scale_family(start.base, [1], None, strategy="sovit")
    assert sovit != scale_family(start.base, [1], start.coefficients)
    with pytest.raises(UsageError, match="`strategy` sovit has its own exponents"):
        scaled_family(start, [1], Coefficients(), strategy="sovit")
    b0 = resolve_start("efficientnet-b0", Coefficients(1.3, 1.1, 1.1))
    assert scaled_family(b0, [2]) == scale_family(b0.base, [2], Coefficients(1.3, 1.1, 1.1))


def test_a_train_request_is_a_family_when_it_names_several_networks_a_folder_or_baselines(tmp_path, tiny_base):
    b0, tiny = resolve_spec("efficientnet-b0"), resolve_spec(str(tiny_base))
    assert plan_training(["efficientnet-b0"], [b0], []) is None
    assert plan_training([str(tiny_base)], [tiny], [], init=Path("run"), world=4) is None  # one network: allowed
    pair = plan_training(["efficientnet-b0", str(tiny_base)], [b0, tiny], [])
    assert [m.spec.name for m in pair] == [b0.name, tiny.name]
    assert plan_training([str(tmp_path)], [tiny], []) is not None  # a folder of specs, even of one
    with_references = plan_training([str(tiny_base)], [tiny], ["resnet"])
    assert [m.family for m in with_references][-3:] == ["resnet"] * 3
    efficientnets = [m.spec.name for m in plan_training([str(tiny_base)], [tiny], ["efficientnet"])][1:]
    assert efficientnets == ["efficientnet-b0"]  # B0 at least, and none above the largest given network
    family = (["efficientnet-b0", str(tiny_base)], [b0, tiny], [])
    for kwargs, message in (({"zero_cost": True}, "`eval` zero-cost scores one network"),
                            ({"init": Path("run")}, "`init` starts one network"),
                            ({"world": 2}, "under torchrun, train one network")):
        with pytest.raises(UsageError, match=message):
            plan_training(*family, **kwargs)
    with pytest.raises(UsageError, match="`reset_head` resets the classifier of `init`'s weights"):
        plan_training(["efficientnet-b0"], [b0], [], reset_head=True)
    with pytest.raises(UsageError, match="two networks are named"):
        plan_training(["resnet18", "efficientnet-b0"], [resolve_spec("resnet18"), b0], ["resnet"])


def test_study_names_and_run_folders_by_default():
    assert default_study_name("400M", None, data="cifar10:d") == "find-base-400M-proxy"
    assert default_study_name(" 400 M ", None) == "find-base-400M-naswot"
    assert default_study_name(None, "15ms", "cuda", zero_cost_metric="synflow") == "find-base-15ms-cuda-synflow"
    assert default_study_name("400M", None, evaluator="table:x.json", data="cifar10:d") == "find-base-400M-table"
    assert study_dir("find-base-400M-proxy") == Path("runs/find-base-400M-proxy")
    b0 = resolve_spec("efficientnet-b0")
    assert grid_study(b0) == "grid-efficientnet-b0"
    assert pipeline_dir(" 400M") == Path("runs/pipeline-400M")
    assert compare_dir(b0) == Path("runs/compare-efficientnet-b0")


def test_a_search_target_is_exactly_one_of_macs_and_latency():
    macs = target_objective("400M", None, "hard", 0.2)
    assert (macs.target, macs.unit, macs.constraint, macs.reject_outside) == (400e6, "MACs", "hard", 0.2)
    latency = target_objective(latency="15ms")
    assert (latency.target, latency.unit, latency.constraint) == (15.0, "ms", "soft")
    for flops, ms in ((None, None), ("400M", "15ms")):
        with pytest.raises(UsageError, match="give exactly one target: `flops` 400M or `latency` 15ms"):
            target_objective(flops, ms)


def test_multipliers_and_strategies_are_lists():
    assert parse_multipliers("2,4, 8") == [2.0, 4.0, 8.0]
    assert parse_multipliers("nan") != parse_multipliers("nan")  # parsed; its range is the plan's to refuse
    for bad in ("two", "2,,4", "", "\uff12"):
        with pytest.raises(UsageError, match="`flops_multiplier` must be numbers separated by commas"):
            parse_multipliers(bad)
    assert parse_strategies(" depth, ,width ") == ["depth", "width"]
    with pytest.raises(UsageError, match="`strategy` names no strategy, got ',,'"):
        parse_strategies(",,")


def test_candidate_draws_are_seeded_and_a_longer_draw_extends_a_shorter():
    space = load_space("mnasnet")
    assert space.draw(3, seed=5) == space.draw(5, seed=5)[:3]
    assert space.draw(3, seed=5) != space.draw(3, seed=6)
    with pytest.raises(UsageError, match="seed"):
        space.draw(1, seed=-1)


def test_the_default_backend_is_torch_on_cuda_and_onnxruntime_on_the_cpu():
    assert (default_backend("cpu"), default_backend("cuda")) == ("onnxruntime", "torch")
    BenchConfig("cpu", default_backend("cpu"))  # a pair the timer supports
    BenchConfig("cuda", default_backend("cuda"))


def test_norms_in_words():
    b0 = resolve_spec("efficientnet-b0")
    assert norm_words(b0) == "batch"
    assert norm_words(dataclasses.replace(b0, norm="group", norm_groups=8, weight_standardization=True)) == \
        "group (8 groups max) + weight standardization"
    assert norm_words(resolve_spec("vit-s16")) == "layer"


def test_objective_settings_at_their_bounds_and_costs_in_words():
    from scalesearch.search.objective import MAX_REJECT_OUTSIDE, Objective

    Objective(0.5, "ms", w=-1e-9, reject_outside=1e-9)  # positive, however small
    Objective(1, "MACs", reject_outside=MAX_REJECT_OUTSIDE)
    for bad, message in ((dict(target=-5.0), "must be positive"), (dict(target=0.0), "must be positive"),
                         (dict(w=0.0), "w must be negative"), (dict(reject_outside=0.0), "`reject_outside` must be"),
                         (dict(reject_outside=MAX_REJECT_OUTSIDE + 1e-9), "`reject_outside` must be")):
        with pytest.raises(UsageError, match=message):
            Objective(**{"target": 400e6, "unit": "MACs", **bad})
    assert Objective(400e6, "MACs").rejects(500e6) == "MACs 500.0M outside the window [360.0M, 440.0M]"
    assert Objective(15, "ms").rejects(20) == "ms 20.00 outside the window [13.50, 16.50]"
    assert Objective(15, "ms", "hard").rejects(15.5) == "ms 15.50 outside the window [13.50, 15.00]"


def test_objective_edges_the_settings_and_strings_do_not_hide():
    import dataclasses as dc

    from scalesearch.search.objective import Objective

    for bad in (dict(w=0.07), dict(reject_outside=-0.1)):
        with pytest.raises(UsageError):
            Objective(**{"target": 400e6, "unit": "MACs", **bad})
    soft = Objective(400e6, "MACs")
    with pytest.raises(dc.FrozenInstanceError):
        soft.target = 1.0  # an objective does not change under a running study
    low, high = soft.window()
    assert soft.rejects(low) is None and soft.rejects(high) is None  # the window's edges are inside it
    assert soft.rejects(512.34e6) == "MACs 512.3M outside the window [360.0M, 440.0M]"
    # Strings made at run time (read from a file or a flag), not only literals, compare by value.
    built = Objective(400e6, "".join(["MA", "Cs"]), "".join(["so", "ft"]))
    assert built.score(0.8, 800e6) == pytest.approx(0.8 * 2 ** -0.07)
    assert built.rejects(500e6) == "MACs 500.0M outside the window [360.0M, 440.0M]"
    hard = Objective(400e6, "MACs", "".join(["ha", "rd"]))
    assert hard.window() == (pytest.approx(360e6), 400e6)
    assert target_objective(latency="15ms").reject_outside == Objective(15, "ms").reject_outside
    with pytest.raises(UsageError, match="`unit` must be one of MACs, ms"):
        Objective(400e6, "GFLOPs")


def test_objective_window_reaches_eleven_times_the_target_and_prints_in_millions():
    from scalesearch.search.objective import Objective

    assert Objective(400e6, "MACs", reject_outside=10).window()[1] == 4400e6  # as documented: up to 11x
    with pytest.raises(UsageError, match="at most 10"):
        Objective(400e6, "MACs", reject_outside=10.5)
    # The window's edges at an exact half: 0.75M and 1.25M round to even, in millions of MACs.
    assert Objective(1e6, "MACs", reject_outside=0.25).rejects(2e6) == "MACs 2.0M outside the window [0.8M, 1.2M]"


def test_a_stepped_cost_is_matched_by_the_nearer_of_its_two_steps_around_the_target():
    from scalesearch.search.compare import _solve

    def step(x: float) -> float:  # the MACs ratio jumps from 1.0 to 2.05 at x = 0.5 (a whole channel or layer)
        return 1.0 if x < 0.5 else 2.05

    assert step(_solve(step, 2.0, 0.0, 1.0)) == 2.05  # above the target, but nearer than 1.0
    assert step(_solve(step, 1.4, 0.0, 1.0)) == 1.0  # below it, and nearer than 2.05
    assert _solve(step, 3.0, 0.0, 1.0) == 1.0  # out of reach: the largest
