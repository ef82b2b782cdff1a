"""EfficientNet's Figure 1 at proxy scale: does the searched family sit above the hand-designed ones?

Run (CPU-sized, the defaults; about 2 hours on a 2-vCPU VM, estimated from the proxy's 70 s per
training there: find-base 17 trainings, the grid 20, the family and references 30):
    python benchmarks/pipeline_cifar.py [--data ../shared/data/cifar-10] [--phi 0-2] [--n-trials 8]
        [--train-images 1000] [--seeds 3] [--step 0.1] [--tolerance 0.05]
        [--baselines efficientnet,mobilenet-v2]
GPU-sized (a ready command: every training image, phi 0..3, all reference families):
    python benchmarks/pipeline_cifar.py --device cuda --workers 4 --phi 0-3 --n-trials 100
        --train-images 0 --step 0.05 --tolerance 0.1 --baselines efficientnet,resnet,mobilenet-v2
        --run-dir runs/pipeline-cifar-gpu --out benchmarks/results/pipeline_cifar_gpu.json
This is `scalesearch pipeline --flops 400M --data cifar10:DIR` with the budget above, run through
the library exactly as the command runs it, in --run-dir (the same command resumes it). Then it
reads the result against EfficientNet's Figure 1: at equal MACs, and at equal CPU latency, is the
found family's accuracy above each reference family's? Each reference network is compared with
the found family's accuracy interpolated (in log cost) between the two found networks around its
cost; networks outside the found family's cost range are not compared, nor is a reference network
with a found network's architecture (B0, when the search keeps its seed: it is the same network).
ResNets are left out on the CPU by default: at 32 px with the stride-1 stem ResNet-18 alone costs
15x B0 per image.
Writes --out with the pipeline's summary, each comparison, the wall time per stage and the machine;
the figures are the pipeline's own (runs/.../family/*.png), copied next to the results.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.files import write_json  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.pipeline import PipelineConfig, run, validate  # noqa: E402
from scalesearch.quantities import parse_phis  # noqa: E402
from scalesearch.train.data import dataset_record, load_data  # noqa: E402
from scalesearch.train.family import parse_baselines  # noqa: E402


def portable(value):
    """``value`` with the repository's paths made relative to it (committed results name no machine's paths)."""
    if isinstance(value, str):
        return value.replace(str(ROOT) + "/", "")
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v) for v in value]
    return value


def interpolate(points: list[tuple[float, float]], x: float) -> float | None:
    """The found family's accuracy at cost ``x``, linear in log cost between its two neighbours."""
    points = sorted(points)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            t = 0.0 if x1 == x0 else (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return y0 + t * (y1 - y0)
    return None


def architecture(row: dict) -> dict:
    """A network's spec without its name and scaling record: what it computes."""
    return {k: v for k, v in row["spec"].items() if k not in ("name", "scaling")}


def compare(rows: list[dict], found: str, cost) -> list[dict]:
    """Each reference network against the found family at its own cost. A reference network with
    the architecture of a found one (B0, when the search keeps its seed) is the same network trained
    alike: listed, never counted as a comparison."""
    points = [(cost(r), r["val_top1"]) for r in rows if r["family"] == found and cost(r) is not None]
    found_architectures = {json.dumps(architecture(r), sort_keys=True): r["name"] for r in rows if r["family"] == found}
    out = []
    for r in rows:
        if r["family"] == found or cost(r) is None or r["val_top1"] is None:
            continue
        same_as = found_architectures.get(json.dumps(architecture(r), sort_keys=True))
        at = None if same_as else interpolate(points, cost(r))
        out.append({"network": r["name"], "family": r["family"], "cost": cost(r), "val_top1": r["val_top1"],
                    "identical_to": same_as, "found_family_at_same_cost": at,
                    "found_minus_reference_points": None if at is None else round((at - r["val_top1"]) * 100, 2)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--phi", default="0-2")
    parser.add_argument("--n-trials", type=int, default=8)
    parser.add_argument("--finalists", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=1000, help="0: all")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--step", type=float, default=0.1, help="grid step (0.05: 218 points, 0.1: 20)")
    parser.add_argument("--tolerance", type=float, default=0.05, help="grid: |alpha beta^2 gamma^2 / 2 - 1|")
    parser.add_argument("--baselines", default="efficientnet,mobilenet-v2")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs/pipeline-cifar")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/pipeline_cifar.json")
    args = parser.parse_args()
    try:
        config = PipelineConfig(target_macs=400e6, data=f"cifar10:{args.data}", phis=parse_phis(args.phi),
                                run_dir=args.run_dir, baselines=parse_baselines(args.baselines),
                                n_trials=args.n_trials, finalists=args.finalists, step=args.step,
                                tolerance=args.tolerance, seeds=args.seeds,
                                epochs=args.epochs, train_images=args.train_images or None, device=args.device,
                                workers=args.workers)
        validate(config)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    summary = run(config, on_stage=lambda name: print(f"stage {name}", flush=True),
                  on_progress=lambda name, done, total: print(f"  {name} {done}/{total}", flush=True))
    family = json.loads((args.run_dir / "family/family.json").read_text())
    rows = list(family["rows"].values())
    found = summary["found"]["best"]["name"]  # a scaled network's family is its base
    comparisons = {"macs": compare(rows, found, lambda r: r["macs"]),
                   "cpu_latency_ms": compare(rows, found, lambda r: r["latency_ms"].get("cpu-onnxruntime"))}
    verdict = {}
    for axis, items in comparisons.items():
        compared = [c for c in items if c["found_minus_reference_points"] is not None]
        points = [c["found_minus_reference_points"] for c in compared]
        verdict[axis] = {"compared": len(compared), "found_above": sum(p > 0 for p in points),
                         "mean_points": round(sum(points) / len(points), 2) if points else None}
    figures = args.out.parent / f"{args.out.stem}_figures"
    figures.mkdir(parents=True, exist_ok=True)
    for png in (args.run_dir / "family").glob("*.png"):
        shutil.copy(png, figures / png.name)
    # the data set by kind, image counts and digest, never by its folder
    settings = {**config.settings(), "data": dataset_record(load_data(config.data, train_images=config.train_images))}
    write_json(args.out, portable({"benchmark": "pipeline_cifar", "machine": machine_info(), "settings": settings,
                                   "summary": summary, "networks": rows, "comparisons": comparisons,
                                   "verdict": verdict,
                                   "figures": sorted(str(p.relative_to(ROOT)) for p in figures.glob("*.png"))}))
    print(verdict)


if __name__ == "__main__":
    main()
