"""noisy-student.md, from noisy_student_*.json: self-training (Noisy Student) along a scaled family."""

from __future__ import annotations

import statistics
from typing import Any

from pages.common import bash, data_name, goal, load, machine, names, num, pm, points, source, table

PAGE = "noisy-student.md"


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


NOISY_SETS = ("fashion-mnist", "cifar10")
#: The table's rows: (words, variant, round), then the pseudo-label accuracy of phi+1's round 1.
NOISY_ROWS = (("teacher ({teacher})", "phi+1", "0"),
              ("noised student phi+1, round 1", "phi+1", "1"),
              ("noised student phi+1, round 2", "phi+1", "2"),
              ("noised student of equal size, round 1", "equal", "1"),
              ("noised student of equal size, round 2", "equal", "2"),
              ("the phi+1 network, noised alike, labelled images only", "supervised", "1"),
              ("ablation: no noise (round 1)", "no-noise", "1"),
              ("ablation: hard labels (round 1)", "hard-labels", "1"),
              ("ablation: no filtering or balancing (round 1)", "no-filter", "1"))


def _rounds(document: dict[str, Any], variant: str, round_: int) -> list[dict]:
    """That variant's round ``round_`` of every seed, seed by seed."""
    found = []
    for key, row in document["rows"].items():
        if key.split("|")[1] == variant:
            found += [r for r in row["rounds"] if r["round"] == round_]
    return found


def _class_names(kind: str) -> list[str] | None:
    if kind != "fashion-mnist":
        return None
    from torchvision.datasets import FashionMNIST

    return list(FashionMNIST.classes)


def render() -> str:
    from scalesearch.train.self_train import labelled_share

    docs = {d: load(f"noisy_student_{d}") for d in NOISY_SETS}
    first = docs[NOISY_SETS[0]]
    s = first["settings"]
    share = labelled_share(s["recipe"]["batch_size"], s["unlabeled_ratio"])
    lr = s["recipe"]["lr"] * share / s["recipe"]["batch_size"]
    by = {d: docs[d][f"summary_{d}"]["by_variant"] for d in NOISY_SETS}
    goals = {d: docs[d][f"summary_{d}"]["goal"] for d in NOISY_SETS}
    teacher = first["teacher"]
    student = _rounds(first, "phi+1", 1)[0]["network"]
    rows = []
    for words, variant, round_ in NOISY_ROWS:
        cells = [by[d].get(variant, {}).get(round_) for d in NOISY_SETS]
        rows.append([words.format(teacher=f"`{teacher}`")] + [pm(c["mean"], c["std"]) if c else "-" for c in cells])
    accuracy = {d: _mean_std([r["pseudo_label_accuracy"] for r in _rounds(docs[d], "phi+1", 1)]) for d in NOISY_SETS}
    rows.append(["pseudo-label accuracy of the kept images (phi+1, round 1)"] + [pm(*accuracy[d]) for d in NOISY_SETS])

    def gap(d: str, a: tuple[str, str], b: tuple[str, str]) -> float:
        return (by[d][a[0]][a[1]]["mean"] - by[d][b[0]][b[1]]["mean"]) * 100

    def each(values: dict[str, float], digits: int = 1) -> str:
        return names([f"{points(v, digits)} on {data_name(d, True)}" for d, v in values.items()])

    def goal_points(key: str) -> dict[str, float]:
        return {d: goals[d][key] for d in NOISY_SETS}

    r1 = ("phi+1", "1")
    filtering = {d: gap(d, r1, ("no-filter", "1")) for d in NOISY_SETS}
    soft = {d: gap(d, r1, ("hard-labels", "1")) for d in NOISY_SETS}
    equal = {d: gap(d, ("equal", "1"), ("phi+1", "0")) for d in NOISY_SETS}
    larger = {d: gap(d, r1, ("phi+1", "0")) for d in NOISY_SETS}
    lost = []
    for d in NOISY_SETS:
        second = _rounds(docs[d], "phi+1", 2)
        empty = [c for c in range(len(second[0]["kept_per_class"])) if all(r["kept_per_class"][c] == 0 for r in second)]
        labels = _class_names(d)
        if empty:
            shown = names([f"{c} ({labels[c]})" if labels else str(c) for c in empty])
            scores = names([f"{r['val_top1']:.1%}" for r in second])
            lost.append(f"on {data_name(d, True)} every seed's round-2 kept set holds no image of "
                        f"class{'es' if len(empty) > 1 else ''} {shown}, and the {len(second)} round-2 students "
                        f"score {scores}")
    met = [goals[d]["goal_met"] for d in NOISY_SETS]
    lines = [
        "# Self-training (Noisy Student)",
        "",
        "Noisy Student (Xie et al., 2020) along a scaled family: a teacher labels unlabelled images, and a noised "
        "student of equal or larger size learns from the labelled and the pseudo-labelled images, then teaches "
        "the next round. Does the noised student beat its teacher and the same network trained on the labelled "
        "images alone, and does removing the noise cost accuracy (the paper's Table 6)? Each variant runs "
        "through the library as `scalesearch self-train --teacher` runs it.",
        "",
        *bash("python benchmarks/noisy_student.py --data-sets cifar10 \\",
              "    --out benchmarks/results/noisy_student_cifar10.json",
              "python benchmarks/noisy_student.py --data-sets fashion-mnist \\",
              "    --out benchmarks/results/noisy_student_fashion-mnist.json"),
        "",
        f"Setting: {s['train_images']:,} training images of each set, {s['labeled_fraction']:.0%} of them "
        f"({round(s['train_images'] * s['labeled_fraction']):,}) labelled and the rest unlabelled; the teacher "
        f"`{teacher}` (EfficientNet-B0 at width {s['width']:g}) trained on the labelled images, one per seed; "
        f"students `{student}` and up, scaled from it with EfficientNet's coefficients. {s['epochs']} epochs for "
        f"every run, each taking the same steps at the same learning rate: a student's batch holds {share} "
        f"labelled images of {s['recipe']['batch_size']} ({num(s['unlabeled_ratio'], 0)} pseudo-labelled per "
        f"labelled one) at lr {lr:g}, and the teacher and the supervised run train at batch {share} and lr "
        f"{lr:g}. `{s['recipe']['name']}` recipe, {len(s['seeds'])} seeds, each from its own teacher; validation "
        f"top-1 %, mean ± std. Machine: {machine(first)}.",
        "",
        table(["run"] + [data_name(d) for d in NOISY_SETS], rows, "l" + "r" * len(NOISY_SETS)),
        "",
        "**Goal:** the noised phi+1 student at least 2 points above its teacher and above the supervised run, and "
        "its no-noise ablation below it: "
        + names([f"{goal(goals[d]['goal_met'])} on {data_name(d, True)}" for d in NOISY_SETS]) + ". "
        f"Against its teacher the student is {each(goal_points('student_minus_teacher_points'))}; against the "
        f"supervised run {each(goal_points('student_minus_supervised_points'))}; with the noise against without it "
        f"{each(goal_points('noise_minus_no_noise_points'))}"
        + (", the reverse of the paper's Table 6." if all(goals[d]["noise_minus_no_noise_points"] < 0
                                                            for d in NOISY_SETS) else "."),
        "",
        "What holds:",
        "",
        f"- Pseudo-labels carry signal: the student is "
        f"{each({d: goals[d]['student_minus_supervised_points'] for d in NOISY_SETS})} against the same network "
        "trained without them.",
        f"- Filtering and balancing matter where the teacher is mostly right: the student with them against "
        f"without is {each(filtering)}, where the kept pseudo-labels are "
        f"{names([f'{accuracy[d][0]:.0%} right on {data_name(d, True)}' for d in NOISY_SETS])}.",
        f"- Soft labels against hard ones: {each(soft)}.",
        f"- The equal-size student against its teacher: {each(equal)}, where the larger one is {each(larger)}. "
        "Round 2 only loses more: " + "; ".join(lost) + ".",
        "",
        "What would change it: a teacher worth learning from (the paper's teachers are trained to convergence; "
        "this one's kept labels are often wrong), and schedules long enough for RandAugment, dropout and "
        "stochastic depth to pay. The GPU-sized command (every image, more epochs, full B0) is the next "
        "measurement:" if not all(met) else "The GPU-sized command (every image, more epochs, full B0):",
        "",
        *bash("python benchmarks/noisy_student.py --device cuda --train-images 0 --epochs 60 --width 1 \\",
              "    --out benchmarks/results/noisy_student_gpu.json"),
        "",
        source(*(f"noisy_student_{d}" for d in NOISY_SETS)),
        "",
    ]
    return "\n".join(lines)
