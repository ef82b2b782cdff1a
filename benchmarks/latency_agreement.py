"""How well two CPU latency measurements of the same network, minutes apart, agree: today's protocol
against interleaved short windows summarised by a low percentile.

Run (about 10 minutes on a 2-vCPU VM; the machine as users have it, other jobs paused):
    python benchmarks/latency_agreement.py [--passes 4] [--gap 60] [--budget 3] [--threads 2]
Networks: EfficientNet-B0 and B1, MobileNetV2, MnasNet-A1, MobileNetV1 and ResNet-18, batch 1,
onnxruntime. Each pass measures every network twice, with equal time each:
- today's protocol: `measure()` as `bench` runs it (a fresh session, warm-up, calls until the median
  is stable for at least half the --budget), its median;
- windows: --windows windows of --budget / --windows seconds per network, the networks taking turns
  (a busy spell of the machine then hits every network alike, not one), summarised as the median,
  the 20th and 10th percentiles of all calls, and the lowest window median;
- one thread: today's protocol with one intra-op thread; and 3 windows of --budget / 3 seconds per
  network at one thread, the networks taking turns, summarised by the lowest window median. A
  different figure (single-thread latency), tried because on this VM the second vCPU's speed
  changes from minute to minute: two-thread medians of one network jump between two levels about
  1.6x apart, which no statistic of the calls can undo.
Passes are --gap seconds apart. Agreement: the share of (network, pair of passes) whose two figures
are within +-10% of their mean. Goal (the issue's): >= 90% for the new protocol. Writes --out.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.arch.scaling import scale_family  # noqa: E402
from scalesearch.export import export_onnx  # noqa: E402
from scalesearch.measure.environment import Interference, machine_info  # noqa: E402
from scalesearch.measure.latency import BenchConfig, measure, onnxruntime_session, seeded_model  # noqa: E402

NETWORKS = ("efficientnet-b0", "efficientnet-b1", "mobilenet-v2", "mnasnet-a1", "mobilenet-v1", "resnet18")
ONE_THREAD = ("one thread (median)", "one thread: lowest of 3 window medians")
STATISTICS = ("today (median)", "windows: median", "windows: p20", "windows: p10", "windows: lowest window median",
              *ONE_THREAD)
TOLERANCE = 0.10


def _spec(name: str):
    if name == "efficientnet-b1":
        (spec,) = scale_family(resolve_spec("efficientnet-b0"), [1], None, "official")
        return spec
    return resolve_spec(name)


def _windows(sessions: dict, windows: int, seconds: float) -> dict[str, list[list[float]]]:
    """Per network, ``windows`` lists of call latencies (ms), the networks taking turns."""
    samples = {name: [] for name in sessions}
    for _ in range(windows):
        for name, (session, feed) in sessions.items():
            calls, end = [], time.perf_counter() + seconds
            session.run(None, feed)  # the turn's first call re-warms caches another network evicted
            while time.perf_counter() < end:
                start = time.perf_counter()
                session.run(None, feed)
                calls.append((time.perf_counter() - start) * 1e3)
            samples[name].append(calls)
    return samples


def _summaries(windows: list[list[float]]) -> dict[str, float]:
    calls = [c for w in windows for c in w]
    return {"windows: median": statistics.median(calls), "windows: p20": float(np.percentile(calls, 20)),
            "windows: p10": float(np.percentile(calls, 10)),
            "windows: lowest window median": min(statistics.median(w) for w in windows)}


def agreement(passes: list[dict[str, dict[str, float]]], statistic: str) -> float:
    """Share of (network, pair of passes) whose figures are within TOLERANCE of their mean."""
    hits = [abs(a[n][statistic] - b[n][statistic]) <= TOLERANCE * (a[n][statistic] + b[n][statistic]) / 2
            for a, b in itertools.combinations(passes, 2) for n in a]
    return sum(hits) / len(hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--gap", type=float, default=60.0, help="seconds between passes")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of calls per network and protocol")
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/latency_agreement.json")
    args = parser.parse_args()
    specs = [_spec(n) for n in NETWORKS]
    interference = Interference()
    passes = []
    with tempfile.TemporaryDirectory() as tmp:
        sessions, single = {}, {}
        for spec in specs:
            shape = (1, spec.in_channels, spec.resolution, spec.resolution)
            path = export_onnx(seeded_model(spec), torch.zeros(shape), Path(tmp) / f"{spec.name}.onnx")
            feed = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
            for table, threads in ((sessions, args.threads), (single, 1)):
                session = onnxruntime_session(path, threads)
                table[spec.name] = (session, {session.get_inputs()[0].name: feed})
        for p in range(args.passes):
            if p:
                time.sleep(args.gap)
            figures = {spec.name: {"today (median)": measure(spec, BenchConfig(threads=args.threads,
                                                                               budget_s=args.budget)).stats.median_ms}
                       for spec in specs}
            for spec in specs:
                figures[spec.name][ONE_THREAD[0]] = measure(spec, BenchConfig(threads=1,
                                                                              budget_s=args.budget)).stats.median_ms
            for name, windows in _windows(single, 3, args.budget / 3).items():
                figures[name][ONE_THREAD[1]] = min(statistics.median(w) for w in windows)
            for name, windows in _windows(sessions, args.windows, args.budget / args.windows).items():
                figures[name].update(_summaries(windows))
            passes.append(figures)
            print(f"pass {p + 1}/{args.passes}: " + ", ".join(f"{n} {f['today (median)']:.2f}/{f['windows: p20']:.2f}"
                                                             for n, f in figures.items()), flush=True)
    result = {s: agreement(passes, s) for s in STATISTICS}
    best = max((s for s in STATISTICS[1:] if s not in ONE_THREAD), key=lambda s: result[s])
    document = {"benchmark": "latency_agreement", "machine": machine_info(), "interference": interference.report(),
                "networks": list(NETWORKS), "threads": args.threads, "budget_s": args.budget,
                "windows": args.windows, "gap_s": args.gap, "tolerance": TOLERANCE, "passes": passes,
                "agreement": result, "best_new": best,
                "goal": ">= 0.90 of (network, pair of passes) within +-10%",
                "goal_met": {f"{args.threads} threads (best new statistic)": result[best] >= 0.9,
                             "one thread (best)": max(result[s] for s in ONE_THREAD) >= 0.9}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps({"agreement": result, "best_new": best}, indent=2))


if __name__ == "__main__":
    main()
