"""Proxy-recipe training on Fashion-MNIST on the CPU: validation top-1 and training img/s.

Run:  python benchmarks/train_fashion_mnist.py [--data /usr/share/datasets/fashion-mnist]
          [--models b0-w0.5,mobilenet-v2,resnet18] [--epochs 3] [--threads 2]
The networks: our EfficientNet-B0 at width 0.5, MobileNetV2 and ResNet-18, each at 32 px with the
`proxy` recipe (stride-1 stem below 64 px), trained on 54,000 images and validated on the 6,000
held out of Fashion-MNIST's training set (seed 0). A correct pipeline reaches well over 85%.
Writes benchmarks/results/train_fashion_mnist.json after each model (partial results survive); rows
of models not named in --models are kept from the existing file, each row names its thread count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.arch.scaling import with_multipliers  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_count  # noqa: E402
from scalesearch.train.data import load_data  # noqa: E402
from scalesearch.train.loop import train  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402


def network(name: str):
    if name == "b0-w0.5":
        return with_multipliers(resolve_spec("efficientnet-b0"), width=0.5, name="efficientnet-b0-w0.5")
    return resolve_spec(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--models", default="b0-w0.5,mobilenet-v2,resnet18")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/train_fashion_mnist.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_data(f"fashion-mnist:{args.data}")
    recipe = load_recipe("proxy").override(epochs=args.epochs)
    names = args.models.split(",")
    kept = json.loads(args.out.read_text())["results"] if args.out.exists() else []
    document = {"benchmark": "train_fashion_mnist", "machine": machine_info(),
                "recipe": recipe.__dict__, "train_images": len(data.train), "val_images": len(data.val),
                "results": [row for row in kept if row["model"] not in names]}
    for name in names:
        spec = network(name)
        trained = recipe.network(spec, data.num_classes)
        started = time.perf_counter()
        result = train(spec, data, recipe, seeds=[0],
                       on_epoch=lambda m, name=name: print(f"{name} epoch {m.epoch}: loss {m.train_loss:.3f} "
                                                f"val {m.val_top1:.2%} {m.img_per_s:.0f} img/s", flush=True))
        row = {"model": name, "macs_at_32px": analytic_count(trained).macs, "params": analytic_count(trained).params,
               "val_top1": result.val_top1, "train_img_per_s": result.img_per_s,
               "per_epoch_val_top1": [m.val_top1 for m in result.runs[0].epochs],
               "wall_s": round(time.perf_counter() - started, 1), "torch_threads": args.threads,
               "measured": time.strftime("%Y-%m-%d")}
        document["results"].append(row)
        print(json.dumps(row), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
