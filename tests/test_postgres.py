"""Workers on a real PostgreSQL server: a global trial budget, and a worker killed mid-trial.

`.ci/run` installs PostgreSQL from Debian's packages and starts it on loopback (README, "Workers on
many machines"); elsewhere these tests skip unless SCALESEARCH_TEST_POSTGRES names a server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import sqlalchemy

from scalesearch.search.storage import open_storage_url
from scalesearch.search.trial_states import abandoned, evaluated

ROOT = Path(__file__).resolve().parents[1]
URL = os.environ.get("SCALESEARCH_TEST_POSTGRES", "postgresql://scalesearch:scalesearch@127.0.0.1:5432/scalesearch_test")


@pytest.fixture(scope="module")
def postgres() -> str:
    try:
        with sqlalchemy.create_engine(URL.replace("postgresql://", "postgresql+psycopg://")).connect():
            pass
    except Exception as err:  # any reason the server is not there
        reason = f"no PostgreSQL at {URL}: {str(err).splitlines()[0]}"
        if os.environ.get("SCALESEARCH_REQUIRE_POSTGRES"):  # .ci/run sets it: CI must not skip these
            pytest.fail(reason)
        pytest.skip(reason + " (.ci/run starts one)")
    return URL


def load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage_url(url))


_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_worker_outlives_its_test():
    """A test that fails must not leave its workers behind: one held with SIGSTOP keeps its database
    connections for ever, and the server's run out for every later test (seen when two suites shared one)."""
    yield
    while _started:
        worker = _started.pop()
        if worker.poll() is None:
            worker.send_signal(signal.SIGCONT)
            worker.kill()
            worker.communicate()


def start_worker(args: list[str]) -> subprocess.Popen:
    # One torch thread each: three workers share the two cores CI has.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _started.append(worker)
    return worker


@pytest.mark.slow
def test_three_workers_one_killed_mid_trial(postgres, tmp_path, tiny_search):
    name = f"pg-kill-{uuid.uuid4().hex[:8]}"
    # A heartbeat of 3 s (grace 9 s): a survivor starved for a few seconds on a busy machine keeps its trial.
    # Random sampling: TPE's three workers in this 64-network space proposed so many networks they had
    # evaluated that the study could stop early (over 5 repeats per trial) before its 12 evaluations.
    args = tiny_search(12, "--train-images", "512", "--pruner", "none", "--storage", postgres, "--heartbeat", "3",
                       "--sampler", "random", "--study", name, "--json")
    workers = [start_worker([*args, "--run-dir", str(tmp_path / f"machine-{i}")]) for i in range(3)]
    victim = None
    deadline = time.time() + 300
    while victim is None and time.time() < deadline:
        time.sleep(0.2)
        try:
            trials = load(postgres, name).trials
        except KeyError:  # the study is not created yet
            continue
        if len(evaluated(trials)) < 2:
            continue
        for t in trials:  # a worker half-way through training: epoch 1 of 2 reported
            if t.state.name == "RUNNING" and len(t.intermediate_values) == 1:
                victim = next((w for w in workers if t.user_attrs["worker"].endswith(f":{w.pid}")), None)
                break
        if victim is not None:  # frozen, then killed only if that trial is still mid-way (a busy machine may lag)
            victim.send_signal(signal.SIGSTOP)
            now = load(postgres, name).trials[t.number]
            if now.state.name != "RUNNING" or len(now.intermediate_values) != 1:
                victim.send_signal(signal.SIGCONT)
                victim = None
    assert victim is not None, "no worker got to training a candidate"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    survivors = [w for w in workers if w is not victim]
    outputs = [w.communicate(timeout=400) for w in survivors]
    for w, (out, err) in zip(survivors, outputs):
        assert w.returncode == 0, err
        assert json.loads(out)["n_trials"] == 12

    trials = load(postgres, name).trials
    counted = evaluated(trials)
    assert len(counted) == 12 and all(t.state.name == "COMPLETE" for t in counted)
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    # The killed trial failed on its missing heartbeat and was retried, once, by a survivor.
    (killed,) = [t for t in trials if t.user_attrs.get("worker", "").endswith(f":{victim.pid}")
                 and t.state.name == "FAIL"]
    assert len(killed.intermediate_values) >= 1 and killed.number not in {t.number for t in counted}
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == killed.number]
    assert "stopped its heartbeat" in abandoned(trials)[killed.number]
    assert retry.params == killed.params
    # The retry evaluates the network, or, when another worker finished the same network meanwhile
    # (the killed trial may have been evaluating it alongside), takes that result and counts nothing.
    counted_numbers = {t.number for t in counted}
    assert retry in counted or retry.user_attrs.get("repeat_of") in counted_numbers
    assert retry.user_attrs["worker"] != killed.user_attrs["worker"]
    # Nothing lost, nothing done twice: every trial that held a slot is counted or was the killed one.
    slotted = [t for t in trials if "slot" in t.user_attrs and "surplus" not in t.user_attrs]
    assert sorted(t.number for t in slotted) == sorted([killed.number, *(t.number for t in counted)])
    assert {t.user_attrs["worker"].rpartition(":")[0] for t in counted} == {socket.gethostname()}


@pytest.mark.slow
def test_a_worker_starved_past_its_heartbeat_loses_its_trial_to_a_retry_and_goes_on(postgres, tmp_path, tiny_search):
    name = f"pg-starved-{uuid.uuid4().hex[:8]}"
    args = tiny_search(6, "--train-images", "512", "--pruner", "none", "--storage", postgres, "--heartbeat", "1",
                       "--sampler", "random", "--study", name, "--json", epochs=3)
    starved = start_worker([*args, "--run-dir", str(tmp_path / "machine-0")])
    other = None
    deadline = time.time() + 300
    while time.time() < deadline:  # the first worker mid-evaluation: held (SIGSTOP) as a starved machine holds it
        time.sleep(0.2)
        try:
            trials = load(postgres, name).trials
        except KeyError:
            continue
        held = [t for t in trials if t.state.name == "RUNNING" and "slot" in t.user_attrs
                and t.user_attrs["worker"].endswith(f":{starved.pid}")]
        if held:
            starved.send_signal(signal.SIGSTOP)
            break
    assert held, "the first worker did not get to evaluating a candidate"
    other = start_worker([*args, "--run-dir", str(tmp_path / "machine-1")])
    while load(postgres, name).trials[held[0].number].state.name == "RUNNING" and time.time() < deadline:
        time.sleep(0.5)  # the other worker fails the silent trial and queues its candidate again
    starved.send_signal(signal.SIGCONT)
    for w in (starved, other):
        out, err = w.communicate(timeout=400)
        assert w.returncode == 0, err
        assert json.loads(out)["n_trials"] == 6
    trials = load(postgres, name).trials
    lost = trials[held[0].number]
    assert lost.state.name == "FAIL" and "stopped its heartbeat" in abandoned(trials)[lost.number]
    assert len(evaluated(trials)) == 6 and lost.number not in {t.number for t in evaluated(trials)}


@pytest.mark.slow
def test_grid_workers_on_postgres_train_each_point_once(postgres, tmp_path, tiny_base):
    name = f"pg-grid-{uuid.uuid4().hex[:8]}"
    args = ["grid", "--base", str(tiny_base), "--data", "synthetic", "--step", "0.5", "--tolerance", "0.25",
            "--epochs", "1", "--resolution", "16", "--storage", postgres, "--study", name, "--json"]
    workers = [start_worker([*args, "--run-dir", str(tmp_path / f"machine-{i}")]) for i in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=400)
        assert w.returncode == 0, err
    trials = load(postgres, name).trials
    points = [t.params["point"] for t in trials if t.state.name == "COMPLETE" and "duplicate_of" not in t.user_attrs]
    feasible = json.loads((tmp_path / "machine-0/coefficients.json").read_text())["n_feasible"]
    assert len(points) == len(set(points)) == feasible
    assert len({t.user_attrs["worker"] for t in trials if "worker" in t.user_attrs}) == 2


@pytest.mark.slow
def test_workers_starting_together_on_a_new_database_all_open_it(postgres):
    """Each worker creates Optuna's tables in a new database; all but one could be refused (a unique
    violation on pg_type, or a table already there) and stopped with 'cannot open storage'. In a new
    schema each round, four workers open the storage at once, three rounds: every one must get in."""
    engine = sqlalchemy.create_engine(postgres.replace("postgresql://", "postgresql+psycopg://"))
    code = ("import sys; from scalesearch.search.storage import open_storage_url; open_storage_url(sys.argv[1])")
    for _ in range(3):
        schema = f"fresh_{uuid.uuid4().hex[:8]}"
        with engine.begin() as db:
            db.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
        try:
            url = f"{postgres}?options=-csearch_path%3D{schema}"
            openers = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
                       for _ in range(4)]
            results = [(p.wait(timeout=120), p.stderr.read()) for p in openers]
            assert all(rc == 0 for rc, _ in results), [err.strip().splitlines()[-1:] for _, err in results]
        finally:
            with engine.begin() as db:
                db.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()
