"""Does the search's training proxy rank networks as full training does? NAS-Bench-Macro answers it.

Run:  python benchmarks/proxy_ground_truth.py --table PATH/nas-bench-macro_cifar10.json
          [--data ../shared/data/cifar-10] [--networks 30] [--recipes proxy,standard,proxy-2x]
          [--train-images 0] [--threads 1] [--device cpu]
Networks: --networks networks of NAS-Bench-Macro's space (search_spaces/nas-bench-macro.yaml),
stratified over the benchmark's mean accuracy: the distinct trained networks sorted by mean
accuracy, one drawn at random (seed 0) from each of --networks equal slices. Each is trained once
(seed 0) with each recipe on the CIFAR-10 subset at 32 px: `proxy` (what find-base trains
candidates with), `standard` (scalesearch train's default) and `proxy-2x` (the proxy with twice the
epochs and warm-up). The figure per recipe is Spearman's (and Kendall's) rank correlation of its
top-1 with the benchmark's mean top-1 (full CIFAR-10, 50 epochs, 3 seeds), beside the benchmark's
own seed-to-seed ceiling on the same networks.
Cost: about 7 min per 8-epoch training with --train-images 4500 on one thread of a busy 2-vCPU VM
(the JSON records each one's wall time); 30 networks x (1 + 1 + 2) 8-epoch trainings is about 14 h.
The first recipe (the search's proxy) trains every network before the others start; each later
recipe is compared with the first on the networks both trained (the summary's "paired").
Writes benchmarks/results/proxy_ground_truth.json after every training; an interrupted run goes on
where it stopped; a file made with other settings is refused, never overwritten.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.groundtruth.nas_bench_macro import MacroTable  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_count  # noqa: E402
from scalesearch.measure.ranking import kendall, spearman  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.search.space import load_space  # noqa: E402
from scalesearch.train.data import dataset_record, load_data  # noqa: E402
from scalesearch.train.loop import train  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402


def recipes(names: list[str]) -> dict:
    """The named recipes, each evaluated once after its last epoch (only the final accuracy counts)."""
    out = {}
    for name in names:
        base = load_recipe(name.removesuffix("-2x"))
        if name.endswith("-2x"):
            base = base.override(name=name, epochs=2 * base.epochs, warmup_epochs=2 * base.warmup_epochs)
        out[name] = base.override(eval_every=base.epochs)
    return out


def stratified(table: MacroTable, count: int, seed: int = 0) -> list[str]:
    """``count`` distinct trained networks, one from each of ``count`` equal slices by mean accuracy."""
    distinct: dict[tuple, str] = {}
    for key in sorted(table.records):
        distinct.setdefault(table.records[key].accuracies, key)  # the benchmark stores a network once per record
    ranked = sorted(distinct.values(), key=table.mean)
    rng = random.Random(seed)
    edges = [round(i * len(ranked) / count) for i in range(count + 1)]
    return [rng.choice(ranked[edges[i]:edges[i + 1]]) for i in range(count)]


def summary(rows: dict, table: MacroTable, names: list[str]) -> dict:
    out = {}
    for recipe in names:
        done = [r for r in rows.values() if r["recipe"] == recipe]
        if len(done) >= 3:
            truth, proxy = [table.mean(r["key"]) for r in done], [r["top1"] for r in done]
            out[recipe] = {"networks": len(done), "spearman": spearman(proxy, truth), "kendall": kendall(proxy, truth)}
    first = {r["key"]: r["top1"] for r in rows.values() if r["recipe"] == names[0]}
    for recipe in names[1:]:  # each later recipe beside the first on the networks both trained
        top1 = {r["key"]: r["top1"] for r in rows.values() if r["recipe"] == recipe}
        both = sorted(set(top1) & set(first))
        if len(both) >= 3:
            truth = [table.mean(k) for k in both]
            out.setdefault("paired", {})[recipe] = {
                "networks": len(both),
                recipe: {"spearman": spearman([top1[k] for k in both], truth),
                         "kendall": kendall([top1[k] for k in both], truth)},
                names[0]: {"spearman": spearman([first[k] for k in both], truth),
                           "kendall": kendall([first[k] for k in both], truth)}}
    keys = sorted({r["key"] for r in rows.values()})
    if len(keys) >= 3:  # the benchmark's own seed-to-seed agreement on these networks
        out["seed_to_seed"] = table.seed_to_seed(keys)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True, help="NAS-Bench-Macro's nas-bench-macro_cifar10.json")
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--networks", type=int, default=30)
    parser.add_argument("--recipes", default="proxy,standard,proxy-2x")
    parser.add_argument("--train-images", type=int, default=0, help="0: the whole training split")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/proxy_ground_truth.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        table = MacroTable.load(args.table)
        data = load_data(f"cifar10:{args.data}", train_images=args.train_images or None)
        names = args.recipes.split(",")
        chosen = recipes(names)
        settings = {"table_sha256": table.digest, "data": dataset_record(data), "networks": args.networks,
                    "recipes": {n: dataclasses.asdict(r) for n, r in chosen.items()}, "device": args.device,
                    "seed": 0}
        results = ResultsFile(args.out, settings, header={"benchmark": "proxy_ground_truth"})
    except UsageError as err:
        sys.exit(f"error: {err}")
    results.update(machine=machine_info(), torch_threads=args.threads)
    space = load_space("nas-bench-macro")
    keys = stratified(table, args.networks)
    dims = list(space.dimensions())
    # Recipe by recipe, the first (the search's proxy) on every network before the others start; each
    # later one is compared with it on the networks both trained (summary: "paired").
    for recipe_name, recipe in chosen.items():
        for key in keys:
            row_key = f"{recipe_name}|{key}"
            if row_key in results:
                continue
            spec = space.candidate({d: int(c) for d, c in zip(dims, key)})
            started = time.perf_counter()
            result = train(spec, data, recipe, [0], device=args.device)
            results.add(row_key, {"recipe": recipe_name, "key": key, "top1": result.val_top1 * 100,
                                  "benchmark_mean": table.mean(key), "macs": analytic_count(spec).macs,
                                  "wall_s": round(time.perf_counter() - started, 1),
                                  "measured": time.strftime("%Y-%m-%d")})
            results.update(summary=summary(results.rows, table, names))
            print(row_key, json.dumps(results.rows[row_key]), flush=True)


if __name__ == "__main__":
    main()
