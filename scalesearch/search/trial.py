"""One ``find-base`` trial: sample a candidate, cost it, reject it untrained if far from the
target, else evaluate it and score it.

Evaluation is proxy training (with per-epoch pruning in single-objective studies) or, without
data, a zero-cost score. A multi-objective study returns (accuracy, cost) and never calls
``Trial.report``, which Optuna does not support there.
"""

from __future__ import annotations

import gc
import math
import random
import time
from typing import Any

import optuna

from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import ScalesearchError
from scalesearch.measure.flops import analytic_count, analytic_macs
from scalesearch.measure.predictor import LatencyTable
from scalesearch.search.config import PRUNE_AFTER, SearchConfig, prune_from, search_recipe
from scalesearch.search.space import SearchSpace, load_space
from scalesearch.search.workers import abandon, scored, take_slot, worker_id
from scalesearch.signals import stop_reason
from scalesearch.train.data import DataSet, load_data
from scalesearch.train.loop import EpochMetrics, TrainingError, train
from scalesearch.train.recipes import Recipe
from scalesearch.train.zero_cost import data_batch, zero_cost_score


class Evaluator:
    """Accuracy (or, without data, a zero-cost stand-in) of a candidate under one study's settings."""

    def __init__(self, config: SearchConfig) -> None:
        self.config = config
        self.recipe: Recipe = search_recipe(config)
        self.data: DataSet | None = load_data(config.data, train_images=config.train_images) if config.data else None
        self.num_classes = self.data.num_classes if self.data else 10
        channels = load_space(config.space).base_spec.in_channels
        self.batch = data_batch(self.data, self.recipe.resolution, channels=channels) if self.data else None

    @property
    def key(self) -> str:
        """The user attribute an evaluation is stored under."""
        return "val_top1" if self.data is not None else "zero_cost"

    def __call__(self, spec: NetworkSpec, seed: int | None = None, epochs: int | None = None,
                 trial: optuna.Trial | None = None) -> float:
        """Accuracy of ``spec`` trained with ``seed`` (default: the study's) for ``epochs``
        (default: the recipe's), or its zero-cost score at initialisation ``seed``. With
        ``trial`` (single objective), per-epoch reports and pruning."""
        seed = self.config.seed if seed is None else seed
        if self.data is None:
            return zero_cost_score(self.recipe.network(spec, self.num_classes), self.config.zero_cost_metric,
                                   resolution=self.recipe.resolution, seed=seed)
        recipe = self.recipe if epochs is None else self.recipe.override(
            epochs=epochs, warmup_epochs=min(self.recipe.warmup_epochs, epochs))
        if trial is None:  # a finalist or a known network: one evaluation, after the last epoch
            return train(spec, self.data, recipe, seeds=[seed], device=self.config.device,
                         eval_from=recipe.epochs).val_top1
        on_epoch = None if self.config.multi_objective else self._reporter(trial)
        return train(spec, self.data, recipe, seeds=[seed], device=self.config.device, on_epoch=on_epoch,
                     eval_from=prune_from(self.config)).val_top1

    def prescreen_score(self, spec: NetworkSpec) -> float:
        """The zero-cost score of ``spec`` on a batch of the training data."""
        images, labels = self.batch
        return zero_cost_score(self.recipe.network(spec, self.num_classes), self.config.zero_cost_metric,
                               images, labels)

    @staticmethod
    def may_prune(study: optuna.Study) -> bool:
        """Pruning starts once :data:`PRUNE_AFTER` candidates were evaluated to the end."""
        return len(scored(study.get_trials(deepcopy=False))) >= PRUNE_AFTER

    def _reporter(self, trial: optuna.Trial):
        may_prune = self.may_prune(trial.study)

        def report(metrics: EpochMetrics) -> None:
            if metrics.val_top1 is None:  # an epoch the recipe does not evaluate
                return
            trial.report(metrics.val_top1, metrics.epoch)
            if may_prune and trial.should_prune():
                trial.set_user_attr("val_top1", metrics.val_top1)
                raise optuna.TrialPruned(f"pruned at epoch {metrics.epoch}")

        return report


def candidate_cost(spec: NetworkSpec, latency: LatencyTable | None = None) -> float:
    """What the objective charges a candidate: analytic MACs, or its latency (ms) as ``latency``
    predicts it."""
    return latency.predict(spec) if latency is not None else float(analytic_macs(spec))


class TrialObjective:
    """The objective Optuna calls."""

    def __init__(self, config: SearchConfig, space: SearchSpace | None = None) -> None:
        self.config = config
        self.space = space or load_space(config.space)
        self.evaluate = Evaluator(config)
        self.latency = LatencyTable(config.latency) if config.latency else None

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
            accuracy = self.evaluate(spec, trial=trial)
            trial.set_user_attr(self.evaluate.key, accuracy)
        except (TrainingError, ScalesearchError) as err:
            trial.set_user_attr("fail_reason", str(err))
            trial.set_user_attr("fail_kind", getattr(err, "kind", type(err).__name__))
            raise
        except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM (signals.Terminated)
            abandon(trial.study, trial._trial_id, trial.number, params, stop_reason(err))
            raise
        finally:
            trial.set_user_attr("eval_s", round(time.perf_counter() - started, 3))
            gc.collect()  # a trained network's graph and buffers, before the next one
        score = objective.score(accuracy, cost)
        trial.set_user_attr("score", score)
        return (accuracy, cost) if self.config.multi_objective else score
