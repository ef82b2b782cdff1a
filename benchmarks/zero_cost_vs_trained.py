"""Which training-free score ranks find-base's candidates as proxy training does?

Run:  python benchmarks/zero_cost_vs_trained.py [--candidates 40] [--train-images 1000]
          [--val-images 1000] [--epochs 8] [--seeds 2] [--jobs 2]
          [--cifar ../shared/data/cifar-10] [--fashion /usr/share/datasets/fashion-mnist]
Candidates: --candidates random networks of the MBConv search space (seed 0) inside find-base's
default window (400M MACs +- 10% at 224 px: the networks a search ranks against each other).
Each is scored at initialisation by every metric of scalesearch.train.zero_cost, data-free as
find-base without --data computes them (32 px, the proxy's network), plus naswot and zico on a
batch of each data set's real images (what --prescreen uses). Each is trained with the `proxy`
recipe (8 epochs; --epochs overrides it; evaluated once, after the last epoch) on --train-images images of
the CIFAR-10 subset and of Fashion-MNIST, with --seeds seeds, and validated on --val-images
held-out images. The figure per data set is Spearman's rank correlation of each score with the
mean top-1 over seeds; the default metric is the data-free one with the best mean over both data
sets, unless none beats `params` (the baseline). The seed-vs-seed correlation of the trained
accuracies themselves is the ceiling any score can reach at this budget.
Cost: 40 x 2 x 2 = 160 trainings; about 2.5 h on a 2-vCPU VM with --jobs 2 (one thread each).
Writes benchmarks/results/zero_cost_vs_trained.json after every training and resumes from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import statistics
import sys
import time
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_macs  # noqa: E402
from scalesearch.measure.ranking import spearman  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.search.driver import run_jobs  # noqa: E402
from scalesearch.search.space import load_space  # noqa: E402
from scalesearch.train.data import DataSet, dataset_record, load_data  # noqa: E402
from scalesearch.train.loop import train  # noqa: E402
from scalesearch.train.recipes import Recipe, load_recipe  # noqa: E402
from scalesearch.train.zero_cost import METRICS, data_batch, zero_cost_score  # noqa: E402

DATA_METRICS = ("naswot", "zico")  # also scored on real images


@lru_cache(maxsize=None)
def dataset(data: str, train_images: int, val_images: int) -> DataSet:
    full = load_data(data, train_images=train_images)
    return dataclasses.replace(full, val=full.val.subset(torch.arange(min(val_images, len(full.val)))))


def candidates(n: int, target: float = 400e6, window: float = 0.1) -> list:
    space, rng = load_space(), random.Random(0)
    return [space.sample(rng, accept=lambda s: abs(analytic_macs(s) / target - 1) <= window)[1] for _ in range(n)]


def train_job(job: tuple) -> dict:
    """One proxy training: (data, train_images, val_images, recipe fields, candidate index, spec, seed)."""
    data, train_images, val_images, recipe_fields, _, spec, seed = job
    started = time.perf_counter()
    result = train(spec, dataset(data, train_images, val_images), Recipe(**recipe_fields), seeds=[seed])
    return {"val_top1": result.val_top1, "wall_s": round(time.perf_counter() - started, 1)}


def fisher_interval(r: float, n: int) -> list[float] | None:
    """Approximate 95% interval of a rank correlation over ``n`` pairs (Fisher z)."""
    if n < 4 or not math.isfinite(r) or abs(r) >= 1:
        return None
    z, half = math.atanh(r), 1.96 / math.sqrt(n - 3)
    return [round(math.tanh(z - half), 3), round(math.tanh(z + half), 3)]


def summarise(rows: dict, networks: list, datasets: dict[str, str], seeds: list[int]) -> dict:
    """Spearman of every score with the mean trained accuracy, per data set and averaged; beside
    them, as diagnostics, MACs and depth (the number of blocks), and each score's Spearman with depth."""
    names = [n.name for n in networks]
    blocks = {n.name: sum(stage.repeats for stage in n.stages) for n in networks}
    per_data: dict = {}
    for label in datasets:
        done = [n for n in names if all(f"train|{label}|{n}|{s}" in rows for s in seeds)]
        if len(done) < 4:
            continue
        accuracy = [statistics.fmean(rows[f"train|{label}|{n}|{s}"]["val_top1"] for s in seeds) for n in done]
        scores = {m: [rows[f"score|{n}"][m] for n in done] for m in (*METRICS, "macs")}
        scores["blocks"] = [blocks[n] for n in done]
        scores.update({f"{m}_data": [rows[f"score|{label}|{n}"][m] for n in done] for m in DATA_METRICS})
        entry = {"candidates": len(done), "val_top1_mean": statistics.fmean(accuracy),
                 "val_top1_range": [min(accuracy), max(accuracy)], "spearman": {}, "interval_95": {}}
        for metric, values in scores.items():
            r = spearman(values, accuracy)
            entry["spearman"][metric] = round(r, 3)
            entry["interval_95"][metric] = fisher_interval(r, len(done))
        # Why a score ranks as it does: how closely it follows depth alone.
        entry["spearman_with_blocks"] = {m: round(spearman(values, scores["blocks"]), 3)
                                         for m, values in scores.items() if m != "blocks"}
        if len(seeds) > 1:  # how well one seed's accuracy ranks like another's: the ceiling
            first, second = ([rows[f"train|{label}|{n}|{seed}"]["val_top1"] for n in done] for seed in seeds[:2])
            entry["seed_vs_seed"] = round(spearman(first, second), 3)
        per_data[label] = entry
    if not per_data:
        return {}
    metrics = list(next(iter(per_data.values()))["spearman"])
    mean = {m: round(statistics.fmean(e["spearman"][m] for e in per_data.values()), 3) for m in metrics}
    free = {m: mean[m] for m in METRICS}
    best = max(free, key=free.get)
    default = best if free[best] > free["params"] else "params"
    return {"per_data_set": per_data, "mean_spearman": mean, "best_data_free": best, "recommended_default": default,
            "complete_data_sets": sorted(per_data)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--train-images", type=int, default=1000)
    parser.add_argument("--val-images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2, help="training processes side by side")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/zero_cost_vs_trained.json")
    args = parser.parse_args()
    datasets = {"cifar10": f"cifar10:{args.cifar}", "fashion-mnist": f"fashion-mnist:{args.fashion}"}
    recipe = load_recipe("proxy").override(epochs=args.epochs, eval_every=args.epochs)
    networks = candidates(args.candidates)
    names = [n.name for n in networks]
    seeds = list(range(args.seeds))
    settings = {"candidates": names, "window_macs_224px": [360e6, 440e6], "recipe": dataclasses.asdict(recipe),
                "train_images": args.train_images, "val_images": args.val_images, "seeds": seeds,
                "data": {label: dataset_record(dataset(data, args.train_images, args.val_images))
                         for label, data in datasets.items()},
                "metrics": [*METRICS, *(f"{m}_data" for m in DATA_METRICS)]}
    try:
        results = ResultsFile(args.out, settings, header={"benchmark": "zero_cost_vs_trained"})
    except UsageError as err:  # results made with other settings are never overwritten
        sys.exit(f"error: {err}")
    results.update(machine=machine_info(), jobs=args.jobs)
    # Scores first (seconds each): data-free at the proxy's network and resolution, and on real images.
    for spec in networks:
        net = recipe.network(spec, 10)
        if f"score|{spec.name}" not in results:
            row = {m: zero_cost_score(net, m, resolution=recipe.resolution) for m in METRICS}
            results.add(f"score|{spec.name}", {**row, "macs": analytic_macs(spec)})
        for label, data in datasets.items():
            if f"score|{label}|{spec.name}" not in results:
                images, labels = data_batch(dataset(data, args.train_images, args.val_images), recipe.resolution)
                results.add(f"score|{label}|{spec.name}",
                            {m: zero_cost_score(net, m, images, labels) for m in DATA_METRICS})
    print(f"scores done for {len(networks)} candidates", flush=True)
    fields = dataclasses.asdict(recipe)
    jobs = [(data, args.train_images, args.val_images, fields, label, spec, seed)
            for spec in networks for label, data in datasets.items() for seed in seeds
            if f"train|{label}|{spec.name}|{seed}" not in results]
    started = time.perf_counter()

    def on_result(job: tuple, row: dict) -> None:
        _, _, _, _, label, spec, seed = job
        results.add(f"train|{label}|{spec.name}|{seed}", {**row, "measured": time.strftime("%Y-%m-%d")})
        summary = summarise(results.rows, networks, datasets, seeds)
        results.update(**summary, wall_s_this_run=round(time.perf_counter() - started, 1),
                       trainings_done=sum(k.startswith("train|") for k in results.rows),
                       trainings_planned=len(names) * len(datasets) * len(seeds))
        print(f"{label} {spec.name} seed {seed}: {row['val_top1']:.3f} ({row['wall_s']} s); "
              f"mean spearman {summary.get('mean_spearman')}", flush=True)

    run_jobs(train_job, jobs, args.jobs, on_result)
    results.update(**summarise(results.rows, networks, datasets, seeds))


if __name__ == "__main__":
    main()
