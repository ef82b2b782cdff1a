"""Finalists, not the luckiest trial: after the search, its best candidates and the seeded base
network are evaluated again with fresh seeds, and the best mean wins.

One proxy run has a seed noise of 1 to 6 points, so the search's best trial is partly luck (and
its one-seed accuracy is biased upwards by having been picked). The finalists are the
``n_finalists`` best trials by objective score plus the base network the study was seeded with
(whether or not it is among them), so the result always says by how much the winner beats the
base. Each (finalist, seed, epochs) result is kept in the study as it finishes: an interrupted
stage goes on where it stopped, and another command on the same study reuses what is done.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Callable

import optuna

from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import TrainingError
from scalesearch.measure.flops import analytic_count
from scalesearch.measure.predictor import LatencyTable
from scalesearch.search.analysis import by_score, trial_spec
from scalesearch.search.config import SearchConfig, search_recipe
from scalesearch.search.driver import run_jobs
from scalesearch.search.evaluators import Evaluator, make_evaluator
from scalesearch.search.space import load_space
from scalesearch.search.trial import candidate_cost
from scalesearch.search.trial_states import evaluated_params


@dataclass(frozen=True)
class Finalist:
    """A candidate evaluated again: its network, the trial that found it (None for a base network
    the search never evaluated), and what the search's one evaluation gave it."""

    spec: NetworkSpec
    trial: int | None
    is_base: bool
    search_value: float | None
    cost: float  # what the objective charges it: MACs, or predicted latency (ms)

    @property
    def name(self) -> str:
        return self.spec.name


def final_seeds(config: SearchConfig) -> list[int]:
    """Seeds the search never used, so that a finalist's mean is not the run that selected it."""
    return [config.seed + 1 + i for i in range(config.final_seeds)]


def final_epochs(config: SearchConfig) -> int | None:
    """Epochs of each finalist run (None without data: zero-cost scores do not train)."""
    if not config.data:
        return None
    return config.final_epochs or search_recipe(config).epochs


def _result_key(name: str, seed: int, epochs: int | None) -> str:
    return f"final|{name}|{seed}|{epochs}"


def choose(study: optuna.Study, config: SearchConfig) -> list[Finalist]:
    """The ``n_finalists`` best distinct candidates by search score, then the base network (unless
    the study was told not to know it: ``seed_with_base`` off, as a benchmark of search strategies
    needs, where the base may be the answer)."""
    trials = study.get_trials(deepcopy=False)
    space = load_space(config.space)
    key = config.accuracy_key
    chosen: dict[str, Finalist] = {}
    base_params = space.base_params()
    base_name = space.candidate(base_params).name if base_params is not None else space.base_spec.name
    for t in by_score(trials):
        spec = trial_spec(config, t)
        if spec.name not in chosen and len(chosen) < config.n_finalists:
            chosen[spec.name] = Finalist(spec, t.number, spec.name == base_name, t.user_attrs.get(key),
                                         t.user_attrs.get("latency_ms", t.user_attrs["macs"]))
    if config.seed_with_base and base_name not in chosen:  # pruned, failed, or simply not among the best
        spec = space.candidate(base_params) if base_params is not None else space.base_spec
        own = [t for t in trials if base_params is not None and evaluated_params(t) == base_params
               and "macs" in t.user_attrs]
        found = max(own, key=lambda t: t.user_attrs.get(key) is not None, default=None)
        charged = (found.user_attrs.get("latency_ms", found.user_attrs["macs"]) if found is not None
                   else candidate_cost(spec, LatencyTable(config.latency) if config.latency else None))
        chosen[base_name] = Finalist(spec, found.number if found else None, True,
                                     found.user_attrs.get(key) if found else None, charged)
    return list(chosen.values())


_EVALUATORS: dict[str, Evaluator] = {}


def _evaluate(job: tuple[SearchConfig, NetworkSpec, int, int | None]) -> float | dict[str, str]:
    """One finalist run (top level, so that worker processes can receive it): its accuracy, or
    ``{"failed": reason}`` when training broke down (a finalist that diverges on a fresh seed is
    a finding, kept like any result)."""
    config, spec, seed, epochs = job
    key = repr(config)
    if key not in _EVALUATORS:  # the data loads once per process
        _EVALUATORS[key] = make_evaluator(config)
    try:
        return _EVALUATORS[key](spec, seed=seed, epochs=epochs)
    except TrainingError as err:
        return {"failed": str(err)}


def pending(study: optuna.Study, config: SearchConfig, finalists: list[Finalist]) -> list[tuple]:
    """The (config, spec, seed, epochs) runs not yet in the study."""
    epochs, done = final_epochs(config), study.user_attrs
    return [(config, f.spec, seed, epochs) for f in finalists for seed in final_seeds(config)
            if _result_key(f.name, seed, epochs) not in done]


def run(study: optuna.Study, config: SearchConfig, on_done: Callable[[int, int], None] | None = None) -> None:
    """Evaluate every finalist with every final seed not yet done, on ``config.workers`` processes;
    each result is saved in the study as it arrives."""
    finalists = choose(study, config)
    jobs = pending(study, config, finalists)
    total = len(finalists) * config.final_seeds
    done = total - len(jobs)
    if on_done:
        on_done(done, total)

    def save(job: tuple, value: float | dict[str, str]) -> None:
        nonlocal done
        _, spec, seed, epochs = job
        study.set_user_attr(_result_key(spec.name, seed, epochs), value)
        done += 1
        if on_done:
            on_done(done, total)

    run_jobs(_evaluate, jobs, config.workers, save)


def table(study: optuna.Study, config: SearchConfig) -> dict[str, Any] | None:
    """Each finalist's mean and standard deviation over the final seeds, its objective score, the
    winner (the best mean score), whether it is the base network, and its margin over the base.
    None when the study has no finalist stage or nothing to choose from."""
    if not config.n_finalists or not by_score(study.get_trials(deepcopy=False)):
        return None
    epochs, seeds = final_epochs(config), final_seeds(config)
    rows = []
    for f in choose(study, config):
        results = [study.user_attrs.get(_result_key(f.name, s, epochs)) for s in seeds]
        values = [v for v in results if isinstance(v, (int, float))]
        failures = [v["failed"] for v in results if isinstance(v, dict)]
        mean = statistics.fmean(values) if values else None
        count = analytic_count(f.spec)
        rows.append({"name": f.name, "trial": f.trial, "is_base": f.is_base, "macs": count.macs,
                     "params": count.params, "cost": f.cost, "search_value": f.search_value,
                     "per_seed": values, "failures": failures, "mean": mean,
                     "std": statistics.stdev(values) if len(values) > 1 else (0.0 if values else None),
                     # A finalist that failed on any seed cannot win: its mean hides a broken run.
                     "score": config.objective.score(mean, f.cost) if mean is not None and not failures else None})
    complete = all(len(r["per_seed"]) + len(r["failures"]) == len(seeds) for r in rows)
    ranked = sorted((r for r in rows if r["score"] is not None), key=lambda r: -r["score"])
    winner = ranked[0] if complete and ranked else None
    base = next((r for r in rows if r["is_base"]), None)
    return {"candidates": config.n_finalists, "seeds": seeds, "epochs": epochs,
            "measure": f"zero-cost ({config.zero_cost_metric})" if config.accuracy_key == "zero_cost" else "val_top1",
            "complete": complete, "rows": ranked + [r for r in rows if r["score"] is None],
            "winner": winner["name"] if winner else None,
            "winner_trial": winner["trial"] if winner else None,
            "winner_is_base": winner["is_base"] if winner else None,
            "base": base["name"] if base else None,
            "margin_vs_base": (winner["mean"] - base["mean"]) if winner and base and base["mean"] is not None else None}
