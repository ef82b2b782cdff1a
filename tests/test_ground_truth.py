"""Ground truth: the two benchmark spaces as data, their MACs against the benchmarks' own, the table
and surrogate evaluators through find-base, and table or model files that are bad or hostile."""

from __future__ import annotations

import csv
import json
import os
import pickle
import random
import signal
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import journal_study
from typer.testing import CliRunner

from scalesearch.arch.io import resolve_spec
from scalesearch.cli import app
from scalesearch.errors import UsageError
from scalesearch.groundtruth.accel_nasbench import benchmark_macs, load_measurements, measurement
from scalesearch.groundtruth.nas_bench_macro import MacroTable
from scalesearch.groundtruth.surrogate import Surrogate, encode, fit_ensemble
from scalesearch.groundtruth.trees import TreeEnsemble
from scalesearch.measure.flops import analytic_count, fvcore_count
from scalesearch.nn import build_model
from scalesearch.search.config import SearchConfig
from scalesearch.search.find_base import search
from scalesearch.search.objective import Objective
from scalesearch.search.space import load_space
from scalesearch.search.trial_states import evaluated, scored

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared/data/nas-benchmarks"

#: Networks of NAS-Bench-Macro with the MACs (its "flops") and params the benchmark recorded.
MACRO_GOLDEN = {"00000000": (7_713_280, 387_882), "22222222": (105_660_928, 2_932_586),
                "02012100": (47_327_744, 890_666), "11111221": (65_012_224, 2_181_386),
                "00011110": (31_390_208, 1_118_378)}
#: Accel-NASBench records (architecture as the benchmark writes it) with its macs and params (millions).
ANB_GOLDEN = [
    ({"e": [4, 6, 4, 4, 4, 1, 6], "k": [5, 3, 3, 3, 3, 3, 5], "l": [3, 1, 1, 2, 3, 2, 2], "se": [0, 1, 1, 0, 1, 1, 1]},
     492.992976, 4.563978),
    ({"e": [6, 6, 1, 1, 1, 4, 4], "k": [3, 5, 5, 5, 3, 5, 3], "l": [3, 2, 1, 3, 2, 1, 3], "se": [0, 1, 1, 1, 0, 0, 1]},
     518.120784, 4.503722),
    ({"e": [4, 4, 4, 1, 6, 4, 1], "k": [5, 3, 3, 3, 5, 5, 5], "l": [2, 2, 3, 2, 2, 4, 3], "se": [0, 1, 1, 0, 1, 1, 0]},
     434.430368, 3.752384),
]


def anb_record(arch: dict, macs: float = 400.0, params: float = 5.0, top1: float = 60.0) -> dict:
    return {"architecture": {f"block{i}_{f}": (bool(arch[f][i]) if f == "se" else arch[f][i])
                             for i in range(7) for f in ("e", "k", "l", "se")},
            "metrics": {"val_top1": top1}, "model_info": {"macs": macs, "params": params}}


def macro_spec(key: str):
    space = load_space("nas-bench-macro")
    return space.candidate({d: int(c) for d, c in zip(space.dimensions(), key)})


@pytest.fixture(scope="module")
def macro_table(tmp_path_factory) -> Path:
    """A complete table in NAS-Bench-Macro's own format, with made-up accuracies (3 seeds) that grow
    with each layer's size, and the MACs and params of our count."""
    rng, document = random.Random(0), {}
    for n in range(3**8):
        key = "".join(str(n // 3**i % 3) for i in reversed(range(8)))
        base = 80 + 1.5 * key.count("1") + 2.0 * key.count("2")
        count = analytic_count(macro_spec(key))
        accs = [round(base + rng.uniform(-0.5, 0.5), 2) for _ in range(3)]
        document[key] = {"test_acc": accs, "mean_acc": sum(accs) / 3, "std": 0.0, "params": count.params,
                         "flops": count.macs}
    path = tmp_path_factory.mktemp("table") / "nas-bench-macro_cifar10.json"
    path.write_text(json.dumps(document))
    return path


def test_nas_bench_macro_space_holds_the_benchmarks_6561_networks():
    space = load_space("nas-bench-macro")
    dims = space.dimensions()
    assert list(dims) == ["s0_b0_op", "s0_b1_op", "s1_b0_op", "s1_b1_op", "s1_b2_op", "s2_b0_op", "s2_b1_op",
                          "s2_b2_op"]
    assert set(dims.values()) == {(0, 1, 2)} and space.size() == 6561
    spec = macro_spec("01200000")
    assert [s.kind for s in spec.stages] == ["identity", "mbconv", "mbconv", "identity", "identity", "identity",
                                             "identity", "identity"]
    assert (spec.stages[1].expand_ratio, spec.stages[1].kernel) == (3, 3)
    assert (spec.stages[2].expand_ratio, spec.stages[2].kernel) == (6, 5)
    assert [s.stride for s in spec.stages] == [2, 1, 2, 1, 1, 2, 1, 1]


@pytest.mark.parametrize("key", sorted(MACRO_GOLDEN))
def test_nas_bench_macro_macs_and_params_equal_the_benchmarks(key: str):
    spec = macro_spec(key)
    count = analytic_count(spec)
    assert (count.macs, count.params) == MACRO_GOLDEN[key]
    traced = fvcore_count(build_model(spec), 32)
    assert (traced.macs, traced.params) == MACRO_GOLDEN[key]


def test_nas_bench_macro_base_is_its_largest_network():
    count = analytic_count(resolve_spec("nas-bench-macro"))
    assert (count.macs, count.params) == MACRO_GOLDEN["22222222"]
    assert load_space("nas-bench-macro").params_of(resolve_spec("nas-bench-macro")) == {
        k: 2 for k in load_space("nas-bench-macro").dimensions()}


@pytest.mark.skipif(not (SHARED / "nas-bench-macro").is_dir(), reason="the shared NAS benchmarks are not beside "
                    "this checkout (benchmarks/search_ground_truth.py checks all 6,561)")
def test_nas_bench_macro_agrees_on_a_sample_of_the_real_table():
    table = MacroTable.load(SHARED / "nas-bench-macro/nas-bench-macro_cifar10.json")
    for key in random.Random(1).sample(sorted(table.records), 200):
        count = analytic_count(macro_spec(key))
        assert (count.macs, count.params) == (table.records[key].macs, table.records[key].params), key


def test_accel_nasbench_b0_point_is_efficientnet_b0():
    space = load_space("accel-nasbench")
    b0 = resolve_spec("efficientnet-b0")
    params = space.params_of(b0)
    assert params == space.base_params()
    spec = space.candidate(params)
    assert spec.stages == b0.stages and spec.stem == b0.stem and spec.head == b0.head
    assert analytic_count(spec) == analytic_count(b0)
    assert space.dimensions()["s5_repeats"] == (1, 2, 3, 4) and space.dimensions()["s4_repeats"] == (1, 2, 3)


@pytest.mark.parametrize("arch, macs, params", ANB_GOLDEN)
def test_accel_nasbench_counts_equal_the_benchmarks(arch: dict, macs: float, params: float):
    record = measurement("result_0", anb_record(arch, macs, params), "test")
    spec = load_space("accel-nasbench").candidate(record.params)
    assert analytic_count(spec).params == round(params * 1e6)
    assert benchmark_macs(spec) == round(macs * 1e6)
    # What the benchmark adds to EfficientNet's count: batch norm, squeeze-excite rescaling, pooling.
    assert analytic_count(spec).macs < benchmark_macs(spec)


def test_params_of_inverts_candidate_and_refuses_other_networks():
    for name in ("mnasnet", "mnasnet-cpu", "nas-bench-macro", "accel-nasbench"):
        space = load_space(name)
        rng = random.Random(3)
        for _ in range(20):
            params, spec = space.sample(rng)
            assert space.candidate(space.params_of(spec)).stages == spec.stages
    assert load_space("nas-bench-macro").params_of(resolve_spec("efficientnet-b0")) is None
    assert load_space("accel-nasbench").params_of(resolve_spec("resnet18")) is None
    wider = load_space("mnasnet").candidate(load_space("mnasnet").base_params())
    assert load_space("accel-nasbench").params_of(wider) is not None  # B0 itself, under another name
    cpu = load_space("mnasnet-cpu")
    assert cpu.candidate(cpu.params_of(wider)).stages == wider.stages  # and a point of MnasNet's CPU-sized menu


def test_table_lookups_return_recorded_runs_and_consecutive_seeds_see_them_all(macro_table: Path):
    table = MacroTable.load(macro_table)
    document = json.loads(macro_table.read_text())
    key = table.key(macro_spec("21012100"))
    assert key == "21012100"
    runs = [table.accuracy(key, seed) for seed in range(3)]
    assert sorted(runs) == sorted(document[key]["test_acc"])
    assert table.accuracy(key, 7) == table.accuracy(key, 7 + 3)  # a fixed function of (network, seed)
    assert table.mean(key) == pytest.approx(sum(document[key]["test_acc"]) / 3)
    with pytest.raises(UsageError, match="is not one of NAS-Bench-Macro's"):
        table.key(resolve_spec("efficientnet-b0"))


def _table_file(tmp_path: Path, macro_table: Path, change) -> Path:
    document = json.loads(macro_table.read_text())
    change(document)
    path = tmp_path / "table.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("change, words", [
    (lambda d: d.pop("01201200"), "holds 6,560 networks, NAS-Bench-Macro has 6,561"),
    (lambda d: d.update({"0120120": d.pop("01201200")}), "is not a NAS-Bench-Macro network"),
    (lambda d: d["01201200"].update(test_acc=["93"]), "test_acc must list 1 to 100 accuracies"),
    (lambda d: d["01201200"].update(test_acc=[1e300]), "test_acc must list 1 to 100 accuracies"),
    (lambda d: d["01201200"].update(flops=-1), "flops must be a non-negative integer"),
    (lambda d: d["01201200"].update(code="__import__('os')"), "unknown field 'code'"),
])
def test_a_bad_table_is_one_line(tmp_path: Path, macro_table: Path, change, words: str):
    with pytest.raises(UsageError, match=words):
        MacroTable.load(_table_file(tmp_path, macro_table, change))


def test_unreadable_tables_are_one_line_and_never_block(tmp_path: Path, macro_table: Path):
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(macro_table.read_bytes()[:5000])
    with pytest.raises(UsageError, match="not valid JSON"):
        MacroTable.load(truncated)
    pickled = tmp_path / "table.pkl"
    pickled.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(UsageError, match="not valid JSON"):
        MacroTable.load(pickled)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        MacroTable.load(fifo)  # a read would block forever
    with pytest.raises(UsageError, match="cannot read a NAS-Bench-Macro table"):
        MacroTable.load(tmp_path / "missing.json")


def table_search(run_dir: Path, table: Path, *more: str) -> list[str]:
    return ["find-base", "--flops", "50M", "--constraint", "hard", "--space", "nas-bench-macro", "--evaluator",
            f"table:{table}", "--n-trials", "12", "--run-dir", str(run_dir), "--json", *more]


def test_a_tabular_search_is_reproducible_judges_finalists_on_the_mean_and_resumes(tmp_path: Path,
                                                                                   macro_table: Path):
    first = runner.invoke(app, table_search(tmp_path / "a", macro_table))
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["evaluator"].startswith("table (NAS-Bench-Macro nas-bench-macro_cifar10.json, sha256 ")
    assert summary["n_trials"] == 12 and summary["best"]["macs"] <= 50e6
    best = summary["best"]  # what its trial measured
    trial = journal_study(tmp_path / "a", summary["study"]).trials[best["trial"]]
    assert best["val_top1"] is not None and best["val_top1"] == trial.user_attrs["val_top1"]
    final = summary["finalists"]
    assert final["complete"] and len(final["rows"]) == 4  # 3 finalists and the base network
    document = json.loads(macro_table.read_text())
    table = MacroTable.load(macro_table)
    for row in final["rows"]:
        key = table.key(macro_spec_from(row["name"], tmp_path / "a"))
        assert sorted(row["per_seed"]) == pytest.approx(sorted(a / 100 for a in document[key]["test_acc"]))
    second = runner.invoke(app, table_search(tmp_path / "b", macro_table))
    assert json.loads(second.stdout)["best"]["name"] == summary["best"]["name"]
    assert _scores(tmp_path / "a") == _scores(tmp_path / "b")
    again = runner.invoke(app, table_search(tmp_path / "a", macro_table))
    assert again.exit_code == 0 and _scores(tmp_path / "a") == _scores(tmp_path / "b")  # nothing run twice
    other = tmp_path / "other.json"
    other.write_text(macro_table.read_text().replace("80.", "70.", 1))
    refused = runner.invoke(app, table_search(tmp_path / "a", other))
    assert refused.exit_code == 2 and "other settings (evaluator)" in refused.output


def macro_spec_from(name: str, run_dir: Path):
    """The network a trials.csv row names, rebuilt from its choices."""
    with open(run_dir / "trials.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["name"] == name)
    space = load_space("nas-bench-macro")
    return space.candidate({k: int(row[f"param_{k}"]) for k in space.dimensions()})


def _scores(run_dir: Path) -> list[tuple[str, str, str]]:
    with open(run_dir / "trials.csv") as f:
        return [(r["number"], r["name"], r["score"]) for r in csv.DictReader(f)]


def test_hard_limits_are_never_evaluated_above_and_the_sampler_sees_the_constraint(tmp_path: Path,
                                                                                 macro_table: Path):
    config = SearchConfig(objective=Objective(50e6, "MACs", "hard"), run_dir=tmp_path, study_name="s", n_trials=15,
                          space="nas-bench-macro", evaluator=f"table:{macro_table}", sampler="tpe",
                          seed_with_base=False, constraint_handling="sampler", finalists=1, final_seeds=1)
    study = search(config)
    trials = study.get_trials(deepcopy=False)
    inside = [t for t in trials if "rejected" not in t.user_attrs]  # evaluated, and repeats of those
    assert len(evaluated(trials)) == 15 and all(45e6 <= t.user_attrs["macs"] <= 50e6 for t in inside)
    assert all(t.constraints["window"] <= 0 for t in inside)
    assert all(t.constraints["window"] > 0 for t in trials if "rejected" in t.user_attrs)
    assert trials[0].params != load_space("nas-bench-macro").base_params()  # not seeded with the base
    penalty = SearchConfig(**{**config.__dict__, "constraint_handling": "penalty", "run_dir": tmp_path / "p"})
    assert not any(t.constraints for t in search(penalty).get_trials(deepcopy=False))


def test_objective_windows_soft_both_sides_hard_up_to_the_limit():
    soft, hard = Objective(400e6, "MACs"), Objective(400e6, "MACs", "hard")
    assert soft.rejects(430e6) is None and hard.rejects(401e6) and hard.rejects(400e6) is None
    assert hard.rejects(359e6) and hard.rejects(361e6) is None
    assert hard.violation(440e6) == pytest.approx(0.1) and hard.violation(380e6) < 0


def test_the_shipped_surrogate_loads_as_data_and_predicts_b0_as_recorded():
    surrogate = Surrogate.load("accel-nasbench")
    recorded = json.loads((ROOT / "benchmarks/results/surrogate_accel_nasbench.json").read_text())
    space = load_space("accel-nasbench")
    assert surrogate.predict_spec(space, resolve_spec("efficientnet-b0")) == recorded["b0_predicted_top1"]
    assert surrogate.digest == recorded["model_sha256"] and recorded["libraries"][recorded["chosen"]][
        "test_kendall"] >= 0.88
    with pytest.raises(UsageError, match="is not in search space 'accel-nasbench'"):
        surrogate.predict_spec(space, resolve_spec("mobilenet-v2"))


def test_the_surrogate_evaluator_scores_a_candidate_as_a_fraction(tmp_path: Path):
    from scalesearch.search.config import SearchConfig
    from scalesearch.search.evaluators import make_evaluator
    from scalesearch.search.objective import Objective

    config = SearchConfig(objective=Objective(400e6, "MACs"), run_dir=tmp_path, study_name="s",
                          space="accel-nasbench", evaluator="surrogate:accel-nasbench")
    b0 = resolve_spec("efficientnet-b0")
    percent = Surrogate.load("accel-nasbench").predict_spec(load_space("accel-nasbench"), b0)
    assert make_evaluator(config)(b0) == pytest.approx(percent / 100)  # top-1 as Optuna sees it: 0..1


def _model(tmp_path: Path, change) -> Path:
    document = {"space": "accel-nasbench", "target": "val_top1", "fit": {},
                "model": {"format": "scalesearch-trees", "version": 1, "features": list(
                    load_space("accel-nasbench").dimensions()), "base": 60.0, "rule": "<=",
                    "trees": [{"feature": [0, -1, -1], "threshold": [4.0, 0, 0], "left": [1, -1, -1],
                               "right": [2, -1, -1], "value": [0, -1.0, 1.0]}]}}
    change(document)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("change, words", [
    (lambda d: d["model"]["trees"][0].update(left=[0, -1, -1]), "a child index does not point forward"),
    (lambda d: d["model"]["trees"][0].update(right=[9, -1, -1]), "a child index does not point forward"),
    (lambda d: d["model"]["trees"][0].update(feature=[99, -1, -1]), "a split feature is outside"),
    (lambda d: d["model"]["trees"][0].update(value=[0, float("nan"), 1]), "value must hold finite numbers only"),
    (lambda d: d["model"].update(format="pickle"), "format must be 'scalesearch-trees'"),
    (lambda d: d["model"]["trees"][0].update(code="os.system"), "must be a mapping of feature"),
    (lambda d: d.update(space=None), "needs the names space and target"),
])
def test_a_crafted_surrogate_is_one_line(tmp_path: Path, change, words: str):
    with pytest.raises(UsageError, match=words):
        Surrogate.load(_model(tmp_path, change))


def test_a_surrogate_predicts_as_its_trees_say_and_refuses_another_space(tmp_path: Path):
    surrogate = Surrogate.load(_model(tmp_path, lambda d: None))
    space = load_space("accel-nasbench")
    b0 = space.base_params()  # s0_expand_ratio 1 and 4 <= 4: the left leaf; 6: the right one
    rows = [b0, {**b0, "s0_expand_ratio": 4}, {**b0, "s0_expand_ratio": 6}]
    assert surrogate.predict(space, rows).tolist() == [59.0, 59.0, 61.0]
    with pytest.raises(UsageError, match="does not share: search with --space accel-nasbench"):
        surrogate.check_space(load_space("mnasnet"))
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(surrogate))
    with pytest.raises(UsageError, match="not valid JSON"):
        Surrogate.load(pickled)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost", "sklearn"])
def test_fitted_ensembles_predict_exactly_as_the_library_does(library: str):
    module = pytest.importorskip({"sklearn": "sklearn.ensemble"}.get(library, library))
    rng = np.random.default_rng(0)
    rows, test = rng.integers(0, 6, size=(400, 4)).astype(float), rng.integers(0, 6, size=(100, 4)).astype(float)
    targets = rows @ [1.0, 2.0, -1.0, 0.5] + rng.normal(size=400)
    settings = {"n_estimators": 40, **({"num_leaves": 7} if library == "lightgbm" else {"max_depth": 3})}
    ensemble = fit_ensemble(library, ["a", "b", "c", "d"], rows, targets, settings)
    again = TreeEnsemble.from_dict(json.loads(json.dumps(ensemble.to_dict())), "test")
    if library == "lightgbm":
        native = module.LGBMRegressor(random_state=0, verbose=-1, **settings).fit(rows, targets).predict(test)
    elif library == "xgboost":
        native = module.XGBRegressor(random_state=0, **settings).fit(rows, targets).predict(test)
    else:
        native = module.GradientBoostingRegressor(random_state=0, **settings).fit(rows, targets).predict(test)
    # XGBoost sums its trees in float32; the others in float64, as the plain-data trees do.
    assert np.abs(again.predict(test) - native).max() <= (1e-4 if library == "xgboost" else 1e-9)


def test_a_surrogate_search_through_the_cli(tmp_path: Path):
    args = ["find-base", "--flops", "400M", "--constraint", "hard", "--space", "accel-nasbench", "--evaluator",
            "surrogate:accel-nasbench", "--n-trials", "6", "--json"]
    told = runner.invoke(app, [*args, "--run-dir", str(tmp_path / "told")])
    assert told.exit_code == 0, told.output
    summary = json.loads(told.stdout)
    assert summary["evaluator"].startswith("surrogate (accel-nasbench, val_top1, sha256 ")
    study = optuna.load_study(study_name=summary["study"], storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "told/study.journal"))))
    trials = study.get_trials(deepcopy=False)
    assert trials[0].params == load_space("accel-nasbench").base_params()  # B0 first, when seeded
    assert summary["finalists"]["base"] is not None
    blind = runner.invoke(app, [*args, "--run-dir", str(tmp_path / "blind"), "--no-seed-base"])
    assert blind.exit_code == 0, blind.output
    summary = json.loads(blind.stdout)
    assert summary["finalists"]["base"] is None and summary["best"]["macs"] <= 400e6
    assert not any(r["is_base"] and r["trial"] is None for r in summary["finalists"]["rows"])


def test_encode_uses_the_spaces_choices_in_order():
    space = load_space("accel-nasbench")
    vector = encode(space, space.base_params())
    assert len(vector) == 28 and vector[:4] == [1.0, 3.0, 0.25, 1.0]


@pytest.mark.skipif(not (SHARED / "accel-nasbench").is_dir(), reason="the shared NAS benchmarks are not beside "
                    "this checkout")
def test_the_real_accel_nasbench_archive_reads_as_data():
    measured = load_measurements(SHARED / "accel-nasbench/anb_dataset_jsons.tar.gz")
    assert len(measured) == 5138
    space = load_space("accel-nasbench")
    for m in measured[:300]:
        assert benchmark_macs(space.candidate(m.params)) == pytest.approx(m.macs_m * 1e6, rel=1e-12)


def test_a_network_evaluated_before_is_not_evaluated_again_nor_counted(tmp_path: Path, macro_table: Path):
    from scalesearch.search.results import trial_rows
    from scalesearch.search.trial import TrialObjective

    config = SearchConfig(objective=Objective(50e6, "MACs", "hard"), run_dir=tmp_path, study_name="r", n_trials=5,
                          space="nas-bench-macro", evaluator=f"table:{macro_table}", seed_with_base=False)
    space = load_space("nas-bench-macro")
    inside = {d: int(c) for d, c in zip(space.dimensions(), "21210200")}  # 49.8M MACs
    study = optuna.create_study(direction="maximize")
    for params in (inside, inside, {**inside, "s2_b0_op": 0, "s2_b1_op": 1}):  # 47.0M MACs: another network
        study.enqueue_trial(params)
    study.optimize(TrialObjective(config), n_trials=3)
    first, again, other = study.get_trials(deepcopy=False)
    assert again.user_attrs["repeat_of"] == 0 and again.value == first.value
    assert again.user_attrs["val_top1"] == first.user_attrs["val_top1"] and "slot" not in again.user_attrs
    assert "repeat_of" not in other.user_attrs
    assert [t.number for t in evaluated(study.trials)] == [0, 2] == [t.number for t in scored(study.trials)]
    rows = trial_rows(study, config)
    assert (rows[1]["state"], rows[1]["reason"]) == ("repeat", "repeat of trial 0")


class _InterruptedWhileScoring(Objective):
    """The study's objective, with Ctrl-C arriving (a real SIGINT to this process) just as a trial
    scores the network it has evaluated."""

    def score(self, accuracy: float, value: float) -> float:
        signal.raise_signal(signal.SIGINT)
        return super().score(accuracy, value)


def test_an_interrupt_after_the_evaluation_queues_the_trial_again(tmp_path: Path, macro_table: Path, ctrl_c_raises):
    from scalesearch.search.trial import TrialObjective
    from scalesearch.search.trial_states import abandoned

    config = SearchConfig(objective=_InterruptedWhileScoring(50e6, "MACs", "hard"), run_dir=tmp_path, study_name="i",
                          n_trials=2, space="nas-bench-macro", evaluator=f"table:{macro_table}", seed_with_base=False)
    space = load_space("nas-bench-macro")
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({d: int(c) for d, c in zip(space.dimensions(), "21210200")})  # 49.8M MACs
    with pytest.raises(KeyboardInterrupt):
        study.optimize(TrialObjective(config), n_trials=1)
    cut, retry = study.get_trials(deepcopy=False)
    # It claimed an evaluation and had its accuracy, but had not finished: it does not count, and
    # its network is queued again, first in line.
    assert cut.state.name == "FAIL" and "slot" in cut.user_attrs and "val_top1" in cut.user_attrs
    assert abandoned(study.trials) == {0: "interrupted (Ctrl-C)"} and evaluated(study.trials) == []
    assert retry.state.name == "WAITING" and retry.user_attrs["retry_of"] == 0


def test_the_seed_to_seed_ceiling_averages_every_pair_of_seeds():
    from scalesearch.groundtruth.nas_bench_macro import Record

    records = {"a": Record((1.0, 1.0, 3.0), 1, 1), "b": Record((2.0, 2.0, 2.0), 1, 1),
               "c": Record((3.0, 3.0, 1.0), 1, 1)}
    ceiling = MacroTable(records, "digest", "made up").seed_to_seed(["a", "b", "c"])
    # seeds 0 and 1 agree (1), each disagrees with seed 2 (-1): the mean of the three pairs is -1/3.
    assert ceiling == pytest.approx({"kendall": -1 / 3, "spearman": -1 / 3})
