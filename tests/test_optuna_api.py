"""The contract scalesearch relies on from Optuna: the supported range pinned in pyproject.toml, and
each call of :mod:`scalesearch.search.optuna_api` against the installed Optuna, on the storages the
tool opens (journal file, SQLite with a heartbeat)."""

from __future__ import annotations

import socket
import warnings
from importlib.metadata import requires
from pathlib import Path

import optuna
import pytest
from packaging.requirements import Requirement

from scalesearch.search import optuna_api
from scalesearch.search.storage import open_storage
from scalesearch.search.trial_states import abandoned
from scalesearch.search.workers import abandon, fail_stale_trials, optimize, worker_id


def test_the_installed_optuna_is_in_the_pinned_range():
    (pin,) = [Requirement(r) for r in requires("scalesearch") if Requirement(r).name == "optuna"]
    assert {s.operator for s in pin.specifier} == {">=", "<"}  # a lower and an upper bound
    assert pin.specifier.contains(optuna.__version__), (
        f"Optuna {optuna.__version__} is outside the supported range {pin}: check optuna_api, then the pin")


def _journal_study(tmp_path: Path) -> optuna.Study:
    return optuna.create_study(storage=open_storage(tmp_path, None), study_name="s")


def test_a_running_trial_of_another_handle_is_failed_once(tmp_path):
    study = _journal_study(tmp_path)
    trial = study.ask()
    other = optuna.load_study(storage=open_storage(tmp_path, None), study_name="s")  # another process's view
    (frozen,) = other.get_trials(deepcopy=False)
    assert optuna_api.fail_running(other, frozen) is True
    assert study.get_trials(deepcopy=False)[trial.number].state == optuna.trial.TrialState.FAIL
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        optuna_api.fail_running(study, frozen)


def test_a_trial_another_process_finished_is_refused_in_words_finished_elsewhere_knows(tmp_path):
    study = _journal_study(tmp_path)
    trial = study.ask()
    other = optuna.load_study(storage=open_storage(tmp_path, None), study_name="s")
    optuna_api.fail_running(other, other.get_trials(deepcopy=False)[0])
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError) as updating:
        trial.set_user_attr("accuracy", 0.5)
    with pytest.raises(ValueError) as telling:
        study.tell(trial, 0.5)
    assert optuna_api.finished_elsewhere(updating.value) and optuna_api.finished_elsewhere(telling.value)
    assert not optuna_api.finished_elsewhere(ValueError("a bug of our own"))
    assert not optuna_api.finished_elsewhere(RuntimeError("Cannot tell a FAIL trial."))


def _failed_elsewhere_then(study: optuna.Study, tmp_path: Path, write: bool):
    """An objective whose trial another process fails mid-evaluation; it then writes to its trial
    (``write``) or returns its value as if nothing happened."""
    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        other = optuna.load_study(storage=open_storage(tmp_path, None), study_name="s")
        optuna_api.fail_running(other, other.get_trials(deepcopy=False)[trial.number])
        if write:
            trial.set_user_attr("accuracy", 0.5)
        return 0.5
    return objective


@pytest.mark.parametrize(("write", "raised"), [(True, ValueError), (False, AssertionError)],
                         ids=["objective-writes", "objective-returns"])
def test_optimize_refusing_a_trial_finished_elsewhere_is_known_either_way(tmp_path, write, raised):
    """Optuna refuses to tell the trial; where the objective returned, it raises its own assertion
    ("Should not reach.") as it logs the outcome, with the refusal as that exception's context."""
    study = _journal_study(tmp_path)
    with pytest.raises(raised) as refused:
        study.optimize(_failed_elsewhere_then(study, tmp_path, write), n_trials=1)
    assert optuna_api.finished_elsewhere(refused.value)


def test_a_worker_whose_trial_was_failed_elsewhere_drops_it_and_goes_on(tmp_path):
    study = _journal_study(tmp_path)
    first = _failed_elsewhere_then(study, tmp_path, write=False)
    optimize(study, lambda trial: first(trial) if trial.number == 0 else (
        trial.set_user_attr("worker", worker_id()), 1.0)[1], n_trials=3)
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert states[0] == "FAIL" and set(states[1:]) == {"COMPLETE"}


def test_a_worker_raises_its_own_failures(tmp_path):
    study = _journal_study(tmp_path)
    def broken(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        raise ValueError("a bug of the objective's own")
    with pytest.raises(ValueError, match="a bug of the objective"):
        optimize(study, broken, n_trials=2)


def test_heartbeats_are_seen_on_an_rdb_and_absent_on_the_journal(tmp_path):
    assert optuna_api.heartbeat_interval(_journal_study(tmp_path)) is None
    url = f"sqlite:///{tmp_path / 'h.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        rdb = optuna.create_study(storage=optuna.storages.RDBStorage(url, heartbeat_interval=7, grace_period=21))
    assert optuna_api.heartbeat_interval(rdb) == 7


def test_a_dead_workers_trial_is_failed_and_its_candidate_queued_again(tmp_path):
    study = _journal_study(tmp_path)
    trial = study.ask({"x": optuna.distributions.CategoricalDistribution([1, 2])})
    trial.set_user_attr("worker", "nohost-that-is-this-one:0")  # another machine's worker counts as alive
    assert fail_stale_trials(study) == []
    trial.set_user_attr("worker", f"{socket.gethostname()}:999999999")  # no such process here
    trial.set_user_attr("slot", True)
    assert fail_stale_trials(study) == [trial.number]
    retry = study.get_trials(deepcopy=False)[-1]
    assert retry.state == optuna.trial.TrialState.WAITING and retry.user_attrs["retry_of"] == trial.number


def test_an_abandoned_trial_records_why_and_is_queued_again(tmp_path):
    study = _journal_study(tmp_path)
    trial = study.ask({"x": optuna.distributions.CategoricalDistribution([1, 2])})
    abandon(trial, {"x": trial.params["x"]}, "interrupted (Ctrl-C)")
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    assert trials[trial.number].user_attrs["fail_reason"] == "interrupted (Ctrl-C)"
    assert abandoned(trials) == {trial.number: "interrupted (Ctrl-C)"}
    assert trials[-1].state == optuna.trial.TrialState.WAITING and trials[-1].user_attrs["retry_of"] == trial.number


def test_a_storage_opened_while_another_worker_creates_its_tables_is_tried_again_not_refused(tmp_path):
    """What the database says when a worker loses the race to create Optuna's tables is read from the
    errors SQLAlchemy raises (a duplicate row, or a table that already exists, also when Optuna raised
    its own error from it); any other error of the database is not a lost race."""
    import sqlalchemy

    from scalesearch.search.storage import _lost_creation_race

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    errors = {}
    with engine.connect() as db:
        db.execute(sqlalchemy.text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
        db.execute(sqlalchemy.text("INSERT INTO t VALUES (1)"))
        for name, statement in [("table", "CREATE TABLE t (k INTEGER)"), ("row", "INSERT INTO t VALUES (1)"),
                                ("other", "SELECT * FROM missing")]:
            try:
                db.execute(sqlalchemy.text(statement))
            except sqlalchemy.exc.DBAPIError as err:
                errors[name] = err
    engine.dispose()
    assert _lost_creation_race(errors["table"]) and _lost_creation_race(errors["row"])
    assert not _lost_creation_race(errors["other"]) and not _lost_creation_race(ValueError("already exists"))
    try:
        try:
            raise errors["row"]
        except sqlalchemy.exc.IntegrityError as err:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from err
    except optuna.exceptions.StorageInternalError as wrapped:
        assert _lost_creation_race(wrapped)


def test_an_exception_chain_is_read_cause_first_and_each_link_once_however_it_loops():
    from scalesearch.errors import causes

    first, cause, context = ValueError("first"), KeyError("cause"), OSError("context")
    first.__cause__, first.__context__ = cause, context  # `raise ... from cause` during `context`
    cause.__context__ = first  # a loop back to the start
    assert list(causes(first)) == [first, cause]
    assert list(causes(context)) == [context] and list(causes(None)) == []
