"""Our EfficientNet-B0 against torchvision's, both through onnxruntime on the CPU, in one run.

Run:  python benchmarks/latency_vs_torchvision.py [--rounds 10] [--threads 1]
The two models are measured alternately (round by round) so that drifts in machine speed hit
both alike. Goal: median over rounds of (ours / torchvision) <= 1.02.
Writes benchmarks/results/latency_vs_torchvision.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torchvision  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.measure.environment import Interference, machine_info  # noqa: E402
from scalesearch.measure.latency import BenchConfig, time_module  # noqa: E402
from scalesearch.nn import build_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    config = BenchConfig(device="cpu", backend="onnxruntime", batch=1, threads=args.threads, budget_s=1.5)
    interference = Interference()  # other jobs on the machine would bias every figure
    torch.manual_seed(0)
    reference = torchvision.models.efficientnet_b0()
    ours = build_model(resolve_spec("efficientnet-b0"))
    ours.load_state_dict(reference.state_dict())  # same weights: only the graph can differ
    shape = (1, 3, 224, 224)
    rounds = []
    for i in range(args.rounds):
        # Alternate which runs first: a machine that speeds up or slows down within a round (turbo,
        # caches, a neighbour) must not favour one side in every round.
        if i % 2 == 0:
            theirs_ms = time_module(reference, shape, config).median_ms
            ours_ms = time_module(ours, shape, config).median_ms
        else:
            ours_ms = time_module(ours, shape, config).median_ms
            theirs_ms = time_module(reference, shape, config).median_ms
        rounds.append({"ours_ms": ours_ms, "torchvision_ms": theirs_ms, "ratio": ours_ms / theirs_ms})
        print(f"round {i + 1}: ours {ours_ms:.3f} ms  torchvision {theirs_ms:.3f} ms  ratio {ours_ms / theirs_ms:.3f}",
              flush=True)
    ratio = statistics.median(r["ratio"] for r in rounds)
    summary = {"threads": config.cpu_threads, "rounds": len(rounds), "median_ratio": ratio,
               "ours_median_ms": statistics.median(r["ours_ms"] for r in rounds),
               "torchvision_median_ms": statistics.median(r["torchvision_ms"] for r in rounds),
               "goal": "median_ratio <= 1.02", "goal_met": ratio <= 1.02}
    out = ROOT / "benchmarks" / "results" / "latency_vs_torchvision.json"
    out.write_text(json.dumps({"benchmark": "latency_vs_torchvision", "machine": machine_info(),
                               "interference": interference.report(),
                               "summary": summary, "rounds": rounds}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
