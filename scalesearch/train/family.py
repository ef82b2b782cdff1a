"""Train a family of networks alike, beside the hand-designed families it is judged against, and
measure each one's latency: the data behind EfficientNet's Figure 1 (accuracy against cost).

Every network is trained with the same recipe and seeds. A scaled network trains at the recipe's
resolution times its own resolution multiplier (B3's 1.34 at 32 px: 43 px), so that a family's
resolution scaling is kept at proxy size; a network without a scaling record trains at the
recipe's resolution. Results go to ``family.json`` seed by seed, so that an interrupted run goes
on where it stopped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from scalesearch.arch.io import resolve_spec, spec_file_name, spec_to_dict
from scalesearch.arch.scaling import scale, with_multipliers
from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import UsageError
from scalesearch.files import digest
from scalesearch.measure.flops import analytic_count
from scalesearch.measure.latency import BenchConfig, measure_all
from scalesearch.resumable import ResultsFile
from scalesearch.runs import spec_digest
from scalesearch.train.data import DataSet
from scalesearch.train.loop import mean_std, train
from scalesearch.train.recipes import Recipe

#: The hand-designed families ``--baselines`` adds.
BASELINE_FAMILIES = ("efficientnet", "resnet", "mobilenet-v2")
RESNETS = ("resnet18", "resnet34", "resnet50")
MOBILENET_V2_WIDTHS = (0.5, 0.75, 1.0, 1.4)
#: The most of the official EfficientNet table (B0..B7).
EFFICIENTNET_PHIS = range(8)


@dataclass(frozen=True)
class Member:
    """One network and the family (line in the plots) it belongs to."""

    family: str
    spec: NetworkSpec


def family_of(spec: NetworkSpec) -> str:
    """A scaled network's family is its base; any other network is a family of its own."""
    return spec.scaling.base if spec.scaling is not None else spec.name


def members_of(specs: list[NetworkSpec]) -> list[Member]:
    """``specs`` as family members; two networks of one name would overwrite each other's results."""
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise UsageError(f"two networks are named {spec.name!r}: give each network once")
        seen.add(spec.name)
    return [Member(family_of(s), s) for s in specs]


def plan_training(models: list[str], specs: list[NetworkSpec], baseline_names: list[str], *,
                  zero_cost: bool = False, init: Path | None = None, reset_head: bool = False,
                  world: int = 1) -> list[Member] | None:
    """What a ``train`` request trains: a family's members (several networks, a folder of specs
    among ``models``, or reference families beside them), or None for one network. A family is
    refused what only one network can do: a zero-cost score, ``init`` weights, torchrun's ``world``
    of processes. ``reset_head`` resets the classifier of ``init``'s weights, so it needs them."""
    if reset_head and init is None:
        raise UsageError("`reset_head` resets the classifier of `init`'s weights: give `init` too")
    if not (len(specs) > 1 or baseline_names or any(Path(m).is_dir() for m in models)):
        return None
    if zero_cost:
        raise UsageError("`eval` zero-cost scores one network: give one model")
    if init is not None:
        raise UsageError("`init` starts one network from its own trained weights: give one model")
    if world > 1:
        raise UsageError("under torchrun, train one network (a family trains its networks one process each)")
    members = members_of(specs)
    if baseline_names:
        members += baselines(baseline_names, max(analytic_count(m.spec).macs for m in members))
        members_of([m.spec for m in members])  # a given network named like a baseline would collide
    return members


def parse_baselines(text: str | None) -> list[str]:
    """``--baselines efficientnet,resnet`` as a checked list."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    for name in names:
        if name not in BASELINE_FAMILIES:
            raise UsageError(f"unknown baseline family {name!r} (known: {', '.join(BASELINE_FAMILIES)})")
    return names


def baselines(names: list[str], max_macs: float) -> list[Member]:
    """The reference families: EfficientNet B0..Bk (the official table) up to ``max_macs`` (B0 at
    least), ResNet-18/34/50, and MobileNetV2 at widths 0.5, 0.75, 1.0 and 1.4."""
    chosen: list[Member] = []
    if "efficientnet" in names:
        b0 = resolve_spec("efficientnet-b0")
        for phi in EFFICIENTNET_PHIS:
            spec = scale(b0, phi, preset="official")
            if phi and analytic_count(spec).macs > max_macs:
                break
            chosen.append(Member("efficientnet", dataclasses.replace(spec, name=f"efficientnet-b{phi}")))
    if "resnet" in names:
        chosen += [Member("resnet", resolve_spec(name)) for name in RESNETS]
    if "mobilenet-v2" in names:
        base = resolve_spec("mobilenet-v2")
        chosen += [Member("mobilenet-v2", with_multipliers(base, width=w, name=f"mobilenet-v2-w{w:g}"))
                   for w in MOBILENET_V2_WIDTHS]
    return chosen


def train_resolution(spec: NetworkSpec, recipe: Recipe) -> int:
    """The resolution a network trains at: the recipe's, times its scaling record's multiplier."""
    return recipe.scaled_resolution(spec, spec.scaling.resolution_mult if spec.scaling is not None else 1.0)


#: What every network's row in ``family.json`` holds (read back to resume and to report).
ROW_SCHEMA = {"name": "text", "macs": "a number", "resolution": "an integer", "train_resolution": "an integer",
              "per_seed": "a mapping", "val_top1": "a number or null", "latency_ms": "a mapping"}


def settings(members: list[Member], data: DataSet, recipe: Recipe, seeds: list[int]) -> dict[str, Any]:
    """What identifies a family run: the networks, the data, the recipe and the seeds."""
    return {"networks": [[m.family, m.spec.name, spec_digest(m.spec)] for m in members], "data": data.name,
            "train_images": len(data.train), "val_images": len(data.val), "recipe": dataclasses.asdict(recipe),
            "seeds": seeds}


def open_results(path: Path, members: list[Member], data: DataSet, recipe: Recipe, seeds: list[int]) -> ResultsFile:
    """``family.json`` for these settings: resumed if it holds the same ones, refused if other."""
    results = ResultsFile(path, settings(members, data, recipe, seeds), header={"kind": "family"},
                          row_schema=ROW_SCHEMA)
    for m in members:
        if m.spec.name not in results:
            count = analytic_count(m.spec)
            results.add(m.spec.name, {"family": m.family, "name": m.spec.name, "macs": count.macs,
                                      "params": count.params, "resolution": m.spec.resolution,
                                      "train_resolution": train_resolution(m.spec, recipe), "per_seed": {},
                                      "val_top1": None, "val_top1_std": None, "latency_ms": {},
                                      "spec": spec_to_dict(m.spec)})
    return results


def pending(results: ResultsFile, members: list[Member], seeds: list[int]) -> list[tuple[Member, int]]:
    """The (network, seed) trainings not yet in ``results``."""
    return [(m, s) for m in members for s in seeds if str(s) not in results.rows[m.spec.name]["per_seed"]]


def train_members(members: list[Member], data: DataSet, recipe: Recipe, seeds: list[int], results: ResultsFile,
                  device: str = "cpu", run_dir: Path | None = None,
                  on_done: Callable[[int, int], None] | None = None) -> None:
    """Train every network of ``members`` with every seed not yet in ``results``, saving each
    seed's accuracy (and the network's mean and std) as it finishes."""
    jobs = pending(results, members, seeds)
    total, done = len(members) * len(seeds), len(members) * len(seeds) - len(jobs)
    for member, seed in jobs:
        resolution = results.rows[member.spec.name]["train_resolution"]
        where = run_dir / spec_file_name(member.spec, "") if run_dir is not None else None
        result = train(member.spec, data, recipe.override(resolution=resolution), [seed], device=device,
                       run_dir=where)

        def record(saved: dict, seed: int = seed, accuracy: float = result.val_top1) -> None:
            saved["per_seed"][str(seed)] = accuracy
            saved["val_top1"], saved["val_top1_std"] = mean_std(list(saved["per_seed"].values()))
        results.change(member.spec.name, record)
        done += 1
        if on_done:
            on_done(done, total)


def bench_members(members: list[Member], results: ResultsFile, configs: list[BenchConfig],
                  on_done: Callable[[int, int], None] | None = None) -> None:
    """Measure every network's batch-1 latency on each of ``configs`` not yet in ``results``, at its
    own (deployment) resolution, the networks taking turns (the ``windows`` protocol)."""
    jobs = [(m, c) for m in members for c in configs if _latency_key(c) not in results.rows[m.spec.name]["latency_ms"]]
    total, done = len(members) * len(configs), len(members) * len(configs) - len(jobs)
    measured = measure_all([(m.spec, c) for m, c in jobs],
                           on_progress=None if on_done is None
                           else lambda turns, all_turns: on_done(done + len(jobs) * turns // all_turns, total))
    for (member, config), result in zip(jobs, measured):
        results.change(member.spec.name, lambda saved, key=_latency_key(config), ms=result.stats.median_ms:
                       saved["latency_ms"].update({key: ms}))


def _latency_key(config: BenchConfig) -> str:
    return f"{config.device}-{config.backend}"


def latency_configs(budget_s: float) -> list[BenchConfig]:
    """Where a family's latency is measured: the CPU with onnxruntime (batch 1, fp32), and CUDA
    (torch, fp16, CUDA graph) where there is a GPU; none with a budget of 0."""
    import torch

    if budget_s <= 0:
        return []
    configs = [BenchConfig("cpu", "onnxruntime", 1, None, "fp32", "eager", budget_s)]
    if torch.cuda.is_available():
        configs.append(BenchConfig("cuda", "torch", 1, None, "fp16", "graph", budget_s))
    return configs


def default_run_dir(members: list[Member], data: DataSet, recipe: Recipe, seeds: list[int]) -> Path:
    """``runs/family-<digest of the settings>``: the same command finds its own run again."""
    return Path("runs") / f"family-{digest(settings(members, data, recipe, seeds))[:10]}"
