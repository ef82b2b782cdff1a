"""Does find-base find a better base than the one it starts from, and does TPE beat random search?

Run (CPU-sized, the defaults):
    python benchmarks/search_quality.py [--n-trials 8] [--search-seeds 0,1] [--samplers tpe,random]
        [--train-images 1000] [--epochs 8] [--finalists 2] [--final-seeds 3] [--reference-scale 4]
        [--reference-images 1000] [--reference-seeds 3] [--jobs 2]
GPU-sized (a ready command; N >= 100, every training image):
    python benchmarks/search_quality.py --device cuda --jobs 4 --n-trials 100 --train-images 0
        --reference-images 0 --finalists 3 --out benchmarks/results/search_quality_gpu.json
For each data set (the CIFAR-10 subset and Fashion-MNIST), sampler and search seed: find-base
--flops 400M --constraint hard --data D (the `proxy` recipe on --train-images images, --n-trials
evaluated trials, median pruning, then its finalist stage), exactly as the command runs it. The
hard constraint says "at most 400M MACs" (w = -1 above the target, 0 below), which is the goal's.
Then every distinct winner, with EfficientNet-B0, MobileNetV2 and MnasNet-A1, is trained with a
reference schedule: the proxy with --reference-scale x its epochs and warm-up, on
--reference-images training images (0: all), --reference-seeds seeds each, evaluated on the
data set's 1,000 held-out validation images.
Per search: found MACs, found vs B0 under the reference (mean +- std, and whether found is B0
itself), the finalist-stage margin, wall time. Goal, per data set, all of which can fail:
  - every TPE search returns a network that is not B0, at <= 400M MACs;
  - TPE winners beat B0 by >= 1 point under the reference (mean over search seeds);
  - TPE >= random at equal budget (mean reference accuracy of their winners).
One data set at a time (so that a partial run holds whole data sets): its searches and the three
hand-designed networks' reference runs, --jobs at a time (one thread each on the CPU), then the
winners' reference runs. Every search resumes from its own study, and every finished search or
reference run is saved to the results file at once, so the same command goes on where it
stopped. Cost on a 2-vCPU VM: about 40 minutes per data set with --epochs 4 (the run in
benchmarks/results; see trial_s and wall_s there), about twice that at the default 8 epochs.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from fashion_subset import fashion_subset  # noqa: E402

from scalesearch.arch.io import load_spec, resolve_spec, spec_from_dict, spec_to_dict  # noqa: E402
from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_macs  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.search.config import SearchConfig, validate  # noqa: E402
from scalesearch.search.driver import run_jobs  # noqa: E402
from scalesearch.search.find_base import search  # noqa: E402
from scalesearch.search.objective import Objective  # noqa: E402
from scalesearch.search.results import summarise  # noqa: E402
from scalesearch.train.data import DataSet, dataset_record, load_data  # noqa: E402
from scalesearch.train.loop import train  # noqa: E402
from scalesearch.train.recipes import Recipe, load_recipe  # noqa: E402

TARGET = 400e6
KNOWN = ("efficientnet-b0", "mobilenet-v2", "mnasnet-a1")


def search_config(args: argparse.Namespace, label: str, data: str, sampler: str, seed: int) -> SearchConfig:
    name = f"{label}-{sampler}-seed{seed}"
    return SearchConfig(objective=Objective(TARGET, "MACs", constraint="hard"), run_dir=args.run_dir / name,
                        study_name=name, n_trials=args.n_trials, data=data, train_images=args.train_images or None,
                        recipe_overrides={"epochs": args.epochs}, sampler=sampler, seed=seed, device=args.device,
                        finalists=args.finalists, final_seeds=args.final_seeds)


def run_job(job: tuple) -> dict:
    """A search or a reference training, by the job's first field."""
    return run_search(job[2]) if job[0] == "search" else run_reference(job[1:])


def run_search(config: SearchConfig) -> dict:
    """One whole find-base run (resumed from its study if it was started before)."""
    started = time.perf_counter()
    study = search(config)
    summary = summarise(study, config)
    winner = next(r for r in summary["finalists"]["rows"] if r["name"] == summary["best"]["name"])
    spec = load_spec(summary["best"]["spec_path"])
    b0 = resolve_spec("efficientnet-b0")
    return {"winner": spec.name, "winner_spec": spec_to_dict(spec), "macs": analytic_macs(spec),
            "is_b0": spec.stages == b0.stages and spec.stem == b0.stem and spec.head == b0.head,
            "winner_is_seeded_base": summary["finalists"]["winner_is_base"],
            "finalist_margin_vs_base": summary["finalists"]["margin_vs_base"],
            "finalist_mean": winner["mean"], "finalist_std": winner["std"],
            "finalists": summary["finalists"]["rows"],
            "n_trials": summary["n_trials"], "n_pruned": summary["n_pruned"], "n_rejected": summary["n_rejected"],
            # Resume-proof: the trials' own durations (one worker, so their sum is the search's wall time).
            "trial_s": round(sum(t.duration.total_seconds() for t in study.trials if t.duration), 1),
            "wall_s_last_run": round(time.perf_counter() - started, 1)}


@lru_cache(maxsize=None)
def reference_data(data: str, images: int) -> DataSet:
    return load_data(data, train_images=images or None)


def reference_name(found: dict) -> str:
    """The name a search's winner is trained under: EfficientNet-B0's when the search kept it."""
    return "efficientnet-b0" if found["is_b0"] else found["winner"]


def run_reference(job: tuple) -> dict:
    data, images, recipe_fields, _, _, spec_dict, seed, device = job
    started = time.perf_counter()
    result = train(spec_from_dict(spec_dict), reference_data(data, images), Recipe(**recipe_fields), [seed],
                   device=device)
    return {"val_top1": result.val_top1, "wall_s": round(time.perf_counter() - started, 1)}


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise_benchmark(rows: dict, data_sets: dict, samplers: list[str], seeds: list[int],
                        reference_seeds: list[int]) -> dict:
    """Per data set: the reference accuracy of every network, each search against B0, TPE against
    random, and the goal's three clauses."""
    out = {}
    for label in data_sets:
        if not any(key.split("|")[1] == label for key in rows):
            continue  # not run yet
        reference = {}
        for key, row in rows.items():
            kind, *rest = key.split("|")
            if kind == "reference" and rest[0] == label:
                reference.setdefault(rest[1], []).append(row["val_top1"])
        stats = {name: dict(zip(("mean", "std"), _mean_std(values)), runs=len(values))
                 for name, values in reference.items()}
        b0 = stats.get("efficientnet-b0", {})
        searches = {}
        for sampler in samplers:
            for seed in seeds:
                found = rows.get(f"search|{label}|{sampler}|{seed}")
                if found is None:
                    continue
                ref = stats.get(reference_name(found), {})
                complete = ref.get("runs") == len(reference_seeds) and b0.get("runs") == len(reference_seeds)
                searches[f"{sampler}|{seed}"] = {
                    "winner": found["winner"], "macs": found["macs"], "is_b0": found["is_b0"],
                    "finalist_margin_vs_base": found["finalist_margin_vs_base"],
                    "reference_mean": ref.get("mean"), "reference_std": ref.get("std"),
                    "vs_b0_points": (ref["mean"] - b0["mean"]) * 100 if complete else None,
                    "trial_s": found["trial_s"], "wall_s_last_run": found["wall_s_last_run"]}
        by_sampler = {s: [v for k, v in searches.items() if k.startswith(f"{s}|")] for s in samplers}
        entry = {"reference": stats, "searches": searches}
        done = all(len(v) == len(seeds) and all(x["vs_b0_points"] is not None for x in v) for v in by_sampler.values())
        if done and "tpe" in by_sampler:
            tpe = by_sampler["tpe"]
            entry["tpe_vs_b0_points_mean"] = statistics.fmean(x["vs_b0_points"] for x in tpe)
            entry["sampler_reference_mean"] = {s: statistics.fmean(x["reference_mean"] for x in v)
                                               for s, v in by_sampler.items()}
            goal = {"tpe_not_b0_within_400m": all(not x["is_b0"] and x["macs"] <= TARGET for x in tpe),
                    "tpe_beats_b0_by_1_point": entry["tpe_vs_b0_points_mean"] >= 1.0}
            if "random" in by_sampler:
                goal["tpe_at_least_random"] = (entry["sampler_reference_mean"]["tpe"]
                                               >= entry["sampler_reference_mean"]["random"])
                # When both samplers return the same networks, that comparison says nothing: flag it.
                entry["tpe_and_random_found_the_same"] = ({x["winner"] for x in tpe}
                                                          == {x["winner"] for x in by_sampler["random"]})
            entry["goal"] = goal
            entry["goal_met"] = all(goal.values())
        out[label] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist",
                        help="the official IDX files; the first 10,000 training images are used")
    parser.add_argument("--data-sets", default="cifar10,fashion-mnist", help="which to run now (the file holds all)")
    parser.add_argument("--samplers", default="tpe,random")
    parser.add_argument("--search-seeds", default="0,1")
    parser.add_argument("--n-trials", type=int, default=8)
    parser.add_argument("--train-images", type=int, default=1000, help="0: all")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--finalists", type=int, default=2)
    parser.add_argument("--final-seeds", type=int, default=3)
    parser.add_argument("--reference-scale", type=int, default=4)
    parser.add_argument("--reference-images", type=int, default=1000, help="0: all")
    parser.add_argument("--reference-seeds", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--jobs", type=int, default=2, help="searches (then reference runs) side by side")
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs/search-quality")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/search_quality.json")
    args = parser.parse_args()
    paths = {"cifar10": f"cifar10:{args.cifar}",
             "fashion-mnist": f"fashion-mnist:{fashion_subset(Path(args.fashion))}"}
    data_sets = {label: paths[label] for label in args.data_sets.split(",")}
    samplers, seeds = args.samplers.split(","), [int(s) for s in args.search_seeds.split(",")]
    proxy = load_recipe("proxy").override(epochs=args.epochs)
    reference = proxy.override(name="reference", epochs=proxy.epochs * args.reference_scale,
                               warmup_epochs=proxy.warmup_epochs * args.reference_scale,
                               eval_every=proxy.epochs * args.reference_scale)
    reference_seeds = list(range(args.reference_seeds))
    try:
        configs = {(label, sampler, seed): search_config(args, label, data, sampler, seed)
                   for label, data in data_sets.items() for sampler in samplers for seed in seeds}
        for config in configs.values():
            validate(config)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    # Every data set, whichever --data-sets runs now: a file can be filled one data set at a time.
    records = {label: dataset_record(load_data(path, train_images=args.train_images or None))
               for label, path in paths.items()}
    settings = {"target_macs": TARGET, "constraint": "hard", "data": records, "samplers": samplers,
                "search_seeds": seeds, "n_trials": args.n_trials, "train_images": args.train_images,
                "proxy": dataclasses.asdict(proxy), "finalists": args.finalists, "final_seeds": args.final_seeds,
                "reference": dataclasses.asdict(reference), "reference_images": args.reference_images,
                "reference_seeds": reference_seeds, "device": args.device}
    try:
        results = ResultsFile(args.out, settings, header={"benchmark": "search_quality"})
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    results.update(machine=machine_info(), jobs=args.jobs)
    started = time.perf_counter()

    def save_summary() -> None:
        results.update(summary=summarise_benchmark(results.rows, paths, samplers, seeds, reference_seeds),
                       wall_s_this_run=round(time.perf_counter() - started, 1))

    def done(job: tuple, row: dict) -> None:
        if job[0] == "search":
            _, key, _ = job
            results.add(key, row)
            print(f"{key}: {row['winner']} {row['macs'] / 1e6:.0f}M MACs, finalist margin over the base "
                  f"{row['finalist_margin_vs_base']}, {row['wall_s_last_run']} s", flush=True)
        else:
            _, _, _, _, label, name, _, seed, _ = job
            results.add(f"reference|{label}|{name}|{seed}", row)
            print(f"reference {label} {name} seed {seed}: {row['val_top1']:.3f} ({row['wall_s']} s)", flush=True)
        save_summary()

    def references(label: str, data: str, networks: dict) -> list[tuple]:
        return [("reference", data, args.reference_images, dataclasses.asdict(reference), label, name, spec, seed,
                 args.device) for name, spec in networks.items() for seed in reference_seeds
                if f"reference|{label}|{name}|{seed}" not in results]

    # One data set at a time, so that a partial run holds whole data sets: first its searches with
    # the hand-designed networks' reference runs beside them, then the winners' reference runs.
    for label, data in data_sets.items():
        searches = [("search", f"search|{label}|{sampler}|{seed}", configs[label, sampler, seed])
                    for sampler in samplers for seed in seeds]
        known = {name: spec_to_dict(resolve_spec(name)) for name in KNOWN}
        run_jobs(run_job, [j for j in searches if j[1] not in results] + references(label, data, known),
                 args.jobs, done)
        winners = {}  # each network once: a search that kept B0 shares B0's runs
        for _, key, _ in searches:
            found = results.rows[key]
            winners.setdefault(reference_name(found), found["winner_spec"])
        run_jobs(run_job, references(label, data, winners), args.jobs, done)
    save_summary()


if __name__ == "__main__":
    main()
