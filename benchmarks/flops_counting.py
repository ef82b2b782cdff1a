"""Analytic vs fvcore MAC counting: agreement and speed on every built-in base and B1..B7.

Run:  python benchmarks/flops_counting.py        (about 1 minute on a 2-core CPU)
Writes benchmarks/results/flops_counting.json and prints a table. Goal: the two counts agree
within 1% on every model, and the analytic counter is at least 100x faster than fvcore. Each row
also records torchvision's published figures for that network, where torchvision has it.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scalesearch.arch.io import builtin_bases, resolve_spec
from scalesearch.arch.scaling import scale
from scalesearch.measure.environment import machine_info
from scalesearch.measure.flops import analytic_count, fvcore_count
from scalesearch.nn import build_model

RESULTS = Path(__file__).resolve().parent / "results" / "flops_counting.json"


def torchvision_published(spec_name: str) -> dict | None:
    """torchvision's published figures for a network of the same name (its ImageNet weights'
    metadata: G multiply-adds as torchvision rounds them, parameters, crop size), if it has one;
    B1..B7 of the official preset are torchvision's efficientnet_b1..b7."""
    import torchvision
    from torchvision.models import get_model_weights, list_models

    official = re.fullmatch(r"efficientnet-b0-official-phi(\d)", spec_name)
    name = f"efficientnet_b{official[1]}" if official else spec_name.replace("-", "_")
    if name not in list_models():
        return None
    weights = get_model_weights(name).IMAGENET1K_V1
    return {"gmacs": weights.meta["_ops"], "params": weights.meta["num_params"],
            "crop_px": weights.transforms().crop_size[0], "source": f"torchvision {torchvision.__version__}, {weights}"}


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    b0 = resolve_spec("efficientnet-b0")
    specs = [resolve_spec(name) for name in builtin_bases()]
    specs += [scale(b0, phi, preset="official") for phi in range(1, 8)]
    rows = []
    for spec in specs:
        analytic = analytic_count(spec)
        model = build_model(spec)
        traced = fvcore_count(model, spec.resolution)
        analytic_s = _median_seconds(lambda spec=spec: analytic_count(spec), 200)
        fvcore_s = _median_seconds(lambda model=model, spec=spec: fvcore_count(model, spec.resolution), 3)
        build_s = _median_seconds(lambda spec=spec: build_model(spec), 3)
        rows.append({
            "model": spec.name, "resolution": spec.resolution,
            "analytic_macs": analytic.macs, "fvcore_macs": traced.macs, "macs_ratio": analytic.macs / traced.macs,
            "analytic_params": analytic.params, "fvcore_params": traced.params,
            "analytic_ms": analytic_s * 1e3, "fvcore_ms": fvcore_s * 1e3, "build_ms": build_s * 1e3,
            "speedup": fvcore_s / analytic_s, "speedup_incl_build": (fvcore_s + build_s) / analytic_s,
            "torchvision_published": torchvision_published(spec.name),
        })
        r = rows[-1]
        print(f"{r['model']:<28} {r['resolution']:>4}px  MACs {r['analytic_macs'] / 1e6:>10.2f}M  "
              f"ratio {r['macs_ratio']:.6f}  analytic {r['analytic_ms']:.3f} ms  fvcore {r['fvcore_ms']:.0f} ms  "
              f"x{r['speedup']:,.0f}", flush=True)
    summary = {
        "max_abs_macs_deviation": max(abs(r["macs_ratio"] - 1) for r in rows),
        "params_equal": all(r["analytic_params"] == r["fvcore_params"] for r in rows),
        "min_speedup": min(r["speedup"] for r in rows),
        "goal": "agree within 1%; analytic >= 100x faster than fvcore",
    }
    summary["goal_met"] = summary["max_abs_macs_deviation"] <= 0.01 and summary["min_speedup"] >= 100
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "flops_counting", "machine": machine_info(),
                                   "summary": summary, "models": rows}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
