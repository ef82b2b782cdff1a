"""find-base: the objective, the study (resume, kill, workers, failures), outputs and bad input."""

from __future__ import annotations

import csv
import json
import operator
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch
import yaml
from conftest import journal_study, journal_trials
from typer.testing import CliRunner

from scalesearch.arch.io import load_spec, resolve_spec
from scalesearch.cli import app
from scalesearch.errors import UsageError
from scalesearch.measure.environment import physical_cores
from scalesearch.measure.flops import analytic_macs
from scalesearch.search import workers
from scalesearch.search.config import SearchConfig
from scalesearch.search.driver import check_devices, run_jobs, worker_device
from scalesearch.search.find_base import search
from scalesearch.search.objective import Objective
from scalesearch.search.space import load_space
from scalesearch.search.trial_states import scored
from scalesearch.search.workers import abandon, take_slot, worker_id

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_objective_soft_and_hard():
    soft = Objective(400e6, "MACs")
    assert soft.score(0.8, 400e6) == pytest.approx(0.8)
    assert soft.score(0.8, 800e6) == pytest.approx(0.8 * 2 ** -0.07)
    assert soft.score(0.8, 200e6) == pytest.approx(0.8 * 0.5 ** -0.07)
    hard = Objective(400e6, "MACs", "hard")
    assert hard.score(0.8, 200e6) == pytest.approx(0.8)
    assert hard.score(0.8, 800e6) == pytest.approx(0.4)
    assert soft.rejects(400e6) is None and soft.rejects(441e6) and soft.rejects(359e6)
    with pytest.raises(UsageError, match="must be positive"):
        Objective(0, "MACs")


@pytest.mark.slow
def test_default_search_writes_a_base_near_400m(tmp_path):
    run = tmp_path / "run"
    result = invoke("find-base", "--flops", "400M", "--n-trials", "4", "--run-dir", str(run), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_trials"] == 4 and summary["n_complete"] == 4 and summary["accuracy_is_zero_cost"]
    assert {"study", "best", "n_trials", "n_complete", "n_failed", "n_pruned", "storage"} <= set(summary)
    best = summary["best"]
    assert {"macs", "params", "val_top1", "score", "spec_path"} <= set(best)
    spec = load_spec(best["spec_path"])
    assert abs(analytic_macs(spec) / 400e6 - 1) <= 0.1 and analytic_macs(spec) == best["macs"]
    rows = list(csv.DictReader((run / "trials.csv").open()))
    scored = [r for r in rows if r["state"] == "complete"]
    assert len(scored) == 4 and max(float(r["score"]) for r in scored) == pytest.approx(best["score"])
    assert all(r["reason"].startswith("MACs") for r in rows if r["state"] == "rejected")
    assert "not accuracies" in (run / "report.md").read_text()
    assert (run / "history.png").stat().st_size > 0 and (run / "accuracy_vs_macs.png").stat().st_size > 0
    # The found base is a spec every command accepts.
    assert invoke("flops", best["spec_path"], "--json").exit_code == 0
    # The same command again trains nothing new.
    again = json.loads(invoke("find-base", "--flops", "400M", "--n-trials", "4", "--run-dir", str(run),
                              "--json").stdout)
    assert again["n_trials"] == 4 and again["best"] == best
    assert len(journal_study(run, summary["study"]).trials) == len(rows)
    # Other settings under the same study name are refused.
    changed = invoke("find-base", "--flops", "400M", "--constraint", "hard", "--n-trials", "4", "--run-dir", str(run),
                     "--study", summary["study"])
    assert changed.exit_code == 2 and "was started with other settings (constraint)" in changed.stderr


@pytest.mark.slow
def test_killed_search_resumes_keeping_every_finished_trial(tmp_path, tiny_search):
    run = tmp_path / "run"
    args = tiny_search(6, "--train-images", "512", "--pruner", "none", "--sampler", "random", "--study", "kill",
                       "--run-dir", str(run), "--json")  # random: TPE may stop a tiny study early on repeats
    process = subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    before: dict[int, float] = {}
    while time.time() < deadline:
        time.sleep(0.5)
        trials = journal_trials(run, "kill")
        before = {t.number: t.value for t in trials if t.state.name == "COMPLETE"}
        if len(before) >= 2 and any(t.state.name == "RUNNING" for t in trials):
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert len(before) >= 2, "the search did not get going"
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_trials"] == 6
    trials = journal_study(run, "kill").trials
    after = {t.number: t.value for t in trials if t.state.name == "COMPLETE"}
    assert all(after[n] == v for n, v in before.items())  # nothing finished was lost or redone
    retries = [t for t in trials if "retry_of" in t.user_attrs]
    for retry in retries:  # the killed trial failed, and its candidate was evaluated again, once
        died = trials[retry.user_attrs["retry_of"]]
        assert died.state.name == "FAIL" and died.params == retry.params and retry.state.name == "COMPLETE"
        assert "died mid-trial" in retry.user_attrs["retry_reason"]
    assert summary["n_died"] == len(retries) <= 1


@pytest.mark.slow
def test_sigint_stops_cleanly_and_the_same_command_resumes(tmp_path, tiny_search):
    run = tmp_path / "run"
    # Random proposals: TPE converges on its best in this small space, and may stop the study early
    # on repeats (by design) before it holds 5 scored networks.
    args = tiny_search(5, "--train-images", "512", "--pruner", "none", "--sampler", "random", "--study", "int",
                       "--run-dir", str(run), "--json")
    # SIG_DFL in the child: a shell running pytest in the background may have set SIGINT to ignored.
    process = subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    def evaluating(trials) -> bool:  # a trial claimed an evaluation and has no result yet
        return any(t.state.name == "RUNNING" and t.user_attrs.get("slot") and "val_top1" not in t.user_attrs
                   for t in trials)
    deadline = time.time() + 240
    while time.time() < deadline:
        time.sleep(0.3)
        trials = journal_trials(run, "int")
        done = [t for t in trials if t.state.name == "COMPLETE" and "rejected" not in t.user_attrs]
        if len(done) >= 2 and evaluating(trials):
            process.send_signal(signal.SIGSTOP)  # then make sure that trial had not ended meanwhile
            if evaluating(journal_study(run, "int").trials):
                break
            process.send_signal(signal.SIGCONT)
    process.send_signal(signal.SIGINT)  # lands mid-evaluation
    process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and stderr.strip().splitlines()[-1] == "error: interrupted"
    assert (run / "trials.csv").exists() and (run / "report.md").exists()  # the report so far
    before = {t.number: t.value for t in journal_study(run, "int").trials if t.state.name == "COMPLETE"}
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_trials"] == 5
    trials = journal_study(run, "int").trials
    after = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(scored(after)) == 5  # a repeat of an evaluated network takes its result and does not count
    assert all(any(t.number == n and t.value == v for t in after) for n, v in before.items())
    (interrupted,) = [t for t in trials if t.user_attrs.get("fail_reason") == "interrupted (Ctrl-C)"]
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == interrupted.number]
    assert retry.params == interrupted.params and retry.state.name == "COMPLETE"


@pytest.mark.slow
def test_training_failures_are_recorded_and_the_study_goes_on(tmp_path, tiny_search):
    recipe = yaml.safe_load((ROOT / "search_spaces/recipes/proxy.yaml").read_text())
    recipe.update(name="explode", lr=1.0e12)
    (tmp_path / "explode.yaml").write_text(yaml.safe_dump(recipe))
    run = tmp_path / "run"
    result = invoke(*tiny_search(3, "--recipe", str(tmp_path / "explode.yaml"), "--run-dir", str(run), "--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_failed"] == 3 and summary["best"] is None
    assert summary["failures"] == {"loss not finite": 3}
    rows = [r for r in csv.DictReader((run / "trials.csv").open()) if r["state"] == "fail"]
    assert len(rows) == 3 and all("loss became" in r["reason"] for r in rows)
    assert "## Failures by reason" in (run / "report.md").read_text()


@pytest.mark.slow
def test_proxy_training_search_and_baselines(tmp_path, tiny_search):
    run = tmp_path / "run"
    result = invoke(*tiny_search(2, "--include-baselines", "--run-dir", str(run), "--json", epochs=1))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    best = summary["best"]
    assert summary["evaluator"] == "proxy-training" and 0 <= best["final_mean"] <= 1
    # The best base is the finalist with the best mean score over the final seeds.
    assert best["score"] == pytest.approx(best["final_mean"] * (best["macs"] / 1.5e6) ** -0.07)
    # The known networks, trained by the same evaluator and scored by the same objective.
    assert [b["name"] for b in summary["baselines"]] == ["efficientnet-b0", "mobilenet-v2", "mnasnet-a1"]
    for known in summary["baselines"]:
        assert known["macs"] == analytic_macs(resolve_spec(known["name"])) and 0 <= known["val_top1"] <= 1
        assert known["score"] == pytest.approx(known["val_top1"] * (known["macs"] / 1.5e6) ** -0.07)
    report = (run / "report.md").read_text()
    assert "## Known networks, same evaluator" in report and "| mnasnet-a1 |" in report


@pytest.mark.slow
def test_multi_objective_reports_a_pareto_front(tmp_path):
    result = invoke("find-base", "--flops", "400M", "--multi-objective", "--n-trials", "5", "--reject-outside", "0.5",
                    "--run-dir", str(tmp_path / "run"), "--study", "mo", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    study = journal_study(tmp_path / "run", "mo")
    # Two objectives in the study itself: (score up, MACs down), each evaluated trial holding both.
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"] and summary["sampler"] == "nsga2"
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 5 and all(t.values == [t.user_attrs["zero_cost"], t.user_attrs["macs"]] for t in done)
    front = [study.trials[n] for n in summary["pareto_front"]]
    assert front
    for f in front:  # nobody beats a front member on both axes
        assert not any(o.values[0] > f.values[0] and o.values[1] < f.values[1] for o in done)
    # Rejected candidates are pruned, never given values a Pareto front could pick up.
    assert all(t.state.name == "PRUNED" for t in study.trials if "rejected" in t.user_attrs)


@pytest.mark.slow
def test_two_workers_fill_one_study_with_exactly_n_evaluations(tmp_path):
    result = invoke("find-base", "--flops", "400M", "--n-trials", "4", "--workers", "2", "--run-dir",
                    str(tmp_path / "run"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    trials = journal_study(tmp_path / "run", summary["study"]).trials
    # Whether the spawned worker is up (seconds of imports) before the first has evaluated all 4 depends
    # on the machine's load: the count of evaluations does not.
    assert summary["n_trials"] == 4
    assert len([t for t in trials if "slot" in t.user_attrs and "surplus" not in t.user_attrs]) == 4



def test_a_freed_slot_goes_to_the_retry_even_once_a_worker_has_taken_it():
    """The race that lost a retry on CI: trial T asks for a slot after a dead worker's trial was
    queued again and another worker already took that retry (numbered after T). T must leave the
    slot to the retry, which then gets it once T has ended as surplus."""
    study = optuna.create_study(direction="maximize")
    done = study.ask()
    done.set_user_attr("slot", True)
    study.tell(done, 0.5)
    killed = study.ask()
    killed.set_user_attr("slot", True)
    t = study.ask()
    t.set_user_attr("worker", worker_id())
    abandon(killed, {}, "interrupted")  # as Ctrl-C does, then it fails
    study.tell(killed, state=optuna.trial.TrialState.FAIL)
    retry = study.ask()  # another worker pops the retry before T asks for its slot
    assert retry.user_attrs["retry_of"] == killed.number and retry.number > t.number
    retry.set_user_attr("worker", worker_id())
    assert not take_slot(t, n_trials=2)
    t.set_user_attr("surplus", True)
    study.tell(t, state=optuna.trial.TrialState.PRUNED)
    assert take_slot(retry, n_trials=2)


def test_a_retry_that_already_holds_its_slot_leaves_the_free_one_to_a_later_trial():
    study = optuna.create_study(direction="maximize")
    done = study.ask()
    done.set_user_attr("slot", True)
    study.tell(done, 0.5)
    killed = study.ask()
    killed.set_user_attr("slot", True)
    abandon(killed, {}, "interrupted")
    study.tell(killed, state=optuna.trial.TrialState.FAIL)
    retry = study.ask()
    retry.set_user_attr("worker", worker_id())
    assert take_slot(retry, n_trials=3)  # the retry, numbered first, claims a slot and runs
    later = study.ask()
    later.set_user_attr("worker", worker_id())
    assert "retry_of" not in later.user_attrs and later.number > retry.number
    assert take_slot(later, n_trials=3)  # 1 evaluated + 1 held by the running retry: one of 3 is free

def test_a_trial_that_never_declares_itself_is_waited_on_once_not_by_every_later_trial(monkeypatch):
    """Ctrl-C inside Optuna's own `ask` leaves a running trial with nothing of ours on it, for ever
    on a journal. The first trial after it waits UNDECLARED_WAIT_S for it to claim a slot or be
    rejected; a later trial in the same process passes it over at once instead of waiting again."""
    sleeps = []
    monkeypatch.setattr(workers, "UNDECLARED_WAIT_S", 0.3)
    monkeypatch.setattr(workers, "time", SimpleNamespace(monotonic=time.monotonic,
                                                         sleep=lambda s: (sleeps.append(s), time.sleep(s))))
    study = optuna.create_study(direction="maximize")
    bare = study.ask()
    first = study.ask()
    started = time.monotonic()
    assert take_slot(first, n_trials=3)
    assert time.monotonic() - started >= 0.3 and sleeps  # it waited for the bare trial to declare itself
    study.tell(first, 0.5)
    sleeps.clear()
    second = study.ask()
    assert take_slot(second, n_trials=3)
    assert not sleeps and study.trials[bare.number].state == optuna.trial.TrialState.RUNNING


@pytest.mark.parametrize("args, code, message", [
    (["--flops", "0"], 2, "error: invalid MACs quantity '0': must be positive"),
    (["--flops", "abc"], 2, "error: invalid MACs quantity 'abc'"),
    (["--flops", "10M"], 2, "error: target 10.0M MACs is below the smallest network space 'mnasnet' can express "
                            "(48.5M MACs)"),
    (["--flops", "100G"], 2, "error: target 100000.0M MACs is above the largest network space 'mnasnet' can express "
                             "(23091.2M MACs)"),
    (["--flops", "400M", "--workers", "0"], 2, "error: --workers must be in [1, 256], got 0"),
    (["--flops", "400M", "--storage", "redis://x"], 2, "error: --storage must be an RDB URL"),
    (["--flops", "400M", "--storage", "sqlite:////nonexistent-scalesearch-dir/x.db"], 2, "error: cannot open storage"),
    (["--flops", "400M", "--latency", "5ms"], 2, "error: give exactly one target"),
    (["--latency", "5 parsecs"], 2, "error: invalid latency '5 parsecs'"),
    (["--flops", "400M", "--data", "cifar10:/nonexistent-scalesearch-dir"], 2,
     "error: --data cifar10:/nonexistent-scalesearch-dir: folder not found"),
])
def test_bad_input_one_line_and_nothing_written(args, code, message, tmp_path):
    run = tmp_path / "run"
    result = invoke("find-base", *args, "--run-dir", str(run))
    assert result.exit_code == code, result.output
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert not run.exists()


def test_malformed_space_file_names_the_key(tmp_path):
    bad = tmp_path / "space.yaml"
    bad.write_text("name: s\nbase: efficientnet-b0\nchoices:\n  kernel: [3, 4]\n  expand_ratio: [1]\n"
                   "  se_ratio: [0]\n  width_mult: [1]\n  repeats_delta: [0]\n")
    result = invoke("find-base", "--flops", "400M", "--space", str(bad), "--run-dir", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {bad}: choices.kernel: must be an odd kernel size")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_latency_target_uses_the_predictor_and_measures_finalists(tmp_path, tiny_space, monkeypatch):
    monkeypatch.setenv("SCALESEARCH_CACHE_DIR", str(tmp_path / "cache"))
    # The tiny networks predict ~0.016 ms here: a window of [0.0005, 0.0995] ms holds them under any load.
    result = invoke("find-base", "--latency", "0.05ms", "--device", "cpu", "--threads", "1", "--reject-outside", "0.99",
                    "--space", str(tiny_space), "--n-trials", "3", "--run-dir", str(tmp_path / "run"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["target_unit"] == "ms"
    best = summary["best"]
    assert best["latency_ms"] > 0 and best["measured_latency_ms"] > 0
    assert best["score"] == pytest.approx(best["zero_cost"] * (best["latency_ms"] / 0.05) ** -0.07)
    assert list((tmp_path / "cache/latency").glob("*-onnxruntime-*-t1-fp32-bs1-windows.json"))


@pytest.mark.slow
def test_prescreening_trains_the_best_zero_cost_candidate(tmp_path, tiny_search, tiny_space):
    result = invoke(*tiny_search(2, "--prescreen", "4", "--finalists", "1", "--final-seeds", "1",
                                 "--run-dir", str(tmp_path / "run"), "--study", "pre", "--json", epochs=1))
    assert result.exit_code == 0, result.output
    trials = journal_study(tmp_path / "run", "pre").trials
    evaluated = [t for t in trials if t.state.name == "COMPLETE" and "rejected" not in t.user_attrs]
    assert evaluated and all("prescreen" in t.user_attrs for t in evaluated)  # every evaluation was screened
    for t in trials:
        if "prescreen" in t.user_attrs:
            screened = t.user_attrs["prescreen"]
            assert screened["candidates"] == 4
            assert screened["scores"][screened["chosen"]] == max(screened["scores"])
            assert ("trained_params" in t.user_attrs) == (screened["chosen"] != 0)
    swapped = [t for t in evaluated if "trained_params" in t.user_attrs]
    assert swapped  # the trial records the network it trained, not the one its sampler suggested
    space = load_space(str(tiny_space))
    for t in swapped:
        assert t.user_attrs["macs"] == analytic_macs(space.candidate(t.user_attrs["trained_params"]))
        assert t.user_attrs["macs"] != analytic_macs(space.candidate(t.params))
    assert invoke("find-base", "--flops", "400M", "--prescreen", "0", "--run-dir",
                  str(tmp_path / "r2")).stderr.startswith("error: --prescreen must be >= 1, got 0")


def test_one_worker_keeps_the_threads_its_caller_set(tmp_path, tiny_space):
    """Searches run side by side (a benchmark's processes) each set their own thread count: a
    one-worker search must not raise it to every core, which oversubscribes the machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        search(SearchConfig(objective=Objective(1.5e6, "MACs", reject_outside=0.9), run_dir=tmp_path / "run",
                            study_name="t", n_trials=2, space=str(tiny_space)))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


def test_one_process_runs_every_job_here():
    results = []
    run_jobs(operator.call, [os.getpid] * 3, 1, lambda job, pid: results.append(pid))
    assert results == [os.getpid()] * 3


@pytest.mark.slow
def test_parallel_jobs_share_the_physical_cores_equally_and_each_comes_back_once():
    results = []  # each job asks its own process how many threads it has: (job, threads)
    run_jobs(operator.call, [torch.get_num_threads] * 3, 2, lambda job, threads: results.append(threads))
    assert results == [max(1, physical_cores() // 2)] * 3


def test_local_workers_take_the_given_gpus_in_turn():
    assert [worker_device((0, 1, 3), w, "cpu") for w in range(7)] == ["cuda:0", "cuda:1", "cuda:3", "cuda:0",
                                                                       "cuda:1", "cuda:3", "cuda:0"]
    assert worker_device((), 5, "cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match=r"`devices` 0,1: no CUDA device is available here"):
            check_devices((0, 1))
    else:
        with pytest.raises(UsageError, match=r"there is no GPU 4096 here"):
            check_devices((0, 4096))


def test_pareto_front_keeps_ties_and_drops_what_another_trial_beats_on_both():
    from scalesearch.search.analysis import pareto_front

    def trial(number: int, accuracy: float, macs: float) -> optuna.trial.FrozenTrial:
        made = optuna.trial.create_trial(value=accuracy, user_attrs={"val_top1": accuracy, "macs": macs})
        made.number = number
        return made

    trials = [trial(0, 0.80, 100.0), trial(1, 0.70, 100.0), trial(2, 0.90, 200.0), trial(3, 0.80, 100.0),
              trial(4, 0.85, 250.0)]
    # 1 loses to 0 on accuracy at equal cost; 4 loses to 2 on both; 0 and 3 tie, and neither beats the other
    assert [t.number for t in pareto_front(trials)] == [0, 2, 3]
