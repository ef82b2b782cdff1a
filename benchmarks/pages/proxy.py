"""proxy.md, from proxy_ground_truth.json and proxy_fidelity*.json: how the training proxy ranks networks."""

from __future__ import annotations

from zero_cost_vs_trained import fisher_interval

from pages.common import exists, goal, load, machine, plural, source, table, usage
from pages.search_common import HAND_DESIGNED, candidate_name

PAGE = "proxy.md"
#: benchmarks/proxy_fidelity.py's goal (its docstring): the proxy ranks as the longer schedule does.
PROXY_FIDELITY_GOAL = 0.8


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def render() -> str:
    truth, fidelity = load("proxy_ground_truth"), load("proxy_fidelity")
    proxy = fidelity["settings"]["proxy"]
    lines = [
        "# The training proxy", "",
        f"With `--data`, find-base trains each candidate briefly with the `{proxy['name']}` recipe "
        f"({proxy['epochs']} epochs at {proxy['resolution']} px, each residual block starting as the identity) and "
        "ranks candidates by that accuracy. A proxy is worth what its ranking is worth: here it is ranked against "
        "full training (NAS-Bench-Macro's ground truth) and against a longer schedule at a higher resolution.", "",
        *usage("proxy_ground_truth", "proxy_fidelity"), ""]
    if truth.get("summary"):
        lines += ["## Against ground truth (NAS-Bench-Macro)", "", f"Machine: {machine(truth)}.", "",
                  *_proxy_section(truth)]
    lines += _fidelity_section(fidelity)
    if exists("proxy_fidelity_before_zero_init"):
        lines += _fidelity_before_zero_init(load("proxy_fidelity_before_zero_init"), fidelity)
    lines += [source("proxy_ground_truth", "proxy_fidelity", "proxy_fidelity_before_zero_init"), ""]
    return "\n".join(lines)


def _proxy_section(proxy: dict) -> list[str]:
    summary = proxy["summary"]
    settings = proxy["settings"]
    recipes = list(settings["recipes"])
    rows = []
    for recipe in recipes:
        s = summary.get(recipe)
        epochs = settings["recipes"][recipe]["epochs"]
        rows.append((f"`{recipe}`", epochs, s["networks"], f"{s['spearman']:.2f}", f"{s['kendall']:.2f}") if s
                    else (f"`{recipe}`", epochs, _count(proxy, recipe), "-", "-"))
    if "seed_to_seed" in summary:
        s = summary["seed_to_seed"]
        rows.append(("the benchmark's own seeds, one against another", 50, "-", f"{s['spearman']:.2f}",
                     f"{s['kendall']:.2f}"))
    lines = [
        "NAS-Bench-Macro networks stratified over accuracy, each trained once on "
        f"{settings['data']['train_images']:,} images of the CIFAR-10 subset (validated on "
        f"{settings['data']['val_images']:,}), ranked against the benchmark's mean top-1 (full CIFAR-10, 50 epochs, "
        "3 seeds):", "",
        table(["recipe", "epochs", "networks", "Spearman", "Kendall tau"], rows, "lrrrr"), ""]
    first, wanted = recipes[0], settings["networks"]
    better = []
    for recipe, pair in summary.get("paired", {}).items():
        mine, theirs = pair[recipe]["spearman"], pair[first]["spearman"]
        lines.append(f"On the {pair['networks']} networks both trained, Spearman: `{recipe}` {mine:.2f}, "
                     f"`{first}` {theirs:.2f}.\n")
        if mine > theirs and _count(proxy, recipe) >= wanted:
            better.append(recipe)
    missing = [r for r in recipes if _count(proxy, r) < wanted]
    if missing:
        lines.append(
            f"Partial: {', '.join(f'`{r}` on {_count(proxy, r)}' for r in missing)} of the {wanted} networks planned "
            f"(one training costs {_median_wall(proxy):.0f} s here, median); the same command goes on where it "
            "stopped.\n")
    lines.append(f"Rule: find-base trains candidates with `{first}` unless another recipe, trained on all "
                 f"{wanted} networks, ranks them better on the same networks. "
                 + (f"{', '.join(f'`{r}`' for r in better)} does: change the default." if better
                    else f"None does: `{first}` stays the default."))
    return [*lines, ""]


def _count(proxy: dict, recipe: str) -> int:
    return sum(r["recipe"] == recipe for r in proxy["rows"].values())


def _median_wall(proxy: dict) -> float:
    walls = sorted(r["wall_s"] for r in proxy["rows"].values())
    return walls[len(walls) // 2]


def _fidelity_table(doc: dict) -> str:
    """Each network's proxy and reference top-1, best first under the reference; each column's best in bold."""
    rows = sorted(doc["rows"].values(), key=lambda r: -r["reference_top1"])
    best = {k: max(r[k] for r in rows) for k in ("proxy_top1", "reference_top1")}
    cell = lambda r, k: f"**{r[k]:.1%}**" if r[k] == best[k] else f"{r[k]:.1%}"  # noqa: E731
    return table(["network", "MACs at 224 px", "proxy", "reference"],
                 [(candidate_name(r["model"]), f"{r['macs_224px'] / 1e6:,.0f}M", cell(r, "proxy_top1"),
                   cell(r, "reference_top1")) for r in rows], "lrrr")


def _fidelity_section(doc: dict) -> list[str]:
    settings, rows = doc["settings"], doc["rows"]
    proxy, reference = settings["proxy"], settings["reference"]
    low, high = settings["candidate_window_macs_224px"]
    candidates = [m for m in rows if m not in HAND_DESIGNED]
    spearman, n = doc["spearman"], len(rows)
    interval = fisher_interval(spearman, n)
    lines = [
        "## Against a longer schedule", "", f"Machine: {machine(doc)}.", "",
        f"{n} networks trained on {settings['train_images']:,} images of the CIFAR-10 subset (validated on "
        f"{settings['val_images']:,} held-out images, {plural(settings['seeds'], 'seed')} each; the file records the "
        f"image counts, not the data set) twice: with `{proxy['name']}` ({proxy['epochs']} epochs at "
        f"{proxy['resolution']} px) and with a reference {reference['epochs'] / proxy['epochs']:.0f}x as long at "
        f"{reference['resolution']} px ({reference['epochs']} epochs, {reference['warmup_epochs']} warm-up), "
        f"{sum(r['wall_s'] for r in rows.values()) / 60:.0f} min of training in all. The networks: "
        + ", ".join(candidate_name(m) for m in rows if m in HAND_DESIGNED)
        + f" and {len(candidates)} random candidates of the search space inside find-base's window "
        f"({low / 1e6:.0f}-{high / 1e6:.0f}M MACs at 224 px). Validation top-1, best first under the reference:", "",
        _fidelity_table(doc), ""]
    text = f"Spearman rank correlation {spearman:.2f} (goal >= {PROXY_FIDELITY_GOAL}: " \
           f"{goal(spearman >= PROXY_FIDELITY_GOAL)}"
    if interval:
        text += f"; with {n} networks its 95% interval is about {interval[0]:.2f}-{interval[1]:.2f}"
        if interval[0] < PROXY_FIDELITY_GOAL < interval[1]:
            text += ", so a second seed could move it either way"
    text += ")."
    if doc.get("proxy_b0_beats_mobilenet_v2") and doc.get("reference_b0_beats_mobilenet_v2"):
        text += " EfficientNet-B0 beats MobileNetV2 under both schedules, as on ImageNet."
    proxy_rank = {m: i + 1 for i, m in enumerate(doc["proxy_order"])}
    reference_rank = {m: i + 1 for i, m in enumerate(doc["reference_order"])}
    if set(doc["proxy_order"][-2:]) == set(doc["reference_order"][-2:]):
        text += " Both schedules put the same two networks last."
    apart = sorted(rows, key=lambda m: -abs(proxy_rank[m] - reference_rank[m]))[:2]
    text += " The largest disagreements: " + " and ".join(
        f"{candidate_name(m)} ({_ordinal(reference_rank[m])} under the reference, {_ordinal(proxy_rank[m])} under the "
        "proxy)" for m in apart) + "."
    return [*lines, text, ""]


def _fidelity_before_zero_init(doc: dict, now: dict) -> list[str]:
    resnet = doc["rows"].get("resnet18")
    diverged = (f", when ResNet-18's proxy run diverged ({resnet['proxy_top1']:.1%} top-1 on ten classes)"
                if resnet else "")
    return [
        "## Earlier run: before `zero_init_residual`", "", f"Machine: {machine(doc)}.", "",
        f"Before the `{doc['settings']['proxy']['name']}` recipe started each residual block as the identity, the "
        f"same benchmark stopped after {len(doc['rows'])} of {len(now['rows'])} networks{diverged}. Over the networks "
        f"it finished, Spearman {doc['spearman']:.2f}, against {now['spearman']:.2f} now: this is why the search's "
        "recipe keeps `zero_init_residual` (`scalesearch train`'s default recipe, `standard`, leaves it out).", "",
        _fidelity_table(doc), ""]
