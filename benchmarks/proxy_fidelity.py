"""Does the `proxy` recipe rank networks as a longer, higher-resolution schedule does?

Run:  python benchmarks/proxy_fidelity.py [--data ../shared/data/cifar-10] [--candidates 10]
          [--seeds 1] [--reference-scale 4] [--reference-resolution 64] [--device cuda]
Networks: EfficientNet-B0, MobileNetV2, ResNet-18 and --candidates samples of the MBConv search
space (seed 0). Each is trained with the `proxy` recipe (32 px, stride-1 stem) and with a
reference schedule of --reference-scale x the epochs at --reference-resolution px; the figure is
the Spearman correlation of the two accuracies (goal >= 0.8), with both orderings.
Cost: 13 networks x (1 + 4 x 4) proxy-equivalents; about 1.5 h on one H100, days on a 2-core CPU
(use --train-images and --candidates to shrink it there, and say so).
Writes benchmarks/results/proxy_fidelity.json after every network.
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
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_macs  # noqa: E402
from scalesearch.measure.ranking import spearman  # noqa: E402
from scalesearch.search.space import load_space  # noqa: E402
from scalesearch.train.data import load_data  # noqa: E402
from scalesearch.train.loop import train  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--reference-scale", type=int, default=4)
    parser.add_argument("--reference-resolution", type=int, default=64)
    parser.add_argument("--train-images", type=int, default=0, help="0: the whole training split")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/proxy_fidelity.json")
    args = parser.parse_args()
    data = load_data(f"cifar10:{args.data}")
    if args.train_images:
        data = dataclasses.replace(data, train=data.train.subset(torch.arange(args.train_images)))
    proxy = load_recipe("proxy")
    reference = proxy.override(name="reference", epochs=proxy.epochs * args.reference_scale,
                               warmup_epochs=proxy.warmup_epochs * args.reference_scale,
                               resolution=args.reference_resolution)
    space, rng = load_space(), random.Random(0)
    networks = [resolve_spec(n) for n in ("efficientnet-b0", "mobilenet-v2", "resnet18")]
    networks += [space.sample(rng)[1] for _ in range(args.candidates)]
    seeds = list(range(args.seeds))
    document = {"benchmark": "proxy_fidelity", "machine": machine_info(), "device": args.device,
                "proxy": dataclasses.asdict(proxy), "reference": dataclasses.asdict(reference),
                "train_images": len(data.train), "rows": []}
    started = time.perf_counter()
    for spec in networks:
        row = {"model": spec.name, "macs_224px": analytic_macs(spec)}
        for label, recipe in (("proxy", proxy), ("reference", reference)):
            result = train(spec, data, recipe, seeds, device=args.device)
            row[f"{label}_top1"], row[f"{label}_std"] = result.val_top1, result.val_top1_std
        document["rows"].append(row)
        rows = document["rows"]
        if len(rows) >= 3:
            document["spearman"] = spearman([r["proxy_top1"] for r in rows], [r["reference_top1"] for r in rows])
            for label in ("proxy", "reference"):
                document[f"{label}_order"] = [r["model"] for r in sorted(rows, key=lambda r: -r[f"{label}_top1"])]
        document["wall_s"] = round(time.perf_counter() - started, 1)
        print(json.dumps(row), f"spearman {document.get('spearman')}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
