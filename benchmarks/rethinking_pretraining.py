""""Rethinking ImageNet Pre-training" (He, Girshick, Dollar 2019) at proxy scale, on the CIFAR-10 subset
split by class: does training from scratch catch up with fine-tuning given a longer schedule, and does
GroupNorm beat BatchNorm at tiny per-process batches?

Run (CPU-sized, the defaults; hours on a 2-vCPU VM; the same command resumes):
    python benchmarks/rethinking_pretraining.py [--data ../shared/data/cifar-10] [--train-images 5000]
        [--networks resnet18-w0.25[,b0-small]] [--epochs 5] [--seeds 3] [--norm-images 1000] [--norm-epochs 4]
GPU-sized (a ready command: every training image, longer schedules):
    python benchmarks/rethinking_pretraining.py --device cuda --train-images 0 --epochs 30 --norm-images 0
        --out benchmarks/results/rethinking_pretraining_gpu.json
and claim (c) with SyncBatchNorm across processes (4 GPUs at 2 images each, a global batch of 8;
BatchNorm normalises over 2 images per process, SyncBatchNorm over all 8), one line per norm:
    torchrun --nproc-per-node 4 -m scalesearch train resnet18 --data cifar10:DATA --device cuda --batch 8
        --lr 0.00625 --epochs 4 --seeds 3 --norm batch|sync_batch|group --json

Part 1, scratch vs fine-tuning (the paper's Figure 1): each network is pretrained on classes 0-4 for
--epochs (one pretraining per seed), then trained on classes 5-9, from those weights with a fresh
classifier (`train --init RUN --reset-head`) or from scratch, at 1x, 2x and 3x schedules
(`--schedule`: epochs and warm-up times the multiplier), with 100% and with 10% of classes 5-9's
training images. Validation: the held-out images of classes 5-9 (the same for 100% and 10%).
Part 2, norms at small batches (the paper's Figure 4 style, GroupNorm's own Figure 1): ResNet-18 at
width 0.25 from scratch on --norm-images images of all 10 classes, BatchNorm vs GroupNorm vs
GroupNorm + weight standardisation, at per-process batch 2, 8 and 32, equal epochs, the learning
rate scaled linearly with the batch (0.1 at 128).
Every run uses the `standard` recipe (SGD, cosine, 1 warm-up epoch at 1x). Claims checked:
(a) at 100% data, scratch at 3x is within one seed std of fine-tuning at 3x, or above it (the gaps at
    1x and 2x are reported beside it);
(b) at 10% data, scratch at 3x stays below fine-tuning at 3x by more than one std;
(c) at batch 2, GroupNorm beats BatchNorm.
Writes --out after every run and resumes from it; the table's figures go next to it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.arch.scaling import with_multipliers  # noqa: E402
from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.report import plots  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.train.checkpoints import InitialWeights  # noqa: E402
from scalesearch.train.data import DataSet, Split, dataset_record, load_data  # noqa: E402
from scalesearch.train.loop import mean_std, train  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402

SCHEDULES = (1, 2, 3)
FRACTIONS = (1.0, 0.1)
BATCHES = (2, 8, 32)
NORMS = {"batch": ("batch", False), "group": ("group", False), "group+ws": ("group", True)}
PRETRAIN_CLASSES, TARGET_CLASSES = range(0, 5), range(5, 10)


def networks() -> dict:
    return {"resnet18-w0.25": with_multipliers(resolve_spec("resnet18"), width=0.25, name="resnet18-w0.25"),
            "b0-small": with_multipliers(resolve_spec("efficientnet-b0"), width=0.5, name="efficientnet-b0-w0.5")}


def _classes(split: Split, classes: range, fraction: float = 1.0, seed: int = 0) -> Split:
    """The images of ``classes``, relabelled from 0; a seeded ``fraction`` of them."""
    index = torch.nonzero((split.labels >= classes.start) & (split.labels < classes.stop)).flatten()
    if fraction < 1:
        keep = torch.randperm(len(index), generator=torch.Generator().manual_seed(seed))[:round(len(index) * fraction)]
        index = index[keep.sort().values]
    return Split(split.images[index], split.labels[index] - classes.start)


def task(data: DataSet, classes: range, fraction: float = 1.0) -> DataSet:
    """``data`` restricted to ``classes`` (validation: all of theirs; training: ``fraction`` of theirs)."""
    return dataclasses.replace(data, name=f"{data.name}[{classes.start}-{classes.stop - 1}]",
                               train=_classes(data.train, classes, fraction), val=_classes(data.val, classes),
                               test=None, num_classes=len(classes))


def _summary(row: dict) -> dict:
    finals = [run["val_top1"] for run in row["per_seed"].values()]
    mean, std = mean_std(finals)
    return {**row, "val_top1": mean, "val_top1_std": std}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--train-images", type=int, default=5000, help="0: all")
    parser.add_argument("--networks", default="resnet18-w0.25", help=f"of {', '.join(networks())}")
    parser.add_argument("--epochs", type=int, default=5, help="the 1x schedule, and pretraining")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--norm-images", type=int, default=1000, help="part 2's training images; 0: all")
    parser.add_argument("--norm-epochs", type=int, default=4)
    parser.add_argument("--norm-groups", type=int, default=32,
                        help="part 2's GroupNorm: the most groups a layer gets (ResNet-18 x0.25's widths are "
                             "16-128, so 32 makes its first stages one channel per group)")
    parser.add_argument("--parts", default="1,2")
    parser.add_argument("--norms", default=",".join(NORMS), help="part 2's norms")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)), help="part 2's batch sizes")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: the claims and figures from the runs finished so far")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--work", type=Path, default=ROOT / "runs/rethinking-pretraining")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/rethinking_pretraining.json")
    args = parser.parse_args()
    table = networks()
    chosen = args.networks.split(",")
    if any(n not in table for n in chosen):
        sys.exit(f"error: unknown network (known: {', '.join(table)})")
    seeds = list(range(args.seeds))
    recipe = load_recipe("standard").override(epochs=args.epochs)
    data = load_data(f"cifar10:{args.data}", train_images=args.train_images or None)
    settings = {"data": dataset_record(data), "train_images": args.train_images, "epochs": args.epochs, "seeds": seeds,
                "norm_images": args.norm_images, "norm_epochs": args.norm_epochs, "device": args.device,
                **({"norm_groups": args.norm_groups} if args.norm_groups != 32 else {}),
                "recipe": dataclasses.asdict(recipe)}
    try:
        results = ResultsFile(args.out, settings, header={"benchmark": "rethinking_pretraining"})
    except UsageError as err:
        sys.exit(f"error: {err}")
    parts = [] if args.report_only else args.parts.split(",")
    if parts:
        results.update(machine=machine_info())

    def run(name: str, row: dict, seed: int, spec, on: DataSet, chosen_recipe, **train_args) -> None:
        row = results.rows.get(name) or {**row, "name": name, "per_seed": {}}
        if str(seed) in row["per_seed"]:
            return
        started = time.perf_counter()
        result = train(spec, on, chosen_recipe, [seed], device=args.device, **train_args)
        row["per_seed"][str(seed)] = {"val_top1": result.val_top1,
                                      "curve": [m.val_top1 for m in result.runs[0].epochs],
                                      "train_images": len(on.train), "seconds": round(time.perf_counter() - started)}
        results.add(name, _summary(row))
        print(f"{name} seed {seed}: {result.val_top1:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)

    if "1" in parts:
        target = {f: task(data, TARGET_CLASSES, f) for f in FRACTIONS}
        pretraining = task(data, PRETRAIN_CLASSES)
        for seed in seeds:
            for net in chosen:
                spec = table[net]
                pre_dir = args.work / f"{net}-pretrain-seed{seed}"
                run(f"{net} pretrain", {"part": 1, "network": net, "family": "pretrain", "epochs": recipe.epochs},
                    seed, spec, pretraining, recipe, run_dir=pre_dir)
                for fraction in FRACTIONS:
                    for multiplier in SCHEDULES:
                        longer = recipe.scheduled(multiplier)
                        for start in ("fine-tune", "scratch"):
                            init = None
                            if start == "fine-tune":
                                init = InitialWeights.read(pre_dir, longer.network(spec, len(TARGET_CLASSES)),
                                                           reset_head=True)
                            row = {"part": 1, "network": net, "start": start, "fraction": fraction,
                                   "schedule": longer.schedule_name, "epochs": longer.epochs,
                                   "family": f"{net}, {start}, {fraction:.0%} data"}
                            run(f"{net} {start} {fraction:.0%} {longer.schedule_name}", row, seed, spec,
                                target[fraction], longer, init=init)
    if "2" in parts:
        subset = load_data(f"cifar10:{args.data}", train_images=args.norm_images or None)
        spec = table["resnet18-w0.25"]
        for seed in seeds:
            for batch in map(int, args.batches.split(",")):
                small = recipe.override(epochs=args.norm_epochs, batch_size=batch, lr=0.1 * batch / 128)
                for label in args.norms.split(","):
                    norm, ws = NORMS[label]
                    normed = dataclasses.replace(spec, norm=norm, weight_standardization=ws,
                                                 norm_groups=args.norm_groups)
                    run(f"norm {label} batch {batch}", {"part": 2, "norm": label, "batch": batch, "family": label,
                                                        "epochs": small.epochs}, seed, normed, subset, small)
    verdict(results)
    figures(results, args.out.parent / f"{args.out.stem}_figures")


def _row(results: ResultsFile, name: str) -> dict | None:
    row = results.rows.get(name)
    return row if row and row.get("val_top1") is not None else None


def verdict(results: ResultsFile) -> None:
    """The three claims, each judged from the seeds finished so far (``seeds`` says how many):
    scratch minus fine-tuning at each schedule, against the larger seed std of the two at 3x."""
    claims = {}
    networks_done = sorted({r["network"] for r in results.rows.values() if r.get("part") == 1})
    for net in networks_done:
        for fraction, claim in ((1.0, "a"), (0.1, "b")):
            pairs = {x: (_row(results, f"{net} fine-tune {fraction:.0%} {x}"), _row(results, f"{net} scratch "
                                                                                          f"{fraction:.0%} {x}"))
                     for x in ("1x", "2x", "3x")}
            gaps = {x: s["val_top1"] - t["val_top1"] for x, (t, s) in pairs.items() if t and s}
            if "3x" not in gaps or "1x" not in gaps:
                continue
            tuned, scratch = pairs["3x"]
            noise = max(tuned["val_top1_std"], scratch["val_top1_std"])
            # (a) at 3x scratch is within one std of fine-tuning (or above it); (b) it stays below.
            holds = gaps["3x"] >= -noise if claim == "a" else gaps["3x"] < -noise
            claims[f"{claim} {net}"] = {"scratch_minus_finetune": gaps, "one_std_at_3x": noise, "holds": holds,
                                        "seeds": min(len(tuned["per_seed"]), len(scratch["per_seed"]))}
    bn, gn = _row(results, "norm batch batch 2"), _row(results, "norm group batch 2")
    if bn and gn:
        claims["c"] = {"group_minus_batch_at_batch_2": gn["val_top1"] - bn["val_top1"],
                       "holds": gn["val_top1"] > bn["val_top1"], "seeds": min(len(bn["per_seed"]), len(gn["per_seed"]))}
    results.update(claims=claims)


def figures(results: ResultsFile, folder: Path) -> None:
    rows = [r for r in results.rows.values() if r.get("val_top1") is not None]
    part1 = [{**r, "name": r["schedule"]} for r in rows if r.get("part") == 1 and "start" in r]
    if part1:
        plots.family_accuracy(folder / "scratch_vs_finetune.png", part1, lambda r: r["epochs"],
                              "epochs on classes 5-9 (1x, 2x, 3x schedules)",
                              "Fine-tuning (from classes 0-4) vs scratch, CIFAR-10 subset")
    part2 = [{**r, "name": f"b{r['batch']}"} for r in rows if r.get("part") == 2]
    if part2:
        plots.family_accuracy(folder / "norm_vs_batch.png", part2, lambda r: r["batch"],
                              "images per batch (per process)",
                              "ResNet-18 x0.25 from scratch: BatchNorm vs GroupNorm by batch")


if __name__ == "__main__":
    main()
