"""``find-base``: an Optuna study over a search space for the best network at a MACs or latency target.

One trial: sample a candidate (TPE, or NSGA-II with ``multi_objective``), cost it (analytic MACs,
or predicted latency), reject it untrained if far from the target, else evaluate it (proxy
training with per-epoch pruning, or a zero-cost score without data) and score it with
:class:`~scalesearch.search.objective.Objective`. The study lives in a journal file under the run
directory (safe for several processes on one machine) or in an RDB given by URL; the same call
resumes it, and ``n_trials`` counts evaluated trials across all workers and all runs.
"""

from __future__ import annotations

import inspect
import math
import multiprocessing
import os
import random
import re
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna
import torch

from scalesearch.arch.io import resolve_spec
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import ScalesearchError, UsageError
from scalesearch.measure.environment import physical_cores
from scalesearch.measure.flops import analytic_count, analytic_macs
from scalesearch.measure.latency import BenchConfig, measure
from scalesearch.measure.predictor import LatencyTable
from scalesearch.search.objective import Objective
from scalesearch.search.space import SearchSpace, load_space
from scalesearch.train.data import DataSet, load_data
from scalesearch.train.loop import TrainingError, resolve_device, train
from scalesearch.train.recipes import Recipe, load_recipe
from scalesearch.train.zero_cost import data_batch, zero_cost_score

PRUNERS = ("none", "median", "hyperband")
#: Rejected candidates allowed per requested trial before the search gives up on the window.
MAX_REJECTIONS_PER_TRIAL = 200
#: Seconds between an RDB worker's heartbeats; a trial silent for three of them is failed and retried.
HEARTBEAT_S = 30
#: Seconds between looks at the study while a trial waits for a free evaluation slot.
SLOT_POLL_S = 0.1
#: Seconds a trial waits on an earlier trial that has neither claimed a slot nor been rejected.
UNDECLARED_WAIT_S = 30


@dataclass(frozen=True)
class SearchConfig:
    """Everything one ``find-base`` run needs; workers receive a copy."""

    objective: Objective
    run_dir: Path
    study_name: str
    n_trials: int = 40
    space: str = "mnasnet"
    data: str | None = None
    train_images: int | None = None  # a seeded subset of the training split, for quick proxies
    recipe: str = "proxy"
    recipe_overrides: dict[str, Any] = field(default_factory=dict)
    zero_cost_metric: str = "naswot"
    storage: str | None = None
    workers: int = 1
    seed: int = 0
    multi_objective: bool = False
    pruner: str = "median"
    device: str = "cpu"
    latency: BenchConfig | None = None  # set when the target is latency
    seed_with_base: bool = True
    prescreen: int = 1  # > 1: train the best zero-cost scorer of this many in-window candidates
    heartbeat_s: int = HEARTBEAT_S

    def __post_init__(self) -> None:
        if self.n_trials < 1:
            raise UsageError(f"--n-trials must be >= 1, got {self.n_trials}")
        if self.workers < 1:
            raise UsageError(f"--workers must be >= 1, got {self.workers}")
        if self.prescreen < 1:
            raise UsageError(f"--prescreen must be >= 1, got {self.prescreen}")
        check_heartbeat(self.heartbeat_s)
        if not 0 <= self.seed < 2**32:
            raise UsageError(f"--seed must be in [0, 2**32 - 1], got {self.seed}")
        if self.pruner not in PRUNERS:
            raise UsageError(f"--pruner must be one of {', '.join(PRUNERS)}, got {self.pruner!r}")
        if (self.latency is None) != (self.objective.unit == "MACs"):
            raise UsageError("a latency target needs a latency configuration, a MACs target none")

    @property
    def evaluator(self) -> str:
        return "proxy-training" if self.data else f"zero-cost ({self.zero_cost_metric})"

    def storage_url(self) -> str:
        """Where the study lives, as outputs name it (without a password)."""
        return redact(self.storage) if self.storage else f"journal:{self.run_dir / 'study.journal'}"


def redact(url: str) -> str:
    """``url`` with its password, if any, replaced by ***."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def check_heartbeat(seconds: int) -> None:
    if seconds < 1:
        raise UsageError(f"--heartbeat must be >= 1 second, got {seconds}")


def open_storage(run_dir: Path, url: str | None, heartbeat_s: int = HEARTBEAT_S) -> optuna.storages.BaseStorage:
    """A study's storage: the journal file ``run_dir/study.journal`` (default; safe for several
    processes on one machine) or the RDB at ``url``, checked to be reachable."""
    if url is None:
        run_dir.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(run_dir / "study.journal")))
    return open_storage_url(url, heartbeat_s)


#: The RDB storage's keyword for the stale-trial callback (renamed in optuna 4.9).
_STALE_CALLBACK = ("heartbeat_stale_trial_callback"
                   if "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters
                   else "failed_trial_callback")


def open_storage_url(url: str, heartbeat_s: int = HEARTBEAT_S) -> optuna.storages.BaseStorage:
    """An RDB storage (PostgreSQL for workers on many machines, SQLite, MySQL), checked to be reachable.
    Every worker's running trial beats every ``heartbeat_s``; one silent for three beats (its worker
    was killed, or its machine died) is failed by a surviving worker and its candidate queued again."""
    if not url.startswith(("postgresql://", "postgresql+", "sqlite:///", "mysql://", "mysql+")):
        raise UsageError(f"--storage must be an RDB URL (postgresql://USER:PASS@HOST/DB or sqlite:///FILE), "
                         f"got {url!r}")
    # The driver the 'postgres' extra installs, whatever SQLAlchemy's default for postgresql:// is.
    engine_url = "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url
    shown = redact(url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(engine_url, heartbeat_interval=heartbeat_s, grace_period=3 * heartbeat_s,
                                              **{_STALE_CALLBACK: _requeue_silent})
    except ModuleNotFoundError as err:
        hint = "pip install 'scalesearch[postgres]'" if url.startswith("postgresql") else f"pip install {err.name}"
        raise UsageError(f"cannot open storage {shown}: its database driver {err.name!r} is not installed; {hint}") from None
    except Exception as err:  # noqa: BLE001 - SQLAlchemy/driver errors of every kind
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"cannot open storage {shown}: {reason}") from None


def _sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    if config.multi_objective:
        return optuna.samplers.NSGAIISampler(seed=config.seed)
    return optuna.samplers.TPESampler(seed=config.seed, multivariate=True, n_startup_trials=10)


class _AfterEvaluated(optuna.pruners.BasePruner):
    """Prune only once ``startup`` candidates were evaluated to the end: rejected candidates are
    COMPLETE trials too, and Optuna's own startup count would include them."""

    def __init__(self, inner: optuna.pruners.BasePruner, startup: int) -> None:
        self.inner, self.startup = inner, startup

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        if len(scored(study.get_trials(deepcopy=False))) < self.startup:
            return False
        return self.inner.prune(study, trial)


def _pruner(config: SearchConfig) -> optuna.pruners.BasePruner:
    # Not in the first half of the schedule: early-epoch accuracy under a cosine schedule ranks
    # candidates poorly.
    epochs = load_recipe(config.recipe).override(**config.recipe_overrides).epochs
    warmup = epochs // 2 + 1
    if config.pruner == "median":
        return _AfterEvaluated(optuna.pruners.MedianPruner(n_startup_trials=0, n_warmup_steps=warmup), startup=5)
    if config.pruner == "hyperband":
        return _AfterEvaluated(optuna.pruners.HyperbandPruner(min_resource=warmup, max_resource=epochs), startup=5)
    return optuna.pruners.NopPruner()


def open_study(config: SearchConfig) -> optuna.Study:
    """Create or resume the study; a new one is seeded with the base network when the space has it."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    described = describe(config)
    common = {"storage": open_storage(config.run_dir, config.storage, config.heartbeat_s),
              "study_name": config.study_name, "sampler": _sampler(config), "pruner": _pruner(config)}
    try:  # only the process that creates the study seeds it, however many workers start at once
        study = optuna.create_study(directions=["maximize", "minimize"] if config.multi_objective else ["maximize"],
                                    **common)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(**common)
        existing = _settings(study)
    else:
        existing = None
    if existing is None:
        study.set_user_attr("config", described)
        params = load_space(config.space).base_params() if config.seed_with_base else None
        if params is not None:
            study.enqueue_trial(params, user_attrs={"seeded": "base network"})
    elif existing != described:
        changed = sorted(k for k in described if existing.get(k) != described[k])
        raise UsageError(f"study {config.study_name!r} was started with other settings ({', '.join(changed)}); "
                         f"use the same command to resume, or another --study name")
    return study


def _settings(study: optuna.Study, wait_s: float = 10.0) -> dict[str, Any] | None:
    """The settings a study was created with; a worker that loads a study another one has only
    just created waits for them (None: its creator died before writing them)."""
    deadline = time.monotonic() + wait_s
    while "config" not in study.user_attrs and time.monotonic() < deadline:
        time.sleep(0.2)
    return study.user_attrs.get("config")


def describe(config: SearchConfig) -> dict[str, Any]:
    """The settings a study must keep across resumes (not n_trials, workers or storage)."""
    return {"target": config.objective.target, "unit": config.objective.unit,
            "constraint": config.objective.constraint, "w": config.objective.w,
            "reject_outside": config.objective.reject_outside, "space": config.space, "data": config.data,
            "train_images": config.train_images,
            "recipe": config.recipe, "recipe_overrides": dict(sorted(config.recipe_overrides.items())),
            "evaluator": config.evaluator, "multi_objective": config.multi_objective, "prescreen": config.prescreen}


# ---------------------------------------------------------------------------------------------- trials

def is_rejected(trial: optuna.trial.FrozenTrial) -> bool:
    return "rejected" in trial.user_attrs


def is_surplus(trial: optuna.trial.FrozenTrial) -> bool:
    """A trial that found all ``n_trials`` evaluations taken by others and evaluated nothing."""
    return "surplus" in trial.user_attrs


def abandoned(trials: list[optuna.trial.FrozenTrial]) -> dict[int, str]:
    """Trials whose worker died or was interrupted mid-trial, by number, with the reason. Each was
    queued again (the retry carries ``retry_of``) and none counts towards ``n_trials``."""
    return {t.user_attrs["retry_of"]: t.user_attrs.get("retry_reason", "abandoned")
            for t in trials if "retry_of" in t.user_attrs}


def scored(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Trials that evaluated a candidate to the end (complete, not rejected)."""
    return [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and not is_rejected(t)]


def evaluated_params(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The choices of the network a trial evaluated (pre-screening may have swapped the suggested one)."""
    return trial.user_attrs.get("trained_params", trial.params)


def evaluated(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Finished trials that count towards ``n_trials``: complete, pruned, or failed for a reason of
    their own; neither rejected candidates nor trials whose worker died (those are retried)."""
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL, optuna.trial.TrialState.PRUNED)
    gone = abandoned(trials)
    return [t for t in trials if t.state in done and not is_rejected(t) and not is_surplus(t) and t.number not in gone]


def _declared(trial: optuna.trial.FrozenTrial) -> bool:
    return "slot" in trial.user_attrs or is_rejected(trial)


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
                queued = any(t.state == optuna.trial.TrialState.WAITING and "retry_of" in t.user_attrs
                             for t in trials)
                return is_retry or not queued
        time.sleep(SLOT_POLL_S)
        fail_stale_trials(study)


class _Evaluate:
    """Accuracy (or a zero-cost stand-in) of one candidate, with per-epoch pruning when training."""

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        self.recipe: Recipe = load_recipe(config.recipe).override(**config.recipe_overrides)
        self.data: DataSet | None = load_data(config.data, train_images=config.train_images) if config.data else None
        self.num_classes = self.data.num_classes if self.data else 10
        self.images = data_batch(self.data, self.recipe.resolution) if self.data else None

    @property
    def key(self) -> str:
        """The user attribute an evaluation is stored under."""
        return "val_top1" if self.data is not None else "zero_cost"

    def __call__(self, spec: NetworkSpec, trial: optuna.Trial | None = None) -> float:
        """Accuracy of ``spec`` (or its zero-cost score); with ``trial``, per-epoch pruning."""
        if self.data is None:
            return zero_cost_score(self.recipe.network(spec, self.num_classes), self.config.zero_cost_metric,
                                   resolution=self.recipe.resolution)

        def report(metrics: Any) -> None:
            if trial is None or metrics.val_top1 is None:  # no trial, or an epoch without evaluation
                return
            trial.report(metrics.val_top1, metrics.epoch)
            if not self.config.multi_objective and trial.should_prune():
                trial.set_user_attr("val_top1", metrics.val_top1)
                raise optuna.TrialPruned(f"pruned at epoch {metrics.epoch}")

        return train(spec, self.data, self.recipe, seeds=[self.config.seed], device=self.config.device,
                     on_epoch=report).val_top1


class _Trial:
    """The objective Optuna calls."""

    def __init__(self, config: SearchConfig, space: SearchSpace) -> None:
        self.config, self.space = config, space
        self.evaluate = _Evaluate(config)
        self.latency = LatencyTable(config.latency) if config.latency else None

    def cost(self, spec: NetworkSpec) -> float:
        return self.latency.predict(spec) if self.latency else float(analytic_macs(spec))

    def _describe(self, trial: optuna.Trial, spec: NetworkSpec) -> float:
        """Record the candidate's size on the trial; returns its cost (MACs or predicted ms)."""
        count = analytic_count(spec)
        trial.set_user_attr("macs", count.macs)
        trial.set_user_attr("params", count.params)
        trial.set_user_attr("name", spec.name)
        cost = self.cost(spec)
        if self.latency:
            trial.set_user_attr("latency_ms", cost)
        return cost

    def prescreen(self, trial: optuna.Trial, params: dict[str, Any]) -> dict[str, Any]:
        """Of the suggested candidate and ``prescreen - 1`` random ones inside the target window,
        the one with the best zero-cost score (on a batch of the training data)."""
        rng = random.Random(f"{self.config.seed}-{trial.number}")
        pool = [params]
        for _ in range(50 * self.config.prescreen):
            if len(pool) >= self.config.prescreen:
                break
            other, spec = self.space.sample(rng)
            if self.config.objective.rejects(self.cost(spec)) is None:
                pool.append(other)
        recipe, data = self.evaluate.recipe, self.evaluate.data
        scores = [zero_cost_score(recipe.network(self.space.candidate(p), data.num_classes),
                                  self.config.zero_cost_metric, self.evaluate.images) for p in pool]
        best = max(range(len(pool)), key=scores.__getitem__)
        trial.set_user_attr("prescreen", {"candidates": len(pool), "chosen": best, "scores": scores})
        if best:
            trial.set_user_attr("trained_params", pool[best])
        return pool[best]

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        trial.set_user_attr("worker", worker_id())
        params = {k: trial.suggest_categorical(k, options) for k, options in self.space.dimensions().items()}
        spec = self.space.candidate(params)
        cost = self._describe(trial, spec)
        objective = self.config.objective
        reason = objective.rejects(cost)
        if reason is not None:
            trial.set_user_attr("rejected", reason)
            if self.config.multi_objective:
                raise optuna.TrialPruned(reason)
            # Below every real score (> 0) and graded by distance, so TPE learns where the window is.
            return -abs(math.log(cost / objective.target))
        started = time.perf_counter()
        try:
            if not take_slot(trial, self.config.n_trials):
                trial.set_user_attr("surplus", True)
                raise optuna.TrialPruned(f"all {self.config.n_trials} evaluations were taken by other trials")
            if self.config.prescreen > 1 and self.evaluate.data is not None:
                chosen = self.prescreen(trial, params)
                if chosen is not params:
                    params, spec = chosen, self.space.candidate(chosen)
                    cost = self._describe(trial, spec)
            accuracy = self.evaluate(spec, trial)
            trial.set_user_attr(self.evaluate.key, accuracy)
        except (TrainingError, ScalesearchError) as err:
            trial.set_user_attr("fail_reason", str(err))
            raise
        except KeyboardInterrupt:
            _abandon(trial.study, trial._trial_id, trial.number, params, "interrupted (Ctrl-C)")
            raise
        finally:
            trial.set_user_attr("eval_s", round(time.perf_counter() - started, 3))
        score = objective.score(accuracy, cost)
        trial.set_user_attr("score", score)
        return (accuracy, cost) if self.config.multi_objective else score


def _stop_when_done(config: SearchConfig, on_trial: Callable[[optuna.Study], None] | None):
    limit = config.n_trials * MAX_REJECTIONS_PER_TRIAL

    def callback(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        trials = study.get_trials(deepcopy=False)
        if on_trial:
            on_trial(study)
        if len(evaluated(trials)) >= config.n_trials:
            study.stop()
        elif sum(is_rejected(t) for t in trials) > limit:
            study.set_user_attr("gave_up", f"over {limit} candidates fell outside the target window")
            study.stop()

    return callback


def run_worker(config: SearchConfig, on_trial: Callable[[optuna.Study], None] | None = None) -> None:
    """One worker: run trials until the study holds ``n_trials`` evaluated trials."""
    share_cpu(config.workers)
    study = open_study(config)
    if len(evaluated(study.get_trials(deepcopy=False))) >= config.n_trials:
        return
    objective = _Trial(config, load_space(config.space))
    study.optimize(objective, callbacks=[_stop_when_done(config, on_trial)], catch=(TrainingError,),
                   gc_after_trial=True)


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


def _abandon(study: optuna.Study, trial_id: int, number: int, params: dict[str, Any], reason: str) -> None:
    """Give up a running trial that did not fail on its own account (Ctrl-C): its candidate is retried."""
    study._storage.set_trial_user_attr(trial_id, "fail_reason", reason)
    _requeue(study, number, params, reason)


def _requeue_silent(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """The RDB storage's callback for a trial it failed because its heartbeat stopped."""
    _requeue(study, trial.number, evaluated_params(trial),
             f"worker {trial.user_attrs.get('worker', '(unknown)')} stopped its heartbeat mid-trial")


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the running trials whose worker is gone, and queue their candidates again. On an RDB,
    a trial is gone when its heartbeat stopped (Optuna's check, with :func:`_requeue_silent`);
    on the journal file, when its worker's process on this machine no longer exists. Returns the
    numbers this call failed."""
    if getattr(study._storage, "get_heartbeat_interval", lambda: None)() is not None:
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
            failed = study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        if failed:
            _requeue(study, t.number, evaluated_params(t), f"worker {worker} died mid-trial")
            stale.append(t.number)
    return stale


def share_cpu(workers: int) -> None:
    """Give each of ``workers`` local processes an equal share of the physical cores."""
    torch.set_num_threads(max(1, physical_cores() // workers))


def _spawned_worker(config: SearchConfig) -> None:
    try:
        run_worker(config)
    except KeyboardInterrupt:
        pass


def check_reachable(config: SearchConfig) -> None:
    """Fail before any work if the space cannot express a network near the MACs target."""
    if config.objective.unit != "MACs":
        return
    space = load_space(config.space)
    target, window = config.objective.target, config.objective.reject_outside
    smallest, _ = space.extreme(analytic_macs)
    largest, _ = space.extreme(analytic_macs, largest=True)
    if target * (1 + window) < smallest:
        raise UsageError(f"target {target / 1e6:.1f}M MACs is below the smallest network space {space.name!r} "
                         f"can express ({smallest / 1e6:.1f}M MACs)")
    if target * (1 - window) > largest:
        raise UsageError(f"target {target / 1e6:.1f}M MACs is above the largest network space {space.name!r} "
                         f"can express ({largest / 1e6:.1f}M MACs)")


def validate(config: SearchConfig) -> None:
    """Every check that can fail on bad input, before the study is created or touched."""
    check_reachable(config)
    load_recipe(config.recipe).override(**config.recipe_overrides)
    resolve_device(config.device)
    if config.data:
        load_data(config.data, train_images=config.train_images)
    if config.storage is not None:
        open_storage_url(config.storage)


def search(config: SearchConfig, on_trial: Callable[[optuna.Study], None] | None = None) -> optuna.Study:
    """Run (or resume) the study with ``config.workers`` processes; returns the study. Call
    :func:`validate` first."""
    study = open_study(config)
    fail_stale_trials(study)
    context = multiprocessing.get_context("spawn")
    others = [context.Process(target=_spawned_worker, args=(config,), daemon=True) for _ in range(config.workers - 1)]
    for process in others:
        process.start()
    try:
        run_worker(config, on_trial)
    finally:
        for process in others:
            process.join()
    measure_finalists(study, config)
    if "gave_up" in study.user_attrs and not scored(study.get_trials(deepcopy=False)):
        raise ScalesearchError(f"no candidate reached the target window: {study.user_attrs['gave_up']}; "
                               f"widen --reject-outside")
    return study


FINALISTS = 3


def measure_finalists(study: optuna.Study, config: SearchConfig, k: int = FINALISTS) -> None:
    """With a latency target, measure (not predict) the ``k`` best trials on the device; kept in
    the study (finished trials are immutable) beside the prediction the search used."""
    if config.latency is None:
        return
    measured = dict(study.user_attrs.get("measured_latency_ms", {}))
    failed = dict(study.user_attrs.get("latency_failures", {}))
    for t in sorted(scored(study.get_trials(deepcopy=False)), key=lambda t: -t.user_attrs.get("score", float("-inf")))[:k]:
        if str(t.number) in measured or str(t.number) in failed:
            continue
        try:
            measured[str(t.number)] = measure(trial_spec(config, t), config.latency).stats.median_ms
        except ScalesearchError as err:  # e.g. an op ONNX cannot export: keep the prediction, say why
            failed[str(t.number)] = str(err)
    study.set_user_attr("measured_latency_ms", measured)
    study.set_user_attr("latency_failures", failed)


def measured_latency(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> float | None:
    """The finalist's measured latency (ms), if it was one."""
    return study.user_attrs.get("measured_latency_ms", {}).get(str(trial.number))


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The highest-scoring evaluated trial (single objective), or the most accurate on the Pareto
    front (multi-objective)."""
    complete = scored(study.get_trials(deepcopy=False))
    if not complete:
        return None
    if len(study.directions) > 1:
        return max(pareto_front(complete), key=lambda t: t.values[0])
    return max(complete, key=lambda t: t.value)


def pareto_front(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Trials no other trial beats on both higher accuracy and lower cost."""
    def accuracy(t: optuna.trial.FrozenTrial) -> float:
        return t.values[0] if len(t.values) > 1 else t.user_attrs.get("val_top1", t.user_attrs.get("zero_cost", 0.0))

    def cost(t: optuna.trial.FrozenTrial) -> float:
        return t.values[1] if len(t.values) > 1 else t.user_attrs.get("latency_ms", t.user_attrs["macs"])

    return [t for t in trials if not any(accuracy(o) >= accuracy(t) and cost(o) <= cost(t)
                                         and (accuracy(o), cost(o)) != (accuracy(t), cost(t)) for o in trials)]


def trial_spec(config: SearchConfig, trial: optuna.trial.FrozenTrial) -> NetworkSpec:
    """The network a trial evaluated."""
    return load_space(config.space).candidate(evaluated_params(trial))


BASELINES = ("efficientnet-b0", "mobilenet-v2", "mnasnet-a1")


def evaluate_baselines(config: SearchConfig) -> list[dict[str, Any]]:
    """Known networks under the study's evaluator and objective, for the report's found-vs-known."""
    evaluate = _Evaluate(config)
    latency = LatencyTable(config.latency) if config.latency else None
    rows = []
    for name in BASELINES:
        spec = resolve_spec(name)
        count = analytic_count(spec)
        cost = latency.predict(spec) if latency else float(count.macs)
        accuracy = evaluate(spec)
        rows.append({"name": name, "macs": count.macs, "params": count.params, evaluate.key: accuracy,
                     "score": config.objective.score(accuracy, cost)})
    return rows
