"""One ``find-base`` trial: sample a candidate, cost it, reject it untrained if far from the
target, else evaluate it and score it.

Evaluation is the study's evaluator (:mod:`scalesearch.search.evaluators`): proxy training (with
per-epoch pruning in single-objective studies), a zero-cost score, a benchmark's table or a
surrogate. A multi-objective study returns (accuracy, cost) and never calls ``Trial.report``, which
Optuna does not support there.
"""

from __future__ import annotations

import gc
import math
import random
import time
from typing import Any

import optuna

from scalesearch.arch.io import network_digest
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import ScalesearchError, TrainingError
from scalesearch.measure.flops import analytic_count, analytic_macs
from scalesearch.measure.predictor import LatencyTable
from scalesearch.search.artifacts import artifact_store, attach
from scalesearch.search.config import SearchConfig
from scalesearch.search.evaluators import make_evaluator
from scalesearch.search.space import SearchSpace, load_space
from scalesearch.search.trial_states import claimed, is_repeat, is_surplus, scored
from scalesearch.search.workers import abandon, take_slot, worker_id
from scalesearch.signals import stop_reason


def candidate_cost(spec: NetworkSpec, latency: LatencyTable | None = None) -> float:
    """What the objective charges a candidate: analytic MACs, or its latency (ms) as ``latency``
    predicts it."""
    return latency.predict(spec) if latency is not None else float(analytic_macs(spec))


class TrialObjective:
    """The objective Optuna calls."""

    def __init__(self, config: SearchConfig, space: SearchSpace | None = None) -> None:
        self.config = config
        self.space = space or load_space(config.space)
        self.evaluate = make_evaluator(config)
        self.latency = LatencyTable(config.latency) if config.latency else None
        self.store = artifact_store(config.run_dir)

    def _describe(self, trial: optuna.Trial, spec: NetworkSpec) -> float:
        """Record the candidate's size on the trial; returns its cost (MACs or predicted ms)."""
        count = analytic_count(spec)
        trial.set_user_attr("macs", count.macs)
        trial.set_user_attr("params", count.params)
        trial.set_user_attr("name", spec.name)
        cost = candidate_cost(spec, self.latency)
        if self.latency:
            trial.set_user_attr("latency_ms", cost)
        return cost

    def _attach(self, trial: optuna.Trial, spec: NetworkSpec, cost: float) -> None:
        """The trial's network, and its latency prediction where the target is latency, as artifacts."""
        latency = None
        if self.latency is not None:
            c = self.latency.config
            latency = {"predicted_ms": cost, "measured": False, "device": c.device, "backend": c.backend,
                       "batch": c.batch, "threads": c.threads, "precision": c.precision, "table": self.latency.key,
                       "calibration": self.latency.calibration}
        attach(trial, self.store, spec, latency)

    def prescreen(self, trial: optuna.Trial, params: dict[str, Any]) -> dict[str, Any]:
        """Of the suggested candidate and ``prescreen - 1`` random ones inside the target window,
        the one with the best zero-cost score (on a batch of the training data)."""
        rng = random.Random(f"{self.config.seed}-{trial.number}")
        pool = [params]
        for _ in range(50 * self.config.prescreen):
            if len(pool) >= self.config.prescreen:
                break
            other, spec = self.space.sample(rng)
            if self.config.objective.rejects(candidate_cost(spec, self.latency)) is None:
                pool.append(other)
        scores = [self.evaluate.prescreen_score(self.space.candidate(p)) for p in pool]
        best = max(range(len(pool)), key=scores.__getitem__)
        trial.set_user_attr("prescreen", {"candidates": len(pool), "chosen": best, "scores": scores})
        if best:
            trial.set_user_attr("trained_params", pool[best])
        return pool[best]

    def _evaluated_before(self, trial: optuna.Trial, spec: NetworkSpec) -> optuna.trial.FrozenTrial | None:
        """An earlier trial of this study that evaluated the same network (to the end, or until pruned)."""
        network = network_digest(spec)
        trial.set_user_attr("network", network)
        for t in trial.study.get_trials(deepcopy=False):
            if t.number < trial.number and t.user_attrs.get("network") == network and not is_repeat(t) and (
                    t in scored([t]) or (t.state == optuna.trial.TrialState.PRUNED and claimed(t)
                                         and not is_surplus(t))):
                return t
        return None

    def _repeat(self, trial: optuna.Trial, earlier: optuna.trial.FrozenTrial) -> float | tuple[float, float]:
        """A network evaluated before is not evaluated again (a sampler in a small space proposes the same
        one many times: TPE's 300 trials on NAS-Bench-Macro held 84 distinct networks): the trial takes
        the earlier result, and does not count towards ``n_trials``. The same network with the same seed
        trains to the same result, and a table returns the same recorded run."""
        trial.set_user_attr("repeat_of", earlier.number)
        if earlier.state == optuna.trial.TrialState.PRUNED:
            raise optuna.TrialPruned(f"a repeat of trial {earlier.number}, which was pruned")
        for key in (self.evaluate.key, "score"):
            if key in earlier.user_attrs:
                trial.set_user_attr(key, earlier.user_attrs[key])
        return tuple(earlier.values) if self.config.multi_objective else earlier.value

    def _wind_up(self, trial: optuna.Trial, started: float) -> None:
        trial.set_user_attr("eval_s", round(time.perf_counter() - started, 3))
        if self.evaluate.builds_networks:
            gc.collect()  # a trained network's graph and buffers, before the next one

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        trial.set_user_attr("worker", worker_id())
        params = {k: trial.suggest_categorical(k, options) for k, options in self.space.dimensions().items()}
        spec = self.space.candidate(params)
        cost = self._describe(trial, spec)
        objective = self.config.objective
        reason = objective.rejects(cost)
        if self.config.constraint_handling == "sampler":
            trial.set_constraint("window", objective.violation(cost))
        if reason is not None:
            trial.set_user_attr("rejected", reason)
            self._attach(trial, spec, cost)
            if self.config.multi_objective:
                raise optuna.TrialPruned(reason)
            # Below every real score (> 0) and graded by distance, so TPE learns where the window is.
            return -abs(math.log(cost / objective.target))
        earlier = self._evaluated_before(trial, spec)
        if earlier is not None:
            self._attach(trial, spec, cost)
            return self._repeat(trial, earlier)
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
            self._attach(trial, spec, cost)
            accuracy = self.evaluate(spec, trial=trial)
            trial.set_user_attr(self.evaluate.key, accuracy)
            score = objective.score(accuracy, cost)
            trial.set_user_attr("score", score)
            self._wind_up(trial, started)  # all inside the try: a signal meanwhile still queues the trial again
        except (TrainingError, ScalesearchError) as err:
            trial.set_user_attr("fail_reason", str(err))
            trial.set_user_attr("fail_kind", getattr(err, "kind", type(err).__name__))
            self._wind_up(trial, started)
            raise
        except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (signals.Terminated)
            abandon(trial, params, stop_reason(err))
            raise
        return (accuracy, cost) if self.config.multi_objective else score
