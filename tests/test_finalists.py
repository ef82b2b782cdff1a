"""find-base's finalist stage: exactly K candidates and the base network, S fresh seeds each, the
best mean wins (not the luckiest trial), and a killed stage goes on where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from conftest import journal_study, journal_trials
from typer.testing import CliRunner

from scalesearch.arch.io import load_spec
from scalesearch.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
FINAL = ("--finalists", "2", "--final-seeds", "2", "--final-epochs", "1", "--train-images", "256")


def final_results(study: optuna.Study) -> dict[str, float]:
    return {k: v for k, v in study.user_attrs.items() if k.startswith("final|")}


@pytest.fixture
def finished_search(tmp_path, tiny_search):
    """A tiny search with its finalist stage done: (run dir, arguments, --json summary)."""
    run = tmp_path / "run"
    args = tiny_search(3, *FINAL, "--study", "fin", "--run-dir", str(run), "--json", epochs=1)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return run, args, json.loads(result.stdout)


def test_the_stage_evaluates_k_candidates_and_the_base_with_s_fresh_seeds(finished_search):
    run, _, summary = finished_search
    final = summary["finalists"]
    study = journal_study(run, "fin")
    scored = sorted((t for t in study.trials if t.state.name == "COMPLETE" and "rejected" not in t.user_attrs),
                    key=lambda t: -t.user_attrs["score"])
    top = [t.user_attrs["name"] for t in scored][:2]
    names = {r["name"] for r in final["rows"]}
    base = [r for r in final["rows"] if r["is_base"]]
    assert len(base) == 1 and names == {*top, base[0]["name"]}  # the K best, and the base beside them
    assert final["seeds"] == [1, 2] and final["epochs"] == 1 and final["complete"]  # seed 0 ran the search
    results = final_results(study)
    assert sorted(results) == sorted(f"final|{n}|{s}|1" for n in names for s in (1, 2))
    for row in final["rows"]:
        values = [results[f"final|{row['name']}|{s}|1"] for s in (1, 2)]
        assert row["per_seed"] == values and row["mean"] == pytest.approx(sum(values) / 2)
    assert final["winner"] == max(final["rows"], key=lambda r: r["score"])["name"]
    assert summary["best"]["name"] == final["winner"] and summary["best"]["final_mean"] is not None
    assert load_spec(run / "best_base.yaml").name == final["winner"]
    report = (run / "report.md").read_text()
    assert "## Finalists" in report and ("beats the base network" in report or "The base network" in report)
    rows = (run / "trials.csv").read_text().splitlines()
    assert rows[0].split(",")[12:16] == ["finalist", "final_mean", "final_std", "final_seeds"]


@pytest.mark.slow
def test_the_best_mean_wins_not_the_best_trial(finished_search):
    """Planted results: the finalist the search liked least gets the best mean over the final
    seeds, and must win; then the base network gets it, and the verdict says so."""
    run, args, summary = finished_search
    study = journal_study(run, "fin")
    rows = summary["finalists"]["rows"]
    others = [r for r in rows if not r["is_base"]]
    underdog = min(others, key=lambda r: r["search_value"])  # the lowest one-run accuracy of the K
    base = next(r for r in rows if r["is_base"])

    def plant(winner: str) -> dict:
        for r in rows:
            for seed in (1, 2):
                study.set_user_attr(f"final|{r['name']}|{seed}|1", 0.9 if r["name"] == winner else 0.2 + 0.1 * seed)
        result = runner.invoke(app, args)  # everything is done: nothing trains, the summary is re-read
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    planted = plant(underdog["name"])
    final = planted["finalists"]
    assert final["winner"] == underdog["name"] and final["winner_is_base"] is False
    assert final["margin_vs_base"] == pytest.approx(0.9 - 0.35)
    assert load_spec(run / "best_base.yaml").name == underdog["name"]
    assert planted["best"]["trial"] == underdog["trial"] and planted["best"]["final_mean"] == pytest.approx(0.9)
    planted = plant(base["name"])
    assert planted["finalists"]["winner_is_base"] is True and planted["finalists"]["margin_vs_base"] == 0
    assert "The base network" in (run / "report.md").read_text()
    assert len(final_results(journal_study(run, "fin"))) == 2 * len(rows)
    # A finalist whose training broke down on one final seed cannot win, whatever its other seed says.
    study.set_user_attr(f"final|{base['name']}|2|1", {"failed": "loss became nan by epoch 1, step 3"})
    failed = json.loads(runner.invoke(app, args).stdout)["finalists"]
    assert failed["winner"] != base["name"] and failed["complete"]
    row = next(r for r in failed["rows"] if r["name"] == base["name"])
    assert row["failures"] == ["loss became nan by epoch 1, step 3"] and row["score"] is None
    assert failed["margin_vs_base"] is not None  # the base's one good seed still gives a mean
    assert "failed on a final seed: loss became nan" in (run / "report.md").read_text()


@pytest.mark.slow
def test_a_killed_finalist_stage_goes_on_where_it_stopped(tmp_path, tiny_search):
    run = tmp_path / "run"
    args = tiny_search(2, "--finalists", "1", "--final-seeds", "3", "--final-epochs", "2", "--train-images", "384",
                       "--pruner", "none", "--study", "kill", "--run-dir", str(run), "--json", epochs=1)
    process = subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline, before = time.time() + 300, {}
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.5)
        if journal_trials(run, "kill"):
            before = final_results(journal_study(run, "kill"))
            if len(before) >= 2:
                break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    final = json.loads(result.stdout)["finalists"]
    after = final_results(journal_study(run, "kill"))
    assert final["complete"] and len(after) == 3 * len(final["rows"])
    assert 2 <= len(before) < len(after), f"killed with {len(before)} of {len(after)} finalist runs done"
    assert all(after[k] == v for k, v in before.items())
    # Each finished run was saved once: the resumed stage trained only what was missing.
    journal = (run / "study.journal").read_text()
    assert all(journal.count(json.dumps(k)) == 1 for k in after)


@pytest.mark.parametrize("args, message", [
    (["--finalists", "0"], "error: --finalists must be >= 1, got 0"),
    (["--final-seeds", "0"], "error: --final-seeds must be >= 1, got 0"),
    (["--final-epochs", "0"], "error: --final-epochs must be >= 1, got 0"),
    (["--evaluator", "table:/no/such.json"], "error: /no/such.json: cannot read a NAS-Bench-Macro table (No such file "
                                             "or directory)"),
])
def test_bad_finalist_and_sampler_flags_write_nothing(args, message, tmp_path):
    result = runner.invoke(app, ["find-base", "--flops", "400M", *args, "--run-dir", str(tmp_path / "run")])
    assert (result.exit_code, result.stderr) == (2, message + "\n")
    assert not (tmp_path / "run").exists()
