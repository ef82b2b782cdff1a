"""find-base's samplers and pruners are Optuna's own, reach the study unwrapped, and multi-objective
search trains candidates."""

from __future__ import annotations

import csv
import json

import optuna
import pytest
from conftest import journal_study
from typer.testing import CliRunner

from scalesearch.cli import app
from scalesearch.search.config import SearchConfig
from scalesearch.search.find_base import open_study
from scalesearch.search.objective import Objective

runner = CliRunner()


@pytest.mark.parametrize("sampler, multi, expected", [
    (None, False, optuna.samplers.TPESampler),
    ("tpe", False, optuna.samplers.TPESampler),
    ("random", False, optuna.samplers.RandomSampler),
    ("gp", False, optuna.samplers.GPSampler),
    (None, True, optuna.samplers.NSGAIISampler),
    ("random", True, optuna.samplers.RandomSampler),
])
def test_each_sampler_is_optunas_own(sampler, multi, expected, tmp_path):
    config = SearchConfig(objective=Objective(400e6, "MACs"), run_dir=tmp_path, study_name="s", sampler=sampler,
                          multi_objective=multi)
    assert type(open_study(config).sampler) is expected


@pytest.mark.parametrize("pruner, expected", [("median", optuna.pruners.MedianPruner),
                                              ("hyperband", optuna.pruners.HyperbandPruner),
                                              ("none", optuna.pruners.NopPruner)])
def test_pruners_reach_the_study_unwrapped(pruner, expected, tmp_path):
    """Optuna's samplers give Hyperband its per-bracket view only when ``study.pruner`` is a
    HyperbandPruner (optuna.pruners._filter_study); a wrapper would hide it."""
    config = SearchConfig(objective=Objective(400e6, "MACs"), run_dir=tmp_path, study_name="p", pruner=pruner,
                          data="synthetic")
    study = open_study(config)
    assert type(study.pruner) is expected
    if pruner == "hyperband":
        trial = study.ask()
        bracket_study = optuna.pruners._filter_study(study, study._storage.get_trial(trial._trial_id))
        assert bracket_study is not study  # what TPE samples from: this trial's bracket only


def test_hyperband_search_trains_and_reports_through_optuna(tmp_path, tiny_search):
    run = tmp_path / "run"
    result = runner.invoke(app, tiny_search(4, "--pruner", "hyperband", "--finalists", "1", "--final-seeds", "1",
                                            "--final-epochs", "1", "--train-images", "256", "--study", "hb",
                                            "--run-dir", str(run), "--json", epochs=2))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["pruner"] == "hyperband" and summary["n_trials"] == 4
    study = journal_study(run, "hb")
    reported = [t for t in study.trials if t.intermediate_values]
    # Reports start at the first epoch Hyperband may prune at (prune_from): epoch 2 of 2 here.
    assert len(reported) == 4 and all(set(t.intermediate_values) == {2} for t in reported)


def test_sampler_flag_changes_the_sampler_and_is_kept_across_resumes(tmp_path, tiny_space):
    run = tmp_path / "run"
    args = ["find-base", "--flops", "1.5M", "--reject-outside", "0.9", "--space", str(tiny_space), "--n-trials", "3",
            "--run-dir", str(run), "--study", "r", "--json"]
    result = runner.invoke(app, [*args, "--sampler", "random"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sampler"] == "random"
    assert journal_study(run, "r").user_attrs["config"]["sampler"] == "random"
    # A random search resumed as TPE would no longer be a random-search baseline: refused.
    changed = runner.invoke(app, [*args, "--sampler", "tpe"])
    assert changed.exit_code == 2 and "was started with other settings (sampler)" in changed.stderr


@pytest.mark.slow
def test_random_and_tpe_draw_different_candidates(tmp_path, tiny_space):
    """Same seed, same budget: after TPE's start-up trials, the two samplers part ways."""
    drawn = {}
    for sampler in ("random", "tpe"):
        run = tmp_path / sampler
        result = runner.invoke(app, ["find-base", "--flops", "1.5M", "--reject-outside", "0.9", "--space",
                                     str(tiny_space), "--n-trials", "14", "--sampler", sampler, "--run-dir", str(run),
                                     "--study", "d", "--json"])
        assert result.exit_code == 0, result.output
        drawn[sampler] = [t.params for t in journal_study(run, "d").trials]
    assert len(drawn["tpe"]) >= 14 and len(drawn["random"]) >= 14  # past TPE's 10 start-up trials
    assert drawn["random"] != drawn["tpe"]


def test_multi_objective_with_training_completes_and_its_front_is_trained(tmp_path, tiny_search):
    run = tmp_path / "run"
    result = runner.invoke(app, tiny_search(3, "--multi-objective", "--finalists", "1", "--final-seeds", "1",
                                            "--final-epochs", "1", "--train-images", "256", "--study", "mo",
                                            "--run-dir", str(run), "--json", epochs=1))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sampler"] == "nsga2" and summary["evaluator"] == "proxy-training" and summary["n_complete"] == 3
    study = journal_study(run, "mo")
    front = [study.trials[n] for n in summary["pareto_front"]]
    assert front
    for trial in front:  # accuracy from training, reported as the first objective value
        assert trial.values[0] == trial.user_attrs["val_top1"] and 0 <= trial.values[0] <= 1
        assert trial.values[1] == trial.user_attrs["macs"]
    rows = {int(r["number"]): r for r in csv.DictReader((run / "trials.csv").open())}
    assert all(rows[n]["val_top1"] for n in summary["pareto_front"])


@pytest.mark.parametrize("pruner, multi, epochs, expected", [
    ("median", False, 10, 6), ("hyperband", False, 7, 4), ("median", False, 1, 1),  # past the first half
    ("none", False, 10, 10), ("median", True, 10, 10),  # nothing prunes: only the last epoch is evaluated
])
def test_trials_are_pruned_only_after_the_first_half_of_their_schedule(pruner, multi, epochs, expected, tmp_path):
    from scalesearch.search.config import prune_from

    config = SearchConfig(objective=Objective(400e6, "MACs"), run_dir=tmp_path, study_name="p", pruner=pruner,
                          multi_objective=multi, recipe_overrides={"epochs": epochs})
    assert prune_from(config) == expected
