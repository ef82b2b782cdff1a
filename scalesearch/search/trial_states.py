"""Which trials of a study count: a trial's state read from the attributes its worker set.

``n_trials`` counts *evaluated* trials: rejected candidates, repeats of an evaluated network,
``surplus`` trials and trials whose worker died or was interrupted (each queued again, the retry
naming it with ``retry_of``) do not count.
"""

from __future__ import annotations

from typing import Any

import optuna


def is_rejected(trial: optuna.trial.FrozenTrial) -> bool:
    """A trial whose candidate the objective rejected (its cost outside the window): nothing was evaluated."""
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
