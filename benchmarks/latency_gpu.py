"""EfficientNet-B0..B7 (official preset) and ViT-Ti/S/B-16 on a CUDA GPU: eager and CUDA-graph, fp16,
batch 1 and 64.

Run on a GPU machine:  python benchmarks/latency_gpu.py [--budget 3]
(about 5 minutes on an H100; the ViTs appear in the reports beside the CNNs).
Goal: B0 at batch 1 in graph mode <= 1.0 ms on an H100.
Writes benchmarks/results/latency_gpu_<gpu>.json and a Markdown report with plots beside it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.arch.scaling import scale  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.measure.latency import BenchConfig, measure  # noqa: E402
from scalesearch.report import write_bench_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=3.0)
    parser.add_argument("--precision", default="fp16")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("this benchmark needs a CUDA GPU")
    b0 = resolve_spec("efficientnet-b0")
    family = [scale(b0, phi, preset="official") for phi in range(8)]
    family += [resolve_spec(name) for name in ("vit-ti16", "vit-s16", "vit-b16")]
    env = machine_info()
    slug = re.sub(r"[^a-z0-9]+", "-", env["gpu"].lower()).strip("-")
    out = ROOT / "benchmarks" / "results" / f"latency_gpu_{slug}.json"
    modes, batches = ("eager", "graph"), (1, 64)
    planned = len(modes) * len(batches) * len(family)
    records: list[dict] = []
    for mode in modes:
        for batch in batches:
            config = BenchConfig(device="cuda", backend="torch", batch=batch, precision=args.precision, mode=mode,
                                 budget_s=args.budget)
            for spec in family:
                record = measure(spec, config).as_record()
                records.append(record)
                print(f"{mode:5} bs{batch:<3} {spec.name:32} median {record['median_ms']:8.3f} ms  "
                      f"p90 {record['p90_ms']:8.3f}  cv {record['cv']:.3f}  runs {record['runs']}", flush=True)
                # After each record: a run cut short keeps what it measured.
                summary = save(out, env, records, planned, args.budget)
    for mode in modes:
        write_bench_report(out.with_name(f"latency_gpu_{slug}_{mode}.md"),
                           [r for r in records if r["mode"] == mode], env)
    print(json.dumps(summary, indent=2))


def save(out: Path, env: dict, records: list[dict], planned: int, budget: float) -> dict:
    b0_graph = [r["median_ms"] for r in records if r["mode"] == "graph" and r["batch"] == 1 and r["phi"] == 0]
    summary = {"b0_bs1_graph_median_ms": b0_graph[0] if b0_graph else None,
               "goal": "B0 bs1 graph <= 1.0 ms on an H100",
               "goal_met": b0_graph[0] <= 1.0 if b0_graph else None,
               "records": len(records), "complete": len(records) == planned}
    out.write_text(json.dumps({"benchmark": "latency_gpu", "machine": env, "budget_s": budget, "summary": summary,
                               "records": records}, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    main()
