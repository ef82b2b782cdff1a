"""Every call into Optuna that is not plainly public, in one place.

Optuna has no public way to move another process's running trial to FAIL (what a worker does to the
trial of a worker that died), to ask a study whether its storage keeps heartbeats, or to tell that a
trial a process was working on has been finished by another. These go through the study's storage,
or Optuna's own words, here and nowhere else. The supported Optuna range is pinned in
``pyproject.toml``; ``tests/test_optuna_api.py`` checks each function against the installed Optuna
and fails on a version outside that range.
"""

from __future__ import annotations

import optuna

from scalesearch.errors import causes


def heartbeat_interval(study: optuna.Study) -> int | None:
    """Seconds between the heartbeats of ``study``'s storage (an RDB opened with a heartbeat); None
    where its storage keeps none (journal file, memory)."""
    return getattr(study._storage, "get_heartbeat_interval", lambda: None)()


def fail_running(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
    """Move ``trial``, running in any process, to FAIL. True for the one caller that moved it; a
    trial that has finished meanwhile raises :class:`optuna.exceptions.UpdateFinishedTrialError`."""
    return study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)


def finished_elsewhere(err: BaseException) -> bool:
    """Whether ``err`` is Optuna refusing to update, or to tell, a trial that has finished already
    (another process failed it meanwhile): it says so only in its message when telling. When the
    objective had returned, ``study.optimize`` raises an internal assertion instead, as it logs the
    outcome, and the refusal is that exception's context: the whole chain is read."""
    return any(isinstance(e, optuna.exceptions.UpdateFinishedTrialError) or (
        isinstance(e, ValueError) and str(e).startswith("Cannot tell a ")) for e in causes(err))
