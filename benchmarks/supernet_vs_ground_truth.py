"""Does a weight-sharing supernet rank networks as stand-alone training does? NAS-Bench-Macro answers it.

Run:  python benchmarks/supernet_vs_ground_truth.py --table PATH/nas-bench-macro_cifar10.json
          [--data ../shared/data/cifar-10] [--train-images 4500] [--epochs 8] [--random-subnets 2]
          [--calibration-images 256] [--threads 1] [--device cpu] [--run-dir runs/supernet-nas-bench-macro]
1. Trains the supernet of NAS-Bench-Macro's space (scalesearch.train.supernet: sandwich rule, the
   largest network on the labels, the smallest and --random-subnets random ones distilled from it)
   with the `proxy` recipe at --epochs on the CIFAR-10 subset at 32 px, in --run-dir (resumable),
   and times the largest network's own forward+backward on the same batches as the bound a
   supernet step cannot beat (one step runs it plus 1 + --random-subnets smaller ones).
2. Scores, with inherited weights and BatchNorm statistics re-estimated on --calibration-images
   training images, the networks of benchmarks/results/zero_cost_ground_truth.json's two sets:
   every distinct network in find-base --flops 50M --constraint hard's window (45-50M MACs) and
   the 1,000 stratified over accuracy: the window first, then the sample in a seeded random order
   (a partial sample's figures are taken on a uniform random subset of it).
   Figures: Kendall tau and Spearman of inherited top-1 with the benchmark's mean top-1 per set,
   beside MACs, params and the zero-cost scores on the same networks (from that JSON) and the
   seed-to-seed ceiling; and the supernet's choice in the window: its 3 best networks judged on
   the benchmark's mean (find-base's finalists), regret against the window's best.
3. (After the window, before the rest of the sample.) Supernet-driven searches: find-base at
   <= 50M MACs (hard, TPE, --search-seeds seeds, 300 evaluated networks, the first 100 of the same
   runs for the smaller budget), candidates scored
   with the inherited accuracies of step 2 (looked up: the evaluator is deterministic, so a lookup
   equals a fresh score); the finalists (3 best by inherited score) judged on the benchmark's mean,
   as training them stand-alone judges them; regret against the best network within 50M MACs.
GPU-sized: --device cuda --train-images 0 --epochs 50 (the whole subset, the benchmark's epochs).
Writes benchmarks/results/supernet_vs_ground_truth.json after every 20 networks; resumes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from supernet_costs import forward_backward  # noqa: E402

from scalesearch.errors import ScalesearchError  # noqa: E402
from scalesearch.groundtruth.nas_bench_macro import MacroTable  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_count  # noqa: E402
from scalesearch.measure.ranking import kendall, spearman  # noqa: E402
from scalesearch.nn import build_model  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.search.analysis import trial_spec  # noqa: E402
from scalesearch.search.config import SearchConfig  # noqa: E402
from scalesearch.search.find_base import search  # noqa: E402
from scalesearch.search.objective import Objective  # noqa: E402
from scalesearch.search.space import load_space  # noqa: E402
from scalesearch.search.trial_states import scored  # noqa: E402
from scalesearch.train.data import dataset_record, load_data  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402
from scalesearch.train.supernet import load_supernet, train_supernet  # noqa: E402

ZERO_COST = ROOT / "benchmarks/results/zero_cost_ground_truth.json"
SCORES = ("macs", "params", "naswot", "synflow", "zen", "zico")
FINALISTS = 3
WINDOW_LIMIT = 50e6
SEARCH_BUDGETS = [100, 300]


def largest_alone(run, spec) -> float:
    """Images per second of the largest network's own forward+backward on the supernet's batches."""
    net = build_model(run.supernet.check(spec)).to(run.device, memory_format=torch.channels_last).train()
    return forward_backward(run, net)


def agreement(rows: list[dict], table: MacroTable) -> dict:
    if len(rows) < 3:
        return {}
    truth = [table.mean(r["key"]) for r in rows]
    out = {"networks": len(rows)}
    for score in ("inherited", *SCORES):
        values = [r[score] for r in rows]
        out[score] = {"kendall": kendall(values, truth), "spearman": spearman(values, truth)}
    out["seed_to_seed"] = table.seed_to_seed([r["key"] for r in rows])
    return out


def choice(rows: list[dict], table: MacroTable) -> dict:
    """The supernet's pick in a set: its FINALISTS best by inherited top-1, judged on the benchmark's mean."""
    if not rows:
        return {}
    finalists = sorted(rows, key=lambda r: -r["inherited"])[:FINALISTS]
    picked = max(finalists, key=lambda r: table.mean(r["key"]))
    best = max(table.mean(r["key"]) for r in rows)
    ranked = sorted((table.mean(r["key"]) for r in rows), reverse=True)
    return {"networks": len(rows), "finalists": [r["key"] for r in finalists], "picked": picked["key"],
            "picked_mean_top1": table.mean(picked["key"]), "best_mean_top1": best,
            "regret": best - table.mean(picked["key"]),
            "picked_rank": ranked.index(table.mean(picked["key"])) + 1}


def inherited_table(source: Path, table: MacroTable, scored: dict[str, float], path: Path) -> Path:
    """NAS-Bench-Macro's file with each scored network's (and its equivalents') accuracies replaced
    by its inherited top-1: a table evaluator over it scores a candidate as the supernet evaluator
    does, in a lookup, so that many search seeds cost seconds (networks outside the hard window are
    never evaluated)."""
    document = json.loads(source.read_text())
    by_record = {table.records[k].accuracies: value for k, value in scored.items()}
    for key, record in table.records.items():
        if record.accuracies in by_record:
            value = by_record[record.accuracies]
            document[key].update(test_acc=[value] * 3, mean_acc=value, std=0.0)
    path.write_text(json.dumps(document))
    return path


def supernet_search(seed: int, budgets: list[int], lookup: Path, table: MacroTable, best: float) -> dict:
    """One find-base run at <= 50M MACs (hard), TPE, scoring candidates with the supernet (through
    ``lookup``); per budget, its finalists (the 3 best by inherited score) judged on the benchmark's
    mean, as stand-alone training of the finalists judges them."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as folder:
        config = SearchConfig(objective=Objective(WINDOW_LIMIT, "MACs", "hard"), run_dir=Path(folder),
                              study_name="supernet", n_trials=max(budgets), space="nas-bench-macro",
                              evaluator=f"table:{lookup}", seed=seed, seed_with_base=False, finalists=FINALISTS,
                              final_seeds=1)
        study = search(config)
        lookup_table = MacroTable.load(lookup)
        rows = [(t.user_attrs["score"], lookup_table.key(trial_spec(config, t)))
                for t in sorted(scored(study.get_trials(deepcopy=False)), key=lambda t: t.number)]
    out = {"seed": seed, "evaluated": len(rows), "wall_s": round(time.perf_counter() - started, 1)}
    for budget in budgets:
        finalists: list[str] = []
        for _, key in sorted(rows[:budget], key=lambda r: -r[0]):
            if key not in finalists and len(finalists) < FINALISTS:
                finalists.append(key)
        picked = max(finalists, key=table.mean)
        out[str(budget)] = {"finalists": finalists, "picked": picked, "truth": table.mean(picked),
                            "regret": best - table.mean(picked)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True, help="NAS-Bench-Macro's nas-bench-macro_cifar10.json")
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--train-images", type=int, default=4500, help="0: the whole training split")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--random-subnets", type=int, default=2)
    parser.add_argument("--calibration-images", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--search-seeds", type=int, default=5)
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs/supernet-nas-bench-macro")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/supernet_vs_ground_truth.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        table = MacroTable.load(args.table)
        zero_cost = json.loads(ZERO_COST.read_text())
        if zero_cost["settings"]["table_sha256"] != table.digest:
            sys.exit(f"error: {ZERO_COST.name} was made with another table")
        data = load_data(f"cifar10:{args.data}", train_images=args.train_images or None)
        recipe = load_recipe("proxy").override(epochs=args.epochs, warmup_epochs=min(1, args.epochs))
        settings = {"table_sha256": table.digest, "data": dataset_record(data), "recipe": recipe.name,
                    "epochs": args.epochs, "random_subnets": args.random_subnets,
                    "calibration_images": args.calibration_images, "device": args.device}
        results = ResultsFile(args.out, settings, header={"benchmark": "supernet_vs_ground_truth"})
        results.update(machine=machine_info(), torch_threads=args.threads)
        started = time.perf_counter()
        run = train_supernet("nas-bench-macro", data, recipe, args.run_dir, random_subnets=args.random_subnets,
                             device=args.device, on_epoch=lambda e: print(e, flush=True))
        if "training" not in results.document:
            space = load_space("nas-bench-macro")
            largest = space.candidate({d: 2 for d in space.dimensions()})  # every layer at its largest option
            results.update(training={
                "epochs": [e.__dict__ for e in run.epochs], "wall_s": round(sum(e.wall_s for e in run.epochs), 1),
                "img_per_s": statistics.fmean(e.img_per_s for e in run.epochs),
                "largest_alone_img_per_s": largest_alone(run, largest),
                "networks_per_step": 2 + args.random_subnets, "resumed_wall_s": round(time.perf_counter() - started)})
        run = load_supernet(args.run_dir, data, device=args.device)
    except ScalesearchError as err:
        sys.exit(f"error: {err}")
    space = load_space("nas-bench-macro")
    dims = list(space.dimensions())
    sets = zero_cost["sets"]
    # The window first (the supernet's choice in it needs all of it), then the sample in a seeded random
    # order; a partial sample's figures are taken on the longest scored prefix of that order, a uniform
    # random subset.
    order = {name: random.Random(0).sample(keys, len(keys)) for name, keys in sets.items()}

    def summarise() -> None:
        rows = {name: [results.rows[k] for k in itertools.takewhile(lambda k: k in results, keys)]
                for name, keys in order.items()}
        results.update(sets=sets, summary={name: agreement(r, table) for name, r in rows.items()},
                       window_choice=choice(rows["window"], table) if len(rows["window"]) == len(sets["window"])
                       else {})

    def score(keys: list[str]) -> None:
        todo = [k for k in keys if k not in results]
        for n, key in enumerate(todo, start=1):
            spec, started = space.candidate({d: int(c) for d, c in zip(dims, key)}), time.perf_counter()
            results.add(key, {"key": key, "inherited": run.score(spec, args.calibration_images) * 100,
                              **{s: zero_cost["rows"][key][s] for s in SCORES}, "mean_top1": table.mean(key),
                              "wall_s": round(time.perf_counter() - started, 2)})
            if n % 20 == 0 or n == len(todo):
                summarise()
                print(f"{n}/{len(todo)}", json.dumps(results.document["summary"]), flush=True)

    score(order["window"])
    # Supernet-driven searches over the window, then the rest of the sample.
    limit_best = max(r.mean for k, r in table.records.items()
                     if analytic_count(space.candidate({d: int(c) for d, c in zip(dims, k)})).macs <= WINDOW_LIMIT)
    lookup = inherited_table(Path(args.table), table, {k: results.rows[k]["inherited"] for k in sets["window"]},
                             args.run_dir / "inherited_window.json")
    for seed in range(args.search_seeds):
        if f"search|{seed}" not in results:
            results.add(f"search|{seed}", supernet_search(seed, SEARCH_BUDGETS, lookup, table, limit_best))
            print(f"search seed {seed}", json.dumps(results.rows[f"search|{seed}"]), flush=True)
        searches = [results.rows[f"search|{s}"] for s in range(seed + 1)]
        results.update(search={"limit_best_mean_top1": limit_best, "seeds": len(searches), **{
            str(b): {"regrets": [s[str(b)]["regret"] for s in searches],
                     "median_regret": statistics.median(s[str(b)]["regret"] for s in searches)}
            for b in SEARCH_BUDGETS}})
    score(order["sample"])
    summarise()

if __name__ == "__main__":
    main()
