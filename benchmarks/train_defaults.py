"""Does `scalesearch train` with its default recipe train as well as a plain PyTorch loop?

Run (CPU-sized, the defaults; about 15 minutes on a 2-vCPU VM, 35 s a training, 2 side by side):
    python benchmarks/train_defaults.py [--model resnet18] [--width 0.25] [--epochs 2]
        [--train-images 5000] [--seeds 2] [--jobs 2] [--methods plain,proxy,standard]
        [--cifar ../shared/data/cifar-10] [--fashion /usr/share/datasets/fashion-mnist]
GPU-sized (a ready command: the full-width network, every training image):
    python benchmarks/train_defaults.py --device cuda --jobs 1 --width 1 --train-images 0
        --out benchmarks/results/train_defaults_gpu.json
The reference is a plain loop written here in PyTorch alone, as a practitioner writes one: SGD
(momentum 0.9, weight decay 5e-4) under a one-cycle schedule peaking at lr 0.1, cross-entropy,
and light augmentation (pad an eighth of the side, random crop back, random horizontal flip), with
torch's default initialisation and BatchNorm statistics. Against it, scalesearch's `train` with
each recipe named in METHODS (the current default first, then one change at a time, then the
changes together): the same network as the recipe builds it (stride-1 stem at 32 px), the same
images, epochs and batch size, each data set's seeded validation split, and the same evaluation
(scalesearch.train.loop.evaluate, whole image at the training resolution). Data: the CIFAR-10
subset and the first 10,000 Fashion-MNIST training images (grayscale, 28 px; the same size), so
that both validate on 1,000 images; --train-images of each training split.
Goal: a recipe within 1 point of the plain loop on both data sets (mean over seeds), which then
becomes `train`'s default (`standard`, since this benchmark). Writes --out after every run and
resumes from it; methods can be added to a file later, a method whose recipe changed cannot.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from fashion_subset import fashion_subset  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.arch.scaling import with_multipliers  # noqa: E402
from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.nn import build_model  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.search.driver import run_jobs  # noqa: E402
from scalesearch.train.augment import Normalize  # noqa: E402
from scalesearch.train.data import DataSet, dataset_record, load_data  # noqa: E402
from scalesearch.train.loop import evaluate, train  # noqa: E402
from scalesearch.train.recipes import Recipe, load_recipe  # noqa: E402

PLAIN = "plain"
#: Each method: a built-in recipe and the fields it changes (`proxy` was train's default before this benchmark).
METHODS: dict[str, tuple[str, dict]] = {
    "proxy": ("proxy", {}),
    "proxy+translate": ("proxy", {"crop": "translate"}),
    "proxy+no-flip": ("proxy", {"flip": False}),
    "proxy+no-smoothing": ("proxy", {"label_smoothing": 0.0}),
    "proxy+no-warmup": ("proxy", {"warmup_epochs": 0.0}),
    "proxy+no-zero-init": ("proxy", {"zero_init_residual": False}),
    "proxy+no-precise-bn": ("proxy", {"precise_bn_images": 0}),
    "proxy+translate+no-smoothing": ("proxy", {"crop": "translate", "label_smoothing": 0.0}),
    "standard": ("standard", {}),  # train's default since this benchmark: proxy without zero_init_residual
}


@lru_cache(maxsize=None)
def dataset(data: str, train_images: int) -> DataSet:
    return load_data(data, train_images=train_images or None)


def plain_loop(spec, data: DataSet, epochs: int, batch_size: int, resolution: int, seed: int, device: str) -> float:
    """The reference: a textbook loop, sharing nothing with scalesearch's but the network and evaluation."""
    torch.manual_seed(seed)
    dev = torch.device(device)
    model = build_model(spec).to(dev)
    train_split, val_split = data.train.on(dev), data.val.on(dev)
    normalize = Normalize.of(train_split, spec.in_channels)
    augment = v2.Compose([v2.Resize([resolution, resolution], antialias=True),
                          v2.RandomCrop(resolution, padding=resolution // 8), v2.RandomHorizontalFlip()])
    steps = len(train_split) // batch_size
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=epochs * steps)
    loss_fn, generator = nn.CrossEntropyLoss(), torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train_split), generator=generator)[:steps * batch_size]
        for images, labels in train_split.batches(order, batch_size):
            x = normalize(torch.stack([augment(image) for image in images]))
            loss = loss_fn(model(x), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return evaluate(model, val_split, normalize, resolution)


def run(job: tuple) -> dict:
    """One training: (data, train_images, method, recipe fields, spec, seed, device)."""
    data, train_images, method, fields, spec, seed, device = job
    recipe, started = Recipe(**fields), time.perf_counter()
    loaded = dataset(data, train_images)
    if method == PLAIN:
        top1 = plain_loop(recipe.network(spec, loaded.num_classes), loaded, recipe.epochs, recipe.batch_size,
                          recipe.resolution, seed, device)
    else:
        top1 = train(spec, loaded, recipe, seeds=[seed], device=device).val_top1
    return {"val_top1": top1, "wall_s": round(time.perf_counter() - started, 1)}


def summarise(rows: dict, data_sets: list[str], methods: list[str], seeds: list[int]) -> dict:
    """Per data set and method: mean and std over seeds, and the points against the plain loop; then
    which recipes are within 1 point of it on every data set."""
    table: dict = {}
    for label in data_sets:
        entry = {}
        for method in methods:
            values = [rows[f"{label}|{method}|{s}"]["val_top1"] for s in seeds if f"{label}|{method}|{s}" in rows]
            if len(values) == len(seeds):
                entry[method] = {"mean": round(statistics.fmean(values), 4),
                                 "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0}
        if PLAIN in entry:
            for cell in entry.values():
                cell["vs_plain_points"] = round(100 * (cell["mean"] - entry[PLAIN]["mean"]), 1)
        table[label] = entry
    complete = all(PLAIN in table[label] for label in data_sets)
    within = [m for m in methods if m != PLAIN and complete
              and all(m in table[label] and table[label][m]["vs_plain_points"] >= -1.0 for label in data_sets)]
    return {"table": table, "within_1_point_of_plain_on_every_data_set": within,
            "goal_met": bool(within) if complete else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist",
                        help="the official IDX files; the first 10,000 training images are used")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--width", type=float, default=0.25, help="width multiplier of the network")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=5000, help="0: all")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--methods", default=",".join([PLAIN, *METHODS]), help="comma-separated, from METHODS")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--jobs", type=int, default=2, help="trainings side by side (one thread each on the CPU)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/train_defaults.json")
    args = parser.parse_args()
    data_sets = {"cifar10": f"cifar10:{args.cifar}",
                 "fashion-mnist": f"fashion-mnist:{fashion_subset(Path(args.fashion))}"}
    methods = args.methods.split(",")
    unknown = [m for m in methods if m != PLAIN and m not in METHODS]
    if unknown:
        sys.exit(f"error: unknown method {unknown[0]!r}")
    spec = with_multipliers(resolve_spec(args.model), width=args.width) if args.width != 1 else resolve_spec(args.model)
    recipes = {m: load_recipe(name).override(epochs=args.epochs, **changes) for m, (name, changes) in METHODS.items()}
    recipes[PLAIN] = recipes["proxy"]  # for its epochs, batch size and resolution only
    seeds = list(range(args.seeds))
    records = {label: dataset_record(dataset(data, args.train_images)) for label, data in data_sets.items()}
    settings = {"model": args.model, "width": args.width, "epochs": args.epochs, "train_images": args.train_images,
                "seeds": seeds, "data": records, "device": args.device}
    try:
        results = ResultsFile(args.out, settings, header={"benchmark": "train_defaults"})
    except UsageError as err:  # results made with other settings are never overwritten
        sys.exit(f"error: {err}")
    # Methods can be added to a file; a method whose recipe changed cannot.
    stored = results.document.get("recipes", {})
    fields = {m: dataclasses.asdict(r) for m, r in recipes.items() if m != PLAIN and m in methods}
    changed = [m for m in fields if m in stored and stored[m] != fields[m]]
    if changed:
        sys.exit(f"error: {args.out} holds {changed[0]} trained with another recipe; remove it to start again")
    results.update(recipes={**stored, **fields})
    results.update(machine=machine_info(), jobs=args.jobs)
    jobs = [(data, args.train_images, method, dataclasses.asdict(recipes[method]), spec, seed, args.device)
            for label, data in data_sets.items() for seed in seeds for method in methods
            if f"{label}|{method}|{seed}" not in results]
    labels = {data: label for label, data in data_sets.items()}

    def done(job: tuple, row: dict) -> None:
        data, _, method, _, _, seed, _ = job
        results.add(f"{labels[data]}|{method}|{seed}", {**row, "measured": time.strftime("%Y-%m-%d")})
        results.update(**summarise(results.rows, list(data_sets), [PLAIN, *METHODS], seeds))
        print(f"{labels[data]} {method} seed {seed}: {row['val_top1']:.3f} ({row['wall_s']} s)", flush=True)

    run_jobs(run, jobs, args.jobs, done)
    results.update(**summarise(results.rows, list(data_sets), [PLAIN, *METHODS], seeds))


if __name__ == "__main__":
    main()
