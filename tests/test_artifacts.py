"""Every trial of find-base and grid carries its network (and a latency search its prediction) as
Optuna artifacts that optuna-dashboard shows; read back here the way the dashboard reads them."""

from __future__ import annotations

import json

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from scalesearch.arch.io import load_spec, spec_from_dict
from scalesearch.cli import app
from scalesearch.search.artifacts import artifact_store, dashboard_command, read_artifacts
from scalesearch.search.grid import GridPoint, phi_one
from scalesearch.search.space import load_space

runner = CliRunner()


def _artifacts(run, name):
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(run / "study.journal")))
    study = optuna.load_study(study_name=name, storage=storage)
    store = artifact_store(run)
    return study, {t.number: read_artifacts(t, store, storage) for t in study.trials}


@pytest.mark.slow
def test_each_find_base_trial_carries_the_spec_it_stands_for(tmp_path, tiny_space):
    run = tmp_path / "run"
    args = ["find-base", "--flops", "0.12M", "--reject-outside", "0.15", "--space", str(tiny_space), "--n-trials", "6",
            "--sampler", "random", "--study", "a", "--run-dir", str(run), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"optuna-dashboard {run / 'study.journal'} --artifact-dir {run / 'artifacts'}" in result.stderr
    study, artifacts = _artifacts(run, "a")
    space = load_space(str(tiny_space))
    kinds = set()
    for trial in study.trials:
        files = artifacts[trial.number]
        if trial.user_attrs.get("surplus"):
            assert files == {}  # never evaluated: no network to show
            continue
        assert set(files) == {"spec.yaml"}, trial.number
        assert spec_from_dict(yaml.safe_load(files["spec.yaml"])) == space.candidate(trial.params)
        kinds.add("rejected" if "rejected" in trial.user_attrs else "repeat" if "repeat_of" in trial.user_attrs
                  else "evaluated")
    assert {"rejected", "evaluated"} <= kinds


@pytest.mark.slow
def test_a_latency_search_also_carries_each_prediction(tmp_path, tiny_space):
    run = tmp_path / "run"
    args = ["find-base", "--latency", "0.05ms", "--reject-outside", "10", "--space", str(tiny_space), "--n-trials",
            "2", "--study", "l", "--run-dir", str(run), "--json"]
    result = runner.invoke(app, args, env={"SCALESEARCH_CACHE_DIR": str(tmp_path / "cache")})
    assert result.exit_code == 0, result.output
    study, artifacts = _artifacts(run, "l")
    evaluated = [t for t in study.trials if "latency_ms" in t.user_attrs and artifacts[t.number]]
    assert evaluated
    for trial in evaluated:
        latency = json.loads(artifacts[trial.number]["latency.json"])
        assert latency["predicted_ms"] == pytest.approx(trial.user_attrs["latency_ms"])
        assert latency["measured"] is False and latency["device"] == "cpu" and latency["backend"] == "onnxruntime"


@pytest.mark.slow
def test_each_grid_point_carries_its_scaled_network(tmp_path, tiny_base):
    run = tmp_path / "grid"
    args = ["grid", "--base", str(tiny_base), "--data", "synthetic", "--step", "0.5", "--tolerance", "0.25",
            "--epochs", "1", "--resolution", "16", "--train-images", "64", "--run-dir", str(run), "--study", "g",
            "--json"]
    assert runner.invoke(app, args).exit_code == 0
    study, artifacts = _artifacts(run, "g")
    trained = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(trained) == 5
    base = load_spec(tiny_base)
    for trial in trained:
        spec = spec_from_dict(yaml.safe_load(artifacts[trial.number]["spec.yaml"]))
        assert spec == phi_one(base, GridPoint.parse(trial.params["point"]))


def test_the_dashboard_command_hides_a_database_password(tmp_path):
    command = dashboard_command(tmp_path, "postgresql://me:secret@db/scalesearch")
    assert command == f"optuna-dashboard postgresql://me:***@db/scalesearch --artifact-dir {tmp_path / 'artifacts'}"
