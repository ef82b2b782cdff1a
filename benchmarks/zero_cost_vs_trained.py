"""How far to trust the data-free default: zero-cost scores against proxy-trained accuracy.

Run:  python benchmarks/zero_cost_vs_trained.py [--candidates 20] [--train-images 2000]
          [--val-images 1000] [--epochs 3] [--threads 1]
Samples candidates from the MBConv search space (seed 0) within +-50% of a MACs target (400M by
default, at the nominal 224 px: the networks find-base ranks against each other), scores each at initialisation with
naswot (on one batch of real images and on noise) and synflow, trains each with the `proxy`
recipe on a Fashion-MNIST subset, and reports the Spearman rank correlation of each score with
validation top-1 (and of MACs, as the trivial baseline). The subset and epochs are small (21 min with
--train-images 1000 on a 2-vCPU VM, 2 threads); the figure is noisy accordingly (read the rows).
Writes benchmarks/results/zero_cost_vs_trained.json after every candidate.
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

from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_macs  # noqa: E402
from scalesearch.measure.ranking import spearman  # noqa: E402
from scalesearch.search.space import load_space  # noqa: E402
from scalesearch.train.data import load_data  # noqa: E402
from scalesearch.train.loop import train  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402
from scalesearch.train.zero_cost import data_batch, zero_cost_score  # noqa: E402

SCORES = ("naswot_data", "naswot_noise", "synflow", "macs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--target", type=float, default=400e6, help="MACs at 224 px")
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--val-images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/zero_cost_vs_trained.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    full = load_data(f"fashion-mnist:{args.data}")
    data = dataclasses.replace(full, train=full.train.subset(torch.arange(args.train_images)),
                               val=full.val.subset(torch.arange(args.val_images)))
    recipe = load_recipe("proxy").override(epochs=args.epochs)
    images = data_batch(data, recipe.resolution)
    space, rng = load_space(), random.Random(0)
    document = {"benchmark": "zero_cost_vs_trained", "target_macs_224px": args.target, "machine": machine_info(), "recipe": dataclasses.asdict(recipe),
                "train_images": len(data.train), "val_images": len(data.val), "candidates_planned": args.candidates,
                "partial": True, "rows": [], "spearman": {}}
    started = time.perf_counter()
    for i in range(args.candidates):
        _, candidate = space.sample(rng, accept=lambda spec: abs(analytic_macs(spec) / args.target - 1) <= 0.5)
        spec = recipe.network(candidate, data.num_classes)
        row = {"candidate": candidate.name, "macs_224px": analytic_macs(candidate), "macs": analytic_macs(spec),
               "naswot_data": zero_cost_score(spec, "naswot", images),
               "naswot_noise": zero_cost_score(spec, "naswot", resolution=recipe.resolution),
               "synflow": zero_cost_score(spec, "synflow", resolution=recipe.resolution)}
        row["val_top1"] = train(candidate, data, recipe, seeds=[0]).val_top1
        document["rows"].append(row)
        rows = document["rows"]
        if len(rows) >= 3:
            accuracy = [r["val_top1"] for r in rows]
            document["spearman"] = {s: spearman([r[s] for r in rows], accuracy) for s in SCORES}
        document["wall_s"] = round(time.perf_counter() - started, 1)
        document["partial"] = len(rows) < args.candidates
        print(f"{i + 1}/{args.candidates} {json.dumps(row)} spearman {document['spearman']}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
