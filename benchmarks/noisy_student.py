"""Noisy Student at proxy scale: does a noised student beat its teacher and the same network trained
on the labelled images alone, and does removing the noise cost accuracy (the paper's Table 6)?

Run (CPU-sized, the defaults; one data set per process and results file, side by side, about
30 minutes a seed each on a 2-vCPU VM):
    python benchmarks/noisy_student.py --data-sets cifar10 --out benchmarks/results/noisy_student_cifar10.json
        [--train-images 5000] [--epochs 10] [--seeds 3]
    python benchmarks/noisy_student.py --data-sets fashion-mnist
        --out benchmarks/results/noisy_student_fashion-mnist.json
GPU-sized (a ready command: every training image, all labels hidden but 10%, more epochs, full B0):
    python benchmarks/noisy_student.py --device cuda --train-images 0 --epochs 60 --width 1
        --out benchmarks/results/noisy_student_gpu.json
Setting: 10% of the training split (--train-images of it, seeded) keeps its labels, the rest are
unlabelled; the teacher is EfficientNet-B0 at width --width ("B0-small"), trained on the labelled
images at the recipe's resolution (32 px), one per seed. Variants, each through
`scalesearch.train.self_train` as `self-train --teacher` runs them, every seed from its own teacher:
- phi+1: students one phi larger each round (B0-small -> phi 1 -> phi 2), 2 rounds;
- equal: students of the teacher's size, 2 rounds;
- ablations of phi+1's first round: no noise; hard labels; no filtering or balancing;
- supervised: phi+1's first student network, noised alike, trained on the labelled images alone.
Every run takes the same steps at the same learning rate: the supervised run and the teacher train
at batch size = the student's labelled share of a batch (32 of 128 at ratio 3) with the recipe's lr
scaled to it (0.025), which is the student's lr too, so a student differs from the supervised run
only by the pseudo-labelled images beside each labelled batch. (At lr 0.1 and batch 32, RandAugment,
dropout and stochastic depth together left B0-small-phi1 at chance on Fashion-MNIST, 12.2%, where
each alone reached 48-52%.)
Goal (the issue's): phi+1's round-1 student beats its teacher and the supervised run by >= 2
points (mean over seeds), and its no-noise ablation is below it. Writes --out after every run
and resumes from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from fashion_subset import fashion_subset  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.arch.scaling import Coefficients, scale, with_multipliers  # noqa: E402
from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.train.data import load_data  # noqa: E402
from scalesearch.train.loop import train  # noqa: E402
from scalesearch.train.pseudo_labels import split_labeled  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402
from scalesearch.train.self_train import SelfTrainConfig, labelled_share, run, student_recipe  # noqa: E402

FRACTION = 0.1
RATIO = 3.0
#: Each variant: SelfTrainConfig fields besides the shared ones, and its rounds.
VARIANTS = {
    "phi+1": {"student_phi": 1.0, "rounds": 2},
    "equal": {"student_phi": 0.0, "rounds": 2},
    "no-noise": {"student_phi": 1.0, "rounds": 1, "noise": False},
    "hard-labels": {"student_phi": 1.0, "rounds": 1, "labels": "hard"},
    "no-filter": {"student_phi": 1.0, "rounds": 1, "threshold": 0.0, "per_class": 0, "balance": False},
}


def mean_std(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values)}


def summarise(rows: dict, data_set: str, seeds: list[int]) -> dict:
    """Per variant and round, the mean top-1 over seeds; the goal's three comparisons over the seeds
    that have all of them (paired), marked complete only when every seed has."""
    table: dict = {}
    per_seed: dict = {}
    for key, row in rows.items():
        label, variant, seed = key.split("|")
        if label != data_set:
            continue
        for r in row["rounds"]:
            table.setdefault(variant, {}).setdefault(str(r["round"]), []).append(r["val_top1"])
            per_seed.setdefault(seed, {})[(variant, r["round"])] = r["val_top1"]
    out = {v: {r: mean_std(values) for r, values in rounds.items()} for v, rounds in table.items()}
    needed = (("phi+1", 0), ("phi+1", 1), ("supervised", 1), ("no-noise", 1))
    paired = [v for v in per_seed.values() if all(k in v for k in needed)]
    goal = None
    if paired:
        def points(a: tuple, b: tuple) -> float:
            return round(statistics.fmean(v[a] - v[b] for v in paired) * 100, 2)

        goal = {"seeds": len(paired), "complete": len(paired) == len(seeds),
                "student_minus_teacher_points": points(("phi+1", 1), ("phi+1", 0)),
                "student_minus_supervised_points": points(("phi+1", 1), ("supervised", 1)),
                "noise_minus_no_noise_points": points(("phi+1", 1), ("no-noise", 1))}
        goal["goal_met"] = (goal["student_minus_teacher_points"] >= 2 and goal["student_minus_supervised_points"] >= 2
                            and goal["noise_minus_no_noise_points"] > 0)
    return {"by_variant": out, "goal": goal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-sets", default="cifar10", help="cifar10, fashion-mnist, or both comma-separated")
    parser.add_argument("--cifar", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--train-images", type=int, default=5000, help="0: all")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--width", type=float, default=0.5, help="the teacher: EfficientNet-B0 at this width")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(["supervised", *VARIANTS]))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs/noisy-student")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/noisy_student.json")
    args = parser.parse_args()
    paths = {"cifar10": lambda: f"cifar10:{args.cifar}",
             "fashion-mnist": lambda: f"fashion-mnist:{fashion_subset(Path(args.fashion))}"}
    chosen = args.data_sets.split(",")
    variants = args.variants.split(",")
    if any(d not in paths for d in chosen) or any(v != "supervised" and v not in VARIANTS for v in variants):
        sys.exit("error: unknown data set or variant")
    b0 = resolve_spec("efficientnet-b0")
    teacher = with_multipliers(b0, width=args.width, name=f"efficientnet-b0-w{args.width:g}") if args.width != 1 else b0
    args.work_dir.mkdir(parents=True, exist_ok=True)
    recipe = load_recipe("standard").override(epochs=args.epochs)
    seeds = list(range(args.seeds))
    settings = {"train_images": args.train_images, "epochs": args.epochs, "width": args.width, "seeds": seeds,
                "labeled_fraction": FRACTION, "unlabeled_ratio": RATIO, "recipe": dataclasses.asdict(recipe),
                "device": args.device}
    try:
        results = ResultsFile(args.out, settings, header={"benchmark": "noisy_student"})
    except UsageError as err:
        sys.exit(f"error: {err}")
    results.update(machine=machine_info(), teacher=teacher.name)
    labelled_batch = labelled_share(recipe.batch_size, RATIO)
    for label in chosen:
        data = paths[label]()
        for seed in seeds:
            for variant in variants:
                key = f"{label}|{variant}|{seed}"
                if key in results:
                    continue
                started = time.perf_counter()
                labelled = labelled_data(data, args)
                teacher_dir = train_teacher(labelled, args, recipe, teacher, seed, label, labelled_batch)
                if variant == "supervised":
                    rounds = [supervised(labelled, args, recipe, teacher, seed, labelled_batch)]
                else:
                    rounds = chain(data, args, recipe, teacher_dir, seed, label, variant)
                results.add(key, {"rounds": rounds, "wall_s": round(time.perf_counter() - started)})
                results.update(**{f"summary_{lbl}": summarise(results.rows, lbl, seeds) for lbl in chosen})
                print(f"{label} {variant} seed {seed}: " + ", ".join(f"round {r['round']} {r['val_top1']:.3f}"
                                                                   for r in rounds), flush=True)


def at_batch(recipe, batch: int):
    """``recipe`` at another batch size, its learning rate scaled linearly (as a student's is)."""
    return recipe.override(batch_size=batch, lr=recipe.lr * batch / recipe.batch_size)


def labelled_data(data: str, args):
    """The data set with only its labelled images (the seeded 10% self-train keeps) to train on."""
    dataset = load_data(data, train_images=args.train_images or None)
    return dataclasses.replace(dataset, train=split_labeled(dataset.train, FRACTION, 0).labeled)


def train_teacher(labelled, args, recipe, teacher, seed: int, label: str, labelled_batch: int) -> Path:
    """The seed's teacher, trained once on the labelled images at the labelled batch size (so it takes
    the students' steps), as `scalesearch train` would; every variant of the seed starts from it."""
    folder = args.work_dir / label / "teachers" / f"seed-{seed}"
    if not (folder / "done").exists():
        if folder.exists():
            shutil.rmtree(folder)  # an unfinished teacher: train it again
        train(teacher, labelled, at_batch(recipe, labelled_batch), [seed], device=args.device, run_dir=folder)
        (folder / "done").write_text("")
    return folder


def chain(data: str, args, recipe, teacher_dir: Path, seed: int, label: str, variant: str) -> list[dict]:
    """One self-train run (one seed) from the seed's teacher, as `self-train --teacher` runs it."""
    run_dir = args.work_dir / label / f"{variant}-{seed}"
    config = SelfTrainConfig(data=data, recipe=recipe, seeds=[seed], run_dir=run_dir, teacher=teacher_dir,
                             coefficients=Coefficients(), labeled_fraction=FRACTION,
                             unlabeled_ratio=RATIO, device=args.device, train_images=args.train_images or None,
                             **VARIANTS[variant])
    document = run(config)
    return [{k: r[k] for k in ("round", "network", "val_top1", "resolution", "mean_confidence",
                               "pseudo_label_accuracy", "pseudo_label_accuracy_all", "kept_per_class") if k in r}
            for r in sorted(document["rows"].values(), key=lambda r: r["round"])]


def supervised(labelled, args, recipe, teacher, seed: int, labelled_batch: int) -> dict:
    """phi+1's round-1 student network, noised alike, trained on the labelled images alone at the
    labelled batch size."""
    spec = scale(teacher, 1.0, Coefficients())
    config = SelfTrainConfig(data="synthetic", recipe=recipe, seeds=[seed], labeled_fraction=FRACTION)
    student, noised = student_recipe(config, spec, recipe.scaled_resolution(spec, spec.scaling.resolution_mult))
    # the student's recipe already has the lr of its labelled share: only the batch changes
    result = train(noised, labelled, student.override(batch_size=labelled_batch), [seed], device=args.device)
    return {"round": 1, "network": spec.name, "val_top1": result.val_top1}


if __name__ == "__main__":
    main()
