"""``compare-scaling``: depth-only, width-only, resolution-only and compound scaling at matched MACs.

For a base and a MACs multiplier m, each strategy's multipliers are solved so that the scaled
network's analytic MACs (after channel and repeat rounding) come as close to m x the base as the
rounding allows; a variant further than 5% from that is reported as unmatched and not trained.
Strategies:

- ``depth``, ``width``, ``resolution``: one multiplier, the others 1 (EfficientNet Figure 3).
- ``compound``: alpha^phi, beta^phi, gamma^phi with phi solved (EfficientNet, default 1.2/1.1/1.15).
- ``revisiting``: the "Revisiting ResNets" rule (Bello et al., 2021): resolution grows slowly
  (r^2 takes 20% of the log-MACs budget, where EfficientNet's gamma takes about 43%) and the
  rest goes to width for short schedules (<= 30 epochs) or depth for long ones.
- ``sovit`` (ViT bases): "Getting ViT in Shape" (Alabdulmohsin et al., 2023): compute t spent as
  depth t^0.45, width t^0.22 and MLP dim t^0.6 at a fixed resolution, t solved for the MACs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from scalesearch.arch.io import read_data_file, search_spaces_dir, spec_file_name, spec_to_dict
from scalesearch.arch.scaling import Coefficients, Multipliers, sovit_multipliers, with_multipliers
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import UsageError
from scalesearch.files import run_lock
from scalesearch.measure.flops import analytic_macs
from scalesearch.resumable import ResultsFile
from scalesearch.runs import RUNS
from scalesearch.train.data import DataSet
from scalesearch.train.loop import train
from scalesearch.train.recipes import Recipe
from scalesearch.typed_data import decode

STRATEGIES = ("depth", "width", "resolution", "compound", "revisiting", "sovit")
MATCH_TOLERANCE = 0.05
#: The most growth compare-scaling matches (B7 is about 100x B0's MACs).
MAX_FLOPS_MULTIPLIER = 256.0
#: Share of the log-MACs budget that resolution gets under the "revisiting" rule.
REVISITING_RESOLUTION_SHARE = 0.2
#: Epochs at or below which "revisiting" scales width rather than depth.
REVISITING_SHORT_EPOCHS = 30


@dataclass(frozen=True)
class PaperRow:
    """One published figure: a base scaled by ``strategy`` (or not: ``base``), its top-1 (%) and,
    where the paper gives them, its G multiply-adds."""

    base: str
    strategy: str
    top1: float
    gmacs: float | None = None


@dataclass(frozen=True)
class PaperFigures:
    source: str
    rows: tuple[PaperRow, ...]


def paper_figures(base: str) -> tuple[str, list[PaperRow]]:
    """EfficientNet's ImageNet figures for ``base`` (``search_spaces/papers/efficientnet_scaling.yaml``)
    and where they come from; none for other bases."""
    figures = decode(PaperFigures, read_data_file(search_spaces_dir() / "papers" / "efficientnet_scaling.yaml"))
    return figures.source, [r for r in figures.rows if r.base == base]


@dataclass(frozen=True)
class Variant:
    strategy: str
    multipliers: Multipliers
    spec: NetworkSpec
    macs_ratio: float


def _scaled(base: NetworkSpec, m: Multipliers, strategy: str) -> NetworkSpec:
    return with_multipliers(base, m.depth, m.width, m.resolution, name=f"{base.name}-{strategy}", mlp=m.mlp)


def _solve(ratio_of: Callable[[float], float], target: float, low: float, high: float) -> float:
    """The x in [low, high] whose (monotone, stepped) ratio is closest to ``target``."""
    if ratio_of(high) < target:
        return high
    lo, hi = low, high
    for _ in range(40):
        mid = (lo + hi) / 2
        if ratio_of(mid) >= target:
            hi = mid
        else:
            lo = mid
    return min((lo, hi), key=lambda x: abs(ratio_of(x) / target - 1))


def variant(base: NetworkSpec, strategy: str, multiplier: float, epochs: int,
            coefficients: Coefficients = Coefficients()) -> Variant:
    """``strategy``'s network at about ``multiplier`` x the base's MACs."""
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
    base_macs = analytic_macs(base)

    def multipliers(x: float) -> Multipliers:
        if strategy == "depth":
            return Multipliers(x, 1.0, 1.0)
        if strategy == "width":
            return Multipliers(1.0, x, 1.0)
        if strategy == "resolution":
            return Multipliers(1.0, 1.0, x)
        if strategy == "compound":  # x is phi
            return Multipliers(coefficients.alpha**x, coefficients.beta**x, coefficients.gamma**x)
        if strategy == "sovit":  # x is the compute multiplier
            return sovit_multipliers(x)
        # revisiting: x scales the whole budget; resolution takes its fixed share of it
        resolution = x ** (REVISITING_RESOLUTION_SHARE / 2)
        rest = x ** (1 - REVISITING_RESOLUTION_SHARE)
        if epochs <= REVISITING_SHORT_EPOCHS:
            return Multipliers(1.0, math.sqrt(rest), resolution)
        return Multipliers(rest, 1.0, resolution)

    def ratio(x: float) -> float:
        return analytic_macs(_scaled(base, multipliers(x), strategy)) / base_macs

    high = {"compound": 12.0}.get(strategy, multiplier * 2)
    x = _solve(ratio, multiplier, 0.0 if strategy == "compound" else 1.0, high)
    m = multipliers(x)
    return Variant(strategy, m, _scaled(base, m, strategy), ratio(x))


def parse_strategies(text: str) -> list[str]:
    """``"depth,width"`` -> ["depth", "width"] (each is checked when planned)."""
    strategies = [s.strip() for s in text.split(",") if s.strip()]
    if not strategies:
        raise UsageError(f"`strategy` names no strategy, got {text!r} (e.g. depth,width,resolution,compound)")
    return strategies


def default_run_dir(base: NetworkSpec) -> Path:
    """``runs/compare-<base>``: the same command finds its comparison again."""
    return RUNS / spec_file_name(base, "", prefix="compare-")


def plan(base: NetworkSpec, multipliers: list[float], strategies: list[str],
         epochs: int) -> list[tuple[float, Variant]]:
    """Every (multiplier, variant) pair, solved and checked before any training."""
    for m in multipliers:
        if not m > 1:
            raise UsageError(f"`flops_multiplier` must be > 1, got {m:g}")
        if not m <= MAX_FLOPS_MULTIPLIER:
            raise UsageError(f"`flops_multiplier` must be at most {MAX_FLOPS_MULTIPLIER:g}, got {m:g}")
    return [(m, variant(base, s, m, epochs)) for m in multipliers for s in strategies]


def matched(v: Variant, multiplier: float) -> bool:
    """Within 5% of the requested MACs multiplier."""
    return abs(v.macs_ratio / multiplier - 1) <= MATCH_TOLERANCE


def run_settings(base: NetworkSpec, data: DataSet, recipe: Recipe, seeds: list[int],
                 planned: list[tuple[float, Variant]]) -> dict[str, Any]:
    """What identifies a comparison: the base, the data, the recipe, the seeds and the variants."""
    return {"base_spec": spec_to_dict(base), "data": data.name, "train_images": len(data.train),
            "val_images": len(data.val), "recipe_settings": dataclasses.asdict(recipe), "seeds": seeds,
            "variants": [[m, v.strategy] for m, v in planned]}


_SETTING_WORDS = {"base_spec": "base network", "data": "data set", "train_images": "training set size",
                  "val_images": "validation split", "recipe_settings": "recipe", "seeds": "list of seeds",
                  "variants": "list of strategies and multipliers"}


#: What every row of ``compare_scaling.json`` holds (read back to resume and to report).
ROW_SCHEMA = {"strategy": "text", "flops_multiplier": "a number", "macs": "a number", "matched": "a bool",
              "val_top1": "a number or null", "per_seed": "a list"}


def run_comparison(base: NetworkSpec, data: DataSet, recipe: Recipe, planned: list[tuple[float, Variant]],
                   seeds: list[int], run_dir: Path, device: str = "cpu",
                   on_done: Callable[[int], None] | None = None) -> dict[str, Any]:
    """:func:`compare` with its rows kept in ``run_dir/compare_scaling.json`` as each is done: an
    interrupted run of the same comparison goes on where it stopped, and a folder holding another
    comparison is refused, never overwritten; one process at a time works on a run folder (a second
    is refused with one line naming the first). Returns the document the report is made from."""
    with run_lock(run_dir):
        return _run_comparison(base, data, recipe, planned, seeds, run_dir, device, on_done)


def _run_comparison(base: NetworkSpec, data: DataSet, recipe: Recipe, planned: list[tuple[float, Variant]],
                    seeds: list[int], run_dir: Path, device: str, on_done: Callable[[int], None] | None
                    ) -> dict[str, Any]:
    results = ResultsFile(run_dir / "compare_scaling.json", run_settings(base, data, recipe, seeds, planned),
                          header={"base": base.name, "data": data.name, "recipe": recipe.name,
                                  "epochs": recipe.epochs, "seeds": seeds}, words=_SETTING_WORDS,
                          row_schema=ROW_SCHEMA)
    results.update(complete=False)

    def save(row: dict[str, Any]) -> None:
        results.add(f"{row['strategy']}|{row['flops_multiplier']:g}", row)
        if on_done:
            on_done(len(results.rows))

    rows = compare(base, data, recipe, planned, seeds, device, list(results.rows.values()), save)
    results.update(complete=True)
    return {**results.document, "rows": rows}


def compare(base: NetworkSpec, data: DataSet, recipe: Recipe, planned: list[tuple[float, Variant]],
            seeds: list[int], device: str = "cpu", finished: Sequence[dict[str, Any]] = (),
            on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Train the base and every matched variant of ``planned`` (from :func:`plan`) with the same
    recipe and seeds; one row each, passed to ``on_done`` as it is done. A row of ``finished``
    (from :func:`finished_rows`) for the same strategy, multiplier and network is kept as it is."""
    jobs: list[tuple[str, float, Variant | None]] = [("base", 1.0, None)]
    jobs += [(v.strategy, m, v) for m, v in planned]
    rows = []
    for strategy, m, v in jobs:
        spec = base if v is None else v.spec
        mult = Multipliers(1.0, 1.0, 1.0) if v is None else v.multipliers
        row: dict[str, Any] = {"strategy": strategy, "flops_multiplier": m, "depth_mult": mult.depth,
                               "width_mult": mult.width, "resolution_mult": mult.resolution,
                               "macs": analytic_macs(spec), "macs_ratio": 1.0 if v is None else v.macs_ratio,
                               "train_resolution": recipe.scaled_resolution(spec, mult.resolution)}
        row["matched"] = v is None or matched(v, m)
        earlier = next((r for r in finished if all(r.get(k) == value for k, value in row.items())), None)
        if earlier is not None:
            row = earlier
        elif row["matched"]:
            result = train(spec, data, recipe.override(resolution=row["train_resolution"]), seeds, device=device)
            row.update(val_top1=result.val_top1, val_top1_std=result.val_top1_std,
                       per_seed=[r.val_top1 for r in result.runs])
        else:
            row.update(val_top1=None, val_top1_std=None, per_seed=[])
        rows.append(row)
        if on_done:
            on_done(row)
    return rows
