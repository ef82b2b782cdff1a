"""Reading a ``find-base`` study: the best trial, the Pareto front, the network a trial evaluated,
measured latency of the leaders, and known networks under the same evaluator."""

from __future__ import annotations

import json
from typing import Any

import optuna

from scalesearch.arch.io import resolve_spec
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import ScalesearchError, UsageError
from scalesearch.files import write_json
from scalesearch.measure.flops import analytic_count
from scalesearch.measure.latency import measure
from scalesearch.measure.predictor import LatencyTable
from scalesearch.search.config import SearchConfig
from scalesearch.search.evaluators import make_evaluator
from scalesearch.search.space import load_space
from scalesearch.search.trial import candidate_cost
from scalesearch.search.trial_states import evaluated_params, scored

#: Leading trials whose latency is measured (not predicted) on the device, with a latency target.
MEASURED_LEADERS = 3
#: Known networks evaluated beside the search with ``include_baselines``.
BASELINES = ("efficientnet-b0", "mobilenet-v2", "mnasnet-a1")


def by_score(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Scored trials, highest objective score first."""
    return sorted(scored(trials), key=lambda t: -t.user_attrs.get("score", float("-inf")))


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


def measure_leaders(study: optuna.Study, config: SearchConfig, k: int = MEASURED_LEADERS) -> None:
    """With a latency target, measure (not predict) the ``k`` best trials on the device; kept in
    the study (finished trials are immutable) beside the prediction the search used."""
    if config.latency is None:
        return
    measured = dict(study.user_attrs.get("measured_latency_ms", {}))
    failed = dict(study.user_attrs.get("latency_failures", {}))
    for t in by_score(study.get_trials(deepcopy=False))[:k]:
        if str(t.number) in measured or str(t.number) in failed:
            continue
        try:
            measured[str(t.number)] = measure(trial_spec(config, t), config.latency).stats.median_ms
        except ScalesearchError as err:  # e.g. an op ONNX cannot export: keep the prediction, say why
            failed[str(t.number)] = str(err)
    study.set_user_attr("measured_latency_ms", measured)
    study.set_user_attr("latency_failures", failed)


def measured_latency(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> float | None:
    """The trial's measured latency (ms), if it was among the leaders."""
    return study.user_attrs.get("measured_latency_ms", {}).get(str(trial.number))


def check_baselines(config: SearchConfig) -> None:
    """Known networks can be evaluated only by training or a zero-cost score: a benchmark's table or
    surrogate knows the networks of its own space alone."""
    if config.evaluator is not None:
        raise UsageError(f"`include_baselines` evaluates EfficientNet-B0, MobileNetV2 and MnasNet-A1, which a "
                         f"{config.evaluator_kind} of search space {config.space!r} cannot score: leave it out")


def baselines(config: SearchConfig) -> list[dict[str, Any]]:
    """The known networks' rows, from ``baselines.json`` in the run folder; evaluated (and saved
    there) the first time."""
    path = config.run_dir / "baselines.json"
    if path.exists():
        return json.loads(path.read_text())
    rows = evaluate_baselines(config)
    write_json(path, rows)
    return rows


def evaluate_baselines(config: SearchConfig) -> list[dict[str, Any]]:
    """Known networks under the study's evaluator and objective, for the report's found-vs-known."""
    evaluate = make_evaluator(config)
    latency = LatencyTable(config.latency) if config.latency else None
    rows = []
    for name in BASELINES:
        spec = resolve_spec(name)
        count = analytic_count(spec)
        cost = candidate_cost(spec, latency)
        accuracy = evaluate(spec)
        rows.append({"name": name, "macs": count.macs, "params": count.params, evaluate.key: accuracy,
                     "score": config.objective.score(accuracy, cost)})
    return rows
