"""training-recipes.md, from train_defaults*.json and train_fashion_mnist.json: `train`'s recipes."""

from __future__ import annotations

import json
from typing import Any

from pages.common import (
    bash,
    data_name,
    goal,
    load,
    machine,
    millions,
    names,
    network_name,
    pm,
    points,
    source,
    spread,
    table,
)

PAGE = "training-recipes.md"
DEFAULT = "standard"  # train's default recipe since train_defaults.py


def _code(text: str) -> str:
    return f"`{text}`"


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
    header = ["recipe"] + [x for d in data_sets for x in (data_name(d), "vs plain")]
    return table(header, rows, "l" + "rr" * len(data_sets))


def _setting(document: dict[str, Any]) -> str:
    s, proxy = document["settings"], document["recipes"]["proxy"]
    sizes = names([f"{data_name(d, True)} ({s['data'][d]['train_images']:,} training and "
                   f"{s['data'][d]['val_images']:,} validation images)" for d in document["table"]])
    return (f"{network_name(s['model'])} at width {s['width']:g}, {proxy['resolution']} px, "
            f"{s['epochs']} epochs at batch {proxy['batch_size']}, {len(s['seeds'])} seeds, on {sizes}")


def _order(document: dict[str, Any], data_set: str, methods: list[str]) -> list[str]:
    return sorted(methods, key=lambda m: -document["table"][data_set][m]["mean"])


def render() -> str:
    doc, small, fashion = load("train_defaults"), load("train_defaults_1000_images"), load("train_fashion_mnist")
    t, proxy = doc["table"], doc["recipes"]["proxy"]
    data_sets = list(t)
    twins = _twins(doc)
    singles = [m for m in t[data_sets[0]] if m.startswith("proxy+") and m not in twins
               and doc["recipes"][m].get("zero_init_residual") == proxy["zero_init_residual"]]
    within = [_code(m) for m in doc["within_1_point_of_plain_on_every_data_set"] if m not in twins]
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
        lines += [f"The runs named {names([_code(m) for m in twins])} had every field of `{DEFAULT}` and came out "
                  f"the same: they are shown once, as `{DEFAULT}`.", ""]
    lines += [
        f"**Goal:** a recipe within 1 point of the plain loop on every data set, or above it: {goal(doc['goal_met'])}"
        + (f", by {names(within)}{' alone' if len(within) == 1 else ''}." if within else "."),
        "",
        f"Every other single change to `proxy` ({names([_code(m.removeprefix('proxy+')) for m in singles])}) left "
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
    rows = [(network_name(r["model"]), millions(r["macs_at_32px"]), millions(r["params"], 2),
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


def headline() -> tuple[str, str, str]:
    doc = load("train_defaults")
    t = doc["table"]
    gaps = ", ".join(f"{points(t[d][DEFAULT]['vs_plain_points'])} ({data_name(d)})" for d in t)
    return ("`train`'s default recipe against a plain PyTorch loop",
            f"{gaps} points; within 1 point or above: {goal(doc['goal_met'])}", PAGE)
