"""supernet.md, from supernet_vs_ground_truth.json, supernet_costs.json and supernet_mnasnet.json."""

from __future__ import annotations

from pages.common import exists, goal, load, machine, source, table, usage
from pages.search_common import ZERO_COST_SCORES

PAGE = "supernet.md"


def render() -> str:
    lines = [
        "# Weight-sharing supernet", "",
        "Train once, score many. `scalesearch supernet train --space S --data D` trains a space's weight-sharing "
        "supernet: its largest network, of which every candidate is a slice (the first channels of each expansion, "
        "the centre of each kernel, the first blocks of each stage), trained with BigNAS's sandwich rule (per step "
        "the largest network on the labels, the smallest and `--random-subnets` random ones on the largest's "
        "predictions). `find-base --evaluator supernet:RUN_DIR --data D --space S` then scores each candidate with its "
        "inherited weights, batch-norm statistics re-estimated on a few hundred training images (seconds, not a "
        "training), and trains the finalists stand-alone as usual. Three questions: does inherited accuracy rank "
        "networks as full training does, what does it cost, and does a search driven by it beat B0 in MnasNet's "
        "space?", "",
        *usage("supernet_vs_ground_truth", "supernet_costs", "supernet_mnasnet"), ""]
    truth = load("supernet_vs_ground_truth")
    if truth.get("training"):
        lines += _supernet_section(truth)
    if exists("supernet_costs"):
        lines += _supernet_costs_section(load("supernet_costs"))
    mnasnet = load("supernet_mnasnet")
    if mnasnet.get("summary", {}).get("base"):
        lines += _supernet_mnasnet_section(mnasnet)
    lines += [source("supernet_vs_ground_truth", "supernet_costs", "supernet_mnasnet"), ""]
    return "\n".join(lines)


def _supernet_section(doc: dict) -> list[str]:
    settings, training, summary = doc["settings"], doc["training"], doc.get("summary", {})
    per_step = training["networks_per_step"]
    planned = {name: len(keys) for name, keys in doc.get("sets", {}).items()}
    rows = [(f"{words} ({s['networks']:,} of {planned.get(name, 0):,})",
             *(f"{s[k]['kendall']:.2f} ({s[k]['spearman']:.2f})" for k in ("inherited", *ZERO_COST_SCORES)),
             f"{s['seed_to_seed']['kendall']:.2f} ({s['seed_to_seed']['spearman']:.2f})")
            for name, words in (("window", "45-50M window"), ("sample", "stratified sample"))
            if (s := summary.get(name))]
    lines = [
        "## Against ground truth (NAS-Bench-Macro)", "", f"Machine: {machine(doc)}.", "",
        "NAS-Bench-Macro's supernet trained once "
        f"(`scalesearch supernet train`: {len(training['epochs'])} epochs of the `{settings['recipe']}` recipe on "
        f"{settings['data']['train_images']:,} images of the CIFAR-10 subset, {per_step} networks per step: the "
        f"largest on the labels, the smallest and {settings['random_subnets']} random ones distilled from it) in "
        f"{training['wall_s'] / 60:.0f} min on one thread: {training['img_per_s']:.1f} images/s, against "
        f"{training['largest_alone_img_per_s']:.1f} for the largest network's own forward and backward pass alone. "
        "Each network then scored with inherited weights, its batch-norm statistics re-estimated on "
        f"{settings['calibration_images']} training images (`find-base --evaluator supernet:RUN_DIR` scores a "
        "candidate this way). Kendall tau (Spearman) with the benchmark's mean top-1, on the same networks as "
        "[the zero-cost scores](zero-cost.md):", "",
        table(["networks", "inherited", *ZERO_COST_SCORES, "seed-to-seed ceiling"], rows,
              "l" + "r" * (len(ZERO_COST_SCORES) + 2)), ""]
    sample = summary.get("sample")
    if sample:
        tau, macs = sample["inherited"]["kendall"], sample["macs"]["kendall"]
        complete = sample["networks"] == planned.get("sample")
        met = tau >= 0.6 and tau > macs
        lines.append(f"Goal: inherited-accuracy Kendall tau >= 0.6 on the stratified sample, and above MACs alone: "
                     f"{tau:.2f} against {macs:.2f}, " + (goal(met) if complete else f"{goal(met)} so far (partial)")
                     + "."
                     + ("" if met else
                        f" The supernet trained {len(training['epochs'])} epochs on "
                        f"{settings['data']['train_images']:,} images, the benchmark's networks 50 epochs on "
                        "CIFAR-10's 50,000: the GPU-sized run (`--device cuda --train-images 0 --epochs 50`, in the "
                        "script's docstring) is the run that tells whether longer training lifts it."))
        lines.append("")
    choice = doc.get("window_choice")
    if choice:
        lines.append(
            f"Over the whole window (what a search that sees every candidate returns), the supernet's "
            f"{len(choice['finalists'])} best by inherited accuracy, judged on the benchmark's mean as find-base's "
            f"finalists are, give {choice['picked_mean_top1']:.2f}%: rank {choice['picked_rank']} of "
            f"{choice['networks']}, regret {choice['regret']:.2f} points.")
        lines.append("")
    search = doc.get("search")
    if search:
        budgets = [b for b in search if b.isdigit()]
        medians = {b: search[b]["median_regret"] for b in budgets}
        lines.append(
            f"Supernet-driven find-base at <= 50M MACs (hard, TPE, {search['seeds']} seeds; each trial's candidate "
            "scored with inherited weights, the 3 finalists judged on the benchmark's mean as training them "
            "stand-alone judges them): median regret "
            + ", ".join(f"{medians[b]:.2f} points at {b} networks" for b in budgets)
            + f" against the best network within 50M MACs ({search['limit_best_mean_top1']:.2f}%). Goal: median "
            f"regret <= 0.5 over >= 5 seeds: {goal(search['seeds'] >= 5 and max(medians.values()) <= 0.5)}. "
            f"(The window holds {len(doc.get('sets', {}).get('window', [])):,} distinct networks, so a search of "
            f"{max(int(b) for b in budgets)} evaluated networks has seen most of it; asking for 1,000 would ask for "
            "more networks than the window holds.)")
        lines.append("")
    return lines


def _supernet_costs_section(doc: dict) -> list[str]:
    score, rates, ratios = doc["scoring"], doc["throughput_img_per_s"], doc["ratios"]
    median, goals = score["median_s"], doc["goals"]
    calibration = score["calibration_median_s"]
    return [
        "## What the supernet costs", "", f"Machine: {machine(doc)}.", "",
        f"{doc['space']}'s trained supernet, {doc['torch_threads']} torch thread. Scoring one sub-network "
        f"({score['networks']} random ones, {doc['resolution']} px): median {median['total_s']:.2f} s (worst "
        f"{score['max_total_s']:.2f} s), of which copying its weights out {median['extract_s']:.2f} s, re-estimating "
        f"batch-norm statistics on {score['calibration_images']} images {calibration:.2f} s and validating on "
        f"{score['val_images']:,} images {median['validate_s']:.2f} s. Goal: <= {goals['score_s']:g} s per network: "
        f"{goal(median['total_s'] <= goals['score_s'])}; validation is most of it, and it is a forward pass of each "
        "image: fewer validation images or more threads, not the supernet, would change it.", "",
        f"Training, images per second on the same {doc['recipe']} batches: the largest network alone "
        f"{rates['largest_alone']:.1f}; the same network through the supernet's sliced weights "
        f"{rates['largest_through_supernet']:.1f} ({ratios['largest_through_supernet']:.2f} of it: "
        + ("slicing shared weights costs next to nothing" if ratios["largest_through_supernet"] >= 0.9
           else "what slicing shared weights costs")
        + "); a whole sandwich step with 2 random sub-networks (4 networks a step, the default) "
        f"{rates['sandwich_2_random']:.1f} ({ratios['sandwich_2_random']:.2f}); with none (2 networks) "
        f"{rates['sandwich_0_random']:.1f} ({ratios['sandwich_0_random']:.2f}). Goal: the default step >= "
        f"{goals['sandwich_ratio']:g} of the largest network alone: "
        f"{goal(ratios['sandwich_2_random'] >= goals['sandwich_ratio'])}: a step runs the largest network and "
        "three smaller ones forward and backward, so it cannot approach one network's rate; fewer sub-networks "
        "per step would, at the cost of training each less.", ""]


def _supernet_mnasnet_section(doc: dict) -> list[str]:
    settings, summary, training = doc["settings"], doc["summary"], doc["training"]["output"]
    rows = [("EfficientNet-B0 (base)" if r["is_base"] else f"`{r['name']}`", f"{r['macs'] / 1e6:.1f}M",
             f"{r['params'] / 1e6:.2f}M", f"{r['inherited_top1']:.1f}" if r["inherited_top1"] is not None else "-",
             f"{r['mean']:.1f} +- {r['std']:.1f}" if r["mean"] is not None else "-",
             ", ".join(f"{v:.1f}" for v in r["per_seed"])) for r in summary["rows"]]
    lines = [
        "## On MnasNet's space, against B0", "", f"Machine: {machine(doc)}.", "",
        f"`scalesearch supernet train --space {settings['space']}` ({training['epochs']} epochs of "
        f"`{settings['recipe']}` on {settings['data']['train_images']:,} images of the CIFAR-10 subset at 32 px, "
        f"{training['wall_s'] / 60:.0f} min on one thread), then `find-base --flops {settings['flops']} --evaluator "
        f"supernet:RUN_DIR` ({summary['evaluated']} candidates scored with inherited weights); its "
        f"{settings['finalists']} best and EfficientNet-B0 (the space's base) trained stand-alone with the same "
        f"recipe, {summary['seeds']} seeds each. Validation top-1 %:", "",
        table(["network", "MACs", "params", "inherited", "stand-alone, mean +- std", "per seed"], rows, "lrrrrl"), ""]
    diff, best, base = summary.get("best_found_minus_base"), summary.get("best_found"), summary["base"]
    if diff is not None and summary["complete"]:
        spread = max(best["std"], base["std"])
        lines.append(
            f"The best network the search found scores {diff:+.1f} points against B0 at "
            f"{best['macs'] / base['macs']:.2f}x its MACs; the seeds' standard deviation is up to {spread:.1f} points, "
            + ("so at this scale the two are not told apart." if abs(diff) <= 2 * spread else
               "a difference larger than twice the seeds' spread.")
            + " GPU-sized: the full `mnasnet` space, `--device cuda --train-images 0 --epochs 50 --n-trials 1000` "
            "(in the script's docstring).")
    return [*lines, ""]


def headline() -> tuple[str, str, str]:
    doc = load("supernet_mnasnet")
    summary, settings = doc["summary"], doc["settings"]
    best, base = summary.get("best_found"), summary.get("base")
    figure_text = "not measured"
    if best and base and summary.get("complete"):
        figure_text = (f"{summary['best_found_minus_base']:+.1f} points top-1 ({best['mean']:.1f}% against "
                       f"{base['mean']:.1f}%, {summary['seeds']} seeds each) at {best['macs'] / base['macs']:.2f}x "
                       f"B0's MACs; {summary['epochs']} epochs on {settings['data']['train_images']:,} CIFAR-10 images")
    return ("Supernet-driven find-base in MnasNet's space (CPU-sized) against EfficientNet-B0, both trained "
            "stand-alone", figure_text, PAGE)
