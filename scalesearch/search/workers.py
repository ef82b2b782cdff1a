"""Workers sharing one study: how a trial claims one of the ``n_trials`` evaluations, and what
happens to the trial of a worker that died or was interrupted (its candidate is queued again, the
retry naming it with ``retry_of``). The storage they meet in is :mod:`.storage`'s; which trials
count, :mod:`.trial_states`'.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from typing import Any, Callable

import optuna
import torch

from scalesearch.measure.environment import physical_cores
from scalesearch.search import optuna_api
from scalesearch.search.trial_states import abandoned, claimed, evaluated, evaluated_params, is_rejected, is_repeat

#: Seconds between looks at the study while a trial waits for a free evaluation slot.
SLOT_POLL_S = 0.1
#: Seconds an earlier trial that has neither claimed a slot nor been rejected is waited on, from
#: when this process first saw it so; after that it is passed over, by every later trial here too.
UNDECLARED_WAIT_S = 30

#: When this process first saw each undeclared trial (by study name, number and start; monotonic
#: seconds). A trial whose worker was stopped inside Optuna's own ``ask`` (Ctrl-C there) never
#: declares itself: each trial after it would otherwise wait the full UNDECLARED_WAIT_S.
_undeclared_since: dict[tuple, float] = {}


def _declared(trial: optuna.trial.FrozenTrial) -> bool:
    return "slot" in trial.user_attrs or is_rejected(trial) or is_repeat(trial)


def take_slot(trial: optuna.Trial, n_trials: int) -> bool:
    """Claim one of the study's ``n_trials`` evaluations for ``trial`` (True), or find them all
    taken (False), so that any number of workers on one storage evaluate exactly ``n_trials``.

    A trial first declares its claim, then counts the evaluated trials and the claims of running
    trials numbered before it, after waiting for every such trial to declare itself (claim or
    rejection; one silent for UNDECLARED_WAIT_S since this process first saw it is passed over). Of
    any set of claimants the highest-numbered thus sees all the others, so no more than ``n_trials``
    pass. While every slot is held by running trials it waits, failing the trials of dead workers
    meanwhile; a freed slot goes to the dead worker's queued retry first."""
    study = trial.study
    trial.set_user_attr("slot", True)
    is_retry = "retry_of" in trial.user_attrs
    while True:
        trials = study.get_trials(deepcopy=False)
        held = len(evaluated(trials))
        if held >= n_trials:
            return False
        gone = abandoned(trials)
        earlier = [t for t in trials if t.number < trial.number and t.state == optuna.trial.TrialState.RUNNING
                   and t.number not in gone]
        now = time.monotonic()
        waiting = [t for t in earlier if not _declared(t) and now - _undeclared_since.setdefault(
            (study.study_name, t.number, t.datetime_start), now) <= UNDECLARED_WAIT_S]
        if not waiting:
            held += sum("slot" in t.user_attrs and not is_rejected(t) for t in earlier)
            if held < n_trials:
                # A retry still queued, or already taken by a worker but numbered after this trial
                # (so it counts this trial's claim, not the other way round), has the freed slot.
                queued = any("retry_of" in t.user_attrs and (
                    t.state == optuna.trial.TrialState.WAITING
                    or (t.state == optuna.trial.TrialState.RUNNING and t.number > trial.number)) for t in trials)
                return is_retry or not queued
        time.sleep(SLOT_POLL_S)
        fail_stale_trials(study)


def optimize(study: optuna.Study, objective: Callable[[optuna.Trial], Any], **kwargs: Any) -> None:
    """``study.optimize(objective, **kwargs)``, going on after a trial another worker took from this one.

    A worker starved past its heartbeat's grace (a machine busy for seconds, a suspended laptop) finds
    on waking that another worker failed its trial (and queued the candidate again, if it had claimed
    an evaluation). Optuna then ends the run as it reports to, or tells, that finished trial; here the
    worker drops it (the retry evaluates the candidate) and goes on with the next."""
    me, dropped = worker_id(), set()
    while True:
        try:
            study.optimize(objective, **kwargs)
            return
        except Exception as err:
            mine = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("worker") == me]
            latest = max(mine, key=lambda t: t.number, default=None)
            if (not optuna_api.finished_elsewhere(err) or latest is None
                    or latest.state != optuna.trial.TrialState.FAIL or latest.number in dropped):
                raise
            dropped.add(latest.number)


def worker_id() -> str:
    """This process, as ``host:pid``: what a trial records as its worker, to be told dead or alive."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str) -> bool:
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's worker: only an RDB heartbeat can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _requeue(study: optuna.Study, number: int, params: dict[str, Any], reason: str) -> None:
    """Queue trial ``number``'s candidate again, first in line; the retry names the trial it
    replaces, which then no longer counts towards n_trials (see :func:`~scalesearch.search.trial_states.abandoned`)."""
    study.enqueue_trial(params, user_attrs={"retry_of": number, "retry_reason": reason}, skip_if_exists=False)


def abandon(trial: optuna.Trial, params: dict[str, Any], reason: str) -> None:
    """Give up a running trial that did not fail on its own account (Ctrl-C): its candidate is retried."""
    trial.set_user_attr("fail_reason", reason)
    _requeue(trial.study, trial.number, params, reason)


def requeue_silent(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """The RDB storage's callback for a trial it failed because its heartbeat stopped."""
    if not claimed(trial):
        return
    _requeue(study, trial.number, evaluated_params(trial),
             f"worker {trial.user_attrs.get('worker', '(unknown)')} stopped its heartbeat mid-trial")


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the running trials whose worker is gone, and queue their candidates again. On an RDB,
    a trial is gone when its heartbeat stopped (Optuna's check, with :func:`requeue_silent`);
    on the journal file, when its worker's process on this machine no longer exists. Returns the
    numbers this call failed."""
    if optuna_api.heartbeat_interval(study) is not None:
        before = set(abandoned(study.get_trials(deepcopy=False)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        return sorted(set(abandoned(study.get_trials(deepcopy=False))) - before)
    stale = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = t.user_attrs.get("worker")
        if worker is None or _alive(worker):
            continue
        try:  # only the process that moves the trial to FAIL queues it again
            failed = optuna_api.fail_running(study, t)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        if failed and claimed(t):
            _requeue(study, t.number, evaluated_params(t), f"worker {worker} died mid-trial")
            stale.append(t.number)
    return stale


def share_cpu(workers: int) -> None:
    """Give each of ``workers`` (> 1) local processes an equal share of the physical cores. One
    worker keeps the threads its caller chose (a benchmark running searches side by side sets
    them per process; overriding them would put more threads than cores on the machine)."""
    if workers > 1:
        torch.set_num_threads(max(1, physical_cores() // workers))
