"""The machinery every resumable study shares (``find-base`` and ``grid``): open it or resume it
under the same settings, run local worker processes on it, and run independent jobs (finalists)
on several processes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from typing import Any, Callable, Iterable, Iterator, Sequence

import optuna
import torch

from scalesearch import signals
from scalesearch.errors import ScalesearchError, UsageError
from scalesearch.measure.environment import physical_cores

#: Local worker processes one command may start (each holds the libraries and a network: ~1 GB).
MAX_WORKERS = 256
#: Seconds a process that loads a study another one has just created waits for its settings.
SETTINGS_WAIT_S = 10.0


def open_or_resume(storage: optuna.storages.BaseStorage, study_name: str, directions: Sequence[str],
                   sampler: optuna.samplers.BaseSampler, pruner: optuna.pruners.BasePruner,
                   settings: dict[str, Any], first_trials: Iterable[tuple[dict[str, Any], dict[str, Any]]] = ()
                   ) -> optuna.Study:
    """Create the study, recording ``settings`` and queueing ``first_trials`` (params, user attrs);
    or load it, refusing other settings. Settings a study predates (absent from it) are accepted."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    common = {"storage": storage, "study_name": study_name, "sampler": sampler, "pruner": pruner}
    try:  # only the process that creates the study records and seeds it, however many start at once
        study = optuna.create_study(directions=list(directions), **common)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(**common)
    else:
        study.set_user_attr("config", settings)
        for params, attrs in first_trials:
            study.enqueue_trial(params, user_attrs=attrs)
        return study
    existing = _settings(study)
    if existing is not None:
        changed = sorted({k for k in settings if k in existing and existing[k] != settings[k]}
                         | {k for k in existing if k not in settings})
        if changed:
            raise UsageError(f"study {study_name!r} was started with other settings ({', '.join(changed)}); "
                             f"use the same command to resume, or another `study` name")
    return study


def _settings(study: optuna.Study) -> dict[str, Any] | None:
    """The settings a study was created with; waits briefly for a creator that has only just made
    it (None: its creator died before writing them)."""
    deadline = time.monotonic() + SETTINGS_WAIT_S
    while "config" not in study.user_attrs and time.monotonic() < deadline:
        time.sleep(0.2)
    return study.user_attrs.get("config")


def check_workers(workers: int) -> None:
    """Local worker processes: at least 1, at most :data:`MAX_WORKERS`."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"`workers` must be in [1, {MAX_WORKERS}], got {workers!r}")


def check_devices(devices: tuple[int, ...]) -> None:
    """GPUs that local workers are pinned to must be on this machine."""
    shown = ",".join(map(str, devices))
    if not torch.cuda.is_available():
        raise UsageError(f"`devices` {shown}: no CUDA device is available here (torch.cuda.is_available() is False)")
    count = torch.cuda.device_count()
    missing = [d for d in devices if not 0 <= d < count]
    if missing:
        raise UsageError(f"`devices` {shown}: there is no GPU {missing[0]} here ({count} GPU(s): 0-{count - 1})")


def worker_device(devices: tuple[int, ...], worker: int, default: str) -> str:
    """The device local worker ``worker`` trains on: the GPUs of ``devices`` in turn (worker 0 the
    first, worker 1 the second, ... and round again), or ``default`` without them."""
    return f"cuda:{devices[worker % len(devices)]}" if devices else default


#: Seconds local workers get, once the main process has passed its signal on, to record the trial
#: they abandon before they are killed (its trial then counts as died mid-trial on resume).
WORKER_EXIT_S = 30.0


def _worker(target: Callable[..., Any], args: tuple) -> None:
    signals.install(once=True)  # a second signal would cut short the record of the first
    try:
        target(*args)
    except (KeyboardInterrupt, ScalesearchError):
        pass  # the main process reports; its own run meets the same error


@contextlib.contextmanager
def local_workers(target: Callable[..., Any], args: Sequence[tuple]) -> Iterator[None]:
    """Run ``target(*a)`` for each ``a`` of ``args`` in its own process while the caller works
    (the caller is one more worker); waits for all of them on the way out. When the caller's work
    ends in an exception (a signal sent to the main process alone, an error), the workers get its
    signal (SIGTERM for SIGTERM, else SIGINT), so that they abandon their trials as it did, and are
    killed if they have not ended :data:`WORKER_EXIT_S` later: nothing waits for ever."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(target, a), daemon=True) for a in args]
    for process in processes:
        process.start()
    try:
        yield
    except BaseException as err:
        sent = signal.SIGTERM if isinstance(err, signals.Terminated) else signal.SIGINT
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, sent)
        deadline = time.monotonic() + WORKER_EXIT_S
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
        raise
    finally:
        for process in processes:
            process.join()


def _set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], processes: int,
             on_result: Callable[[Any, Any], None]) -> None:
    """``fn(job)`` for every job, on ``processes`` processes with an equal share of the physical
    cores (in this process, with its own threads, when 1); ``on_result(job, result)`` here as each
    one ends, in any order, so that the caller saves every finished job however the run ends."""
    if processes == 1 or len(jobs) <= 1:  # here, with this process's threads
        for job in jobs:
            on_result(job, fn(job))
        return
    threads = max(1, physical_cores() // processes)
    with multiprocessing.get_context("spawn").Pool(min(processes, len(jobs)), initializer=_set_threads,
                                                   initargs=(threads,)) as pool:
        pending = [(job, pool.apply_async(fn, (job,))) for job in jobs]
        while pending:
            job, handle = pending[0]
            handle.wait(0.5)
            for item in [p for p in pending if p[1].ready()]:
                pending.remove(item)
                on_result(item[0], item[1].get())
