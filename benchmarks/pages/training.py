"""Results about training: the default recipe against a plain loop, "Rethinking ImageNet Pre-training"
and Noisy Student at proxy scale, plain ViTs against CNNs, compound against single-dimension scaling,
and the whole pipeline against EfficientNet's Figure 1. Every number comes from the JSON (or, for a
network's shape or a paper's figure, from the code and data files the benchmark itself uses). Six pages
in one module, one per benchmark, as each topic of :mod:`pages` keeps its pages together; the helpers
at the top are theirs."""

from __future__ import annotations

import json
import statistics
from typing import Any

from pages.common import figure, goal, load, machine, millions, num, source, table


def pm(mean: float | None, std: float | None) -> str:
    """0.3795, 0.0134 -> ``38.0 ± 1.3`` (percent)."""
    return "-" if mean is None else f"{mean * 100:.1f} ± {(std or 0) * 100:.1f}"


def points(value: float, digits: int = 1) -> str:
    """A signed difference in points: ``+2.7``, ``-0.6``."""
    return f"{value:+.{digits}f}"


def versus(value: float, digits: int = 1) -> str:
    """A difference in points in words: ``23.0 points behind``, ``1.4 points ahead of``."""
    return f"{abs(value):.{digits}f} points {'behind' if value < 0 else 'ahead of'}"


def spread(values: list[float], digits: int = 1) -> str:
    """The range of some differences in points: ``-7.4 to -4.6``."""
    low, high = min(values), max(values)
    return points(low, digits) if f"{low:.{digits}f}" == f"{high:.{digits}f}" else \
        f"{points(low, digits)} to {points(high, digits)}"


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def names(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def code(text: str) -> str:
    return f"`{text}`"


def bash(*lines: str) -> list[str]:
    return ["```bash", *lines, "```"]


# --- training-recipes.md --------------------------------------------------------------------------

DATA_NAMES = {"cifar10": "CIFAR-10 subset", "fashion-mnist": "Fashion-MNIST"}
NETWORK_NAMES = {"b0-w0.5": "EfficientNet-B0 at width 0.5", "mobilenet-v2": "MobileNetV2", "resnet18": "ResNet-18"}


def data_name(kind: str, article: bool = False) -> str:
    """A data set's kind in words (``the CIFAR-10 subset`` with ``article``)."""
    name = DATA_NAMES.get(kind, kind)
    return f"the {name}" if article and name.endswith("subset") else name


DEFAULT = "standard"  # train's default recipe since train_defaults.py


def _changes(recipe: dict, base: dict) -> list[str]:
    """The fields where ``recipe`` differs from ``base``, as recipe-file text: ``crop: "translate"``."""
    return [f"`{k}: {json.dumps(v)}`" for k, v in recipe.items() if k != "name" and base.get(k) != v]


def _recipe_label(method: str, recipes: dict[str, dict]) -> str:
    """A method in words, from the recipe it trained with."""
    if method == "plain":
        return "plain PyTorch loop (the reference)"
    recipe, changed = recipes[method], _changes(recipes[method], recipes["proxy"])
    if recipe["name"] != "proxy":
        label = f"**`{recipe['name']}`**" + (f" = `proxy` with {', '.join(changed)}" if changed else "")
        return label + (", `train`'s default" if recipe["name"] == DEFAULT else "")
    return "`proxy`" + (f" with {', '.join(changed)}" if changed else " (`train`'s default before)")


def _twins(document: dict[str, Any]) -> list[str]:
    """Methods that are the default recipe under another name (the same fields): shown once."""
    recipes = document["recipes"]
    if DEFAULT not in recipes:
        return []
    fields = {k: v for k, v in recipes[DEFAULT].items() if k != "name"}
    return [m for m, r in recipes.items() if m != DEFAULT and {k: v for k, v in r.items() if k != "name"} == fields]


def _recipe_table(document: dict[str, Any]) -> str:
    """Each recipe against the plain loop, data set by data set."""
    data_sets = list(document["table"])
    twins = _twins(document)
    rows = []
    for method in document["table"][data_sets[0]]:
        if method in twins:
            continue
        cells = [_recipe_label(method, document["recipes"])]
        for d in data_sets:
            r = document["table"][d][method]
            cells += [pm(r["mean"], r["std"]), "" if method == "plain" else points(r["vs_plain_points"])]
        rows.append(cells)
    header = ["recipe"] + [x for d in data_sets for x in (DATA_NAMES.get(d, d), "vs plain")]
    return table(header, rows, "l" + "rr" * len(data_sets))


def _setting(document: dict[str, Any]) -> str:
    s, proxy = document["settings"], document["recipes"]["proxy"]
    sizes = names([f"{data_name(d, True)} ({s['data'][d]['train_images']:,} training and "
                   f"{s['data'][d]['val_images']:,} validation images)" for d in document["table"]])
    return (f"{NETWORK_NAMES.get(s['model'], s['model'])} at width {s['width']:g}, {proxy['resolution']} px, "
            f"{s['epochs']} epochs at batch {proxy['batch_size']}, {len(s['seeds'])} seeds, on {sizes}")


def _order(document: dict[str, Any], data_set: str, methods: list[str]) -> list[str]:
    return sorted(methods, key=lambda m: -document["table"][data_set][m]["mean"])


def recipes_page() -> str:
    doc, small, fashion = load("train_defaults"), load("train_defaults_1000_images"), load("train_fashion_mnist")
    t, proxy = doc["table"], doc["recipes"]["proxy"]
    data_sets = list(t)
    twins = _twins(doc)
    singles = [m for m in t[data_sets[0]] if m.startswith("proxy+") and m not in twins
               and doc["recipes"][m].get("zero_init_residual") == proxy["zero_init_residual"]]
    within = [code(m) for m in doc["within_1_point_of_plain_on_every_data_set"] if m not in twins]
    cost = {d: (t[d][DEFAULT]["mean"] - t[d]["proxy"]["mean"]) * 100 for d in data_sets}
    common = [m for m in small["table"][data_sets[0]] if m in t[data_sets[0]]]
    same_order = all(_order(doc, d, common) == _order(small, d, common) for d in data_sets)
    lines = [
        "# Training recipes",
        "",
        "Does `scalesearch train` with its default recipe train as well as a plain PyTorch loop? The reference is "
        "written in the benchmark itself, as a practitioner writes one: SGD with momentum under a one-cycle "
        f"schedule peaking at lr {proxy['lr']:g}, cross-entropy, pad-and-crop plus flips, torch's default "
        "initialisation. Against it, `train` with the `proxy` recipe (the search's recipe, and `train`'s default "
        "until this benchmark), `proxy` with one change at a time, and `standard`. Everything else is shared: the "
        "network as the recipe builds it (stride-1 stem at this resolution), the images, epochs and batch size, "
        "each data set's seeded validation split and the evaluation code.",
        "",
        *bash("python benchmarks/train_defaults.py   # CPU-sized defaults; resumes from its --out"),
        "",
        f"Setting: {_setting(doc)}. Validation top-1 %, mean ± std over seeds, and points against the plain "
        f"loop. Machine: {machine(doc)}.",
        "",
        _recipe_table(doc),
        "",
    ]
    if twins:
        lines += [f"The runs named {names([code(m) for m in twins])} had every field of `{DEFAULT}` and came out "
                  f"the same: they are shown once, as `{DEFAULT}`.", ""]
    lines += [
        f"**Goal:** a recipe within 1 point of the plain loop on every data set, or above it: {goal(doc['goal_met'])}"
        + (f", by {names(within)}{' alone' if len(within) == 1 else ''}." if within else "."),
        "",
        f"Every other single change to `proxy` ({names([code(m.removeprefix('proxy+')) for m in singles])}) left "
        "the gap where it was: "
        + "; ".join(f"{spread([t[d][m]['vs_plain_points'] for m in singles])} points against the plain loop on "
                    f"{data_name(d, True)}, where `proxy` itself is {points(t[d]['proxy']['vs_plain_points'])}"
                    for d in data_sets) + ".",
        "",
        "What closes it is `zero_init_residual: false`: `proxy` starts every residual block as the identity (the "
        "last norm of each residual branch at zero scale), and in a run this short the branches never grow. "
        "That costs "
        + names([f"{cost[d]:.1f} points on {data_name(d, True)}" for d in data_sets])
        + f" (`{DEFAULT}` minus `proxy`). So `train` defaults to `{DEFAULT}`, which is `proxy` without it, while "
        "the search keeps `proxy`: there zero-init is what made its short proxy rank networks as a longer "
        "schedule does ([`proxy_fidelity.json`](../data/proxy_fidelity.json)).",
        "",
        "Two recipe fields came from this "
        "benchmark: `crop: translate` (pad by an eighth of the side and crop back, as CIFAR training does; the "
        "default `resized` is RandomResizedCrop) and `flip: false`, for data whose mirror image is another class.",
        "",
        "## At the recipes' own epochs on fewer images",
        "",
        *bash(f"python benchmarks/train_defaults.py --train-images {small['settings']['train_images']} "
              f"--epochs {small['settings']['epochs']} --methods {','.join(small['table'][data_sets[0]])} \\",
              "    --out benchmarks/results/train_defaults_1000_images.json"),
        "",
        f"{_setting(small)[0].upper()}{_setting(small)[1:]}. The recipes come in "
        f"{'the same order as above' if same_order else 'another order than above'}, and the goal is "
        f"{goal(small['goal_met'])}. Machine: {machine(small)}.",
        "",
        _recipe_table(small),
        "",
        f"`{DEFAULT}` stays above the plain loop here too. The divergence that zero-init was introduced against "
        "was at full width with few warm-up steps; this check is at width "
        f"{small['settings']['width']:g}, so full width on tiny data is not measured here.",
        "",
        *_fashion_section(fashion),
        source("train_defaults", "train_defaults_1000_images", "train_fashion_mnist"),
        "",
    ]
    return "\n".join(lines)


def _fashion_section(doc: dict[str, Any]) -> list[str]:
    recipe = doc["recipe"]
    era = ("as it was before `zero_init_residual` existed (no such field in its recorded settings)"
           if "zero_init_residual" not in recipe else f"with {', '.join(_changes(recipe, {}))}")
    rows = [(NETWORK_NAMES.get(r["model"], r["model"]), millions(r["macs_at_32px"]), millions(r["params"], 2),
             " / ".join(f"{v:.1%}" for v in r["per_epoch_val_top1"]), f"**{r['val_top1']:.1%}**",
             f"{r['train_img_per_s']:.0f}", r["torch_threads"], f"{r['wall_s'] / 60:.0f} min") for r in doc["results"]]
    notes = sorted({r["note"] for r in doc["results"] if r.get("note")})
    return [
        "## Fashion-MNIST in full: does training work at all?",
        "",
        *bash("python benchmarks/train_fashion_mnist.py   # --models, --epochs, --threads; one row at a time"),
        "",
        f"A check that the training loop learns: each network at {recipe['resolution']} px with the `proxy` recipe "
        f"{era}, {recipe['epochs']} epochs on {doc['train_images']:,} Fashion-MNIST images, validated on the "
        f"{doc['val_images']:,} held out of its training set. Machine: {machine(doc)}.",
        "",
        table(["network", f"MACs at {recipe['resolution']} px", "params", "val top-1 per epoch", "val top-1",
               "train img/s", "threads", "wall"], rows, "lrrrrrrr"),
        "",
        *(f"*{n}.*" for n in notes),
        "",
    ]


def _recipes_headline() -> tuple[str, str, str]:
    doc = load("train_defaults")
    t = doc["table"]
    gaps = ", ".join(f"{points(t[d][DEFAULT]['vs_plain_points'])} ({DATA_NAMES.get(d, d)})" for d in t)
    return ("`train`'s default recipe against a plain PyTorch loop",
            f"{gaps} points; within 1 point or above: {goal(doc['goal_met'])}", "training-recipes.md")


# --- rethinking-pretraining.md --------------------------------------------------------------------

NORM_NAMES = {"batch": "BatchNorm", "group": "GroupNorm", "group+ws": "GroupNorm + weight standardisation"}


def _network_words(name: str) -> str:
    """``resnet18-w0.25`` -> ``ResNet-18 at width 0.25``."""
    base, _, width = name.partition("-w")
    return f"{NETWORK_NAMES.get(base, base)} at width {width}" if width else NETWORK_NAMES.get(name, name)


def _per_group(widths: list[int], max_groups: int) -> str:
    """Channels per group at each width under the group-count rule: ``1, 1, 2 and 4``."""
    from scalesearch.nn.norms import group_count

    return names([str(w // group_count(w, max_groups)) for w in widths])


def rethinking_page() -> str:
    import dataclasses

    import rethinking_pretraining as script

    from scalesearch.arch.spec import NetworkSpec

    doc, norms, g4 = load("rethinking_pretraining"), load("rethinking_pretraining_norms"), \
        load("rethinking_pretraining_norms_g4")
    s = doc["settings"]
    rows = doc["rows"]
    part1 = [r for r in rows.values() if r.get("part") == 1 and "start" in r]
    net = part1[0]["network"]
    pretrain = rows[f"{net} pretrain"]
    schedules = list(dict.fromkeys(r["schedule"] for r in part1))
    epochs = {r["schedule"]: r["epochs"] for r in part1}
    fractions = list(dict.fromkeys(r["fraction"] for r in part1))
    images = {f: next(iter(r["per_seed"].values()))["train_images"] for f in fractions for r in part1
              if r["fraction"] == f}
    pre, target = script.PRETRAIN_CLASSES, script.TARGET_CLASSES
    pre_words = f"classes {pre.start}-{pre.stop - 1}"
    target_words = f"classes {target.start}-{target.stop - 1}"

    def cell(start: str, fraction: float, schedule: str) -> str:
        r = rows.get(f"{net} {start} {fraction:.0%} {schedule}")
        return "-" if r is None else pm(r["val_top1"], r["val_top1_std"])

    part1_table = table(["data", "start"] + [f"{x} ({epochs[x]} epochs)" for x in schedules],
                        [[f"{f:.0%} ({images[f]:,} images)", start] + [cell(start, f, x) for x in schedules]
                         for f in fractions for start in ("fine-tune", "scratch")], "ll" + "r" * len(schedules))
    claims, held = [], []
    for key, words in (("a", f"With all the data, scratch catches up by {schedules[-1]}"),
                       ("b", f"With {min(fractions):.0%} of the data, scratch stays behind at {schedules[-1]}")):
        c = doc["claims"].get(f"{key} {net}")
        if c is None:
            continue
        gaps = names([f"{points(v * 100)} at {x}" for x, v in c["scratch_minus_finetune"].items()])
        claims.append(f"- **({key})** {words}: **{'holds' if c['holds'] else 'does not hold'}**. Scratch minus "
                      f"fine-tuning is {gaps} (points), against one seed std of {c['one_std_at_3x'] * 100:.1f} "
                      f"at {schedules[-1]} ({c['seeds']} seeds).")
        held.append(c["holds"])

    # Part 2: norms at small batches.
    n_rows = list(norms["rows"].values())
    batches = sorted({r["batch"] for r in n_rows})
    labels = list(dict.fromkeys(r["norm"] for r in n_rows))
    default_groups = next(f.default for f in dataclasses.fields(NetworkSpec) if f.name == "norm_groups")
    groups = norms["settings"].get("norm_groups", default_groups)
    few = g4["settings"]["norm_groups"]
    recipe = norms["settings"]["recipe"]
    by = {(r["norm"], r["batch"]): r for r in n_rows}
    few_by = {(r["norm"], r["batch"]): r for r in g4["rows"].values()}

    def ncell(found: dict, label: str, batch: int) -> str:
        r = found.get((label, batch))
        return "-" if r is None else pm(r["val_top1"], r["val_top1_std"])

    norm_rows = [[f"{NORM_NAMES.get(x, x)} (at most {groups} groups)" if x != "batch" else NORM_NAMES[x]]
                 + [ncell(by, x, b) for b in batches] for x in labels]
    norm_rows += [[f"{NORM_NAMES.get(x, x)} (at most {few} groups)"] + [ncell(few_by, x, b) for b in batches]
                  for x in dict.fromkeys(r["norm"] for r in g4["rows"].values())]
    bn = {b: by[("batch", b)]["val_top1"] for b in batches}
    gn_gap = [(by[("group", b)]["val_top1"] - bn[b]) * 100 for b in batches]
    small, large = batches[0], batches[1]
    spec = script.networks()["resnet18-w0.25"]
    widths = sorted({spec.stem.out_channels, *(stage.out_channels for stage in spec.stages)})
    c = norms["claims"].get("c", {})
    few_gn, few_ws = few_by.get(("group", small)), few_by.get(("group+ws", small))
    lines = [
        "# Rethinking ImageNet Pre-training at proxy scale",
        "",
        "\"Rethinking ImageNet Pre-training\" (He, Girshick, Dollár 2019) makes three claims about training runs: "
        "(a) from scratch, a network catches up with a fine-tuned one given a longer schedule; (b) not when the "
        "target data is small; (c) at tiny per-process batches GroupNorm beats BatchNorm. This benchmark checks "
        "all three with `train`'s `--init RUN --reset-head`, `--schedule 2x` and `--norm`, on the CPU.",
        "",
        *bash("python benchmarks/rethinking_pretraining.py   # CPU-sized defaults, hours; the same command resumes",
              f"python benchmarks/rethinking_pretraining.py --parts 2 --batches {small} --norms group,group+ws "
              f"--norm-groups {few} \\",
              "    --out benchmarks/results/rethinking_pretraining_norms_g4.json"),
        "",
        f"Machine: {machine(doc)}.",
        "",
        "## Scratch against fine-tuning",
        "",
        f"Data: {data_name(s['data']['kind'], True)} ({s['data']['train_images']:,} training images), split by class. "
        f"{_network_words(net)} is pretrained on {pre_words} for {pretrain['epochs']} epochs "
        f"({pm(pretrain['val_top1'], pretrain['val_top1_std'])}% on their validation images), then trained on "
        f"{target_words} from those weights with a fresh classifier (`--init RUN --reset-head`) or from scratch, "
        f"at {names(schedules)} schedules, with all the training images of {target_words} or "
        f"{min(fractions):.0%} of them. `{s['recipe']['name']}` recipe, {len(s['seeds'])} seeds (each with its "
        f"own pretraining), validation on the held-out images of {target_words}. Top-1 %, mean ± std:",
        "",
        part1_table,
        "",
        *claims,
        "",
        "Both hold, as in the paper's Figure 1 and in its experiment on a small part of COCO." if held and all(held)
        else "Not as in the paper, whose Figure 1 and small-COCO experiment find both.",
        "",
        figure("rethinking_pretraining_figures/scratch_vs_finetune.png", "fine-tuning against scratch by schedule"),
        "",
        "## Norms at small batches",
        "",
        f"{_network_words('resnet18-w0.25')} from scratch on {norms['settings']['norm_images']:,} images of all ten "
        f"classes, {norms['settings']['norm_epochs']} epochs, lr {recipe['lr']:g} x batch / {recipe['batch_size']}, "
        f"{len(norms['settings']['seeds'])} seeds. Top-1 %, mean ± std, by images per batch:",
        "",
        table(["norm"] + [f"batch {b}" for b in batches], norm_rows, "l" + "r" * len(batches)),
        "",
        f"- **(c)** At batch {small}, GroupNorm beats BatchNorm: "
        f"**{'holds' if c.get('holds') else 'does not hold'}** with at most {groups} groups "
        f"({points(c.get('group_minus_batch_at_batch_2', 0) * 100)} points, {c.get('seeds')} seeds). BatchNorm "
        f"does lose {(bn[large] - bn[small]) * 100:.1f} points from batch {large} to batch {small}, the effect "
        f"the paper fixes with GroupNorm, but GroupNorm is {spread(gn_gap)} points against it "
        "at every batch.",
        f"- One cause is the group-count rule: a layer gets the largest group count that divides its width and "
        f"is at most `norm_groups`. This network is narrow ({names([str(w) for w in widths])} channels), so at "
        f"most {groups} groups gives them {_per_group(widths, groups)} channels per group: one channel per group "
        "is InstanceNorm, the variant the GroupNorm paper finds worst.",
    ]
    if few_gn and few_ws:
        holds = few_ws["val_top1"] > bn[small]
        lines += [
            f"- With at most {few} groups ({_per_group(widths, few)} channels per group), at batch {small}: "
            f"GroupNorm {pm(few_gn['val_top1'], few_gn['val_top1_std'])} "
            f"({points((few_gn['val_top1'] - bn[small]) * 100)} against BatchNorm at batch {small}), and GroupNorm "
            f"with weight standardisation {pm(few_ws['val_top1'], few_ws['val_top1_std'])} "
            f"({points((few_ws['val_top1'] - bn[small]) * 100)} against BatchNorm at batch {small}, "
            f"{points((few_ws['val_top1'] - bn[large]) * 100)} against it at batch {large}). "
            + (f"So (c) **holds** once the groups are not single channels and the filters are standardised (GN + WS, "
               f"as BiT trains): at most {groups} groups is the wrong choice for networks this narrow." if holds
               else "So (c) does not hold even then."),
        ]
    lines += [
        "",
        figure("rethinking_pretraining_norms_figures/norm_vs_batch.png", "accuracy by norm and batch"),
        "",
        "## Still open",
        "",
        "Longer schedules, every training image, and (c) with SyncBatchNorm across GPUs (BatchNorm over each "
        "process's share against SyncBatchNorm over the whole batch); both commands are in the script's "
        "docstring:",
        "",
        *bash("python benchmarks/rethinking_pretraining.py --device cuda --train-images 0 --epochs 30 \\",
              "    --norm-images 0 --out benchmarks/results/rethinking_pretraining_gpu.json",
              "torchrun --nproc-per-node 4 -m scalesearch train resnet18 --data cifar10:DATA --device cuda \\",
              "    --batch 8 --lr 0.00625 --epochs 4 --seeds 3 --norm batch|sync_batch|group --json"),
        "",
        source("rethinking_pretraining", "rethinking_pretraining_norms", "rethinking_pretraining_norms_g4"),
        "",
    ]
    return "\n".join(lines)


# --- noisy-student.md ------------------------------------------------------------------------------

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


def noisy_student_page() -> str:
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
    accuracy = {d: mean_std([r["pseudo_label_accuracy"] for r in _rounds(docs[d], "phi+1", 1)]) for d in NOISY_SETS}
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


# --- vit-vs-cnn.md ---------------------------------------------------------------------------------

#: Each trained network in words (the ViTs' shapes come from the script's specs).
VIT_WORDS = {"vit-mnv2": "ViT at MobileNetV2's MACs", "b0-small": "B0-small (EfficientNet-B0 at width 0.5)",
             "mobilenet-v2": "MobileNetV2", "resnet18": "ResNet-18", "vit-token": "ViT, class token",
             "vit-learned": "ViT, learned position embeddings", "vit-no-aug": "ViT, no RandAugment / MixUp",
             "vit-no-zero-head": "ViT, head not zero-initialised"}


def _vit_shape(spec, patch: int) -> str:
    return f"width {spec.width}, depth {spec.depth}, {spec.heads} heads, MLP {spec.mlp_dim}, {patch} px patches"


def vit_page() -> str:
    import vit_vs_cnn as script

    doc = load("vit_vs_cnn")
    s, rows = doc["settings"], doc["rows"]
    networks = script.networks()
    patch = s["recipes"]["vit"]["patch"]
    words = {**VIT_WORDS, "vit": "ViT (GAP, sin-cos position embeddings, zero head)"}

    def top1(name: str) -> float:
        return rows[name]["val_top1"] * 100

    def ms(name: str) -> float:
        return rows[name]["latency_ms"]["cpu-onnxruntime"]

    table_rows = [(words.get(n, n), f"`{s['recipes'][n]['name']}`", f"{r['macs'] / 1e6:.1f}",
                   f"{r['params'] / 1e6:.2f}", f"{ms(n):.2f}", pm(r["val_top1"], r["val_top1_std"]))
                  for n, r in rows.items() if r.get("val_top1") is not None]
    protocol = {json.dumps(r["latency_protocol"], sort_keys=True) for r in rows.values()}
    (protocol,) = [json.loads(p) for p in protocol]
    busy = [r["interference"]["other_processes_cores_busy"] for r in rows.values()]
    ablations = [n for n, r in rows.items() if r["family"] == "vit ablation"]
    verdicts, costly = [], []
    for n in ablations:
        diff = top1(n) - top1("vit")
        noise = max(rows[n]["val_top1_std"], rows["vit"]["val_top1_std"]) * 100
        verdicts.append(f"{words[n].removeprefix('ViT, ')} {points(diff)} "
                        f"({'inside' if abs(diff) <= noise else 'beyond'} one seed std, {noise:.1f})")
        if diff > noise:
            costly.append(words[n].removeprefix("ViT, "))
    gpu_only = [n for n in script.GPU_SIZED if n not in rows]
    lines = [
        "# Plain ViTs against CNNs",
        "",
        "A plain Vision Transformer as big_vision's \"Better plain ViT baselines for ImageNet-1k\" (Beyer, Zhai, "
        "Kolesnikov 2022) trains it, at the MACs of two small CNNs, beside those CNNs and ResNet-18: each network "
        "with its own recipe, at equal epochs, images and seeds. Then big_vision's four choices, one ablation "
        "each: a class token instead of global average pooling, learned instead of fixed sin-cos position "
        "embeddings, no RandAugment/MixUp, and a classifier that does not start at zero.",
        "",
        *bash("python benchmarks/vit_vs_cnn.py                 # CPU-sized defaults, hours",
              "python benchmarks/vit_vs_cnn.py --measure-only  # the latency column again, no training"),
        "",
        f"Setting: {data_name(s['data']['kind'], True)}, {s['data']['train_images']:,} training and "
        f"{s['data']['val_images']:,} validation images at {s['recipes']['vit']['resolution']} px, {s['epochs']} "
        f"epochs, {len(next(iter(rows.values()))['per_seed'])} seeds; the ViT has "
        f"{_vit_shape(networks['vit'][1], patch)} ({rows['vit']['macs'] / 1e6:.1f} M MACs against "
        f"B0-small's {rows['b0-small']['macs'] / 1e6:.1f} M), the one at MobileNetV2's MACs has "
        f"{_vit_shape(networks['vit-mnv2'][1], patch)}. The `bigvision-vit` recipe is big_vision's i1k S/16 "
        f"recipe at proxy scale (AdamW, lr {s['recipes']['vit']['lr']:g} at batch "
        f"{s['recipes']['vit']['batch_size']}, RandAugment at torchvision's magnitude "
        f"{s['recipes']['vit']['randaugment_magnitude']}, MixUp {s['recipes']['vit']['mixup_alpha']:g}, "
        f"gradient clipping at {s['recipes']['vit']['grad_clip_norm']:g}); the CNNs train with `standard`. "
        f"Validation top-1 %, mean ± std. CPU ms: batch-1 latency at {s['recipes']['vit']['resolution']} px, "
        f"onnxruntime, {protocol['threads']} thread{'s' if protocol['threads'] > 1 else ''}, `bench`'s "
        f"{protocol['protocol']} protocol with the networks taking turns, other processes keeping at most "
        f"{max(busy):.3f} cores busy. Machine: {machine(doc)}.",
        "",
        table(["network", "recipe", f"M MACs at {s['recipes']['vit']['resolution']} px", "params (M)", "CPU ms",
               "top-1 %"], table_rows, "llrrrr"),
        "",
        "## The small-data gap",
        "",
        f"At equal MACs the ViT is {versus(top1('vit') - top1('b0-small'))} B0-small, and at MobileNetV2's MACs "
        f"{versus(top1('vit-mnv2') - top1('mobilenet-v2'))} MobileNetV2. "
        f"{rows['vit-mnv2']['macs'] / rows['vit']['macs']:.1f}x the MACs bought the ViT "
        f"{points(top1('vit-mnv2') - top1('vit'))} points (seed std {rows['vit']['val_top1_std'] * 100:.1f} and "
        f"{rows['vit-mnv2']['val_top1_std'] * 100:.1f}). ResNet-18, at "
        f"{rows['resnet18']['macs'] / rows['vit']['macs']:.0f}x the small ViT's MACs and "
        f"{ms('resnet18') / ms('vit'):.0f}x its CPU time, is best at {top1('resnet18'):.1f}%.",
        "",
        f"Each of big_vision's choices undone, against the ViT as it ships (points): {names(verdicts)}. "
        + (f"So {len(costly)} of the {len(verdicts)} choices cost accuracy at this scale: the runs with "
           f"{names(costly)} are better. Those are choices "
           "for long schedules on ImageNet; a likely reading, not tested further: in so few steps on so few "
           "images regularisation only slows a network that has not yet fitted, and a zero head passes no "
           "gradient into the body until its weights have grown." if costly
           else "None of them costs accuracy beyond seed noise at this scale."),
        "",
        figure("vit_vs_cnn_figures/accuracy_vs_macs.png", "accuracy against MACs, ViTs and CNNs"),
        "",
        figure("vit_vs_cnn_figures/accuracy_vs_latency.png", "accuracy against CPU latency, ViTs and CNNs"),
        "",
        "## Caveats",
        "",
        "- Latency is taken at one thread: at two, this VM gave the same networks one of two speeds round by "
        "round, because its second vCPU comes and goes.",
        "- Crops: the rows did not all train with the same crop code. The ablations trained while the CPU crop went "
        "through `roi_align`; the ViT, B0-small and MobileNetV2 before that, with torchvision's per-image crop; "
        "ResNet-18 and the ViT at MobileNetV2's MACs after it, with torchvision's per-image resize again. The "
        "crops agree box for box and differ in resampling only.",
    ]
    if gpu_only:
        big = networks[gpu_only[0]][1]
        lines.append(f"- A ViT at ResNet-18's MACs (`{gpu_only[0]}`: {_vit_shape(big, patch)}) is GPU-sized and not "
                     "trained here; the GPU command includes it:")
        lines += ["", *bash("python benchmarks/vit_vs_cnn.py --device cuda --train-images 0 --epochs 100 \\",
                            "    --out benchmarks/results/vit_vs_cnn_gpu.json")]
    lines += ["", source("vit_vs_cnn"), ""]
    return "\n".join(lines)


# --- compound-vs-single.md -------------------------------------------------------------------------

STRATEGIES = ("base", "depth", "width", "resolution", "compound")
BASE_WORDS = {"b0-small": "B0 at width 0.5", "resnet18": "ResNet-18", "mobilenet-v2": "MobileNetV2"}
#: The paper's base nearest to each of ours (EfficientNet's Figure 3 scales MobileNetV2, ResNet-50 and B0).
PAPER_BASES = {"mobilenet-v2": "MobileNetV2", "resnet50": "ResNet-50", "efficientnet-b0": "EfficientNet-B0"}


def _variants(row: dict) -> dict[str, dict]:
    return {v["strategy"]: v for v in row["variants"] if v.get("val_top1") is not None}


def _best(variants: dict[str, dict]) -> str:
    return max(variants, key=lambda k: variants[k]["val_top1"])


def _strategy_table(document: dict[str, Any]) -> str:
    rows = []
    for base, row in document["rows"].items():
        found = _variants(row)
        best = _best(found)
        cells = [f"{BASE_WORDS.get(base, base)} ({millions(found['base']['macs'], 0)} MACs)"]
        for k in STRATEGIES:
            text = pm(found[k]["val_top1"], found[k]["val_top1_std"]) if k in found else "not finished"
            cells.append(f"**{text}**" if k == best else text)
        rows.append(cells)
    return table(["base", *STRATEGIES], rows, "l" + "r" * len(STRATEGIES))


def _winners(document: dict[str, Any]) -> dict[str, str]:
    return {base: _best(_variants(row)) for base, row in document["rows"].items()}


def _gains(document: dict[str, Any], base: str) -> list[float]:
    found = _variants(document["rows"][base])
    return [(found[k]["val_top1"] - found["base"]["val_top1"]) * 100 for k in ("depth", "width", "resolution")
            if k in found]


def compound_page() -> str:
    from scalesearch.arch.scaling import Coefficients
    from scalesearch.search.compare import paper_figures

    gpu, cpu, before = load("compound_vs_single_gpu"), load("compound_vs_single"), \
        load("compound_vs_single_before_zero_init")
    multiplier = cpu["settings"]["multiplier"]
    everything = [v for d in (gpu, cpu, before) for r in d["rows"].values() for v in r["variants"]
                  if v["strategy"] != "base"]
    off = max(abs(v["macs_ratio"] / v["flops_multiplier"] - 1) for v in everything)
    compound = {b: next(v for v in r["variants"] if v["strategy"] == "compound") for b, r in cpu["rows"].items()}
    steps = "; ".join(f"{BASE_WORDS.get(b, b)}, depth {v['depth_mult']:.2f}, width {v['width_mult']:.2f}, "
                      f"resolution {v['resolution_mult']:.2f} ({v['train_resolution']} px)"
                      for b, v in compound.items())
    c = Coefficients()
    recipe = cpu["settings"]["recipe"]
    winners = {"gpu": _winners(gpu), "cpu": _winners(cpu)}
    compound_wins = [f"{BASE_WORDS.get(b, b)} ({where})" for where, w in winners.items() for b, k in w.items()
                     if k == "compound"]
    unfinished = [f"{BASE_WORDS.get(b, b)}'s {k} variant" for b, r in gpu["rows"].items() for k in STRATEGIES
                  if k not in _variants(r)]
    without_zero_init = [BASE_WORDS.get(b, b) for b, r in cpu["rows"].items()
                         if not r["recipe_settings"].get("zero_init_residual")]
    stds = [v["val_top1_std"] * 100 for d in (gpu, cpu) for r in d["rows"].values() for v in _variants(r).values()]
    paper_rows, paper_best = [], {}
    source_words = ""
    for base in PAPER_BASES:
        source_words, figures = paper_figures(base)
        top = {r.strategy: r.top1 for r in figures}
        paper_best[base] = max(top, key=top.get)
        cells = [f"{top[k]:.1f}" if k in top else "-" for k in STRATEGIES]
        paper_rows.append([PAPER_BASES[base]] + [f"**{x}**" if k == paper_best[base] else x
                                                 for k, x in zip(STRATEGIES, cells)])
    paper_compound = [PAPER_BASES[b] for b, k in paper_best.items() if k == "compound"]
    paper_words = (f"In the paper compound is best for {names(paper_compound)}" if paper_compound
                   else "In the paper compound is best for none of its bases")
    old = _variants(before["rows"]["b0-small"])
    behind = [k for k in STRATEGIES[1:] if k in old and old[k]["val_top1"] < old["base"]["val_top1"]]

    def winners_words(where: str) -> str:
        return names([f"{w} on {BASE_WORDS.get(b, b)}" for b, w in winners[where].items()])

    lines = [
        "# Compound against single-dimension scaling",
        "",
        f"EfficientNet's Figure 3 at proxy scale: each base and its variants at {multiplier:g}x its MACs, scaled in "
        "depth alone, width alone, resolution alone, or in all three together (compound, with EfficientNet's "
        f"alpha {c.alpha:g}, beta {c.beta:g}, gamma {c.gamma:g}), trained alike on the CIFAR-10 subset with the "
        f"`{recipe['name']}` recipe at {recipe['resolution']} px (variants at {recipe['resolution']} px "
        f"times their resolution multiplier). Every variant's MACs are within {off:.1%} of {multiplier:g}x after "
        f"rounding. The compound step at {multiplier:g}x: {steps}. Validation top-1 %, mean ± std over "
        f"{cpu['settings']['seeds']} seeds; the best of each row in bold. This is what `scalesearch "
        "compare-scaling` runs for one base.",
        "",
        f"**In short:** compound is best {'for ' + names(compound_wins) if compound_wins else 'nowhere'} here, "
        "where the paper, on ImageNet, finds it best for "
        + (f"each of its {len(PAPER_BASES)} bases ({names(paper_compound)})." if len(paper_compound) == len(PAPER_BASES)
           else f"{names(paper_compound)}." if paper_compound else "none of its bases."),
        "",
        "## On a GPU",
        "",
        *bash("python benchmarks/compound_vs_single.py --data DIR --bases BASE --device cuda --threads 4 "
              "--out cvs_BASE.json"),
        "",
        f"All {gpu['settings']['train_images']:,} training images, {gpu['settings']['recipe']['epochs']} epochs. "
        f"One process per base, side by side on the one GPU, the result files then merged. Machine: {machine(gpu)}.",
        "",
        _strategy_table(gpu),
        "",
        *([f"{names(unfinished)} did not finish in the session's GPU time; the same command resumes it.", ""]
          if unfinished else []),
        "## On the CPU",
        "",
        *bash(f"python benchmarks/compound_vs_single.py --train-images {cpu['settings']['train_images']} "
              f"--epochs {cpu['settings']['recipe']['epochs']} --threads 2"),
        "",
        f"{cpu['settings']['train_images']:,} training images, {cpu['settings']['recipe']['epochs']} epochs. "
        + (f"{names(without_zero_init)} trained with the `proxy` recipe as it was before `zero_init_residual`, "
           "the others with it. " if without_zero_init else "")
        + f"Machine: {machine(cpu)}.",
        "",
        _strategy_table(cpu),
        "",
        "## Against the paper",
        "",
        f"{source_words}, for the paper's bases; the best in bold:",
        "",
        table(["base", *STRATEGIES], paper_rows, "l" + "r" * len(STRATEGIES)),
        "",
        paper_words + ". "
        f"Here compound is best {'for ' + names(compound_wins) if compound_wins else 'nowhere'}. On the GPU "
        f"the best is {winners_words('gpu')}; on the CPU {winners_words('cpu')}. With more images and epochs "
        "the single-dimension variants are "
        + names([f"{spread(_gains(gpu, b))} points on {BASE_WORDS.get(b, b)}" for b in gpu["rows"]])
        + " against their base; with fewer, "
        + names([f"{spread(_gains(cpu, b))} on {BASE_WORDS.get(b, b)}" for b in cpu["rows"]])
        + ": short schedules leave larger networks under-trained, as \"Revisiting ResNets\" predicts. Seed std "
        f"runs from {min(stds):.1f} to {max(stds):.1f} points, so many of these gaps are seed noise.",
        "",
        "What this setting cannot test: CIFAR images are 32 px, so a resolution variant upsamples them and sees "
        f"no new detail; and a {multiplier:g}x compound step is small on every axis.",
    ]
    lines += [
        "",
        "## Earlier run",
        "",
        "B0 at width 0.5 on the CPU as above, with the `proxy` recipe as it was before `zero_init_residual`; "
        "kept when the base was trained again with the current recipe:",
        "",
        _strategy_table(before),
        "",
        f"Under that recipe the {names(behind)} variant{'s' if len(behind) > 1 else ''} fell behind the base."
        if behind else "Under that recipe no variant fell behind the base.",
        "",
        source("compound_vs_single_gpu", "compound_vs_single", "compound_vs_single_before_zero_init"),
        "",
    ]
    return "\n".join(lines)


# --- pipeline-cifar.md -----------------------------------------------------------------------------

AXES = {"macs": "MACs", "cpu_latency_ms": "CPU latency"}
FAMILY_WORDS = {"efficientnet": "EfficientNet", "mobilenet-v2": "MobileNetV2", "resnet": "ResNet"}


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min" if minutes else \
        f"{seconds:.0f} s"


def _comparison_table(items: list[dict], cost_words: str, cost) -> str:
    rows = []
    for c in items:
        if c["identical_to"]:
            found, diff = f"the same network as `{c['identical_to']}`", ""
        elif c["found_family_at_same_cost"] is None:
            found, diff = "outside the found family's range", ""
        else:
            found, diff = f"{c['found_family_at_same_cost']:.1%}", f"**{points(c['found_minus_reference_points'])}**"
        rows.append((f"`{c['network']}`", cost(c["cost"]), f"{c['val_top1']:.1%}", found, diff))
    return table(["reference network", cost_words, "its top-1", "found family at that cost", "found minus it"],
                 rows, "lrrrr")


def _pipeline_goal(doc: dict[str, Any]) -> bool:
    """Above every reference network it is compared with, at equal MACs and at equal CPU latency."""
    return all(v["compared"] and v["found_above"] == v["compared"] for v in doc["verdict"].values())


def pipeline_page() -> str:
    doc = load("pipeline_cifar")
    s, summary = doc["settings"], doc["summary"]
    found, final, grid = summary["found"]["best"], summary["found"]["finalists"], summary["coefficients"]
    networks = {n["name"]: n for n in doc["networks"]}
    stages = summary["stages"]
    total = sum(v["wall_s"] for v in stages.values())
    trainings = sum(len(n["per_seed"]) for n in doc["networks"])
    runner_up = [r for r in final["rows"] if r["name"] != final["winner"]]
    b0 = next((c for c in doc["comparisons"]["macs"] if c["network"] == "efficientnet-b0"), None)
    family_rows = [(f["phi"], f"{f['depth_mult']:.2f}", f"{f['width_mult']:.2f}", f["resolution"],
                    f["train_resolution"], millions(f["params"], 2), millions(f["macs"]),
                    num(f["latency_ms"].get("cpu-onnxruntime"), 1), pm(f["val_top1"], f["val_top1_std"]))
                   for f in summary["family"]]
    effnet = [c for axis in doc["comparisons"].values() for c in axis
              if c["family"] == "efficientnet" and c["found_minus_reference_points"] is not None]
    inside = all(abs(c["found_minus_reference_points"]) <= networks[c["network"]]["val_top1_std"] * 100
                 for c in effnet)
    phi = {f["phi"]: f for f in summary["family"]}
    best_phi = max(phi.values(), key=lambda f: f["val_top1"])
    met = _pipeline_goal(doc)
    b1 = networks.get("efficientnet-b1")
    lines = [
        "# The whole pipeline on CIFAR-10",
        "",
        f"EfficientNet's Figure 1 at proxy scale: `scalesearch pipeline --flops {s['target_macs'] / 1e6:.0f}M "
        "--data cifar10:DIR` searches a base, fits alpha, beta and gamma on it with the grid, scales it and "
        "trains the family beside the hand-designed ones. Does the found family sit above them at equal MACs and "
        "at equal CPU latency? Each reference network is compared with the found family's accuracy interpolated "
        "(in log cost) between the two found networks around its cost; networks outside the found family's "
        "range are not compared, nor is a reference network with a found network's architecture.",
        "",
        f"**In short:** at equal MACs the found family is above {doc['verdict']['macs']['found_above']} of the "
        f"{doc['verdict']['macs']['compared']} reference networks it can be compared with, at equal CPU latency "
        f"above {doc['verdict']['cpu_latency_ms']['found_above']} of {doc['verdict']['cpu_latency_ms']['compared']}; "
        f"the goal (above every one) is {goal(_pipeline_goal(doc))}.",
        "",
        *bash("python benchmarks/pipeline_cifar.py   # CPU-sized defaults, hours; the same command resumes"),
        "",
        f"Setting: target {s['target_macs'] / 1e6:.0f}M MACs in the `{s['space']}` space, {s['n_trials']} trials "
        f"(sampler {summary['found']['sampler']}) and {s['finalists']} finalists x {s['final_seeds']} seeds; grid "
        f"step {s['step']:g}, tolerance {s['tolerance']:g}; phi {names([str(x) for x in s['phis']])}; reference "
        f"families {names([FAMILY_WORDS.get(b, b) for b in s['baselines']])}; the `{s['recipe']}` recipe on "
        f"{s['data']['train_images']:,} training "
        f"images of {data_name(s['data']['kind'], True).removeprefix('the ').removesuffix(' subset')} "
        f"({s['data']['val_images']:,} validation images), {s['seeds']} seeds per network; device {s['device']}. "
        f"Machine: {machine(doc)}.",
        "",
        f"Wall time per stage ({trainings} family trainings), with other benchmarks sharing the machine for part "
        "of it:",
        "",
        table(["stage", "wall"], [(k, _duration(v["wall_s"])) for k, v in stages.items()] + [("all", _duration(total))],
              "lr"),
        "",
        "## What it found",
        "",
        f"- **Base:** `{found['name']}`, {millions(found['macs'])} MACs, {millions(found['params'], 2)} parameters: "
        f"{pm(found['final_mean'], found['final_std'])}% over the finalists' {len(final['seeds'])} seeds"
        + (f", against the runner-up `{runner_up[0]['name']}`'s {pm(runner_up[0]['mean'], runner_up[0]['std'])}%"
           if runner_up else "") + ". "
        + ("The search kept its seed" + (f": the found base is `efficientnet-b0` written in the `{s['space']}` "
                                        f"space (the same architecture as the family's phi 0)"
                                        if b0 and b0["identical_to"] else "") + "."
           if final["winner_is_base"] else ""),
        f"- **Coefficients:** alpha {grid['alpha']:.2f} (depth), beta {grid['beta']:.2f} (width), gamma "
        f"{grid['gamma']:.2f} (resolution): MACs x{grid['macs_ratio']:.2f} at phi 1, from {grid['n_feasible']} "
        "feasible grid points.",
        "- **The family:**",
        "",
        table(["phi", "depth", "width", "px", "train px", "params", "MACs", "CPU ms", "top-1 %"], family_rows,
              "rrrrrrrrr"),
        "",
        "## Against the hand-designed families",
        "",
    ]
    for axis, items in doc["comparisons"].items():
        v = doc["verdict"][axis]
        cost = (lambda x: millions(x)) if axis == "macs" else (lambda x: f"{x:.1f} ms")
        lines += [f"At equal {AXES.get(axis, axis)}: the found family is above {v['found_above']} of the "
                  f"{v['compared']} networks compared (mean difference {points(v['mean_points'], 2)} points).", "",
                  _comparison_table(items, AXES.get(axis, axis), cost), ""]
    lines += [
        f"**Goal:** the found family above every reference network compared, at equal MACs and at equal CPU "
        f"latency: {goal(met)}. Against EfficientNet the differences are "
        + names([f"{points(c['found_minus_reference_points'])} (`{c['network']}`, "
                 f"{'MACs' if c in doc['comparisons']['macs'] else 'latency'})" for c in effnet])
        + (", each inside the reference network's seed std" if inside else "")
        + (f", and phi {max(phi)} ({pm(phi[max(phi)]['val_top1'], phi[max(phi)]['val_top1_std'])}%) falls back "
           f"below phi {best_phi['phi']} ({pm(best_phi['val_top1'], best_phi['val_top1_std'])}%)"
           if best_phi["phi"] != max(phi) else "") + ".",
    ]
    wide, one = networks.get("mobilenet-v2-w1.4"), networks.get("mobilenet-v2-w1")
    if wide and one and wide["val_top1"] < one["val_top1"]:
        lines[-1] += (f" The large margin over MobileNetV2 x1.4 is the short proxy failing the widest network (its "
                      f"{wide['val_top1']:.1%} is below x1.0's {one['val_top1']:.1%}), not a real gap.")
    lines.append("")
    if b1:
        f1 = phi.get(1)
        lines += [f"At equal latency the found phi 1 is faster than B1 "
                  f"({f1['latency_ms']['cpu-onnxruntime']:.1f} ms against "
                  f"{b1['latency_ms']['cpu-onnxruntime']:.1f} ms at batch 1) because it keeps {f1['resolution']} px "
                  f"(gamma {grid['gamma']:g}) where B1 runs at {b1['resolution']} px.", ""]
    lines += [
        figure("pipeline_cifar_figures/accuracy_vs_macs.png", "accuracy against MACs, found and reference families"),
        "",
        figure("pipeline_cifar_figures/accuracy_vs_latency_cpu-onnxruntime.png",
               "accuracy against CPU latency, found and reference families"),
        "",
        figure("pipeline_cifar_figures/accuracy_vs_params.png", "accuracy against parameters"),
        "",
        "## What would change the answer",
        "",
        f"A proxy long enough that wider networks stop underfitting (here it favours phi {best_phi['phi']} over phi "
        f"{max(phi)} and MobileNetV2 x1.0 over x1.4), a finer grid (step {s['step']:g} left {grid['n_feasible']} "
        "feasible points) and many more trials. The GPU-sized command does all three, with every reference family:",
        "",
        *bash("python benchmarks/pipeline_cifar.py --device cuda --workers 4 --phi 0-3 --n-trials 100 \\",
              "    --train-images 0 --step 0.05 --tolerance 0.1 --baselines efficientnet,resnet,mobilenet-v2 \\",
              "    --run-dir runs/pipeline-cifar-gpu --out benchmarks/results/pipeline_cifar_gpu.json"),
        "",
        "The stage logic itself is covered by `tests/test_pipeline.py` on tiny images.",
        "",
        source("pipeline_cifar"),
        "",
    ]
    return "\n".join(lines)


def _pipeline_headline() -> tuple[str, str, str]:
    doc = load("pipeline_cifar")
    v = doc["verdict"]["macs"]
    effnet = [c for c in doc["comparisons"]["macs"]
              if c["family"] == "efficientnet" and c["found_minus_reference_points"] is not None]
    others = sorted({FAMILY_WORDS.get(c["family"], c["family"]) for c in doc["comparisons"]["macs"]} - {"EfficientNet"})
    return (f"The found family against {names(['EfficientNet', *others])} at equal MACs "
            f"({doc['settings']['data']['train_images']:,} CIFAR-10 images, CPU proxy)",
            f"above {v['found_above']} of {v['compared']} reference networks; against EfficientNet "
            + ", ".join(f"{points(c['found_minus_reference_points'])} "
                        f"({c['network'].removeprefix('efficientnet-').upper()})" for c in effnet)
            + f" points; above every one: {goal(_pipeline_goal(doc))}", "pipeline-cifar.md")


PAGES = {"training-recipes.md": recipes_page, "rethinking-pretraining.md": rethinking_page,
         "noisy-student.md": noisy_student_page,
         "vit-vs-cnn.md": vit_page,
         "compound-vs-single.md": compound_page,
         "pipeline-cifar.md": pipeline_page}
HEADLINES = [_pipeline_headline, _recipes_headline]
