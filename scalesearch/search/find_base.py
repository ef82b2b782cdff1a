"""``find-base``: an Optuna study over a search space for the best network at a MACs or latency
target, then its finalists.

The study lives in a journal file under the run directory (safe for several processes on one
machine) or in an RDB given by URL; the same call resumes it, and ``n_trials`` counts evaluated
trials across all workers and all runs (:mod:`scalesearch.search.trial_states`,
:mod:`scalesearch.search.workers`). A trial is :class:`~scalesearch.search.trial.TrialObjective`;
the settings and Optuna's sampler and pruner come from :mod:`scalesearch.search.config`; the
finalist stage is :mod:`scalesearch.search.finalists`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import optuna

from scalesearch.errors import ScalesearchError, TrainingError
from scalesearch.search import finalists
from scalesearch.search.analysis import measure_leaders
from scalesearch.search.config import SearchConfig, describe, make_pruner, make_sampler, sampler_seed
from scalesearch.search.driver import local_workers, open_or_resume, worker_device
from scalesearch.search.space import load_space
from scalesearch.search.storage import open_storage
from scalesearch.search.trial import TrialObjective
from scalesearch.search.trial_states import evaluated, is_rejected, is_repeat, scored
from scalesearch.search.workers import fail_stale_trials, optimize, share_cpu

#: Rejected candidates allowed per requested trial before the search gives up on the window.
MAX_REJECTIONS_PER_TRIAL = 200
#: Repeats of evaluated networks allowed per requested trial before the search stops: a sampler whose
#: proposals have converged (NSGA-II's population in a small space) may propose nothing new for long.
MAX_REPEATS_PER_TRIAL = 5


def open_study(config: SearchConfig, worker: int = 0) -> optuna.Study:
    """Create or resume the study; a new one is seeded with the space's base network when the
    space can express it. Each worker's sampler is seeded apart (see :func:`sampler_seed`)."""
    params = load_space(config.space).base_params() if config.seed_with_base else None
    study = open_or_resume(open_storage(config.run_dir, config.storage, config.heartbeat_s), config.study_name,
                           config.directions, make_sampler(config, sampler_seed(config, worker, 0)),
                           make_pruner(config), describe(config),
                           first_trials=[(params, {"seeded": "base network"})] if params is not None else [])
    resumed_at = len(study.get_trials(deepcopy=False))
    if resumed_at:
        study.sampler = make_sampler(config, sampler_seed(config, worker, resumed_at))
    return study


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
        elif sum(is_repeat(t) for t in trials) > config.n_trials * MAX_REPEATS_PER_TRIAL:
            study.set_user_attr("stopped_early", f"the sampler proposed over {config.n_trials * MAX_REPEATS_PER_TRIAL} "
                                                 f"networks it had evaluated before: nothing new near its best")
            study.stop()

    return callback


def run_worker(config: SearchConfig, worker: int = 0, on_trial: Callable[[optuna.Study], None] | None = None) -> None:
    """One worker: run trials until the study holds ``n_trials`` evaluated trials (on its GPU of
    ``config.devices``, where given)."""
    share_cpu(config.workers)
    config = dataclasses.replace(config, device=worker_device(config.devices, worker, config.device))
    study = open_study(config, worker)
    if len(evaluated(study.get_trials(deepcopy=False))) >= config.n_trials:
        return
    # No gc.collect() after every trial (0.3 s each, and most trials are rejected in microseconds):
    # the objective collects after each evaluation instead.
    optimize(study, TrialObjective(config), callbacks=[_stop_when_done(config, on_trial)], catch=(TrainingError,),
             gc_after_trial=False)


def search(config: SearchConfig, on_trial: Callable[[optuna.Study], None] | None = None,
           on_finalist: Callable[[int, int], None] | None = None) -> optuna.Study:
    """Run (or resume) the study with ``config.workers`` processes, then its finalist stage;
    returns the study. Call :func:`~scalesearch.search.config.validate` first."""
    study = open_study(config)
    fail_stale_trials(study)
    with local_workers(run_worker, [(config, worker) for worker in range(1, config.workers)]):
        run_worker(config, 0, on_trial)
    measure_leaders(study, config)
    if "gave_up" in study.user_attrs and not scored(study.get_trials(deepcopy=False)):
        raise ScalesearchError(f"no candidate reached the target window: {study.user_attrs['gave_up']}; "
                               f"widen `reject_outside`")
    if config.n_finalists and scored(study.get_trials(deepcopy=False)):
        finalists.run(study, config, on_finalist)
    return study
