"""Which training-free score ranks networks as full training does? NAS-Bench-Macro answers it.

Run:  python benchmarks/zero_cost_ground_truth.py --table PATH/nas-bench-macro_cifar10.json
          [--sample 1000] [--window 50M] [--threads 1]
Networks: NAS-Bench-Macro keeps one training record per distinct network (3,969 of its 6,561 keys;
the rest move an identity layer within a stage, which changes nothing). Two sets of them:
* ``sample``: --sample networks stratified over the benchmark's mean accuracy (one drawn at random,
  seed 0, from each of --sample equal slices by accuracy): how each score ranks the whole space;
* ``window``: every distinct network inside find-base's window at --window (hard limit: MACs in
  [0.9 x limit, limit]): how each score ranks the candidates a search actually compares.
Scores: params, MACs and the data-free zero-cost metrics of scalesearch.train.zero_cost (naswot,
synflow, zen, zico) exactly as find-base without --data computes them (32 px, the network's 10
classes, seed 0, a batch of 64). Figures: Kendall tau and Spearman of each score with the mean
top-1 over the benchmark's 3 seeds, per set, beside the benchmark's seed-to-seed ceiling on the
same networks (the mean over seed pairs of the agreement of one seed's accuracies with another's).
Cost: about 5 s per network on one thread of a busy 2-vCPU VM (naswot, zen and zico about 1.6 s
each); 1,000 + 417 networks: about 2 h.
Writes benchmarks/results/zero_cost_ground_truth.json after every 20 networks; resumes.
"""

from __future__ import annotations

import argparse
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
from scalesearch.quantities import parse_macs  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.search.space import load_space  # noqa: E402
from scalesearch.train.zero_cost import METRICS, zero_cost_score  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from proxy_ground_truth import stratified  # noqa: E402

SCORES = ("macs", *METRICS)
SEED, BATCH = 0, 64


def distinct(table: MacroTable) -> list[str]:
    """One key per distinct training record (the benchmark's own networks)."""
    seen: dict[tuple, str] = {}
    for key in sorted(table.records):
        seen.setdefault(table.records[key].accuracies, key)
    return sorted(seen.values())


def agreement(rows: list[dict], table: MacroTable) -> dict:
    """Each score's rank agreement with the mean accuracy, and the seed-to-seed ceiling."""
    if len(rows) < 3:
        return {}
    truth = [table.mean(r["key"]) for r in rows]
    out = {"networks": len(rows)}
    for score in SCORES:
        values = [r[score] for r in rows]
        out[score] = {"kendall": kendall(values, truth), "spearman": spearman(values, truth)}
    out["seed_to_seed"] = table.seed_to_seed([r["key"] for r in rows])
    data_free = [s for s in METRICS if s != "params"]
    out["best_zero_cost"] = max(data_free, key=lambda s: out[s]["kendall"])
    out["best_overall"] = max(SCORES, key=lambda s: out[s]["kendall"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True, help="NAS-Bench-Macro's nas-bench-macro_cifar10.json")
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--window", default="50M", help="hard MACs limit whose window [0.9 x, 1 x] is scored whole")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/zero_cost_ground_truth.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        table = MacroTable.load(args.table)
        limit = parse_macs(args.window)
        results = ResultsFile(args.out, {"table_sha256": table.digest, "sample": args.sample, "window_limit": limit,
                                         "seed": SEED, "batch": BATCH, "resolution": 32},
                              header={"benchmark": "zero_cost_ground_truth"})
    except UsageError as err:
        sys.exit(f"error: {err}")
    results.update(machine=machine_info(), torch_threads=args.threads)
    space = load_space("nas-bench-macro")
    dims = list(space.dimensions())
    specs = {key: space.candidate({d: int(c) for d, c in zip(dims, key)}) for key in distinct(table)}
    window = [k for k, s in specs.items() if 0.9 * limit <= analytic_count(s).macs <= limit]
    sample = stratified(table, args.sample)
    sets = {"sample": sample, "window": window}
    todo = [k for k in dict.fromkeys(sample + window) if k not in results]
    print(f"{len(sample)} sampled + {len(window)} in the window; {len(todo)} to score", flush=True)
    for n, key in enumerate(todo, start=1):
        spec, started = specs[key], time.perf_counter()
        row = {"key": key, "macs": analytic_count(spec).macs, "mean_top1": table.mean(key)}
        for metric in METRICS:
            row[metric] = zero_cost_score(spec, metric, batch_size=BATCH, resolution=32, seed=SEED)
        row["wall_s"] = round(time.perf_counter() - started, 2)
        results.add(key, row)
        if n % 20 == 0 or n == len(todo):
            results.update(sets=sets, summary={name: agreement([results.rows[k] for k in keys if k in results], table)
                                               for name, keys in sets.items()})
            print(f"{n}/{len(todo)}", flush=True)
    results.update(sets=sets, summary={name: agreement([results.rows[k] for k in keys if k in results], table)
                                       for name, keys in sets.items()})


if __name__ == "__main__":
    main()
