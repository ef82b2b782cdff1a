"""Does the `proxy` recipe rank networks as a longer, higher-resolution schedule does?

Run:  python benchmarks/proxy_fidelity.py [--data ../shared/data/cifar-10] [--candidates 10]
          [--target 400e6] [--window 0.1] [--seeds 1] [--reference-scale 4]
          [--reference-resolution 64] [--train-images 0] [--threads N] [--device cuda]
Networks: EfficientNet-B0, MobileNetV2, ResNet-18 and --candidates random candidates of the MBConv
search space (seed 0) inside find-base's window (--target x (1 +- --window) MACs at 224 px: the
networks a search ranks against each other). Each is trained with the `proxy` recipe (32 px,
stride-1 stem) and with a reference schedule of --reference-scale x the epochs and warm-up at
--reference-resolution px (at 64 px the stem strides again, so the feature maps match the proxy's
and the reference costs about 4x the proxy). The figure is the Spearman correlation of the two
accuracies (goal >= 0.8), with both orderings and the known ordering B0 > MobileNetV2 (ImageNet:
77.1% vs 72.0%) under each.
Cost: 13 networks x 5 proxy-equivalents: 1 h 23 min with --train-images 1000 on a 2-vCPU VM
(2 threads); the whole subset on a GPU has not been timed yet.
Writes benchmarks/results/proxy_fidelity.json (a scalesearch.resumable results file: settings, one
row per network) after every network; networks measured earlier with the same settings are kept,
so an interrupted run goes on where it stopped; a file made with other settings is refused, never
overwritten.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_macs  # noqa: E402
from scalesearch.measure.ranking import spearman  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.search.space import load_space  # noqa: E402
from scalesearch.train.data import load_data  # noqa: E402
from scalesearch.train.loop import train  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402

KNOWN = ("efficientnet-b0", "mobilenet-v2", "resnet18")


def summary(rows: list[dict]) -> dict:
    """Spearman correlation, both orderings and the B0-vs-MobileNetV2 check over ``rows``."""
    out: dict = {}
    if len(rows) >= 3:
        out["spearman"] = spearman([r["proxy_top1"] for r in rows], [r["reference_top1"] for r in rows])
    by_model = {r["model"]: r for r in rows}
    for label in ("proxy", "reference"):
        out[f"{label}_order"] = [r["model"] for r in sorted(rows, key=lambda r: -r[f"{label}_top1"])]
        if {"efficientnet-b0", "mobilenet-v2"} <= by_model.keys():
            out[f"{label}_b0_beats_mobilenet_v2"] = (by_model["efficientnet-b0"][f"{label}_top1"]
                                                     > by_model["mobilenet-v2"][f"{label}_top1"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--target", type=float, default=400e6, help="MACs at 224 px")
    parser.add_argument("--window", type=float, default=0.1, help="find-base's --reject-outside")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--reference-scale", type=int, default=4)
    parser.add_argument("--reference-resolution", type=int, default=64)
    parser.add_argument("--train-images", type=int, default=0, help="0: the whole training split")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/proxy_fidelity.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_data(f"cifar10:{args.data}", train_images=args.train_images or None)
    # Only the final accuracy counts here, so both evaluate once, after their last epoch.
    proxy = load_recipe("proxy")
    proxy = proxy.override(eval_every=proxy.epochs)
    reference = proxy.override(name="reference", epochs=proxy.epochs * args.reference_scale,
                               warmup_epochs=proxy.warmup_epochs * args.reference_scale,
                               resolution=args.reference_resolution, eval_every=proxy.epochs * args.reference_scale)
    space, rng = load_space(), random.Random(0)

    def inside(spec) -> bool:
        return abs(analytic_macs(spec) / args.target - 1) <= args.window

    networks = [resolve_spec(n) for n in KNOWN] + [space.sample(rng, accept=inside)[1] for _ in range(args.candidates)]
    settings = {"device": args.device, "proxy": dataclasses.asdict(proxy), "reference": dataclasses.asdict(reference),
                "train_images": len(data.train), "val_images": len(data.val), "seeds": args.seeds,
                "candidate_window_macs_224px": [args.target * (1 - args.window), args.target * (1 + args.window)]}
    try:
        results = ResultsFile(args.out, settings, header={"benchmark": "proxy_fidelity"})
    except UsageError as err:  # results made with other settings are never overwritten
        sys.exit(f"error: {err}")
    results.update(machine=machine_info(), torch_threads=args.threads)
    seeds = list(range(args.seeds))
    for spec in networks:
        if spec.name not in results:
            row, started = {"model": spec.name, "macs_224px": analytic_macs(spec)}, time.perf_counter()
            for label, recipe in (("proxy", proxy), ("reference", reference)):
                result = train(spec, data, recipe, seeds, device=args.device)
                row.update({f"{label}_top1": result.val_top1, f"{label}_std": result.val_top1_std,
                            f"{label}_per_seed": [r.val_top1 for r in result.runs]})
            row.update(wall_s=round(time.perf_counter() - started, 1), measured=time.strftime("%Y-%m-%d"))
            results.add(spec.name, row)
        results.update(**summary(list(results.rows.values())))
        print(json.dumps(results.rows[spec.name]), f"spearman {results.document.get('spearman')}", flush=True)


if __name__ == "__main__":
    main()
