"""pipeline-cifar.md, from pipeline_cifar.json: the whole pipeline against EfficientNet's Figure 1."""

from __future__ import annotations

from typing import Any

from pages.common import bash, data_name, figure, goal, load, machine, millions, names, num, pm, points, source, table

PAGE = "pipeline-cifar.md"
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


def render() -> str:
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


def headline() -> tuple[str, str, str]:
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
            + f" points; above every one: {goal(_pipeline_goal(doc))}", PAGE)
