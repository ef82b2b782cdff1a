"""search-quality.md, from search_quality.json and find_base_default.json: find-base with training, at CPU scale."""

from __future__ import annotations

from pages.common import data_name, exists, goal, load, machine, network_name, source, table, usage
from pages.search_common import HAND_DESIGNED, candidate_name

PAGE = "search-quality.md"


def render() -> str:
    lines = [
        "# find-base with training, at CPU scale", "",
        "Does find-base, training its candidates, find a better base than EfficientNet-B0, and does TPE beat "
        "random search? Judged here the direct way: each search's winner, with the hand-designed networks, trained "
        "again with a longer reference schedule. At CPU scale that cannot say much; [search against ground truth]"
        "(search-ground-truth.md) judges the search where ground truth exists.", "",
        *usage("search_quality", "find_base_default"), ""]
    if exists("search_quality"):
        lines += _search_quality_section(load("search_quality"))
    if exists("find_base_default"):
        lines += _default_command_section(load("find_base_default"))
    lines += [source("search_quality", "find_base_default"), ""]
    return "\n".join(lines)


def _search_quality_section(doc: dict) -> list[str]:
    settings, summary = doc["settings"], doc["summary"]
    proxy, reference = settings["proxy"], settings["reference"]
    sets = list(summary)
    lines = [
        "## Searches with training", "", f"Machine: {machine(doc)}.", "",
        f"`find-base --flops {settings['target_macs'] / 1e6:.0f}M --constraint {settings['constraint']} --data D` "
        f"with {' and '.join(settings['samplers'])}, search seeds "
        f"{', '.join(str(s) for s in settings['search_seeds'])}, on "
        + " and ".join(f"{data_name(d)} ({settings['data'][d]['train_images']:,} training images, digest "
                       f"{settings['data'][d]['sha256']})" for d in sets)
        + f": {settings['n_trials']} evaluated trials each, trained {proxy['epochs']} epochs with the "
        f"`{proxy['name']}` recipe, then the finalist stage ({settings['finalists']} finalists, "
        f"{settings['final_seeds']} seeds each). Every distinct winner, and EfficientNet-B0, MobileNetV2 and "
        f"MnasNet-A1, then trained with a reference schedule {reference['epochs'] / proxy['epochs']:.0f}x as long "
        f"({reference['epochs']} epochs) on {settings['reference_images']:,} images, "
        f"{len(settings['reference_seeds'])} seeds each. Validation top-1 under the reference, mean +- std:", ""]
    rows = []
    for d in sets:
        for key, s in summary[d]["searches"].items():
            sampler, seed = key.split("|")
            winner = "EfficientNet-B0" if s["is_b0"] else candidate_name(s["winner"])
            rows.append((data_name(d), f"{sampler} {seed}", winner, f"{s['macs'] / 1e6:.1f}M",
                         f"{100 * s['reference_mean']:.1f} +- {100 * s['reference_std']:.1f}",
                         f"{s['vs_b0_points']:+.1f}", f"{100 * s['finalist_margin_vs_base']:+.1f}",
                         f"{s['trial_s']:.0f} s"))
    lines += [table(["data", "sampler, seed", "winner", "MACs", "reference top-1 %", "vs B0", "finalist margin",
                     "trials' time"], rows, "lllrrrrr"), "",
              "*vs B0*: points against EfficientNet-B0 under the reference; *finalist margin*: the winner's margin "
              "over B0 in the search's own finalist stage, in points; *trials' time*: the trials' summed duration.",
              ""]
    known = [n for n in HAND_DESIGNED if all(n in summary[d]["reference"] for d in sets)]
    rows = [(data_name(d), *(f"{summary[d]['reference'][n]['mean']:.1%} +- "
                                     f"{summary[d]['reference'][n]['std']:.1%}" for n in known)) for d in sets]
    lines += ["The hand-designed networks under the same reference:", "",
              table(["data", *(network_name(n) for n in known)], rows, "l" + "r" * len(known)), ""]
    clauses = {"tpe_not_b0_within_400m": "every TPE search returns a network other than B0 within the limit",
               "tpe_beats_b0_by_1_point": "TPE's winners beat B0 by >= 1 point under the reference (mean over seeds)",
               "tpe_at_least_random": "TPE's winners at least as good as random search's"}
    rows = [(words, *(goal(summary[d]["goal"].get(key)) for d in sets)) for key, words in clauses.items()]
    rows.append(("all three", *(goal(summary[d]["goal_met"]) for d in sets)))
    lines += ["Goals, per data set:", "", table(["goal", *(data_name(d) for d in sets)], rows), ""]
    differences = [s["vs_b0_points"] for d in sets for s in summary[d]["searches"].values() if not s["is_b0"]]
    b0_spread = max(100 * summary[d]["reference"]["efficientnet-b0"]["std"] for d in sets)
    beat = any(v > 0 for v in differences)
    verdict = ("A search beat B0 here." if beat else
               f"No search beat B0 here: {len(differences)} of {sum(len(summary[d]['searches']) for d in sets)} "
               "searches returned another network")
    if differences and not beat:
        largest = max(abs(v) for v in differences)
        verdict += (f", {largest:.1f} points or less behind it, "
                    + ("within B0's own seed spread" if largest <= b0_spread else "beyond B0's own seed spread")
                    + f" (std up to {b0_spread:.1f} points)")
    if not beat:
        verdict += (". Seed noise is as large as the differences, so this run says nothing about the search itself; "
                    "the GPU-sized command above (every training image, many more trials) is the run that would.")
    return [*lines, verdict, ""]


def _default_command_section(doc: dict) -> list[str]:
    return [
        "## The default command", "", f"Machine: {machine(doc)}.", "",
        f"`scalesearch {doc['command']}` with no other argument ({doc['n_trials']} trials, {doc['evaluator']}) took "
        f"{doc['wall_s']:.0f} s; {doc['n_rejected']} candidates were rejected untrained; `best_base.yaml` has "
        f"{doc['best_macs'] / 1e6:.1f}M MACs ({doc['macs_to_target'] - 1:+.1%} against the target) and "
        f"{doc['best_params'] / 1e6:.2f}M parameters. Goal ({doc['goal']}): {goal(doc['goal_met'])}. Measured before "
        "find-base had its finalist stage; the same script measures the command as it is now.", ""]
