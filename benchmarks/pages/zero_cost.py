"""zero-cost.md, from zero_cost_ground_truth.json and zero_cost_vs_trained*.json (and proxy_ground_truth.json)."""

from __future__ import annotations

from pages.common import data_name, exists, load, machine, names, pct, source, table, usage
from pages.search_common import ZERO_COST_SCORES
from scalesearch.train.zero_cost import DEFAULT_METRIC

PAGE = "zero-cost.md"


def render() -> str:
    truth, trained = load("zero_cost_ground_truth"), load("zero_cost_vs_trained")
    epochs = trained["settings"]["recipe"]["epochs"]
    lines = [
        "# Zero-cost scores", "",
        "Without `--data`, find-base ranks candidates by a score computed at initialisation, without training "
        "(`--metric`): `params` (the parameter count, the baseline every such score must beat), `naswot` (Mellor et "
        "al. 2021), `synflow` (Tanaka et al. 2020), `zen` (Zen-NAS, Lin et al. 2021) and `zico` (Li et al. 2023). "
        "naswot and zico use real images where there are some (`find-base --prescreen`), noise otherwise; the "
        f"others never use data. The default is `{DEFAULT_METRIC}`. How far to trust them is measured twice: "
        f"against ground truth (networks trained to convergence) and against the search's own {epochs}-epoch "
        "proxy.", "",
        *usage("zero_cost_ground_truth", "zero_cost_vs_trained"), ""]
    if truth.get("summary"):
        lines += ["## Against ground truth (NAS-Bench-Macro)", "", f"Machine: {machine(truth)}.", "",
                  *_zero_cost_section(truth)]
    lines += _zero_cost_vs_trained_section(trained)
    if exists("zero_cost_vs_trained_before_zero_init"):
        lines += _zero_cost_before_zero_init(load("zero_cost_vs_trained_before_zero_init"))
    lines += [source("zero_cost_ground_truth", "zero_cost_vs_trained", "zero_cost_vs_trained_before_zero_init"), ""]
    return "\n".join(lines)


def _zero_cost_section(zero_cost: dict) -> list[str]:
    sets = zero_cost["summary"]
    settings = zero_cost["settings"]
    rows = [(words, *(f"{sets[name][k]['kendall']:.2f} ({sets[name][k]['spearman']:.2f})" for k in ZERO_COST_SCORES),
             f"{sets[name]['seed_to_seed']['kendall']:.2f} ({sets[name]['seed_to_seed']['spearman']:.2f})")
            for name, words in (("sample", "stratified sample"), ("window", "45-50M window"))]
    best = {name: max(ZERO_COST_SCORES, key=lambda k: sets[name][k]["kendall"]) for name in ("sample", "window")}
    return [
        "Each score computed as `find-base` without `--data` computes it (data-free, "
        f"{settings['resolution']} px, seed {settings['seed']}) on NAS-Bench-Macro networks, ranked against the "
        f"benchmark's mean top-1: a sample of {sets['sample']['networks']:,} stratified over accuracy, and all "
        f"{sets['window']['networks']} distinct networks in `find-base --flops 50M --constraint hard`'s window "
        "(45-50M MACs), the ones a search compares. Kendall tau (Spearman); the last column is the benchmark's own "
        "seeds ranked against one another, the most any score can reach:", "",
        table(["networks", *ZERO_COST_SCORES, "seed-to-seed ceiling"], rows, "l" + "r" * (len(ZERO_COST_SCORES) + 1)),
        "",
        "Best Kendall tau: " + ", ".join(f"`{v}` on the {k}" for k, v in best.items()) + ". "
        + (f"find-base's data-free default is `{DEFAULT_METRIC}`, chosen by this table."
           if set(best.values()) == {DEFAULT_METRIC}
           else f"find-base's data-free default (`{DEFAULT_METRIC}`) is not the best here: change it."), ""]


_SCORE_WORDS = {"naswot_data": "naswot on real images", "zico_data": "zico on real images",
                "blocks": "block count (depth)", "macs": "MACs"}


def _zero_cost_vs_trained_section(doc: dict) -> list[str]:
    settings, per_set = doc["settings"], doc["per_data_set"]
    sets = [s for s in settings["data"] if s in per_set]
    recipe, (low, high) = settings["recipe"], settings["window_macs_224px"]
    scores = list(doc["mean_spearman"])

    def depth(score: str) -> str:
        values = [per_set[s]["spearman_with_blocks"].get(score) for s in sets]
        if None in values:
            return "-"
        return f"{values[0]:.2f}" if len({round(v, 2) for v in values}) == 1 else " / ".join(f"{v:.2f}" for v in values)

    rows = [(f"`{s}`" if s not in _SCORE_WORDS else _SCORE_WORDS[s],
             *(f"{per_set[d]['spearman'][s]:.2f} [{per_set[d]['interval_95'][s][0]:.2f}, "
               f"{per_set[d]['interval_95'][s][1]:.2f}]" for d in sets),
             f"{doc['mean_spearman'][s]:.2f}", depth(s)) for s in scores]
    rows.append(("the trained accuracies, seed against seed (ceiling)",
                 *(f"{per_set[d]['seed_vs_seed']:.2f}" for d in sets), "", ""))
    ranks = [s for s in scores if s != "blocks" and all(per_set[d]["interval_95"][s][0] > 0 for d in sets)]
    backwards = [s for s in scores if all(per_set[d]["interval_95"][s][1] < 0 for d in sets)]
    deep = [s for s in scores if s not in ("blocks", "macs")
            and all(per_set[d]["spearman_with_blocks"].get(s, 0) >= 0.5 for d in sets)]
    words = lambda scores: names([f"`{n}`" if n not in _SCORE_WORDS else _SCORE_WORDS[n] for n in scores])  # noqa: E731
    best, params = doc["best_data_free"], doc["mean_spearman"]["params"]
    records = settings["data"]
    data = "; ".join(f"{data_name(d)}: {records[d]['train_images']:,} training and "
                     f"{records[d]['val_images']:,} validation images, digest {records[d]['sha256']}, "
                     f"top-1 {pct(per_set[d]['val_top1_range'][0])} to {pct(per_set[d]['val_top1_range'][1])}"
                     for d in sets)
    lines = [
        "## Against proxy training in find-base's own space", "", f"Machine: {machine(doc)}.", "",
        f"{len(settings['candidates'])} random candidates of find-base's MnasNet space inside its default window "
        f"({low / 1e6:.0f}-{high / 1e6:.0f}M MACs at 224 px: the networks a search ranks against each other), each "
        "scored at initialisation as find-base without `--data` scores it (naswot and zico also on a batch of real "
        f"images, as `--prescreen` does), and trained with the `{recipe['name']}` recipe ({recipe['epochs']} epochs "
        f"at {recipe['resolution']} px) with {len(settings['seeds'])} seeds on each data set ({data}); "
        f"{doc['trainings_done']} of {doc['trainings_planned']} trainings done. Spearman's rank correlation of each "
        "score with the mean top-1 over seeds [95% interval], its mean over the data sets, and (last column) the "
        "score's own correlation with the network's block count:", "",
        table(["score", *(data_name(d) for d in sets), "mean", "with block count"], rows,
              "l" + "r" * (len(sets) + 2)), ""]
    verdict = ("No score's interval lies above zero on " + ("both data sets" if len(sets) == 2 else "every data set")
               + ": none ranks these candidates." if not ranks else
               f"Above zero on every data set: {words(ranks)}.")
    if backwards:
        verdict += f" Backwards on every data set: {words(backwards)}."
    if deep:
        verdict += (f" {words(deep)} follow depth (Spearman >= 0.5 with the block count on every data set), and depth "
                    f"ranks these candidates backwards at this budget (mean {doc['mean_spearman']['blocks']:.2f}).")
    rule = (f"Rule: the default is the data-free score with the best mean over the data sets, unless none beats "
            f"`params`: `{best}` ({doc['mean_spearman'][best]:.2f}, `params` {params:.2f}), so "
            f"`{doc['recommended_default']}`"
            + (" stays the default." if doc["recommended_default"] == DEFAULT_METRIC else
               f" should replace `{DEFAULT_METRIC}`."))
    lines += [verdict, "", rule, "", _weak_judge(doc), ""]
    return lines


def _weak_judge(doc: dict) -> str:
    """What the judge of this comparison is worth, and what follows for the data-free default."""
    recipe = doc["settings"]["recipe"]
    text = (f"The judge here is the proxy itself, {recipe['epochs']} epochs on "
            f"{doc['settings']['train_images']:,} images")
    truth = load("proxy_ground_truth").get("summary", {}).get(recipe["name"]) if exists("proxy_ground_truth") else None
    if truth:
        text += (f", and the same recipe ranks networks only partly as full training does (Spearman "
                 f"{truth['spearman']:.2f} against NAS-Bench-Macro's ground truth: [the training proxy](proxy.md))")
    best = load("zero_cost_ground_truth").get("summary", {}) if exists("zero_cost_ground_truth") else {}
    if best and all(best[name]["best_zero_cost"] == DEFAULT_METRIC for name in ("sample", "window")):
        text += f". Against ground truth (above) `{DEFAULT_METRIC}` ranks networks best of all scores"
    return (text + ". So the data-free default finds a network of the right size and a plausible shape, not a "
            "proven accurate one: use `--data` when accuracy matters.")


def _zero_cost_before_zero_init(doc: dict) -> list[str]:
    rows, recipe = doc["rows"], doc["recipe"]
    accuracies = [r["val_top1"] for r in rows]
    macs = [r["macs_224px"] for r in rows]
    shown = {"naswot_data": "naswot on real images", "naswot_noise": "naswot on noise", "synflow": "`synflow`",
             "macs": "MACs"}
    seeded = [[v for k, values in r.items() if k.startswith("val_top1_seeds") for v in values]
              for r in doc["seed_noise"]["rows"]]
    noise = "; ".join(f"`{r['candidate']}` {', '.join(pct(v) for v in values)}"
                      for r, values in zip(doc["seed_noise"]["rows"], seeded))
    return [
        "## Earlier run: before `zero_init_residual`", "", f"Machine: {machine(doc)}.", "",
        f"The first version of the benchmark: {len(rows)} random candidates of {min(macs) / 1e6:.0f}-"
        f"{max(macs) / 1e6:.0f}M MACs at 224 px, each trained once with the `{recipe['name']}` recipe as it was before "
        f"its residual blocks started as the identity ({recipe['epochs']} epochs at {recipe['resolution']} px) on "
        f"{doc['train_images']:,} images (validation top-1 {pct(min(accuracies))} to {pct(max(accuracies))}; the file "
        "does not record the data set: the commit that added it names Fashion-MNIST). Spearman with validation top-1:",
        "",
        table(["score", "Spearman"], [(shown.get(k, k), f"{v:.2f}") for k, v in doc["spearman"].items()], "lr"), "",
        f"Seed noise at that budget, {len(seeded)} candidates each trained with {len(seeded[0])} seeds: {noise}. "
        "One noisy run per candidate bounds what any score can show.", ""]
