"""CPU latency on three runtimes: torch eager, onnxruntime and OpenVINO, on the same networks, interleaved.

Run (a quiet machine; about 10 minutes on a 2-vCPU VM):
    python benchmarks/cpu_backends.py [--rounds 5] [--window 1.0] [--threads 2]
        [--networks efficientnet-b0,...] [--found runs/pipeline-cifar/find-base/best_base.yaml]
Every network is built once (seed 0), exported once to ONNX (opset 17) and compiled once per
runtime (onnxruntime: sequential, all graph optimisations; OpenVINO: LATENCY hint, one stream, fp32;
torch: eager, inference mode), all at --threads threads and batch 1. Then --rounds rounds, each
timing every (network, runtime) pair for one --window of calls in turn, so that a busy spell of the
machine hits every runtime alike; the figure per pair is the median over rounds of each window's
median, and the ratios are taken within each round. Outputs of the three runtimes are compared on
one input (the largest difference relative to the largest logit). Records the machine and how busy it was. Writes --out.
"""

from __future__ import annotations

import argparse
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

from scalesearch.arch.io import load_spec, resolve_spec  # noqa: E402
from scalesearch.arch.scaling import scale_family  # noqa: E402
from scalesearch.export import export_onnx  # noqa: E402
from scalesearch.measure.environment import Interference, machine_info  # noqa: E402
from scalesearch.measure.latency import onnxruntime_session, openvino_model, seeded_model  # noqa: E402
from scalesearch.measure.timing import repeat_until_stable  # noqa: E402

RUNTIMES = ("torch", "onnxruntime", "openvino")
DEFAULT = "efficientnet-b0,efficientnet-b1,efficientnet-b2,efficientnet-b3,mobilenet-v2,resnet50,mnasnet-a1"


def _spec(name: str):
    if name.startswith("efficientnet-b") and name != "efficientnet-b0":
        (spec,) = scale_family(resolve_spec("efficientnet-b0"), [int(name[-1])], None, "official")
        return spec
    return resolve_spec(name)


def callables(spec, threads: int, folder: Path) -> tuple[dict, dict]:
    """One timed call per runtime, and each runtime's output on the same input."""
    size = spec.resolution
    x = np.random.default_rng(0).standard_normal((1, spec.in_channels, size, size), dtype=np.float32)
    model = seeded_model(spec).eval()
    path = export_onnx(model, torch.zeros(1, spec.in_channels, size, size), folder / f"{spec.name}.onnx")
    session = onnxruntime_session(path, threads)
    compiled = openvino_model(path, x.shape, threads)
    request = compiled.create_infer_request()
    tensor = torch.from_numpy(x)
    name = session.get_inputs()[0].name

    def run_torch():
        torch.set_num_threads(threads)
        with torch.inference_mode():
            return model(tensor).numpy()

    calls = {"torch": run_torch, "onnxruntime": lambda: session.run(None, {name: x})[0],
             "openvino": lambda: request.infer({0: x})[compiled.output(0)]}
    outputs = {runtime: np.asarray(call()) for runtime, call in calls.items()}
    return calls, outputs


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", default=DEFAULT)
    parser.add_argument("--found", type=Path, default=None, help="the found base's spec file, timed beside them")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=float, default=1.0, help="seconds of calls per pair and round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/cpu_backends.json")
    args = parser.parse_args()
    specs = [_spec(n) for n in args.networks.split(",")]
    if args.found is not None:
        specs.append(load_spec(args.found))
    interference = Interference()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        prepared = {spec.name: callables(spec, args.threads, Path(tmp)) for spec in specs}
        for spec in specs:
            _, outputs = prepared[spec.name]
            rows[spec.name] = {"resolution": spec.resolution, "rounds": [],
                               # relative to the logits' scale (a fresh B0's are ~1e-14)
                               "max_difference": {f"{a} vs {b}": float(np.abs(outputs[a] - outputs[b]).max()
                                                                       / np.abs(outputs[b]).max())
                                                  for a, b in (("onnxruntime", "openvino"),
                                                               ("torch", "onnxruntime"), ("torch", "openvino"))}}
        for r in range(args.rounds):
            for spec in specs:
                calls, _ = prepared[spec.name]
                medians = {rt: repeat_until_stable(lambda c=calls[rt]: timed(c), budget_s=args.window,
                                                   warmup_s=0.1, min_time_fraction=1.0).median_ms for rt in RUNTIMES}
                rows[spec.name]["rounds"].append(medians)
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    for row in rows.values():
        rounds = row["rounds"]
        row["median_ms"] = {rt: statistics.median(m[rt] for m in rounds) for rt in RUNTIMES}
        row["ratio_median"] = {
            "onnxruntime / openvino": statistics.median(m["onnxruntime"] / m["openvino"] for m in rounds),
            "torch / openvino": statistics.median(m["torch"] / m["openvino"] for m in rounds),
            "torch / onnxruntime": statistics.median(m["torch"] / m["onnxruntime"] for m in rounds)}
        row["fastest"] = min(RUNTIMES, key=lambda rt: row["median_ms"][rt])
    document = {"benchmark": "cpu_backends", "machine": machine_info(), "interference": interference.report(),
                "threads": args.threads, "batch": 1, "rounds": args.rounds, "window_s": args.window,
                "versions": _versions(), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    for name, row in rows.items():
        ms = row["median_ms"]
        print(f"{name:18s} torch {ms['torch']:7.2f}  ort {ms['onnxruntime']:7.2f}  ov {ms['openvino']:7.2f} ms  "
              f"ort/ov {row['ratio_median']['onnxruntime / openvino']:.2f}  "
              f"relative diff ort-ov {row['max_difference']['onnxruntime vs openvino']:.1e}")


def _versions() -> dict:
    from importlib import metadata

    return {p: metadata.version(p) for p in ("torch", "onnxruntime", "openvino")}


if __name__ == "__main__":
    main()
