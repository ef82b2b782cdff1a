"""Repeatability: the same model benchmarked by `scalesearch bench` in 5 separate processes.

Run:  python benchmarks/latency_repeat.py [--model efficientnet-b0] [--runs 5] [--threads 1]
          [--protocol windows|settle]
CPU, onnxruntime, batch 1 (about 1 minute). Goal: coefficient of variation of the 5 medians <= 5%.
Writes benchmarks/results/latency_repeat_t{threads}.json (_settle appended under that protocol).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scalesearch.measure.environment import Interference, machine_info  # noqa: E402
from scalesearch.measure.latency import PROTOCOLS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="efficientnet-b0")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--protocol", default=PROTOCOLS[0], choices=PROTOCOLS)
    args = parser.parse_args()
    interference = Interference()  # other jobs on the machine would bias every figure
    medians = []
    for i in range(args.runs):
        proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "bench", args.model, "--threads",
                               str(args.threads), "--protocol", args.protocol, "--json"],
                              capture_output=True, text=True, check=True)
        (record,) = json.loads(proc.stdout)
        medians.append(record["median_ms"])
        print(f"run {i + 1}: median {record['median_ms']:.3f} ms (cv {record['cv']:.3f}, {record['runs']} calls)",
              flush=True)
    cv = statistics.stdev(medians) / statistics.fmean(medians)
    summary = {"model": args.model, "threads": args.threads, "protocol": args.protocol, "medians_ms": medians,
               "cv_of_medians": cv, "goal": "cv_of_medians <= 0.05", "goal_met": cv <= 0.05}
    suffix = f"_{args.protocol}" if args.protocol != PROTOCOLS[0] else ""
    out = ROOT / "benchmarks" / "results" / f"latency_repeat_t{args.threads}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "latency_repeat", "machine": machine_info(),
                               "interference": interference.report(), "summary": summary},
                              indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
