"""Does find-base's search work? Every sampler judged on ground truth, many seeds, no training.

Run:  python benchmarks/search_ground_truth.py --table PATH/nas-bench-macro_cifar10.json
          [--benchmarks nbm-50M,nbm-70M,anb-400M-hard,anb-400M-soft] [--samplers random,tpe,nsga2,gp]
          [--handling penalty,sampler] [--handling-seeds 5] [--seeds 20] [--budgets 30,100,300]
          [--gp-budget 100] [--gp-seeds 5] [--jobs 1] [--shard I/N]
Each run is `find-base` itself (scalesearch.search.search: the same driver, samplers, objective,
window, finalists and journal storage), its evaluator a benchmark instead of training:
* nbm-50M, nbm-70M: NAS-Bench-Macro's table (`--evaluator table:...`), hard limit of 50M or 70M
  MACs; each query returns one of the network's 3 recorded seeds, the finalists (3 best by search
  score) get the 3 recorded seeds and are judged on their mean. Ground truth: the table's mean over
  the 3 seeds; regret = the best mean among ALL networks within the limit minus the returned one's.
* anb-400M-hard, anb-400M-soft: Accel-NASBench through the surrogate fitted by
  benchmarks/fit_surrogate.py (`--evaluator surrogate:accel-nasbench`), at <= 400M MACs (hard) and
  with the soft objective ACC x (MACs/400M)^-0.07. The space holds 10^11 networks, so ground truth
  is the surrogate itself and the references are EfficientNet-B0's predicted top-1 (the question:
  does the search find a B0?) and a random sample of 20,000 networks of the space (for percentiles).
Runs are not seeded with the space's base network (`--no-seed-base`): in accel-nasbench the base IS
B0. Samplers: random, tpe (the default), nsga2 and gp, with constraint handling `penalty` (the
default) and, for the first --handling-seeds seeds, also `sampler` (Optuna's Trial.set_constraint;
random search has no model to tell). A network a run evaluated before is not evaluated again and
does not count (find-base's rule), so a budget is that many distinct networks. Each
sampler runs `--seeds` seeds to the largest budget of evaluated trials; the smaller budgets are
that run's first trials (a sampler does not know its budget), with the finalist stage applied to
them as find-base applies it (checked against find-base's own finalists at the largest budget).
GP fits its model on every trial, rejected ones included, and its cost grows with their count: it
runs to `--gp-budget` with `--gp-seeds` seeds only (the full protocol for GP is the same command
with --gp-budget 300 --gp-seeds 20; the JSON records each run's wall time).
Per run: the network returned after finalists and its regret per budget, the anytime regret of the
search's incumbent (best search score so far) after each evaluated trial. Per sampler and budget:
median and quartiles of regret, the probability of returning a top-1% network, and a one-sided
Mann-Whitney U test of its regrets against random search's.
Cost: random, tpe and nsga2 at 300 trials take 5-40 s per run; GP as above.
Writes benchmarks/results/search_ground_truth.json after every run (resumes; refuses other
settings) and one anytime-regret PNG per benchmark beside it.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scalesearch.arch.io import load_spec, resolve_spec  # noqa: E402
from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.groundtruth.nas_bench_macro import MacroTable  # noqa: E402
from scalesearch.groundtruth.surrogate import Surrogate  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_macs  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.search.analysis import trial_spec  # noqa: E402
from scalesearch.search.config import SearchConfig  # noqa: E402
from scalesearch.search.find_base import search  # noqa: E402
from scalesearch.search.objective import Objective  # noqa: E402
from scalesearch.search.results import summarise  # noqa: E402
from scalesearch.search.space import load_space  # noqa: E402
from scalesearch.search.trial_states import scored  # noqa: E402

#: name -> (space, evaluator kind, target MACs, constraint)
BENCHMARKS = {
    "nbm-50M": ("nas-bench-macro", "table", 50e6, "hard"),
    "nbm-70M": ("nas-bench-macro", "table", 70e6, "hard"),
    "anb-400M-hard": ("accel-nasbench", "surrogate", 400e6, "hard"),
    "anb-400M-soft": ("accel-nasbench", "surrogate", 400e6, "soft"),
}
SURROGATE = "accel-nasbench"
REFERENCE_SAMPLE = 20_000
FINALISTS = 3


def objective(bench: str) -> Objective:
    _, _, target, constraint = BENCHMARKS[bench]
    return Objective(target, "MACs", constraint)


@lru_cache(maxsize=2)
def table(path: str) -> MacroTable:
    return MacroTable.load(path)


@lru_cache(maxsize=1)
def surrogate() -> Surrogate:
    return Surrogate.load(SURROGATE)


def truth(bench: str, table_path: str, spec) -> float:
    """Ground-truth top-1 (%) of a network of the benchmark's space."""
    space_name, kind, _, _ = BENCHMARKS[bench]
    if kind == "table":
        t = table(table_path)
        return t.mean(t.key(spec))
    return surrogate().predict_spec(load_space(space_name), spec)


def references(bench: str, table_path: str) -> dict:
    """What a returned network is judged against: the best feasible (table) or B0 and a random
    sample of the space (surrogate), and the top-1% bar. For the soft objective, scores."""
    space_name, kind, target, constraint = BENCHMARKS[bench]
    goal = objective(bench)
    space = load_space(space_name)
    if kind == "table":
        t = table(table_path)
        dims = list(space.dimensions())
        feasible = []
        for key, record in t.records.items():
            macs = analytic_macs(space.candidate({d: int(c) for d, c in zip(dims, key)}))
            if macs <= target:
                feasible.append(record.mean)
        feasible.sort(reverse=True)
        top = max(1, math.ceil(0.01 * len(feasible)))
        return {"feasible_networks": len(feasible), "best_feasible": feasible[0], "top1pct_bar": feasible[top - 1],
                "top1pct_networks": top}
    rng, rows, costs = random.Random(0), [], []
    low, high = goal.window()
    while len(rows) < REFERENCE_SAMPLE:
        params, spec = space.sample(rng)
        macs = analytic_macs(spec)
        if (macs <= target) if constraint == "hard" else (low <= macs <= high):
            rows.append(params)
            costs.append(macs)
    predicted = surrogate().predict(space, rows)
    values = sorted((goal.score(p, c) if constraint == "soft" else p for p, c in zip(predicted, costs)), reverse=True)
    b0 = resolve_spec("efficientnet-b0")
    b0_top1 = surrogate().predict_spec(space, b0)
    return {"sample": REFERENCE_SAMPLE, "sample_population": "uniform over the space, MACs <= target" if
            constraint == "hard" else "uniform over the space, inside the window", "sample_best": values[0],
            "top1pct_bar": values[len(values) // 100 - 1], "b0_top1": b0_top1, "b0_macs": analytic_macs(b0),
            "b0_score": goal.score(b0_top1, analytic_macs(b0))}


def value_of(bench: str, accuracy: float, macs: float) -> float:
    """What a benchmark ranks by: accuracy (hard limit) or the soft objective's score (both in %)."""
    return objective(bench).score(accuracy, macs) if BENCHMARKS[bench][3] == "soft" else accuracy


def run_one(job: tuple) -> dict:
    """One search (a separate process may run it): its incumbent curve and per-budget outcome."""
    bench, sampler, handling, seed, budgets, table_path = job
    space_name, kind, _, _ = BENCHMARKS[bench]
    source = table_path if kind == "table" else SURROGATE
    started = time.perf_counter()
    # The study's journal on a RAM disk where there is one: Optuna's journal file syncs every record to
    # disk (28 s of a 60 s random search here), which a throwaway study does not need.
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as folder:
        config = SearchConfig(objective=objective(bench), run_dir=Path(folder), study_name="ground-truth",
                              n_trials=max(budgets), space=space_name, evaluator=f"{kind}:{source}", sampler=sampler,
                              seed=seed, seed_with_base=False, constraint_handling=handling, finalists=FINALISTS)
        study = search(config)
        summary = summarise(study, config)
        trials = study.get_trials(deepcopy=False)
        evaluated = sorted(scored(trials), key=lambda t: t.number)
        rows = []
        for t in evaluated:
            spec = trial_spec(config, t)
            macs = t.user_attrs["macs"]
            rows.append({"name": spec.name, "score": t.user_attrs["score"], "macs": macs,
                         "truth": value_of(bench, truth(bench, table_path, spec), macs)})
        library_winner = summary["best"]
        library_truth = value_of(bench, truth(bench, table_path, load_spec(library_winner["spec_path"])),
                                 library_winner["macs"])
    incumbent, curve = None, []
    for row in rows:
        if incumbent is None or row["score"] > incumbent["score"]:
            incumbent = row
        curve.append(round(incumbent["truth"], 4))
    outcome = {}
    for budget in budgets:
        prefix = rows[:budget]
        chosen: dict[str, dict] = {}
        for row in sorted(prefix, key=lambda r: -r["score"]):  # find-base's finalists: best distinct by score
            if row["name"] not in chosen and len(chosen) < FINALISTS:
                chosen[row["name"]] = row
        winner = max(chosen.values(), key=lambda r: r["truth"])  # judged on the mean of fresh seeds
        outcome[str(budget)] = {"name": winner["name"], "truth": winner["truth"], "macs": winner["macs"],
                                "evaluated": len(prefix)}  # fewer than the budget: the run stopped early
    return {"bench": bench, "sampler": sampler, "handling": handling, "seed": seed, "curve": curve,
            "outcome": outcome, "library_winner_truth": library_truth, "trials_total": len(trials),
            "rejected": summary["n_rejected"], "repeats": summary["n_repeats"], "evaluated": len(rows),
            "stopped_early": summary["stopped_early"], "wall_s": round(time.perf_counter() - started, 1)}


def mann_whitney_less(x: list[float], y: list[float]) -> float | None:
    """One-sided p-value that ``x`` (regrets) tends to be smaller than ``y`` (random search's)."""
    if len(x) < 2 or len(y) < 2 or x == y:
        return None
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(x, y, alternative="less").pvalue)


def quartiles(values: list[float]) -> list[float]:
    if len(values) < 2:
        return [values[0]] * 3 if values else []
    q = statistics.quantiles(values, n=4, method="inclusive")
    return [q[0], statistics.median(values), q[2]]


def summarise_runs(rows: dict, refs: dict, budgets: list[int]) -> dict:
    out: dict = {}
    for bench in BENCHMARKS:
        if bench not in refs:
            continue
        ref = refs[bench]
        best = ref.get("best_feasible", ref.get("sample_best"))
        runs = [r for r in rows.values() if r["bench"] == bench]
        if not runs:
            continue
        if "best_feasible" not in ref:  # a surrogate: regret against the best network any run found
            best = max([best] + [max(r["curve"]) for r in runs])
            ref["best_found_any_run"] = best
        groups = sorted({(r["sampler"], r["handling"]) for r in runs})
        per: dict = {}
        for sampler, handling in groups:
            mine = [r for r in runs if (r["sampler"], r["handling"]) == (sampler, handling)]
            entry = {"seeds": len(mine)}
            for budget in budgets:
                done = [r for r in mine if str(budget) in r["outcome"]]
                if not done:
                    continue
                found = [r["outcome"][str(budget)]["truth"] for r in done]
                regrets = [best - f for f in found]
                stats = {"runs": len(done), "regret_quartiles": quartiles(regrets),
                         "regret_mean": statistics.fmean(regrets),
                         "p_top1pct": sum(f >= ref["top1pct_bar"] for f in found) / len(found)}
                if "b0_top1" in ref:
                    b0 = ref["b0_score"] if BENCHMARKS[bench][3] == "soft" else ref["b0_top1"]
                    stats["vs_b0_quartiles"] = quartiles([f - b0 for f in found])
                    stats["p_within_0.3_of_b0_or_above"] = sum(f >= b0 - 0.3 for f in found) / len(found)
                randoms = [r for r in runs if r["sampler"] == "random" and str(budget) in r["outcome"]]
                if sampler != "random" and randoms:
                    stats["mann_whitney_p_vs_random"] = mann_whitney_less(
                        regrets, [best - r["outcome"][str(budget)]["truth"] for r in randoms])
                entry[str(budget)] = stats
            curves = [r["curve"] for r in mine]
            longest = max(len(c) for c in curves)
            entry["anytime_regret_median"] = [round(statistics.median(best - c[k] for c in curves if len(c) > k), 4)
                                              for k in range(longest)]
            entry["wall_s_median"] = statistics.median(r["wall_s"] for r in mine)
            entry["stopped_early_runs"] = sum(bool(r["stopped_early"]) for r in mine)
            entry["repeats_median"] = statistics.median(r["repeats"] for r in mine)
            entry["trials_median"] = statistics.median(r["trials_total"] for r in mine)
            per[f"{sampler}/{handling}"] = entry
        out[bench] = {"reference_best": best, "groups": per, "handling_pairs": handling_pairs(runs, budgets)}
    return out


def handling_pairs(runs: list[dict], budgets: list[int]) -> dict:
    """``sampler`` constraint handling against ``penalty``, seed by seed (the same seeds ran both):
    how often the returned network was better, equal or worse, and the mean difference in points."""
    by_key = {(r["sampler"], r["handling"], r["seed"]): r for r in runs}
    out: dict = {}
    for (sampler, handling, seed), run in sorted(by_key.items()):
        other = by_key.get((sampler, "penalty", seed))
        if handling != "sampler" or other is None:
            continue
        for budget in map(str, budgets):
            if budget not in run["outcome"] or budget not in other["outcome"]:
                continue
            diff = run["outcome"][budget]["truth"] - other["outcome"][budget]["truth"]
            cell = out.setdefault(sampler, {}).setdefault(budget, {"pairs": 0, "better": 0, "equal": 0, "worse": 0,
                                                                   "diffs": []})
            cell["pairs"] += 1
            cell["better" if diff > 1e-9 else "worse" if diff < -1e-9 else "equal"] += 1
            cell["diffs"].append(diff)
    for cells in out.values():
        for cell in cells.values():
            cell["mean_diff"] = statistics.fmean(cell.pop("diffs"))
    return out


def plot(document: dict, folder: Path) -> list[Path]:
    """One PNG per benchmark: median anytime regret with quartiles, per sampler and handling."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for bench, entry in document.get("summary", {}).items():
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        best = entry["reference_best"]
        for label in entry["groups"]:
            sampler, handling = label.split("/")
            curves = [r["curve"] for r in document["rows"].values()
                      if r["bench"] == bench and (r["sampler"], r["handling"]) == (sampler, handling)]
            longest = max(len(c) for c in curves)
            qs = [quartiles([best - c[k] for c in curves if len(c) > k]) for k in range(longest)]
            x = list(range(1, longest + 1))
            line, = ax.plot(x, [q[1] for q in qs], label=f"{label} ({len(curves)} seeds)",
                            linestyle="-" if handling == "penalty" else "--")
            ax.fill_between(x, [q[0] for q in qs], [q[2] for q in qs], alpha=0.12, color=line.get_color())
        unit = "points of the objective score" if BENCHMARKS[bench][3] == "soft" else "top-1 points"
        ax.set(xlabel="evaluated trials", ylabel=f"regret of the incumbent ({unit})", xscale="log",
               title=f"{bench}: median and quartiles over seeds")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"search_ground_truth_{bench}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True, help="NAS-Bench-Macro's nas-bench-macro_cifar10.json")
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    parser.add_argument("--samplers", default="random,tpe,nsga2,gp")
    parser.add_argument("--handling", default="penalty,sampler")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budgets", default="30,100,300")
    parser.add_argument("--gp-budget", type=int, default=100)
    parser.add_argument("--gp-seeds", type=int, default=5)
    parser.add_argument("--handling-seeds", type=int, default=5,
                        help="seeds that also run constraint handling 'sampler' (the first --handling-seeds)")
    parser.add_argument("--shard", default="0/1", help="I/N: run every N-th job from the I-th (N processes side by "
                        "side fill one results file)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/search_ground_truth.json")
    args = parser.parse_args()
    budgets = sorted(int(b) for b in args.budgets.split(","))
    benches = args.benchmarks.split(",")
    unknown = [b for b in benches if b not in BENCHMARKS]
    if unknown or args.seeds < 1 or args.jobs < 1 or not budgets or min(budgets) < 1:
        sys.exit(f"error: unknown benchmark {unknown[0]!r}" if unknown else "error: seeds, jobs and budgets >= 1")
    try:
        t = table(args.table)
        settings = {"table_sha256": t.digest, "surrogate_sha256": surrogate().digest, "budgets": budgets,
                    "finalists": FINALISTS, "seed_with_base": False,
                    "repeats": "a network evaluated before takes its result and does not count",
                    "reference_sample": REFERENCE_SAMPLE,
                    "benchmarks": {b: list(BENCHMARKS[b]) for b in BENCHMARKS}}
        results = ResultsFile(args.out, settings, header={"benchmark": "search_ground_truth"})
    except UsageError as err:
        sys.exit(f"error: {err}")
    refs = dict(results.document.get("references", {}))
    for bench in benches:
        if bench not in refs:
            refs[bench] = references(bench, args.table)
            results.update(references=refs)
    results.update(machine=machine_info())
    jobs = []
    samplers = args.samplers.split(",")
    # GP last: one of its runs costs as much as all the others' for a seed.
    for group in ([s for s in samplers if s != "gp"], [s for s in samplers if s == "gp"]):
        for seed in range(args.seeds):
            for bench, sampler in ((b, s) for b in benches for s in group):
                if sampler == "gp" and seed >= args.gp_seeds:
                    continue
                mine = [b for b in budgets if sampler != "gp" or b <= args.gp_budget] or [min(budgets)]
                handlings = args.handling.split(",") if sampler != "random" and seed < args.handling_seeds else [
                    args.handling.split(",")[0]]
                for handling in handlings:
                    key = f"{bench}|{sampler}|{handling}|{seed}"
                    if key not in results:
                        jobs.append((key, (bench, sampler, handling, seed, mine, args.table)))

    index, count = (int(x) for x in args.shard.split("/"))
    jobs = jobs[index::count]

    def save(key: str, row: dict) -> None:
        results.add(key, row)
        results.update(summary=summarise_runs(results.rows, refs, budgets))
        print(key, row["outcome"], f"{row['wall_s']} s", flush=True)

    if args.jobs == 1:
        for key, job in jobs:
            save(key, run_one(job))
    else:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            for key, row in zip([k for k, _ in jobs], pool.imap(run_one, [j for _, j in jobs])):
                save(key, row)
    results.update(summary=summarise_runs(results.rows, refs, budgets), references=refs)
    for path in plot(results.document, args.out.parent):
        print("wrote", path)


if __name__ == "__main__":
    main()
