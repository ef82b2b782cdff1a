"""``find-base``: an Optuna study over a search space for the best network at a MACs or latency target.

One trial: sample a candidate (TPE, or NSGA-II with ``multi_objective``), cost it (analytic MACs,
or predicted latency), reject it untrained if far from the target, else evaluate it (proxy
training with per-epoch pruning, or a zero-cost score without data) and score it with
:class:`~scalesearch.search.objective.Objective`. The study lives in a journal file under the run
directory (safe for several processes on one machine) or in an RDB given by URL; the same call
resumes it, and ``n_trials`` counts evaluated trials across all workers and all runs.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna

from scalesearch.arch.io import resolve_spec
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import ScalesearchError, UsageError
from scalesearch.measure.flops import analytic_count, analytic_macs
from scalesearch.measure.latency import BenchConfig, measure
from scalesearch.measure.predictor import LatencyTable
from scalesearch.search.objective import Objective
from scalesearch.search.space import SearchSpace, load_space
from scalesearch.search.workers import (
    HEARTBEAT_S, abandon, check_heartbeat, evaluated, evaluated_params, fail_stale_trials, is_rejected, open_storage,
    open_storage_url, redact, scored, share_cpu, take_slot, worker_id,
)
from scalesearch.train.data import DataSet, load_data
from scalesearch.train.loop import TrainingError, resolve_device, train
from scalesearch.train.recipes import Recipe, load_recipe
from scalesearch.train.zero_cost import data_batch, zero_cost_score

PRUNERS = ("none", "median", "hyperband")
#: Rejected candidates allowed per requested trial before the search gives up on the window.
MAX_REJECTIONS_PER_TRIAL = 200


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
            abandon(trial.study, trial._trial_id, trial.number, params, "interrupted (Ctrl-C)")
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
