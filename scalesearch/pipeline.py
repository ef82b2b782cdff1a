"""``scalesearch pipeline``: EfficientNet's whole method in one resumable run.

find-base (the base at a MACs target, with its finalists) -> grid (alpha, beta, gamma on that base)
-> scale (the family at each phi) -> train (the family and the reference families, alike) ->
bench (batch-1 latency of each) -> report. One folder, one sub-folder per stage. Every stage
resumes from what it left (the studies, the family's results file), so a finished stage costs
nothing on a second run and the same command goes on after a crash or Ctrl-C. A folder started
with other settings is refused, never overwritten.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from scalesearch.arch.io import load_spec, save_spec, spec_file_name
from scalesearch.arch.scaling import Coefficients, scale_family
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import ScalesearchError, UsageError
from scalesearch.files import folder_inside, run_lock, write_atomic
from scalesearch.measure.flops import analytic_count
from scalesearch.report import markdown, plots
from scalesearch.resumable import ResultsFile
from scalesearch.runs import RUNS
from scalesearch.search.config import SearchConfig
from scalesearch.search.config import validate as validate_search
from scalesearch.search.find_base import search
from scalesearch.search.grid import GridConfig, grid_points, run_grid, save_coefficients
from scalesearch.search.grid import validate as validate_grid
from scalesearch.search.objective import Objective
from scalesearch.search.results import summarise, trial_rows
from scalesearch.search.trial_states import evaluated
from scalesearch.seeds import seed_list
from scalesearch.train.data import load_data
from scalesearch.train.family import (
    BASELINE_FAMILIES,
    baselines,
    bench_members,
    latency_configs,
    members_of,
    open_results,
    train_members,
)
from scalesearch.train.recipes import load_recipe

STAGES = ("find-base", "grid", "scale", "train", "bench", "report")
#: What a stage's progress callback receives: (stage, done, total).
Progress = Callable[[str, int, int], None]


def default_run_dir(flops: str) -> Path:
    """``runs/pipeline-<target as typed>``, e.g. ``runs/pipeline-400M``."""
    return RUNS / f"pipeline-{flops.strip()}"


@dataclass(frozen=True)
class PipelineConfig:
    """One pipeline run: the target, the data, the family's phis and every stage's budget."""

    target_macs: float
    data: str
    phis: list[int]
    run_dir: Path
    baselines: list[str] = field(default_factory=list)
    space: str = "mnasnet"
    n_trials: int = 50
    finalists: int | None = None  # None: find-base's default
    final_seeds: int = 3
    step: float = 0.05
    tolerance: float = 0.1
    seeds: int = 3
    recipe: str = "proxy"
    epochs: int | None = None
    train_images: int | None = None
    device: str = "cpu"
    workers: int = 1
    storage: str | None = None
    latency_budget_s: float = 3.0
    seed: int = 0

    def __post_init__(self) -> None:
        if any(not float(p).is_integer() for p in self.phis):
            raise UsageError(f"`phi` must be whole numbers for a family, got {self.phis}")
        if not any(p > 0 for p in self.phis):
            shown = f"{self.phis[0]}-{self.phis[-1]}" if len(self.phis) > 1 else str(self.phis[0])
            raise UsageError(f"`phi` {shown} has no phi above the found base's own (0): nothing to scale; "
                             f"e.g. `phi` 0-3")
        seed_list(self.seeds)
        for name in self.baselines:
            if name not in BASELINE_FAMILIES:
                raise UsageError(f"unknown baseline family {name!r} (known: {', '.join(BASELINE_FAMILIES)})")

    @property
    def overrides(self) -> dict[str, Any]:
        return {"epochs": self.epochs} if self.epochs is not None else {}

    def search_config(self) -> SearchConfig:
        return SearchConfig(objective=Objective(self.target_macs, "MACs"), run_dir=self.run_dir / "find-base",
                            study_name="find-base", space=self.space, n_trials=self.n_trials, data=self.data,
                            finalists=self.finalists, final_seeds=self.final_seeds,
                            train_images=self.train_images, recipe=self.recipe, recipe_overrides=self.overrides,
                            storage=self.storage, workers=self.workers, seed=self.seed, device=self.device)

    def grid_config(self, base: NetworkSpec) -> GridConfig:
        return GridConfig(base=base, data=self.data, run_dir=self.run_dir / "grid", study_name="grid",
                          step=self.step, tolerance=self.tolerance, recipe=self.recipe, recipe_overrides=self.overrides,
                          train_images=self.train_images, storage=self.storage, device=self.device,
                          workers=self.workers)

    def settings(self) -> dict[str, Any]:
        """What a pipeline folder keeps: every setting but where the work runs (workers, storage)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("run_dir", "workers", "storage")}


def validate(config: PipelineConfig) -> None:
    """Every check that can fail on bad input, before any folder is made."""
    validate_search(config.search_config())
    grid_points(config.step, 2.0, config.tolerance)  # the grid's own checks; its points need the found base
    load_recipe(config.recipe).override(**config.overrides)
    load_data(config.data, train_images=config.train_images)


def _open(config: PipelineConfig) -> ResultsFile:
    try:
        return ResultsFile(config.run_dir / "pipeline.json", config.settings(), header={"kind": "pipeline"},
                           row_schema={"wall_s": "a number"})  # one row per stage
    except UsageError:
        raise UsageError(f"{config.run_dir} holds a pipeline started with other settings: use the same command "
                         f"to resume it, or another `run_dir`") from None


#: The run folder's stage folders, each made by the pipeline (never a link out of the run folder).
STAGE_FOLDERS = ("find-base", "grid", "scale", "family")


def run(config: PipelineConfig, on_stage: Callable[[str], None] | None = None,
        on_progress: Progress | None = None) -> dict[str, Any]:
    """Run (or resume) every stage; returns the pipeline's summary (also in ``pipeline.json``). One
    process at a time works on a run folder: a second is refused with one line naming the first."""
    with run_lock(config.run_dir):
        for name in STAGE_FOLDERS:
            folder_inside(config.run_dir, config.run_dir / name)
        return _run(config, on_stage, on_progress)


def _run(config: PipelineConfig, on_stage: Callable[[str], None] | None, on_progress: Progress | None
         ) -> dict[str, Any]:
    state = _open(config)
    progress = on_progress or (lambda _stage, _done, _total: None)

    def stage(name: str, work: Callable[[], Any]) -> Any:
        if on_stage:
            on_stage(name)
        started = time.perf_counter()
        try:
            return work()
        finally:  # the wall time a stage took, summed over every run that worked on it
            row = state.rows.get(name, {"wall_s": 0.0})
            state.add(name, {**row, "wall_s": round(row["wall_s"] + time.perf_counter() - started, 1)})

    found = stage("find-base", lambda: _find_base(config, progress))
    base = load_spec(found["best"]["spec_path"])
    grid = stage("grid", lambda: _grid(config, base, progress))
    coefficients = Coefficients(grid["alpha"], grid["beta"], grid["gamma"])
    family = stage("scale", lambda: _scale(config, base, coefficients))
    members = members_of(family)
    members += baselines(config.baselines, max(analytic_count(s).macs for s in family))
    dataset = load_data(config.data, train_images=config.train_images)
    recipe = load_recipe(config.recipe).override(**config.overrides)
    seeds = list(range(config.seeds))
    results = open_results(config.run_dir / "family" / "family.json", members, dataset, recipe, seeds)
    stage("train", lambda: train_members(members, dataset, recipe, seeds, results, config.device,
                                         config.run_dir / "family",
                                         on_done=lambda done, total: progress("train", done, total)))
    stage("bench", lambda: bench_members(members, results, latency_configs(config.latency_budget_s),
                                         on_done=lambda done, total: progress("bench", done, total)))
    summary = {"run_dir": str(config.run_dir), "found": found, "coefficients": grid,
               "family": family_rows(results.document, family), "report": str(config.run_dir / "report.md"),
               "stages": {name: state.rows[name] for name in STAGES if name in state.rows}}
    stage("report", lambda: write_report(config, summary, results.document))
    summary["stages"] = {name: state.rows[name] for name in STAGES}
    state.update(summary=summary)
    return summary


def _find_base(config: PipelineConfig, progress: Progress) -> dict[str, Any]:
    search_config = config.search_config()
    study = search(search_config, on_trial=lambda s: progress("find-base", _evaluated(s), config.n_trials),
                   on_finalist=lambda done, total: progress("find-base finalists", done, total))
    summary = summarise(study, search_config)
    markdown.write_search_report(search_config.run_dir, summary, trial_rows(study, search_config))
    if summary["best"] is None:
        raise ScalesearchError("find-base evaluated no candidate to the end: nothing to scale; see "
                               f"{search_config.run_dir / 'report.md'}")
    return {k: summary[k] for k in ("best", "finalists", "n_trials", "n_rejected", "sampler")}


def _evaluated(study: Any) -> int:
    return len(evaluated(study.get_trials(deepcopy=False)))


def _grid(config: PipelineConfig, base: NetworkSpec, progress: Progress) -> dict[str, Any]:
    grid_config = config.grid_config(base)
    validate_grid(grid_config)
    study = run_grid(grid_config, on_trial=lambda done, total: progress("grid", done, total))
    document = save_coefficients(study, grid_config)
    plots.grid_heatmap(grid_config.run_dir / "grid_heatmap.png", document)
    return {k: document[k] for k in ("alpha", "beta", "gamma", "val_top1", "macs_ratio", "n_feasible")}


def _scale(config: PipelineConfig, base: NetworkSpec, coefficients: Coefficients) -> list[NetworkSpec]:
    family = scale_family(base, config.phis, coefficients)
    for spec in family:
        save_spec(spec, config.run_dir / "scale" / spec_file_name(spec))
    return family


def family_rows(document: dict[str, Any], family: list[NetworkSpec]) -> list[dict[str, Any]]:
    """The found family's rows (phi, d, w, r, params, MACs, latency, accuracy), phi by phi."""
    rows = []
    for spec in family:
        row = document["rows"][spec.name]
        rows.append({"phi": spec.scaling.phi, "depth_mult": spec.scaling.depth_mult,
                     "width_mult": spec.scaling.width_mult, "resolution": spec.resolution,
                     **{k: row[k] for k in ("name", "params", "macs", "train_resolution", "val_top1", "val_top1_std",
                                            "latency_ms")}})
    return rows


def write_report(config: PipelineConfig, summary: dict[str, Any], family_document: dict[str, Any]) -> list[Path]:
    """``report.md``: the found base and its margin over B0, the coefficients with the grid heat
    map, the family table, and the family beside the reference families against MACs and latency."""
    family_files = markdown.write_family_report(config.run_dir / "family", family_document,
                                                title="The found family and the reference families")
    best, final, grid = summary["found"]["best"], summary["found"]["finalists"], summary["coefficients"]
    latency_keys = sorted({k for r in summary["family"] for k in r["latency_ms"]})
    lines = [f"# Pipeline: {config.target_macs / 1e6:,.1f}M MACs on `{config.data}`", "",
             "## Found base", "",
             f"`{best['name']}`: {best['macs'] / 1e6:,.1f}M MACs, {best['params'] / 1e6:.2f}M parameters "
             f"({summary['found']['n_trials']} trials, sampler {summary['found']['sampler']}).", ""]
    if final:
        lines += [*markdown.finalist_lines(summary["found"], "val_top1"), ""]
    ratio = Coefficients(grid["alpha"], grid["beta"], grid["gamma"]).macs_ratio
    lines += ["## Compound coefficients", "",
              f"alpha = {grid['alpha']:.2f} (depth), beta = {grid['beta']:.2f} (width), gamma = {grid['gamma']:.2f} "
              f"(resolution); alpha x beta^2 x gamma^2 = {ratio:.2f} "
              f"({grid['n_feasible']} grid points, best validation top-1 at phi 1: {grid['val_top1']:.1%}).", "",
              "![grid heat map](grid/grid_heatmap.png)", "",
              "## The family", "",
              "| phi | network | d | w | px | params (M) | MACs (M) | "
              + "".join(f"{k} ms | " for k in latency_keys) + "val top-1 (mean +- std) |",
              "|---:|---|---:|---:|---:|---:|---:|" + "---:|" * len(latency_keys) + "---:|"]
    for r in summary["family"]:
        latency = "".join(f"{r['latency_ms'].get(k, float('nan')):.2f} | " for k in latency_keys)
        accuracy = "-" if r["val_top1"] is None else f"{r['val_top1']:.1%} +- {r['val_top1_std'] * 100:.1f} pt"
        lines.append(f"| {r['phi']:g} | {r['name']} | {r['depth_mult']:.2f} | {r['width_mult']:.2f} | "
                     f"{r['resolution']} | {r['params'] / 1e6:.2f} | {r['macs'] / 1e6:,.1f} | {latency}{accuracy} |")
    lines += ["", "## Against the reference families, trained alike", "",
              "All networks and figures: [family/family.md](family/family.md).", ""]
    lines += [f"![{f.stem.replace('_', ' ')}](family/{f.name})" for f in family_files[1:]]
    lines += ["", "## Wall time per stage", "", "| stage | s |", "|---|---:|"]
    stages = summary.get("stages") or {}
    lines += [f"| {name} | {stages[name]['wall_s']:,.0f} |" for name in STAGES if name in stages]
    return [write_atomic(config.run_dir / "report.md", "\n".join(lines) + "\n"), *family_files]
