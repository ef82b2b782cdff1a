"""grid: feasible points, resume, two workers on one storage, bad input; scale --coefficients."""

from __future__ import annotations

import json
import math
import multiprocessing
import re
import signal
from collections import Counter
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from scalesearch.arch.io import load_spec
from scalesearch.cli import app
from scalesearch.errors import UsageError
from scalesearch.runs import load_coefficients, read_grid_run
from scalesearch.search.grid import GridConfig, grid_points, run_grid
from scalesearch.train.recipes import Recipe

runner = CliRunner()


def grid_args(base: Path, run: Path, *extra: str) -> list[str]:
    return ["grid", "--base", str(base), "--data", "synthetic", "--step", "0.5", "--tolerance", "0.25",
            "--epochs", "1", "--resolution", "16", "--run-dir", str(run), "--study", "g", "--json", *extra]


def trials(run: Path) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(run / "study.journal")))
    return optuna.load_study(study_name="g", storage=storage).trials


def test_grid_points_satisfy_the_constraint():
    points = grid_points(0.05, 2.0, 0.1)
    assert points and all(abs(p.alpha * p.beta**2 * p.gamma**2 / 2 - 1) <= 0.1 for p in points)
    assert all(min(p.alpha, p.beta, p.gamma) >= 1 for p in points)
    assert any((p.alpha, p.beta, p.gamma) == (1.2, 1.1, 1.15) for p in points)  # EfficientNet's own


@pytest.mark.slow
def test_grid_trains_each_feasible_point_once_and_picks_the_best(tiny_base, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, grid_args(tiny_base, run))
    assert result.exit_code == 0, result.output
    document = json.loads((run / "coefficients.json").read_text())
    points = document["points"]
    assert len(points) == document["n_feasible"] >= 3
    for p in points:  # nominal and measured (after rounding) ratios both within the tolerance
        assert abs(p["nominal_ratio"] / 2 - 1) <= 0.25 and abs(p["macs_ratio"] / 2 - 1) <= 0.25
    best = max(points, key=lambda p: p["val_top1"])
    assert (document["alpha"], document["beta"], document["gamma"]) == (best["alpha"], best["beta"], best["gamma"])
    assert (run / "grid_heatmap.png").stat().st_size > 0
    before = len(trials(run))
    again = runner.invoke(app, grid_args(tiny_base, run))
    assert again.exit_code == 0 and len(trials(run)) == before  # nothing new trained
    # The coefficients drive scale.
    scaled = runner.invoke(app, ["scale", "--base", str(tiny_base), "--phi", "1", "--coefficients",
                                 str(run / "coefficients.json"), "--json"])
    assert scaled.exit_code == 0, scaled.output
    (row,) = json.loads(scaled.stdout)["networks"]
    assert row["macs"] == next(p["macs"] for p in points if p["val_top1"] == best["val_top1"])


@pytest.mark.slow
def test_two_workers_never_train_the_same_point(tiny_base, tmp_path):
    run = tmp_path / "run"
    # Ten points (step 0.25). Whether the second worker is up (seconds of imports) before the first has
    # trained them all depends on the machine's load: that no point is trained twice does not.
    result = runner.invoke(app, grid_args(tiny_base, run, "--workers", "2", "--step", "0.25"))
    assert result.exit_code == 0, result.output
    done = [t for t in trials(run) if t.state.name == "COMPLETE"]
    counts = Counter(t.params["point"] for t in done)
    assert counts and max(counts.values()) == 1
    assert len(counts) == json.loads((run / "coefficients.json").read_text())["n_feasible"]


@pytest.mark.slow
def test_a_grid_of_n_workers_starts_n_minus_one_beside_its_caller(tiny_base, tmp_path):
    config = GridConfig(base=load_spec(tiny_base), data="synthetic", run_dir=tmp_path / "run", study_name="g",
                        step=0.5, tolerance=0.25, recipe_overrides={"epochs": 1, "resolution": 16}, workers=2)
    before = set(multiprocessing.active_children())
    alongside = []  # the spawned workers alive after each of this process's trials (still importing at the first)
    study = run_grid(config, on_trial=lambda done, total: alongside.append(
        len(set(multiprocessing.active_children()) - before)))
    assert alongside and alongside[0] == 1 and max(alongside) == 1
    assert not set(multiprocessing.active_children()) - before  # waited for on the way out
    assert len({t.user_attrs["worker"] for t in study.trials}) <= 2


def test_an_interrupt_just_after_a_point_is_claimed_queues_it_again(tiny_base, tmp_path, monkeypatch, ctrl_c_raises):
    from scalesearch.search import grid
    from scalesearch.search.trial_states import abandoned

    scaled = Recipe.scaled_resolution

    def interrupted_while_sizing(recipe, spec, multiplier):  # Ctrl-C (a real SIGINT) as the claimed point is sized
        signal.raise_signal(signal.SIGINT)
        return scaled(recipe, spec, multiplier)
    monkeypatch.setattr(Recipe, "scaled_resolution", interrupted_while_sizing)
    config = GridConfig(base=load_spec(tiny_base), data="synthetic", run_dir=tmp_path / "run", study_name="g",
                        step=0.5, tolerance=0.25, recipe_overrides={"epochs": 1, "resolution": 16})
    with pytest.raises(KeyboardInterrupt):
        run_grid(config)
    study = grid.open_grid(config, [])
    cut, retry = study.trials
    assert cut.state.name == "FAIL" and "slot" in cut.user_attrs and not grid.trained(study)
    assert abandoned([cut, retry]) == {0: "interrupted (Ctrl-C)"} and retry.state.name == "WAITING"


@pytest.mark.parametrize("extra, message", [
    (["--target-ratio", "0.5"], "error: --target-ratio must be >= 1"),
    (["--step", "0"], "error: --step must be in (0, 1], got 0"),
    (["--step", "1.5"], "error: --step must be in (0, 1], got 1.5"),
    (["--tolerance", "0.001"], "error: no grid point's phi = 1 network has a MACs ratio within 0.001 of 2 after "
                               "rounding"),
    (["--tolerance", "1"], "error: --tolerance must be in (0, 1), got 1"),
    (["--tolerance", "0"], "error: --tolerance must be in (0, 1), got 0"),
])
def test_grid_bad_input(tiny_base, tmp_path, extra, message):
    args = grid_args(tiny_base, tmp_path / "run")
    for flag, value in zip(extra[::2], extra[1::2]):
        i = args.index(flag) if flag in args else None
        if i is None:
            args += [flag, value]
        else:
            args[i + 1] = value
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "run").exists()


def test_no_feasible_point_suggests_a_tolerance(tiny_base, tmp_path):
    result = runner.invoke(app, grid_args(tiny_base, tmp_path / "run", "--tolerance", "0.001"))
    assert "try --tolerance 0.002" in result.stderr


def test_coefficient_files(tmp_path):
    good = tmp_path / "c.json"
    good.write_text(json.dumps({"alpha": 1.2, "beta": 1.1, "gamma": 1.15, "other": 1}))
    assert load_coefficients(good).macs_ratio == pytest.approx(1.2 * 1.1**2 * 1.15**2)
    small = tmp_path / "small.json"
    small.write_text(json.dumps({"alpha": 0.9, "beta": 1.1, "gamma": 1.15}))
    with pytest.raises(UsageError, match=r"small.json: alpha must be a number >= 1, got 0.9"):
        load_coefficients(small)
    broken = tmp_path / "broken.json"
    broken.write_text("{alpha: ")
    result = runner.invoke(app, ["scale", "--base", "efficientnet-b0", "--phi", "1", "--coefficients", str(broken)])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {broken}: not valid JSON")
    missing = tmp_path / "m.yaml"
    missing.write_text("alpha: 1.2\n")
    with pytest.raises(UsageError, match="expected the keys alpha, beta and gamma"):
        load_coefficients(missing)


def test_b0_formula_scaling_roughly_doubles_macs_per_phi():
    result = runner.invoke(app, ["scale", "--base", "efficientnet-b0", "--phi", "0-7", "--json"])
    macs = [r["macs"] for r in json.loads(result.stdout)["networks"]]
    ratios = [b / a for a, b in zip(macs, macs[1:])]
    geometric = math.exp(sum(map(math.log, ratios)) / len(ratios))
    assert 1.8 <= geometric <= 2.1 and all(1.7 <= r <= 2.6 for r in ratios)


def test_compare_scaling_matches_macs_and_trains_every_strategy(tiny_base, tmp_path):
    result = runner.invoke(app, ["compare-scaling", "--base", str(tiny_base), "--data", "synthetic",
                                 "--flops-multiplier", "2", "--strategy", "depth,width,resolution,compound,revisiting",
                                 "--epochs", "1",
                                 "--resolution", "16", "--train-images", "256", "--seeds", "2", "--run-dir",
                                 str(tmp_path / "cmp"), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [r["strategy"] for r in rows] == ["base", "depth", "width", "resolution", "compound", "revisiting"]
    for r in rows[1:]:
        assert r["matched"] == (abs(r["macs_ratio"] / 2 - 1) <= 0.05)
        assert (r["val_top1"] is not None) == r["matched"]
    single = {r["strategy"]: r for r in rows}
    assert single["depth"]["width_mult"] == single["depth"]["resolution_mult"] == 1.0
    # "Revisiting ResNets": resolution takes 20% of the log-MACs budget and, at 1 epoch (a short
    # schedule), width the rest; depth stays. Unlike compound, which grows all three.
    revisiting = single["revisiting"]
    assert revisiting["depth_mult"] == 1.0 and revisiting["width_mult"] > revisiting["resolution_mult"] > 1.0
    x = revisiting["resolution_mult"] ** 10  # resolution = x^(0.2 / 2)
    assert revisiting["width_mult"] == pytest.approx(x ** 0.4, rel=1e-6)
    assert single["compound"]["depth_mult"] > 1.0
    assert single["resolution"]["train_resolution"] > 16 and single["width"]["train_resolution"] == 16
    assert all(len(r["per_seed"]) == 2 for r in rows if r["matched"])
    assert all(r["per_seed"] == [] and r["val_top1"] is None for r in rows if not r["matched"])  # never trained
    assert (tmp_path / "cmp/compare_scaling.png").stat().st_size > 0
    assert "| compound |" in (tmp_path / "cmp/compare_scaling.md").read_text()


def test_compare_scaling_keeps_finished_rows_and_resumes_an_interrupted_run(tiny_base, tmp_path):
    run = tmp_path / "cmp"
    args = ["compare-scaling", "--base", str(tiny_base), "--data", "synthetic", "--strategy", "resolution,compound",
            "--epochs", "1", "--resolution", "16", "--train-images", "128", "--seeds", "1", "--run-dir", str(run),
            "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    saved = json.loads((run / "compare_scaling.json").read_text())
    assert saved["complete"] and list(saved["rows"]) == ["base|1", "resolution|2", "compound|2"]
    assert all(r["matched"] for r in saved["rows"].values())
    # As if the run had died while training the last variant: its row is missing, the others are
    # marked (an accuracy no training gives) so that retraining them would show.
    saved["complete"] = False
    saved["rows"] = {k: {**r, "val_top1": 0.123 + i, "per_seed": [0.123 + i]}
                     for i, (k, r) in enumerate(list(saved["rows"].items())[:2])}
    (run / "compare_scaling.json").write_text(json.dumps(saved))
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    rows = json.loads(again.stdout)["rows"]
    assert [r["val_top1"] for r in rows[:2]] == [0.123, 1.123]  # kept, not trained again
    assert rows[2]["strategy"] == "compound" and 0 <= rows[2]["val_top1"] <= 1 and len(rows[2]["per_seed"]) == 1
    assert json.loads((run / "compare_scaling.json").read_text())["complete"]
    # Other settings in the same folder are refused, and the finished rows stay.
    other = runner.invoke(app, [*args[:-5], "--seeds", "2", "--run-dir", str(run)])
    assert other.exit_code == 2
    assert other.stderr.strip() == (f"error: {run / 'compare_scaling.json'} holds results made with another list of "
                                    f"seeds: use another run folder, or remove it to start again")
    assert json.loads((run / "compare_scaling.json").read_text())["rows"]["base|1"]["val_top1"] == 0.123


@pytest.mark.parametrize("extra, message", [
    (["--flops-multiplier", "1"], "error: --flops-multiplier must be > 1, got 1"),
    (["--flops-multiplier", "two"], "error: --flops-multiplier must be numbers separated by commas"),
    (["--strategy", "depth,diagonal"], "error: unknown strategy 'diagonal'"),
])
def test_compare_scaling_bad_input(tiny_base, tmp_path, extra, message):
    result = runner.invoke(app, ["compare-scaling", "--base", str(tiny_base), "--data", "synthetic",
                                 "--run-dir", str(tmp_path / "cmp"), *extra])
    assert result.exit_code == 2 and result.stderr.startswith(message), result.stderr
    assert not (tmp_path / "cmp").exists()


@pytest.mark.parametrize("document, expected", [
    ({"alpha": 1.2, "beta": 1.1, "gamma": 1.15}, "not a grid result (no base_spec"),
    ({"alpha": 1.2, "beta": 1.1, "gamma": 1.15, "base_spec": 3}, "not a grid result"),
    ([1.2, 1.1, 1.15], "expected the keys alpha, beta and gamma"),
    ({"alpha": 9, "beta": 1.1, "gamma": 1.15, "base_spec": {}}, "alpha must be at most 4"),
])
def test_a_grid_run_is_read_through_the_one_coefficients_reader(document, expected, tmp_path):
    (tmp_path / "coefficients.json").write_text(json.dumps(document))
    with pytest.raises(UsageError, match=re.escape(f"{tmp_path / 'coefficients.json'}: {expected}")):
        read_grid_run(tmp_path)
