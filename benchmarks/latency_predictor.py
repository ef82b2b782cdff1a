"""Latency predictor vs measurement: 50 random MBConv-space candidates at their nominal resolution.

Run:  python benchmarks/latency_predictor.py [--threads 1] [--candidates 50] [--calibration 10]
          [--backend onnxruntime|openvino|torch] [--protocol windows|settle]
CPU, onnxruntime (or --backend), batch 1: about 15 minutes on a 2-core CPU; run it on an otherwise idle machine.
Fills the per-component table candidate by candidate, measuring each whole candidate right after
its components; measures every candidate a second time after that pass; calibrates the table's
scale on the first 10 (separate) candidates; then compares predicted latency with the mean of the
two measured medians on the other 50, and reports how well the two measurements agree with each
other (the machine's noise floor). Goal: >= 95% within +-10%, mean absolute error <= 5%.
Components and networks are measured under --protocol (the library's default, windows: lowest of
3 window medians; one network at a time here, so its windows follow each other).
Writes benchmarks/results/latency_predictor.json (latency_predictor_<backend>.json for another backend,
with _settle appended under that protocol).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scalesearch.measure.environment import Interference, machine_info
from scalesearch.measure.flops import analytic_macs
from scalesearch.measure.latency import PROTOCOLS, BenchConfig, measure
from scalesearch.measure.predictor import LatencyTable
from scalesearch.search.space import load_space

RESULTS = Path(__file__).resolve().parent / "results" / "latency_predictor.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--calibration", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "openvino", "torch"))
    parser.add_argument("--protocol", default=PROTOCOLS[0], choices=PROTOCOLS)
    args = parser.parse_args()
    name = "latency_predictor" + (f"_{args.backend}" if args.backend != "onnxruntime" else "") + (
        f"_{args.protocol}" if args.protocol != PROTOCOLS[0] else "")
    results = RESULTS.with_name(f"{name}.json")

    space = load_space("mnasnet")
    rng = random.Random(args.seed)
    calibration = [space.sample(rng)[1] for _ in range(args.calibration)]
    candidates = [space.sample(rng)[1] for _ in range(args.candidates)]
    config = BenchConfig(device="cpu", backend=args.backend, batch=1, threads=args.threads, protocol=args.protocol)
    interference = Interference()  # other jobs on the machine would bias every figure
    started = time.time()
    measured_components = 0
    pairs = []  # (spec, measured median ms, uncalibrated prediction ms)
    with tempfile.TemporaryDirectory() as cache:
        table = LatencyTable(config, Path(cache))
        # Interleaved, as the search uses the table: a candidate's missing components are measured
        # just before the candidate itself, so minute-scale drifts of a shared machine hit both alike.
        for i, spec in enumerate(calibration + candidates, 1):
            measured_components += table.fill([spec])
            raw = table.raw(spec)
            pairs.append((spec, measure(spec, config).stats, raw))
            print(f"[{i}/{len(calibration) + len(candidates)}] {spec.name}  measured {pairs[-1][1].median_ms:7.2f} ms  "
                  f"uncalibrated {raw:7.2f} ms  ({len(table.entries)} table entries)", flush=True)
        # Every network measured again after the first pass: the truth a prediction is scored against
        # is the mean of two measurements minutes apart, and how far the two disagree with each other
        # bounds how well any predictor can score on this machine.
        second = []
        for i, (spec, _, _) in enumerate(pairs, 1):
            second.append(measure(spec, config).stats.median_ms)
            print(f"[second pass {i}/{len(pairs)}] {spec.name}  measured {second[-1]:7.2f} ms", flush=True)
        truth = [(first.median_ms + again) / 2 for (_, first, _), again in zip(pairs, second)]
        fit = table.calibrate([(spec, ms) for (spec, _, _), ms in zip(pairs[:len(calibration)], truth)])
    print(f"calibration on {len(calibration)} networks: {fit}")
    rows = []
    for (spec, first, raw), again, ms in list(zip(pairs, second, truth))[len(calibration):]:
        predicted = fit["scale"] * raw
        rows.append({"model": spec.name, "macs": analytic_macs(spec), "measured_median_ms": ms,
                     "first_median_ms": first.median_ms, "first_cv": first.cv, "second_median_ms": again,
                     "predicted_ms": predicted, "uncalibrated_ms": raw,
                     "rel_error": predicted / ms - 1, "uncalibrated_rel_error": raw / ms - 1})

    def fraction_within(errors: list[float]) -> float:
        return sum(e <= 0.10 for e in errors) / len(errors)

    errors = [abs(r["rel_error"]) for r in rows]
    raw_errors = [abs(r["uncalibrated_rel_error"]) for r in rows]
    repeat = [abs(r["second_median_ms"] / r["first_median_ms"] - 1) for r in rows]
    summary = {
        "candidates": len(rows), "threads": config.cpu_threads, "calibration_networks": len(calibration),
        "within_10pct": fraction_within(errors),
        "mean_abs_rel_error": statistics.fmean(errors), "max_abs_rel_error": max(errors),
        "uncalibrated_within_10pct": fraction_within(raw_errors),
        "uncalibrated_mean_abs_rel_error": statistics.fmean(raw_errors),
        "second_vs_first_measurement_within_10pct": fraction_within(repeat),
        "second_vs_first_measurement_mean_abs_rel_diff": statistics.fmean(repeat),
        "components_measured": measured_components, "calibration": fit,
        "wall_s": time.time() - started, "goal": ">= 95% within +-10%, mean absolute error <= 5%",
    }
    summary["goal_met"] = summary["within_10pct"] >= 0.95 and summary["mean_abs_rel_error"] <= 0.05
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({"benchmark": "latency_predictor", "machine": machine_info(),
                                   "interference": interference.report(),
                                   "config": {"device": "cpu", "backend": args.backend, "batch": 1,
                                              "threads": config.cpu_threads, "protocol": args.protocol},
                                   "summary": summary, "candidates": rows}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
