"""What one ``find-base`` run is: its settings, their checks, and the Optuna sampler and pruner
they choose.

Samplers and pruners are Optuna's own, handed to the study unwrapped, so that Optuna sees them
as they are (a :class:`~optuna.pruners.HyperbandPruner` makes TPE sample per bracket).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from scalesearch.errors import UsageError
from scalesearch.measure.flops import analytic_macs
from scalesearch.measure.latency import BenchConfig
from scalesearch.search.driver import check_devices, check_workers
from scalesearch.search.objective import Objective
from scalesearch.search.space import load_space
from scalesearch.search.storage import HEARTBEAT_S, check_heartbeat, open_storage_url, redact
from scalesearch.seeds import check_seed
from scalesearch.train.data import load_data
from scalesearch.train.device import resolve_device
from scalesearch.train.recipes import Recipe, load_recipe
from scalesearch.train.zero_cost import DEFAULT_METRIC, METRICS

#: Optuna's samplers by name: TPE (default), random search (the baseline every NAS method must
#: beat; Li & Talwalkar 2019), NSGA-II (a genetic algorithm; the default with several objectives)
#: and Gaussian-process BO.
SAMPLERS = ("tpe", "random", "nsga2", "gp")
PRUNERS = ("none", "median", "hyperband")
#: Trials a model-based sampler draws at random before it models the study.
STARTUP_TRIALS = 10
#: Candidates evaluated to the end before any trial may be pruned (rejected candidates are
#: COMPLETE trials too, so Optuna's own start-up counts would include them).
PRUNE_AFTER = 5
#: Finalists evaluated again after the search, and the seeds each gets, when evaluations vary by seed.
FINALISTS = 3
FINAL_SEEDS = 3
#: How the sampler learns where the MACs or latency window is: ``penalty`` (a rejected candidate's
#: value is graded by its distance from the window) or ``sampler`` (also Optuna's constraint
#: interface, ``Trial.set_constraint``, which TPE, NSGA-II and GP read as feasibility).
CONSTRAINT_HANDLING = ("penalty", "sampler")
#: Evaluators named by ``evaluator`` (``KIND:SOURCE``), see :mod:`scalesearch.search.evaluators`.
EVALUATOR_KINDS = ("table", "surrogate", "supernet")


def default_study_name(flops: str | None, latency: str | None, device: str = "cpu", evaluator: str | None = None,
                       data: str | None = None, zero_cost_metric: str = DEFAULT_METRIC) -> str:
    """``find-base-<target>-<how candidates are scored>``, e.g. ``find-base-400M-proxy``,
    ``find-base-15ms-cpu-synflow`` or ``find-base-400M-table``: the same target and scoring find
    their study again."""
    target = flops.strip() if flops is not None else f"{(latency or '').strip()}-{device}"
    scoring = evaluator.partition(":")[0] if evaluator else "proxy" if data else zero_cost_metric
    return f"find-base-{target}-{scoring}".replace(" ", "")


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
    zero_cost_metric: str = DEFAULT_METRIC
    storage: str | None = None
    workers: int = 1
    seed: int = 0
    multi_objective: bool = False
    sampler: str | None = None  # None: tpe, or nsga2 with multi_objective
    pruner: str = "median"
    device: str = "cpu"
    devices: tuple[int, ...] = ()  # GPUs the local workers train on in turn (see driver.worker_device)
    latency: BenchConfig | None = None  # set when the target is latency
    seed_with_base: bool = True
    prescreen: int = 1  # > 1: train the best zero-cost scorer of this many in-window candidates
    finalists: int | None = None  # None: FINALISTS with data, none without
    final_seeds: int = FINAL_SEEDS
    final_epochs: int | None = None  # None: the search recipe's
    heartbeat_s: int = HEARTBEAT_S
    evaluator: str | None = None  # "table:FILE", "surrogate:NAME_OR_FILE" or "supernet:RUN_DIR"; None: train on
    # data, else zero-cost
    constraint_handling: str = "penalty"  # one of CONSTRAINT_HANDLING

    def __post_init__(self) -> None:
        _at_least(self.n_trials, 1, "n_trials")
        check_workers(self.workers)
        _at_least(self.prescreen, 1, "prescreen")
        if self.finalists is not None:
            _at_least(self.finalists, 1, "finalists")
        _at_least(self.final_seeds, 1, "final_seeds")
        if self.final_epochs is not None:
            _at_least(self.final_epochs, 1, "final_epochs")
        check_heartbeat(self.heartbeat_s)
        check_seed(self.seed)
        if self.zero_cost_metric not in METRICS:
            raise UsageError(f"`zero_cost_metric` must be one of {', '.join(METRICS)}, got {self.zero_cost_metric!r}")
        if self.sampler is not None and self.sampler not in SAMPLERS:
            raise UsageError(f"`sampler` must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if self.constraint_handling not in CONSTRAINT_HANDLING:
            raise UsageError(f"`constraint_handling` must be one of {', '.join(CONSTRAINT_HANDLING)}, got "
                             f"{self.constraint_handling!r}")
        if self.evaluator is not None:
            kind, _, source = self.evaluator.partition(":")
            if kind not in EVALUATOR_KINDS or not source:
                raise UsageError(f"`evaluator` must be table:FILE (a benchmark's table), surrogate:NAME_OR_FILE (a "
                                 f"fitted model) or supernet:RUN_DIR (a trained supernet), got {self.evaluator!r}")
            if kind == "supernet" and self.data is None:
                raise UsageError("`evaluator` supernet scores candidates on the data it was trained on, and the "
                                 "finalists train on it: give `data`")
            if kind != "supernet" and self.data is not None:
                raise UsageError(f"`evaluator` {kind} looks accuracy up and `data` trains candidates: give one of them")
        if self.pruner not in PRUNERS:
            raise UsageError(f"`pruner` must be one of {', '.join(PRUNERS)}, got {self.pruner!r}")
        if (self.latency is None) != (self.objective.unit == "MACs"):
            raise UsageError("a latency target needs a latency configuration, a MACs target none")

    @property
    def evaluator_kind(self) -> str:
        """``table``, ``surrogate``, ``supernet``, ``training`` (with data) or ``zero-cost``."""
        if self.evaluator is not None:
            return self.evaluator.partition(":")[0]
        return "training" if self.data else "zero-cost"

    @property
    def accuracy_key(self) -> str:
        """The trial attribute an evaluation is stored under: ``zero_cost`` for a zero-cost score
        (not an accuracy), else ``val_top1`` (a fraction)."""
        return "zero_cost" if self.evaluator_kind == "zero-cost" else "val_top1"

    @property
    def evaluator_source(self) -> str:
        """The file, folder or built-in name after ``table:``, ``surrogate:`` or ``supernet:``."""
        return (self.evaluator or "").partition(":")[2]

    @property
    def sampler_name(self) -> str:
        return self.sampler or ("nsga2" if self.multi_objective else "tpe")

    @property
    def n_finalists(self) -> int:
        """Candidates evaluated again after the search (the seeded base network joins them); 0: none.
        By default: with data, a table or a surrogate; not for zero-cost scores."""
        if self.finalists is not None:
            return self.finalists
        return FINALISTS if self.data or self.evaluator else 0

    @property
    def directions(self) -> list[str]:
        return ["maximize", "minimize"] if self.multi_objective else ["maximize"]

    def storage_url(self) -> str:
        """Where the study lives, as outputs name it (without a password)."""
        return redact(self.storage) if self.storage else f"journal:{self.run_dir / 'study.journal'}"


def search_recipe(config: SearchConfig) -> Recipe:
    """The recipe candidates are trained with: the named one with the run's overrides."""
    return load_recipe(config.recipe).override(**config.recipe_overrides)


def _at_least(value: int, low: int, parameter: str) -> None:
    if value < low:
        raise UsageError(f"`{parameter}` must be >= {low}, got {value}")


def describe(config: SearchConfig) -> dict[str, Any]:
    """The settings a study must keep across resumes (not n_trials, workers, storage or the
    finalist stage, which may change between runs)."""
    from scalesearch.search.evaluators import describe_evaluator  # evaluators build on this module

    optional = {"seed_with_base": False} if not config.seed_with_base else {}
    if config.constraint_handling != "penalty":
        optional["constraint_handling"] = config.constraint_handling
    return {**optional, "target": config.objective.target, "unit": config.objective.unit,
            "constraint": config.objective.constraint, "w": config.objective.w,
            "reject_outside": config.objective.reject_outside, "space": config.space, "data": config.data,
            "train_images": config.train_images,
            "recipe": config.recipe, "recipe_overrides": dict(sorted(config.recipe_overrides.items())),
            "evaluator": describe_evaluator(config), "multi_objective": config.multi_objective,
            "prescreen": config.prescreen, "sampler": config.sampler_name, "pruner": config.pruner}


def sampler_seed(config: SearchConfig, worker: int, resumed_at: int) -> int:
    """A seed for one worker's sampler: distinct per worker (or two workers would draw the same
    candidates) and per resume (or a resumed random search would draw its first candidates again)."""
    digest = hashlib.sha256(json.dumps([config.seed, worker, resumed_at]).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def make_sampler(config: SearchConfig, seed: int) -> optuna.samplers.BaseSampler:
    """The Optuna sampler ``config`` names."""
    name = config.sampler_name
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=STARTUP_TRIALS)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=STARTUP_TRIALS)


def prune_from(config: SearchConfig) -> int:
    """The first epoch a trial may be pruned after: not in the first half of the schedule (early-
    epoch accuracy under a cosine schedule ranks candidates poorly). Without pruning, the last:
    trials evaluate only from this epoch on, since no earlier evaluation could change anything."""
    epochs = search_recipe(config).epochs
    if config.pruner == "none" or config.multi_objective:
        return epochs
    return min(epochs, epochs // 2 + 1)


def make_pruner(config: SearchConfig) -> optuna.pruners.BasePruner:
    """The Optuna pruner ``config`` names, as Optuna ships it, from :func:`prune_from` on. The
    start-up rule (:data:`PRUNE_AFTER`) is the trial's (:meth:`Evaluator.may_prune`), not a wrapper's."""
    if config.pruner == "none" or config.multi_objective:
        return optuna.pruners.NopPruner()
    first = prune_from(config)
    if config.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=search_recipe(config).epochs)
    return optuna.pruners.MedianPruner(n_startup_trials=0, n_warmup_steps=first)


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
    from scalesearch.search.evaluators import check_evaluator  # evaluators build on this module

    check_reachable(config)
    check_evaluator(config)
    search_recipe(config)
    resolve_device(config.device)
    if config.devices:
        check_devices(config.devices)
    if config.data:
        load_data(config.data, train_images=config.train_images)
    if config.storage is not None:
        open_storage_url(config.storage)
