"""What a finished (or interrupted) ``find-base`` study leaves in its run directory.

``best_base.yaml`` (a spec every command accepts: the finalists' winner, or the best trial while
there is none), ``trials.csv`` (one row per trial, rejected candidates included and marked, with
each finalist's mean and standard deviation over its final seeds), and the summary the CLI prints;
``report.md`` and its plots are rendered by :mod:`scalesearch.report`.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import optuna

from scalesearch.arch.io import save_spec
from scalesearch.arch.spec import NetworkSpec
from scalesearch.files import write_atomic
from scalesearch.measure.flops import analytic_count
from scalesearch.search import finalists
from scalesearch.search.analysis import best_trial, measured_latency, pareto_front, trial_spec
from scalesearch.search.config import SearchConfig
from scalesearch.search.evaluators import describe_evaluator
from scalesearch.search.trial_states import (
    abandoned,
    evaluated,
    evaluated_params,
    is_rejected,
    is_repeat,
    is_surplus,
    scored,
)

TRIAL_COLUMNS = ("number", "state", "macs", "params", "latency_ms", "measured_latency_ms", "val_top1", "zero_cost",
                 "score", "duration_s", "reason", "name", "finalist", "final_mean", "final_std", "final_seeds")


def trial_row(trial: optuna.trial.FrozenTrial, measured_ms: float | None = None,
              abandoned_reason: str | None = None, final: dict[str, Any] | None = None) -> dict[str, Any]:
    attrs = trial.user_attrs
    state = ("rejected" if is_rejected(trial) else "repeat" if is_repeat(trial) else "died" if abandoned_reason
             is not None else "surplus" if is_surplus(trial) else trial.state.name.lower())
    duration = trial.duration.total_seconds() if trial.duration else None
    reason = attrs.get("rejected") or attrs.get("fail_reason") or abandoned_reason or (
        f"repeat of trial {attrs['repeat_of']}" if is_repeat(trial) else "")
    row = {"number": trial.number, "state": state, "macs": attrs.get("macs"), "params": attrs.get("params"),
           "latency_ms": attrs.get("latency_ms"), "measured_latency_ms": measured_ms,
           "val_top1": attrs.get("val_top1"), "zero_cost": attrs.get("zero_cost"), "score": attrs.get("score"),
           "duration_s": duration, "reason": reason, "name": attrs.get("name"),
           "finalist": final is not None, "final_mean": final and final["mean"], "final_std": final and final["std"],
           "final_seeds": final and len(final["per_seed"])}
    return {**row, **{f"param_{k}": v for k, v in evaluated_params(trial).items()}}


def trial_rows(study: optuna.Study, config: SearchConfig) -> list[dict[str, Any]]:
    trials = study.get_trials(deepcopy=False)
    gone = abandoned(trials)
    table = finalists.table(study, config)
    final = {r["trial"]: r for r in table["rows"]} if table else {}
    return [trial_row(t, measured_latency(study, t), gone.get(t.number), final.get(t.number)) for t in trials]


def write_trials_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    params = sorted({k for r in rows for k in r if k.startswith("param_")})
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=[*TRIAL_COLUMNS, *params])
    writer.writeheader()
    writer.writerows(rows)
    return write_atomic(path, text.getvalue())


def summarise(study: optuna.Study, config: SearchConfig) -> dict[str, Any]:
    """Write ``best_base.yaml`` and ``trials.csv``; return the ``find-base --json`` document."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    counted = evaluated(trials)
    states = Counter(t.state.name for t in counted)
    final = finalists.table(study, config)
    best = best_trial(study)
    best_record = None
    if final and final["winner"] is not None:
        best = next((t for t in trials if t.number == final["winner_trial"]), None)
        winner = next(r for r in final["rows"] if r["name"] == final["winner"])
        spec = next(f.spec for f in finalists.choose(study, config) if f.name == winner["name"])
        best_record = _record(spec, config, best, study, final_mean=winner["mean"], final_std=winner["std"],
                              score=winner["score"], is_base=winner["is_base"])
    elif best is not None:
        best_record = _record(trial_spec(config, best), config, best, study, score=best.user_attrs.get("score"))
    rows = trial_rows(study, config)
    write_trials_csv(rows, config.run_dir / "trials.csv")
    failures = Counter(t.user_attrs.get("fail_kind") or t.user_attrs.get("fail_reason", "unknown")
                       for t in counted if t.state.name == "FAIL")
    front = pareto_front(scored(trials))
    baselines = config.run_dir / "baselines.json"
    return {
        "study": config.study_name, "storage": config.storage_url(), "run_dir": str(config.run_dir),
        "target": config.objective.target, "target_unit": config.objective.unit,
        "constraint": config.objective.constraint, "evaluator": describe_evaluator(config),
        "sampler": config.sampler_name, "pruner": config.pruner,
        "accuracy_is_zero_cost": config.evaluator_kind == "zero-cost",
        "best": best_record, "finalists": final, "n_trials": len(counted), "n_complete": states.get("COMPLETE", 0),
        "n_failed": states.get("FAIL", 0), "n_pruned": states.get("PRUNED", 0),
        "n_rejected": sum(is_rejected(t) for t in trials), "n_repeats": sum(is_repeat(t) for t in trials),
        "failures": dict(failures), "stopped_early": study.user_attrs.get("stopped_early"),
        "latency_failures": study.user_attrs.get("latency_failures", {}),
        "n_died": len(abandoned(trials)),
        "baselines": json.loads(baselines.read_text()) if baselines.exists() else None,
        "pareto_front": [t.number for t in sorted(front, key=lambda t: t.user_attrs["macs"])],
    }


def _record(spec: NetworkSpec, config: SearchConfig, trial: optuna.trial.FrozenTrial | None, study: optuna.Study,
            **extra: Any) -> dict[str, Any]:
    """The ``best`` entry: the network, where its spec was written, and what was measured of it."""
    spec_path = save_spec(spec, config.run_dir / "best_base.yaml")
    count = analytic_count(spec)
    attrs = trial.user_attrs if trial is not None else {}
    return {"trial": trial.number if trial is not None else None, "name": spec.name, "macs": count.macs,
            "params": count.params, "val_top1": attrs.get("val_top1"), "zero_cost": attrs.get("zero_cost"),
            "latency_ms": attrs.get("latency_ms"),
            "measured_latency_ms": measured_latency(study, trial) if trial is not None else None,
            "spec_path": str(spec_path), **extra}
