"""What a finished (or interrupted) ``find-base`` study leaves in its run directory.

``best_base.yaml`` (a spec every command accepts), ``trials.csv`` (one row per trial, rejected
candidates included and marked), and the summary the CLI prints; ``report.md`` and its plots are
rendered by :mod:`scalesearch.report`.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import optuna

from scalesearch.arch.io import save_spec
from scalesearch.search.study import SearchConfig, best_trial, measured_latency, pareto_front, trial_spec
from scalesearch.search.workers import abandoned, evaluated, evaluated_params, is_rejected, is_surplus, scored

TRIAL_COLUMNS = ("number", "state", "macs", "params", "latency_ms", "measured_latency_ms", "val_top1", "zero_cost",
                 "score", "duration_s", "reason", "name")


def trial_row(trial: optuna.trial.FrozenTrial, measured_ms: float | None = None,
              abandoned_reason: str | None = None) -> dict[str, Any]:
    attrs = trial.user_attrs
    state = ("rejected" if is_rejected(trial) else "died" if abandoned_reason is not None
             else "surplus" if is_surplus(trial) else trial.state.name.lower())
    duration = trial.duration.total_seconds() if trial.duration else None
    reason = attrs.get("rejected") or attrs.get("fail_reason") or abandoned_reason or ""
    row = {"number": trial.number, "state": state, "macs": attrs.get("macs"), "params": attrs.get("params"),
           "latency_ms": attrs.get("latency_ms"), "measured_latency_ms": measured_ms,
           "val_top1": attrs.get("val_top1"), "zero_cost": attrs.get("zero_cost"), "score": attrs.get("score"), "duration_s": duration,
           "reason": reason, "name": attrs.get("name")}
    return {**row, **{f"param_{k}": v for k, v in evaluated_params(trial).items()}}


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    trials = study.get_trials(deepcopy=False)
    gone = abandoned(trials)
    return [trial_row(t, measured_latency(study, t), gone.get(t.number)) for t in trials]


def write_trials_csv(study: optuna.Study, path: Path) -> Path:
    rows = trial_rows(study)
    params = sorted({k for r in rows for k in r if k.startswith("param_")})
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*TRIAL_COLUMNS, *params])
        writer.writeheader()
        writer.writerows(rows)
    return path


def summarise(study: optuna.Study, config: SearchConfig) -> dict[str, Any]:
    """Write ``best_base.yaml`` and ``trials.csv``; return the ``find-base --json`` document."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    counted = evaluated(trials)
    states = Counter(t.state.name for t in counted)
    best = best_trial(study)
    best_record = None
    if best is not None:
        spec = trial_spec(config, best)
        spec_path = save_spec(spec, config.run_dir / "best_base.yaml")
        best_record = {"trial": best.number, "name": spec.name, "macs": best.user_attrs["macs"],
                       "params": best.user_attrs["params"], "val_top1": best.user_attrs.get("val_top1"),
                       "zero_cost": best.user_attrs.get("zero_cost"), "score": best.user_attrs.get("score"),
                       "latency_ms": best.user_attrs.get("latency_ms"),
                       "measured_latency_ms": measured_latency(study, best), "spec_path": str(spec_path)}
    write_trials_csv(study, config.run_dir / "trials.csv")
    failures = Counter(t.user_attrs.get("fail_reason", "unknown").split(" by epoch")[0]
                       for t in counted if t.state.name == "FAIL")
    front = pareto_front(scored(trials))
    return {
        "study": config.study_name, "storage": config.storage_url(), "run_dir": str(config.run_dir),
        "target": config.objective.target, "target_unit": config.objective.unit,
        "constraint": config.objective.constraint, "evaluator": config.evaluator,
        "accuracy_is_zero_cost": config.data is None,
        "best": best_record, "n_trials": len(counted), "n_complete": states.get("COMPLETE", 0),
        "n_failed": states.get("FAIL", 0), "n_pruned": states.get("PRUNED", 0),
        "n_rejected": sum(is_rejected(t) for t in trials), "failures": dict(failures),
        "latency_failures": study.user_attrs.get("latency_failures", {}),
        "n_died": len(abandoned(trials)),
        "baselines": (json.loads((config.run_dir / "baselines.json").read_text())
                      if (config.run_dir / "baselines.json").exists() else None),
        "pareto_front": [t.number for t in sorted(front, key=lambda t: t.user_attrs["macs"])],
    }
