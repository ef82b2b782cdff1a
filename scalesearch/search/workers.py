"""Workers sharing one study: the storage they meet in, which trials count, and what happens to
the trial of a worker that died.

A study lives in a journal file (safe for several processes on one machine) or an RDB (PostgreSQL
for workers on many machines, with heartbeats). ``n_trials`` counts *evaluated* trials: rejected
candidates, ``surplus`` trials and trials whose worker died or was interrupted do not count, and
the candidate of a dead worker's trial is queued again (the retry names it with ``retry_of``).
"""

from __future__ import annotations

import inspect
import json
import os
import re
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import torch

from scalesearch.errors import UsageError, notify
from scalesearch.files import refuse_link
from scalesearch.measure.environment import physical_cores
from scalesearch.search import optuna_api

#: Seconds between an RDB worker's heartbeats; a trial silent for three of them is failed and retried.
HEARTBEAT_S = 30
#: Seconds between looks at the study while a trial waits for a free evaluation slot.
SLOT_POLL_S = 0.1
#: Seconds a trial waits on an earlier trial that has neither claimed a slot nor been rejected.
UNDECLARED_WAIT_S = 30


def redact(url: str) -> str:
    """``url`` with its password, if any, replaced by ***."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def check_heartbeat(seconds: int) -> None:
    if seconds < 1:
        raise UsageError(f"`heartbeat_s` must be >= 1 second, got {seconds}")


def open_storage(run_dir: Path, url: str | None, heartbeat_s: int = HEARTBEAT_S) -> optuna.storages.BaseStorage:
    """A study's storage: the journal file ``run_dir/study.journal`` (default; safe for several
    processes on one machine; repaired first if a crash left its last record torn) or the RDB at
    ``url``, checked to be reachable."""
    if url is None:
        run_dir.mkdir(parents=True, exist_ok=True)
        # Absolute: Optuna's lock is a symbolic link to the journal, and a relative target resolves
        # from inside the run folder to nothing, so a stale lock could never be told stale.
        path = (run_dir / "study.journal").absolute()
        refuse_link(path, "a study journal")
        break_dangling_lock(path)
        repair_journal(path)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    return open_storage_url(url, heartbeat_s)


#: How long a journal lock whose link leads nowhere may stand before it is taken for a dead writer's:
#: Optuna holds the lock for one append (milliseconds), and breaks a stale one after 30 s itself.
STALE_LOCK_S = 30.0


def break_dangling_lock(path: Path) -> bool:
    """Remove the journal lock a dead writer left when its link leads nowhere (a lock made with a
    relative path, before this version), so that it cannot hold the study forever; one older than
    :data:`STALE_LOCK_S` only, with a notice. Returns whether it did."""
    lock = Path(f"{path}.lock")  # Optuna's JournalFileSymlinkLock: a link named after the journal
    try:
        made = lock.lstat().st_mtime
    except FileNotFoundError:
        return False
    if not lock.is_symlink() or lock.exists() or time.time() - made < STALE_LOCK_S:
        return False
    lock.unlink(missing_ok=True)
    notify(f"{lock}: removed a lock left by a writer that is gone (it led nowhere for "
           f"{time.time() - made:,.0f} s)")
    return True


def repair_journal(path: Path) -> int:
    """Mend the end of a journal file that a crash or a full disk left: a torn last record (bytes
    without their line end, which the next append would fuse with a new record) is dropped, a
    complete one that only lacks its line end gets it; either is said with a notice
    (:func:`~scalesearch.errors.notify`). Returns the bytes dropped. A record that is not valid
    elsewhere in the file is an error naming its line: that file cannot be repaired safely."""
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    lock = optuna.storages.journal.JournalFileSymlinkLock(str(path))  # the lock Optuna's writers take
    lock.acquire()
    try:
        data = path.read_bytes()
        *lines, last = data.split(b"\n")
        for number, line in enumerate(lines, start=1):
            try:
                json.loads(line)
            except ValueError as err:
                raise UsageError(f"{path}: line {number} is not a journal record ({err}); the study cannot be "
                                 f"read: restore the file from a copy, or start another `study`") from None
        torn = last if last and not _is_record(last) else b""
        if last:
            with path.open("r+b") as f:
                if torn:
                    f.truncate(len(data) - len(torn))
                else:
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
            notify(f"{path}: dropped a torn last record ({len(torn)} bytes, what a crash or a full disk leaves); "
                   "every complete record is kept" if torn else
                   f"{path}: its last record was complete but lacked its line end; added it, every record is kept")
    finally:
        lock.release()
    return len(torn)


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


#: The RDB storage's keyword for the stale-trial callback (renamed in optuna 4.9).
_STALE_CALLBACK = ("heartbeat_stale_trial_callback"
                   if "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters
                   else "failed_trial_callback")


def open_storage_url(url: str, heartbeat_s: int = HEARTBEAT_S) -> optuna.storages.BaseStorage:
    """An RDB storage (PostgreSQL for workers on many machines, SQLite, MySQL), checked to be reachable.
    Every worker's running trial beats every ``heartbeat_s``; one silent for three beats (its worker
    was killed, or its machine died) is failed by a surviving worker and its candidate queued again."""
    if not url.startswith(("postgresql://", "postgresql+", "sqlite:///", "mysql://", "mysql+")):
        raise UsageError(f"`storage` must be an RDB URL (postgresql://USER:PASS@HOST/DB or sqlite:///FILE), "
                         f"got {url!r}")
    # The driver the 'postgres' extra installs, whatever SQLAlchemy's default for postgresql:// is.
    engine_url = "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url
    shown = redact(url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(engine_url, heartbeat_interval=heartbeat_s, grace_period=3 * heartbeat_s,
                                              **{_STALE_CALLBACK: _requeue_silent})
    except ImportError:  # optuna re-raises a missing driver as a bare ImportError, without the module's name
        hint = ("pip install 'scalesearch[postgres]'" if url.startswith("postgresql")
                else "install the driver the URL names (SQLAlchemy's dialect+driver)")
        raise UsageError(f"cannot open storage {shown}: its database driver is not installed; {hint}") from None
    except Exception as err:  # noqa: BLE001 - SQLAlchemy/driver errors of every kind
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"cannot open storage {shown}: {reason}") from None


def is_rejected(trial: optuna.trial.FrozenTrial) -> bool:
    return "rejected" in trial.user_attrs


def is_repeat(trial: optuna.trial.FrozenTrial) -> bool:
    """A trial whose network an earlier trial had evaluated: it took that result, evaluated nothing."""
    return "repeat_of" in trial.user_attrs


def is_surplus(trial: optuna.trial.FrozenTrial) -> bool:
    """A trial that found all ``n_trials`` evaluations taken by others and evaluated nothing."""
    return "surplus" in trial.user_attrs


def abandoned(trials: list[optuna.trial.FrozenTrial]) -> dict[int, str]:
    """Trials whose worker died or was interrupted mid-trial, by number, with the reason. Each was
    queued again (the retry carries ``retry_of``) and none counts towards ``n_trials``."""
    return {t.user_attrs["retry_of"]: t.user_attrs.get("retry_reason", "abandoned")
            for t in trials if "retry_of" in t.user_attrs}


def scored(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Trials that evaluated a candidate to the end (complete, neither rejected nor a repeat)."""
    return [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and not is_rejected(t)
            and not is_repeat(t)]


def evaluated_params(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The choices of the network a trial evaluated (pre-screening may have swapped the suggested one)."""
    return trial.user_attrs.get("trained_params", trial.params)


def claimed(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trial claimed an evaluation (a slot, or its grid point) before it ended; a trial
    whose worker died before that did no work: it neither counts nor is retried."""
    return "slot" in trial.user_attrs


def evaluated(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Finished trials that count towards ``n_trials``: complete, pruned, or failed for a reason of
    their own; neither rejected candidates, repeats of an evaluated network, nor trials whose worker
    died (those are retried)."""
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL, optuna.trial.TrialState.PRUNED)
    gone = abandoned(trials)
    return [t for t in trials if t.state in done and not is_rejected(t) and not is_surplus(t) and not is_repeat(t)
            and t.number not in gone and (t.state != optuna.trial.TrialState.FAIL or claimed(t))]


def _declared(trial: optuna.trial.FrozenTrial) -> bool:
    return "slot" in trial.user_attrs or is_rejected(trial) or is_repeat(trial)


def take_slot(trial: optuna.Trial, n_trials: int) -> bool:
    """Claim one of the study's ``n_trials`` evaluations for ``trial`` (True), or find them all
    taken (False), so that any number of workers on one storage evaluate exactly ``n_trials``.

    A trial first declares its claim, then counts the evaluated trials and the claims of running
    trials numbered before it, after waiting for every such trial to declare itself (claim or
    rejection). Of any set of claimants the highest-numbered thus sees all the others, so no more
    than ``n_trials`` pass. While every slot is held by running trials it waits, failing the
    trials of dead workers meanwhile; a freed slot goes to the dead worker's queued retry first."""
    study = trial.study
    trial.set_user_attr("slot", True)
    is_retry = "retry_of" in trial.user_attrs
    started = time.monotonic()
    while True:
        trials = study.get_trials(deepcopy=False)
        held = len(evaluated(trials))
        if held >= n_trials:
            return False
        gone = abandoned(trials)
        earlier = [t for t in trials if t.number < trial.number and t.state == optuna.trial.TrialState.RUNNING
                   and t.number not in gone]
        waiting = [t for t in earlier if not _declared(t)]
        if not waiting or time.monotonic() - started > UNDECLARED_WAIT_S:
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


def worker_id() -> str:
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
    replaces, which then no longer counts towards n_trials (see :func:`abandoned`)."""
    study.enqueue_trial(params, user_attrs={"retry_of": number, "retry_reason": reason}, skip_if_exists=False)


def abandon(trial: optuna.Trial, params: dict[str, Any], reason: str) -> None:
    """Give up a running trial that did not fail on its own account (Ctrl-C): its candidate is retried."""
    trial.set_user_attr("fail_reason", reason)
    _requeue(trial.study, trial.number, params, reason)


def _requeue_silent(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """The RDB storage's callback for a trial it failed because its heartbeat stopped."""
    if not claimed(trial):
        return
    _requeue(study, trial.number, evaluated_params(trial),
             f"worker {trial.user_attrs.get('worker', '(unknown)')} stopped its heartbeat mid-trial")


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the running trials whose worker is gone, and queue their candidates again. On an RDB,
    a trial is gone when its heartbeat stopped (Optuna's check, with :func:`_requeue_silent`);
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
