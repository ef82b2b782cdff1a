"""compound-vs-single.md, from compound_vs_single*.json: compound against single-dimension scaling."""

from __future__ import annotations

from typing import Any

from pages.common import bash, load, machine, millions, names, pm, source, spread, table

PAGE = "compound-vs-single.md"
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


def render() -> str:
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
