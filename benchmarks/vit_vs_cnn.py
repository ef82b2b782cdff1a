"""A plain ViT against CNNs at equal epochs on small images, and big_vision's ablations at this scale.

Run (CPU-sized, the defaults; hours on a 2-vCPU VM: ViTs train at ~40 img/s there):
    python benchmarks/vit_vs_cnn.py [--data ../shared/data/cifar-10] [--train-images 5000] [--epochs 10]
        [--seeds 3] [--networks vit,vit-mnv2,b0-small,resnet18,mobilenet-v2,vit-token,vit-learned,vit-no-aug,
        vit-no-zero-head]
GPU-sized (a ready command: every training image, more epochs, and the ViT at ResNet-18's MACs):
    python benchmarks/vit_vs_cnn.py --device cuda --train-images 0 --epochs 100
        --out benchmarks/results/vit_vs_cnn_gpu.json
Networks, each trained with its own recipe at 32 px and the same epochs, seeds and images:
- vit: width 96, depth 6, 3 heads, MLP 384, 8 px patches (16 tokens; 11.2 M MACs against
  B0-small's 9.9 M), big_vision's S/16 choices (GAP, sin-cos 2-D position embeddings, zero head),
  recipe `bigvision-vit`; vit-mnv2: width 144, 4 heads, MLP 576 (24.8 M MACs against MobileNetV2's
  24.5 M); vit-r18 (GPU-sized, left out on the CPU unless named): width 512, depth 11, 8 heads, MLP
  2048 (558 M against ResNet-18's 563 M);
- b0-small (EfficientNet-B0 at width 0.5), resnet18, mobilenet-v2: recipe `standard` (`proxy`
  without zero-initialised residuals, which cost `train` 5.5 points on this subset:
  benchmarks/results/train_defaults.json);
- big_vision's ablations of the ViT: a class token instead of GAP, learned instead of sin-cos
  position embeddings, RandAugment and MixUp off, the head not zero-initialised.
Each network's MACs (analytic, at 32 px) and CPU batch-1 latency (onnxruntime, 32 px, one thread,
the windows protocol with the networks taking turns; the machine's interference recorded) are
measured once, before any training; `--measure-only` measures every chosen network's latency
again and trains nothing. Trainings run seed by seed (every chosen network's seed 0 first);
--out is written after each one and resumed from, and processes with disjoint --networks may fill
the same --out side by side. The table and the accuracy-vs-MACs and accuracy-vs-latency figures
go next to it.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.arch.scaling import with_multipliers  # noqa: E402
from scalesearch.arch.spec import ViTSpec  # noqa: E402
from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.measure.environment import Interference, machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_count  # noqa: E402
from scalesearch.measure.latency import BenchConfig, measure_all  # noqa: E402
from scalesearch.report import plots  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.train.data import dataset_record, load_data  # noqa: E402
from scalesearch.train.loop import train  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402

#: About B0-small's MACs at 32 px (11.2 M against 9.9 M): 16 tokens of 8 px patches.
VIT = ViTSpec(name="vit-w96-d6", resolution=32, patch=8, width=96, depth=6, heads=3, mlp_dim=384)
#: About MobileNetV2's (24.8 M against 24.5 M): the same depth and tokens, 1.5x the width.
VIT_MNV2 = ViTSpec(name="vit-w144-d6", resolution=32, patch=8, width=144, depth=6, heads=4, mlp_dim=576)
#: About ResNet-18's (558 M against 563 M), S/16-like 64-wide heads: GPU-sized (hours per seed on 2 vCPUs).
VIT_R18 = ViTSpec(name="vit-w512-d11", resolution=32, patch=8, width=512, depth=11, heads=8, mlp_dim=2048)
GPU_SIZED = ("vit-r18",)
#: The ViTs keep their own 8 px patch (the recipe's 4 px would give 64 tokens and 4x the MACs).
PATCH = {"patch": 8}


def networks() -> dict:
    """Each network: (family for the plots, spec, recipe name, recipe changes)."""
    b0 = resolve_spec("efficientnet-b0")
    return {
        "vit": ("vit", VIT, "bigvision-vit", PATCH),
        "vit-mnv2": ("vit", VIT_MNV2, "bigvision-vit", PATCH),
        "vit-r18": ("vit", VIT_R18, "bigvision-vit", PATCH),
        "b0-small": ("cnn", with_multipliers(b0, width=0.5, name="efficientnet-b0-w0.5"), "standard", {}),
        "resnet18": ("cnn", resolve_spec("resnet18"), "standard", {}),
        "mobilenet-v2": ("cnn", resolve_spec("mobilenet-v2"), "standard", {}),
        "vit-token": ("vit ablation", dataclasses.replace(VIT, name="vit-token", pool="token"), "bigvision-vit",
                      PATCH),
        "vit-learned": ("vit ablation", dataclasses.replace(VIT, name="vit-learned", posemb="learned"),
                        "bigvision-vit", PATCH),
        "vit-no-aug": ("vit ablation", dataclasses.replace(VIT, name="vit-no-aug"), "bigvision-vit",
                       {**PATCH, "randaugment_magnitude": 0, "mixup_alpha": 0.0}),
        "vit-no-zero-head": ("vit ablation", dataclasses.replace(VIT, name="vit-no-zero-head", zero_head=False),
                             "bigvision-vit", PATCH),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--train-images", type=int, default=5000, help="0: all")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--networks", default=None, help="default: all, less the GPU-sized ones on the CPU")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--measure-only", action="store_true",
                        help="measure every chosen network's latency again, no training")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/vit_vs_cnn.json")
    args = parser.parse_args()
    table = networks()
    chosen = args.networks.split(",") if args.networks else [
        n for n in table if args.device != "cpu" or n not in GPU_SIZED]
    if any(n not in table for n in chosen):
        sys.exit(f"error: unknown network (known: {', '.join(table)})")
    seeds = list(range(args.seeds))
    # bigvision-vit warms up over 10% of its epochs, whatever their number
    recipes = {n: load_recipe(r).override(epochs=args.epochs, warmup_epochs=args.epochs / 10
                                          if r == "bigvision-vit" else None, **c)
               for n, (_, _, r, c) in table.items()}
    data = load_data(f"cifar10:{args.data}", train_images=args.train_images or None)
    settings = {"data": dataset_record(data), "train_images": args.train_images, "epochs": args.epochs,
                "device": args.device, "recipes": {n: dataclasses.asdict(r) for n, r in recipes.items()}}
    try:
        results = ResultsFile(args.out, settings, header={"benchmark": "vit_vs_cnn"})
    except UsageError as err:
        sys.exit(f"error: {err}")
    results.update(machine=machine_info())
    models = {}
    for name in chosen:
        family, spec, _, _ = table[name]
        models[name] = trained = recipes[name].network(spec, data.num_classes)
        def counted(row: dict, family: str = family, name: str = name, count=analytic_count(trained)) -> None:
            for key, empty in (("family", family), ("name", name), ("per_seed", {}), ("latency_ms", {})):
                row.setdefault(key, empty)
            row.update(macs=count.macs, params=count.params)
        results.change(name, counted)
    todo = [n for n in chosen if args.measure_only or "cpu-onnxruntime" not in results.rows[n]["latency_ms"]]
    interference = Interference()  # measured on a quiet machine, before the trainings load it
    # One thread under the windows protocol, the networks taking turns: the figure that repeats on a
    # VM whose second vCPU comes and goes (README, "A steadier protocol?").
    config = BenchConfig(threads=1, budget_s=3.0)
    for name, result in zip(todo, measure_all([(models[n], config) for n in todo])):
        def latency(row: dict, ms: float = result.stats.median_ms) -> None:
            row["latency_ms"]["cpu-onnxruntime"] = ms
            row.pop("latency_rounds_ms", None)
            row.update(latency_protocol={"threads": config.threads, "protocol": config.protocol,
                                         "budget_s": config.budget_s}, interference=interference.report())
        results.change(name, latency)
    for seed in [] if args.measure_only else seeds:
        for name in chosen:
            if str(seed) in results.rows[name]["per_seed"]:
                continue
            started = time.perf_counter()
            accuracy = train(table[name][1], data, recipes[name], [seed], device=args.device).val_top1

            def record(row: dict, seed: int = seed, accuracy: float = accuracy) -> None:
                row["per_seed"][str(seed)] = accuracy
                values = list(row["per_seed"].values())
                row.update(val_top1=statistics.fmean(values),
                           val_top1_std=statistics.stdev(values) if len(values) > 1 else 0.0)
            results.change(name, record)
            print(f"{name} seed {seed}: {accuracy:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
    rows = [r for r in results.rows.values() if r.get("val_top1") is not None]
    figures = args.out.parent / f"{args.out.stem}_figures"
    plots.family_accuracy(figures / "accuracy_vs_macs.png", rows, lambda r: r["macs"] / 1e6,
                          "multiply-adds at 32 px (M MACs)", "ViT vs CNNs, CIFAR-10 subset")
    plots.family_accuracy(figures / "accuracy_vs_latency.png", rows, lambda r: r["latency_ms"].get("cpu-onnxruntime"),
                          "batch-1 latency, CPU onnxruntime, 1 thread (ms)", "ViT vs CNNs, CIFAR-10 subset")


if __name__ == "__main__":
    main()
