"""``grid``: EfficientNet's step 1 — find alpha, beta, gamma at phi = 1 by a small grid search.

Points: alpha, beta, gamma on a grid of ``step`` from 1, with alpha * beta^2 * gamma^2 within
``tolerance`` of ``target_ratio``. Each point's phi = 1 network is built and its *measured* MACs
ratio to the base (after channel and repeat rounding) must also be within the tolerance; the
rest are trained with the proxy recipe, at the recipe's resolution times gamma, and the most
accurate point wins. The study (Optuna's GridSampler over the feasible points) resumes, and
several workers on one storage never train the same point: the lowest-numbered trial claims it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna

from scalesearch.arch.io import spec_to_dict
from scalesearch.arch.scaling import Coefficients, scale
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import ScalesearchError, TrainingError, UsageError
from scalesearch.files import write_json
from scalesearch.measure.flops import analytic_macs
from scalesearch.runs import spec_digest
from scalesearch.search.artifacts import artifact_store, attach
from scalesearch.search.driver import check_workers, local_workers, open_or_resume
from scalesearch.search.storage import HEARTBEAT_S, check_heartbeat, open_storage, open_storage_url
from scalesearch.search.trial_states import abandoned, claimed
from scalesearch.search.workers import abandon, fail_stale_trials, optimize, share_cpu, worker_id
from scalesearch.seeds import seed_list
from scalesearch.signals import stop_reason
from scalesearch.train.data import load_data
from scalesearch.train.device import resolve_device
from scalesearch.train.loop import train
from scalesearch.train.recipes import load_recipe

#: The finest grid step and the largest growth per unit of phi: beyond them the grid has millions of points.
MIN_STEP = 0.01
MAX_TARGET_RATIO = 16.0
#: How long a trial waits for lower-numbered running trials to declare their grid point.
CLAIM_WAIT_S = 30.0


@dataclass(frozen=True)
class GridPoint:
    alpha: float
    beta: float
    gamma: float

    @property
    def label(self) -> str:
        return f"{self.alpha:.2f},{self.beta:.2f},{self.gamma:.2f}"

    @property
    def nominal_ratio(self) -> float:
        return self.alpha * self.beta**2 * self.gamma**2

    @classmethod
    def parse(cls, label: str) -> "GridPoint":
        alpha, beta, gamma = (float(x) for x in label.split(","))
        return cls(alpha, beta, gamma)


def grid_points(step: float, target_ratio: float, tolerance: float) -> list[GridPoint]:
    """Every (alpha, beta, gamma) >= 1 on the grid whose alpha * beta^2 * gamma^2 is within
    ``tolerance`` (a fraction) of ``target_ratio``."""
    if not 0 < step <= 1:
        raise UsageError(f"`step` must be in (0, 1], got {step:g}")
    if step < MIN_STEP:
        raise UsageError(f"`step` must be at least {MIN_STEP:g} (a finer grid has millions of points), got {step:g}")
    if not target_ratio >= 1:
        raise UsageError(f"`target_ratio` must be >= 1 (1 means no growth), got {target_ratio:g}")
    if target_ratio > MAX_TARGET_RATIO:
        raise UsageError(f"`target_ratio` must be at most {MAX_TARGET_RATIO:g} (EfficientNet's is 2), "
                         f"got {target_ratio:g}")
    if not 0 < tolerance < 1:
        raise UsageError(f"`tolerance` must be in (0, 1), got {tolerance:g}")
    high = target_ratio * (1 + tolerance)

    def axis(limit: float) -> list[float]:
        return [round(1 + i * step, 6) for i in range(int(math.floor((limit - 1) / step + 1e-9)) + 1)]

    points = []
    for alpha, beta, gamma in itertools.product(axis(high), axis(math.sqrt(high)), axis(math.sqrt(high))):
        point = GridPoint(alpha, beta, gamma)
        if abs(point.nominal_ratio / target_ratio - 1) <= tolerance:
            points.append(point)
    return points


@dataclass(frozen=True)
class GridConfig:
    base: NetworkSpec
    data: str
    run_dir: Path
    study_name: str
    step: float = 0.05
    target_ratio: float = 2.0
    tolerance: float = 0.1
    recipe: str = "proxy"
    recipe_overrides: dict[str, Any] = field(default_factory=dict)
    seeds: int = 1
    train_images: int | None = None  # a seeded subset of the training split, for quick proxies
    storage: str | None = None
    device: str = "cpu"
    workers: int = 1  # local processes on this study (for sharing the CPU between them)
    heartbeat_s: int = HEARTBEAT_S


def default_study_name(base: NetworkSpec) -> str:
    """``grid-<base>``: one grid study per base network."""
    return f"grid-{base.name}"


def feasible(config: GridConfig) -> tuple[list[tuple[GridPoint, float]], list[tuple[GridPoint, float]]]:
    """(kept, rejected) grid points with their measured phi = 1 MACs ratio to the base."""
    base_macs = analytic_macs(config.base)
    kept, rejected = [], []
    for point in grid_points(config.step, config.target_ratio, config.tolerance):
        ratio = analytic_macs(phi_one(config.base, point)) / base_macs
        (kept if abs(ratio / config.target_ratio - 1) <= config.tolerance else rejected).append((point, ratio))
    if not kept:
        raise UsageError(f"no grid point's phi = 1 network has a MACs ratio within {config.tolerance:g} of "
                         f"{config.target_ratio:g} after rounding ({len(rejected)} tried); try `tolerance` "
                         f"{min(0.95, config.tolerance * 2):g} or a smaller `step`")
    return kept, rejected


def phi_one(base: NetworkSpec, point: GridPoint) -> NetworkSpec:
    return scale(base, 1, Coefficients(point.alpha, point.beta, point.gamma))


def validate(config: GridConfig) -> list[tuple[GridPoint, float]]:
    """All input checks, before the study is touched; returns the feasible points."""
    check_workers(config.workers)
    check_heartbeat(config.heartbeat_s)
    kept, _ = feasible(config)
    seed_list(config.seeds)
    load_recipe(config.recipe).override(**config.recipe_overrides)
    resolve_device(config.device)
    load_data(config.data, train_images=config.train_images)
    if config.storage is not None:
        open_storage_url(config.storage, config.heartbeat_s)
    return kept


def describe(config: GridConfig) -> dict[str, Any]:
    """The settings a grid study must keep across resumes (not workers or storage)."""
    return {"base": config.base.name, "base_spec_sha256": spec_digest(config.base), "data": config.data,
            "step": config.step,
            "target_ratio": config.target_ratio, "tolerance": config.tolerance, "recipe": config.recipe,
            "recipe_overrides": dict(sorted(config.recipe_overrides.items())), "seeds": config.seeds,
            "train_images": config.train_images}


def open_grid(config: GridConfig, labels: list[str]) -> optuna.Study:
    """Create or resume the grid study (Optuna's GridSampler over the feasible points); a study
    started with other settings is refused."""
    return open_or_resume(open_storage(config.run_dir, config.storage, config.heartbeat_s), config.study_name,
                          ["maximize"], optuna.samplers.GridSampler({"point": labels}, seed=0),
                          optuna.pruners.NopPruner(), describe(config))


def _claimed_by_earlier(trial: optuna.Trial, label: str) -> int | None:
    """The number of a lower-numbered trial that holds ``label`` (running or finished), if any.
    Waits for lower-numbered running trials that have not yet declared their point."""
    deadline = time.monotonic() + CLAIM_WAIT_S
    while True:
        earlier = [t for t in trial.study.get_trials(deepcopy=False) if t.number < trial.number
                   and t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.COMPLETE)]
        for t in earlier:
            if t.params.get("point") == label:
                return t.number
        undeclared = [t for t in earlier if "point" not in t.params]
        if not undeclared or time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def run_grid(config: GridConfig, on_trial: Callable[[int, int], None] | None = None) -> optuna.Study:
    """Train every feasible point not yet trained (resuming the study) with ``config.workers``
    processes, this one among them; returns the study. Call :func:`validate` first."""
    with local_workers(train_points, [(config,)] * (config.workers - 1)):
        return train_points(config, on_trial)


def train_points(config: GridConfig, on_trial: Callable[[int, int], None] | None = None) -> optuna.Study:
    """One worker of :func:`run_grid`: train the feasible points no worker has claimed."""
    kept, _ = feasible(config)
    share_cpu(config.workers)
    labels = [p.label for p, _ in kept]
    ratios = {p.label: r for p, r in kept}
    study = open_grid(config, labels)
    fail_stale_trials(study)
    data = load_data(config.data, train_images=config.train_images)
    recipe = load_recipe(config.recipe).override(**config.recipe_overrides)
    store = artifact_store(config.run_dir)

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        label = trial.suggest_categorical("point", labels)
        holder = _claimed_by_earlier(trial, label)
        if holder is not None:
            trial.set_user_attr("duplicate_of", holder)
            raise optuna.TrialPruned(f"grid point {label} is trial {holder}'s")
        trial.set_user_attr("slot", True)
        try:  # from the claim to the result: a signal anywhere in it queues the point again
            point = GridPoint.parse(label)
            spec = phi_one(config.base, point)
            trial.set_user_attr("macs", analytic_macs(spec))
            trial.set_user_attr("macs_ratio", ratios[label])
            trained_at = recipe.scaled_resolution(spec, point.gamma)
            trial.set_user_attr("resolution", trained_at)
            attach(trial, store, spec)
            result = train(spec, data, recipe.override(resolution=trained_at), list(range(config.seeds)),
                           device=config.device)
            trial.set_user_attr("val_top1_std", result.val_top1_std)
        except TrainingError as err:
            trial.set_user_attr("fail_reason", str(err))
            raise
        except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: the point is queued again for the next run
            abandon(trial, {"point": label}, stop_reason(err))
            raise
        return result.val_top1

    def progress(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if on_trial:
            on_trial(len(trained(study)), len(labels))

    if len(trained(study)) < len(labels):
        optimize(study, objective, callbacks=[progress], catch=(TrainingError,))
    return study


def trained(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Finished trials that trained a point (not duplicates, not lost workers)."""
    trials = study.get_trials(deepcopy=False)
    gone = abandoned(trials)
    return [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
            and "duplicate_of" not in t.user_attrs and t.number not in gone and claimed(t)]


def coefficients_document(study: optuna.Study, config: GridConfig) -> dict[str, Any]:
    """``coefficients.json``: the best point and the whole accuracy table."""
    kept, rejected = feasible(config)
    rows = []
    for t in trained(study):
        point = GridPoint.parse(t.params["point"])
        rows.append({**dataclasses.asdict(point), "nominal_ratio": point.nominal_ratio,
                     "macs_ratio": t.user_attrs["macs_ratio"], "macs": t.user_attrs["macs"],
                     "resolution": t.user_attrs["resolution"],
                     "val_top1": t.value if t.state == optuna.trial.TrialState.COMPLETE else None,
                     "val_top1_std": t.user_attrs.get("val_top1_std"), "trial": t.number,
                     "fail_reason": t.user_attrs.get("fail_reason")})
    complete = [r for r in rows if r["val_top1"] is not None]
    if not complete:
        raise ScalesearchError("no grid point trained successfully; see the failures in the study")
    best = max(complete, key=lambda r: r["val_top1"])
    return {"alpha": best["alpha"], "beta": best["beta"], "gamma": best["gamma"], "val_top1": best["val_top1"],
            "macs_ratio": best["macs_ratio"], "base": config.base.name, "base_spec": spec_to_dict(config.base),
            "base_macs": analytic_macs(config.base),
            "target_ratio": config.target_ratio, "tolerance": config.tolerance, "step": config.step,
            "data": config.data, "recipe": config.recipe, "seeds": config.seeds, "study": config.study_name,
            "points": sorted(rows, key=lambda r: (r["alpha"], r["beta"], r["gamma"])),
            "rejected_after_rounding": [{**dataclasses.asdict(p), "macs_ratio": r} for p, r in rejected],
            "n_feasible": len(kept)}


def save_coefficients(study: optuna.Study, config: GridConfig) -> dict[str, Any]:
    """Write ``coefficients.json`` (:func:`coefficients_document`) into the run folder; returns it."""
    document = coefficients_document(study, config)
    write_json(config.run_dir / "coefficients.json", document)
    return document
