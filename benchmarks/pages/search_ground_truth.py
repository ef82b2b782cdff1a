"""search-ground-truth.md, from search_ground_truth.json, benchmark_macs.json and surrogate_accel_nasbench.json."""

from __future__ import annotations

import math

from pages.common import figure, goal, load, machine, plural, source, table, usage
from scalesearch.search.space import load_space

PAGE = "search-ground-truth.md"
BENCH_WORDS = {"nbm-50M": "NAS-Bench-Macro, <= 50M MACs", "nbm-70M": "NAS-Bench-Macro, <= 70M MACs",
               "anb-400M-hard": "Accel-NASBench, <= 400M MACs", "anb-400M-soft": "Accel-NASBench, soft w = -0.07"}
DEFAULT = "tpe/penalty"  # find-base's default: the TPE sampler, candidates outside the window penalised


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1e}" if value < 0.001 else f"{value:.3f}"


def render() -> str:
    macs, surrogate, search = load("benchmark_macs"), load("surrogate_accel_nasbench"), load("search_ground_truth")
    m, a = macs["nas_bench_macro"], macs["accel_nasbench"]
    layers = len(load_space("nas-bench-macro").dimensions())
    exponent = round(math.log10(load_space("accel-nasbench").size()))
    lines = [
        "# Search against ground truth", "",
        "Public NAS benchmarks trained their networks already, so find-base's search can be judged without "
        "training, with many seeds, against the best network there is. `find-base --evaluator` reads two of them "
        "(both Apache-2.0; name them and their papers where you use them):", "",
        f"- **NAS-Bench-Macro** (Su et al., CVPR 2021; github.com/xiusu/NAS-Bench-Macro): all {m['networks']:,} "
        f"networks of an {layers}-layer MBConv space trained on CIFAR-10 with 3 seeds: `scalesearch find-base "
        "--flops 50M --constraint hard --space nas-bench-macro --evaluator table:nas-bench-macro_cifar10.json "
        "--no-seed-base`.",
        f"- **Accel-NASBench** (Ahmad et al.; github.com/afzalxo/Accel-NASBench): {a['networks']:,} networks of "
        "EfficientNet-B0's own block space trained on ImageNet with the authors' proxy, one seed each; the space "
        f"holds about 10<sup>{exponent}</sup>, so a surrogate fitted on them predicts the rest: `scalesearch "
        "find-base --flops 400M --constraint hard --space accel-nasbench --evaluator surrogate:accel-nasbench "
        "--no-seed-base` (B0 is a point of this space: `--no-seed-base` keeps the search from being told the "
        "answer).", "",
        *_in_short(search),
        "The three steps below (the spaces against the benchmarks' own counts, the surrogate, the searches) each "
        "have their script:", "",
        *usage("benchmark_macs", "fit_surrogate", "search_ground_truth"), "",
        f"Searches: {machine(search)}. Surrogate fit: {machine(surrogate)}. The MACs comparison is a count, the "
        "same on any machine.", "",
        *_macs_section(macs), *_surrogate_section(surrogate)]
    if search.get("summary"):
        lines += _search_section(search)
    lines += [source("benchmark_macs", "surrogate_accel_nasbench", "search_ground_truth"), ""]
    return "\n".join(lines)


def _in_short(search: dict) -> list[str]:
    """The page's answer in one paragraph, before how it was reached."""
    summary = search.get("summary")
    tpe, rnd = (_stats(summary or {}, "nbm-50M", g, "100") for g in (DEFAULT, "random/penalty"))
    tpe_anb, rnd_anb = (_stats(summary or {}, "anb-400M-hard", g, "300") for g in (DEFAULT, "random/penalty"))
    if not (tpe and rnd and tpe_anb and rnd_anb):
        return []
    return [
        f"In short: after 100 evaluated networks on NAS-Bench-Macro <= 50M MACs, find-base's default search returns a "
        f"network a median {tpe['regret_quartiles'][1]:.2f} points below the best there is (random search: "
        f"{rnd['regret_quartiles'][1]:.2f}); after 300 on Accel-NASBench <= 400M MACs, "
        f"{tpe_anb['regret_quartiles'][1]:.2f} below the best found (random search: "
        f"{rnd_anb['regret_quartiles'][1]:.2f}), and in {tpe_anb['p_within_0.3_of_b0_or_above']:.0%} of "
        f"{tpe_anb['runs']} seeds a network within 0.3 points of EfficientNet-B0 or better, without being shown B0. "
        "Each goal, and whether it is met, is under [Goals](#goals).", ""]


def _macs_section(macs: dict) -> list[str]:
    m, a = macs["nas_bench_macro"], macs["accel_nasbench"]
    below = a["efficientnet_count_below_benchmark"]
    return [
        "## The spaces build the benchmarks' networks", "",
        f"NAS-Bench-Macro: our MACs and params equal the table's `flops` and `params` on {m['equal_macs']:,} and "
        f"{m['equal_params']:,} of its {m['networks']:,} networks (its `flops` count convolution and classifier "
        f"multiply-adds, as we do). Accel-NASBench: params agree on all {a['networks']:,} networks (largest relative "
        f"difference {a['max_relative_difference_params']:.0e}, the rounding of its millions); its `macs` add to "
        "EfficientNet's count 4 operations per batch-norm output, the squeeze-excite rescaling and the global pool, "
        "which `benchmark_macs` reproduces exactly (largest relative difference "
        f"{a['max_relative_difference_benchmark_macs']:.0e}); EfficientNet's count lies {below['min']:.1%} to "
        f"{below['max']:.1%} (median {below['median']:.1%}) below it. B0's point of the space builds exactly our "
        f"`efficientnet-b0` ({a['b0_point']['macs'] / 1e6:.1f}M MACs, {a['b0_point']['params'] / 1e6:.2f}M params; "
        f"{a['b0_point']['benchmark_macs'] / 1e6:.1f}M in the benchmark's count). Every MACs figure on this page is "
        "EfficientNet's count.", ""]


def _surrogate_section(surrogate: dict) -> list[str]:
    chosen = surrogate["chosen"]
    rows = [(lib, f"{v['best']['val_kendall']:.3f}", f"{v['test_kendall']:.3f}", f"{v['test_spearman']:.3f}",
             f"{v['test_mae']:.2f}", f"{v['nodes']:,}") for lib, v in surrogate["libraries"].items()]
    return [
        "## The Accel-NASBench surrogate", "",
        f"Each library's settings chosen on the authors' validation split ({surrogate['split']['val']} networks) "
        f"from a small grid, fitted on their train split ({surrogate['split']['train']:,}), judged on their test "
        f"split ({surrogate['split']['test']}):", "",
        table(["library", "validation Kendall tau", "test Kendall tau", "test Spearman", "test MAE (points)",
               "tree nodes"], rows, "lrrrrr"), "",
        f"Shipped: {chosen} (best on validation), as plain data (`search_spaces/surrogates/accel-nasbench.json`, "
        f"{surrogate['model_bytes'] / 2**20:.1f} MiB, loaded without running any code). Goal test Kendall tau >= "
        f"{surrogate['goal_test_kendall']}: {goal(surrogate['goal_met'])} "
        f"({surrogate['libraries'][chosen]['test_kendall']:.3f}; the paper reports {surrogate['paper_test_kendall']} "
        f"for its own). It predicts EfficientNet-B0 at {surrogate['b0_predicted_top1']:.2f}% (the benchmark's "
        "shortened ImageNet proxy, not B0's published accuracy).", ""]


def _cell(stats: dict | None) -> str:
    if not stats:
        return "-"
    q1, median, q3 = stats["regret_quartiles"]
    text = f"{median:.2f} ({q1:.2f}-{q3:.2f}), top-1% {stats['p_top1pct']:.0%}"
    if "mann_whitney_p_vs_random" in stats:
        text += f", p {_p(stats['mann_whitney_p_vs_random'])}"
    return text


def _search_section(search: dict) -> list[str]:
    summary, refs, settings = search["summary"], search["references"], search["settings"]
    budgets = [str(b) for b in settings["budgets"]]
    lines = [
        "## Every sampler against ground truth", "",
        "Each run is `find-base --no-seed-base --constraint hard` (or soft) with a table or surrogate evaluator: the "
        f"same driver, window, finalists ({settings['finalists']} best by search score, judged on the mean of 3 "
        "recorded seeds) and journal storage. Cells: median regret in points (quartiles), the share of runs "
        "returning a top-1% network, and the one-sided Mann-Whitney U p-value against random search. Regret: "
        "NAS-Bench-Macro, the best mean accuracy among all networks within the limit minus the returned network's; "
        "Accel-NASBench, the best surrogate accuracy (soft: score) any run or a "
        f"{settings['reference_sample']:,}-network random sample found, minus the returned network's. A budget "
        "counts distinct networks evaluated; smaller budgets are the start of the same runs.", ""]
    rows = [(BENCH_WORDS.get(bench, bench), group, stats["seeds"], *(_cell(stats.get(b)) for b in budgets))
            for bench, entry in summary.items() for group, stats in entry["groups"].items()]
    lines += [table(["benchmark", "sampler / constraint handling", "seeds", *(f"{b} trials" for b in budgets)],
                    rows, "llr" + "l" * len(budgets)), ""]
    for bench in summary:
        ref = refs[bench]
        if "best_feasible" in ref:
            lines.append(f"- {BENCH_WORDS.get(bench, bench)}: {ref['feasible_networks']:,} networks within the limit, "
                         f"the best at {ref['best_feasible']:.2f}%; top 1% = the best {ref['top1pct_networks']} "
                         f"(>= {ref['top1pct_bar']:.2f}%).")
        else:
            unit = "score" if bench.endswith("soft") else "top-1"
            lines.append(f"- {BENCH_WORDS.get(bench, bench)}: EfficientNet-B0's predicted {unit} "
                         f"{ref['b0_score' if unit == 'score' else 'b0_top1']:.2f}; the best of a "
                         f"{ref['sample']:,}-network random sample {ref['sample_best']:.2f} (top 1% >= "
                         f"{ref['top1pct_bar']:.2f}); the best any run found {ref.get('best_found_any_run', 0):.2f}.")
    lines += ["", "### Goals", "", *_goals(summary), "### Anytime regret", "",
              "The regret of each search's incumbent (its best search score so far) after each evaluated trial, "
              "median and quartiles over seeds:", ""]
    lines += [figure(f"search_ground_truth_{b}.png", f"Anytime regret of every sampler, {BENCH_WORDS.get(b, b)}")
              + "\n" for b in summary]
    lines += ["### What each sampler cost", "", *_costs(summary, settings)]
    lines += _handling(summary)
    return lines


def _costs(summary: dict, settings: dict) -> list[str]:
    """What each sampler cost and where it stopped, from the runs' own records."""
    lines = []
    for bench, entry in summary.items():
        groups = entry["groups"]
        walls = ", ".join(f"{g.split('/')[0]} {v['wall_s_median']:.0f} s" for g, v in groups.items()
                          if g.endswith("/penalty"))
        stopped = {g: v["stopped_early_runs"] for g, v in groups.items() if v["stopped_early_runs"]}
        repeats = ", ".join(f"{g.split('/')[0]} {v['repeats_median']:,.0f}" for g, v in groups.items()
                            if g.endswith("/penalty"))
        text = (f"- {BENCH_WORDS.get(bench, bench)}: median wall time per run ({walls}; each to its largest budget); "
                f"median repeats per run, proposals of a network the run had evaluated ({repeats})")
        if stopped:
            text += "; stopped before the largest budget, proposing only networks it had evaluated: " + ", ".join(
                f"{g} in {n} of {groups[g]['seeds']} runs" for g, n in stopped.items())
        lines.append(text + ".")
    gp = {b: max((int(k) for k in e["groups"]["gp/penalty"] if k.isdigit()), default=0)
          for b, e in summary.items() if "gp/penalty" in e["groups"]}
    largest = max(settings["budgets"])
    if gp and min(gp.values()) < largest:
        lines.append(
            "- GP ran on " + ", ".join(
                f"{BENCH_WORDS.get(b, b)} to {n} trials ({plural(summary[b]['groups']['gp/penalty']['seeds'], 'seed')})"
                for b, n in gp.items())
            + " only: Optuna's GP sampler refits its model on every trial, rejected candidates and repeats included "
            f"(a TPE run to {largest} networks at NAS-Bench-Macro <= 50M made "
            f"{summary['nbm-50M']['groups'][DEFAULT]['trials_median']:,.0f} trials, median), and the refit grows with "
            "them (the wall times above). The full protocol is the same command with "
            f"`--samplers gp --gp-budget {largest} --gp-seeds {summary['nbm-50M']['groups'][DEFAULT]['seeds']}`.")
    return [*lines, ""]


def _handling(summary: dict) -> list[str]:
    """Optuna's ``set_constraint`` (``--constraint-handling sampler``) against the penalty, seed by seed."""
    pairs = {b: e.get("handling_pairs", {}) for b, e in summary.items()}
    samplers = sorted({s for p in pairs.values() for s in p})
    if not samplers:
        return []
    budgets = sorted({k for p in pairs.values() for cells in p.values() for k in cells}, key=int)
    rows, wins = [], {}
    for bench, by_sampler in pairs.items():
        for sampler, cells in by_sampler.items():
            rows.append((BENCH_WORDS.get(bench, bench), sampler,
                         *(f"{c['better']}/{c['equal']}/{c['worse']} ({c['mean_diff']:+.2f})"
                           if (c := cells.get(b)) else "-" for b in budgets)))
            top = cells.get(budgets[-1])
            wins.setdefault(sampler, []).append(bool(top) and top["better"] > top["worse"])
    default = DEFAULT.split("/")[0]
    better = all(wins.get(default, [False]))
    return ["## Constraint handling", "",
            "`--constraint-handling sampler` hands the limit to the sampler through Optuna's `Trial.set_constraint`; "
            "`penalty`, the default, rejects a candidate outside the window untrained and gives the sampler a "
            "penalised score. Same seeds run both ways; cells: returned network better / equal / worse with `sampler` "
            "than with `penalty`, and the mean difference in points:", "",
            table(["benchmark", "sampler", *(f"{b} trials" for b in budgets)], rows), "",
            f"Rule: `sampler` becomes the default if, with {default} (the default sampler), it returns better networks "
            f"more often than worse at {budgets[-1]} trials on every benchmark. "
            + ("It does: make `sampler` the default." if better else
               f"It does so on {sum(wins.get(default, []))} of {len(wins.get(default, []))} benchmarks: `penalty` "
               "stays the default."), ""]


def _stats(summary: dict, bench: str, group: str, budget: str) -> dict | None:
    return summary.get(bench, {}).get("groups", {}).get(group, {}).get(budget)


def _goals(summary: dict) -> list[str]:
    rows = []
    ps = {b: (_stats(summary, b, DEFAULT, "100") or {}).get("mann_whitney_p_vs_random")
          for b in ("nbm-50M", "anb-400M-hard")}
    beats = None if None in ps.values() else all(p < 0.01 for p in ps.values())
    later = {b: (_stats(summary, b, DEFAULT, "300") or {}).get("mann_whitney_p_vs_random") for b in ps}
    rows.append(("TPE (the default) beats random search at p < 0.01 on both benchmarks, 100 trials",
                 ", ".join(f"{BENCH_WORDS[b]}: p = {_p(p)}" for b, p in ps.items())
                 + " (at 300 trials: " + ", ".join(f"p = {_p(p)}" for p in later.values()) + ")", goal(beats)))
    stats = _stats(summary, "nbm-50M", DEFAULT, "100")
    median = stats["regret_quartiles"][1] if stats else None
    rows.append(("NAS-Bench-Macro <= 50M, 100 trials: median regret of the default find-base <= 0.3 points",
                 f"{median:.2f} points over {stats['runs']} seeds" if stats else "-",
                 goal(None if median is None else median <= 0.3)))
    stats = _stats(summary, "anb-400M-hard", DEFAULT, "300")
    share = stats["p_within_0.3_of_b0_or_above"] if stats else None
    rows.append(("Accel-NASBench <= 400M, 300 trials: >= 80% of seeds within 0.3 points of B0's surrogate accuracy "
                 "or above (the search finds a B0)",
                 f"{share:.0%} of {stats['runs']} seeds (found minus B0, quartiles: "
                 + ", ".join(f"{v:+.2f}" for v in stats["vs_b0_quartiles"]) + " points)" if stats else "-",
                 goal(None if share is None else share >= 0.8)))
    lines = [table(["goal", "measured", ""], rows), ""]
    if beats is False:
        lines += [_what_would_change(summary, ps, later), ""]
    return lines


def _what_would_change(summary: dict, at_100: dict, at_300: dict) -> str:
    """Why TPE's lead over random search misses p < 0.01 at 100 trials, from the same runs."""
    parts = []
    random_300 = _stats(summary, "nbm-50M", "random/penalty", "300")
    seeds = _stats(summary, "nbm-50M", DEFAULT, "100")["runs"]
    if at_100["nbm-50M"] >= 0.01 and random_300 and random_300["regret_quartiles"][1] == 0:
        parts.append("on NAS-Bench-Macro <= 50M random search itself returns the best network by 300 trials (median "
                     f"regret {random_300['regret_quartiles'][1]:.2f}), so the two can differ only at small budgets, "
                     f"where {seeds} seeds give p = {_p(at_100['nbm-50M'])}")
    if at_100["anb-400M-hard"] >= 0.01 and at_300["anb-400M-hard"] is not None and at_300["anb-400M-hard"] < 0.01:
        parts.append("on Accel-NASBench <= 400M the default draws ahead only after 100 trials "
                     f"(p = {_p(at_300['anb-400M-hard'])} at 300)")
    text = "What would change the first no: " + ("; ".join(parts) + ". " if parts else "")
    return text + "More seeds at 100 trials would tell whether the differences there are real or noise."


def headline() -> tuple[str, str, str]:
    summary = load("search_ground_truth")["summary"]
    cells, seeds = [], set()
    for bench, budget in (("nbm-50M", "100"), ("anb-400M-hard", "300")):
        tpe, rnd = _stats(summary, bench, DEFAULT, budget), _stats(summary, bench, "random/penalty", budget)
        if tpe and rnd:
            cells.append(f"{BENCH_WORDS[bench].replace(',', '')}, {budget} networks: "
                         f"{tpe['regret_quartiles'][1]:.2f} vs {rnd['regret_quartiles'][1]:.2f}")
            seeds |= {tpe["runs"], rnd["runs"]}
    figure_text = "; ".join(cells) + (f" ({seeds.pop()} seeds each)" if len(seeds) == 1 else "")
    return ("Median regret of find-base's default search (TPE) against random search, on public NAS benchmarks "
            "(points below the best network there is)", figure_text or "not measured", PAGE)
