"""Results about the search: find-base judged on ground truth (public NAS benchmarks), the three ways it
scores a candidate (zero-cost scores, the training proxy, a weight-sharing supernet), and find-base with
training at CPU scale. Five pages; every number on them comes from benchmarks/results/*.json."""

from __future__ import annotations

import ast
import math
import re

from zero_cost_vs_trained import fisher_interval

from pages.common import ROOT, exists, figure, goal, load, machine, pct, source, table
from scalesearch.search.space import load_space
from scalesearch.train.zero_cost import DEFAULT_METRIC

BENCH_WORDS = {"nbm-50M": "NAS-Bench-Macro, <= 50M MACs", "nbm-70M": "NAS-Bench-Macro, <= 70M MACs",
               "anb-400M-hard": "Accel-NASBench, <= 400M MACs", "anb-400M-soft": "Accel-NASBench, soft w = -0.07"}
DEFAULT = "tpe/penalty"
ZERO_COST_SCORES = ("macs", "params", "naswot", "synflow", "zen", "zico")
#: benchmarks/proxy_fidelity.py's goal (its docstring): the proxy ranks as the longer schedule does.
PROXY_FIDELITY_GOAL = 0.8
DATA_WORDS = {"cifar10": "CIFAR-10 subset", "fashion-mnist": "Fashion-MNIST"}
KNOWN_NETWORKS = {"efficientnet-b0": "EfficientNet-B0", "mobilenet-v2": "MobileNetV2", "resnet18": "ResNet-18",
                  "mnasnet-a1": "MnasNet-A1"}
# an absolute path of the machine a script's docstring was written on (tests/test_portable_results.py's rule)
_MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root|home|Users|mnt|scratch|usr|opt|var|srv|data|private)/"
                           r"""[^\s"'`,;)\]]*""")


# --- what every page of this topic shares ----------------------------------------------------------------------

def usage(*scripts: str) -> str:
    """The benchmark scripts' own usage lines (their docstrings' ``Run`` and ``GPU-sized`` commands), as one
    bash block, so that a page never restates a command its script has changed."""
    commands: list[list[str]] = []
    for script in scripts:
        doc = ast.get_docstring(ast.parse((ROOT / "benchmarks" / f"{script}.py").read_text())) or ""
        inside = False
        for line in doc.splitlines():
            head = re.match(r"(Run|GPU-sized)\b[^:]*:\s*(.*)$", line)
            text = _MACHINE_PATH.sub("PATH", (head.group(2) if head else line).strip())
            if head:
                inside = not text or text.startswith("python")
                if text.startswith("python"):
                    commands.append([text])
            elif inside and line.startswith(" ") and text:
                if text.startswith("python"):
                    commands.append([text])
                elif commands:
                    commands[-1].append(text)
            else:
                inside = False
    return "```bash\n" + "\n".join(" \\\n    ".join(parts) for parts in commands) + "\n```"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1e}" if value < 0.001 else f"{value:.3f}"


def _seeds(count: int) -> str:
    return f"{count} seed" if count == 1 else f"{count} seeds"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)


def _network(name: str) -> str:
    return KNOWN_NETWORKS.get(name) or f"candidate {name.removeprefix('mnasnet-')}"


# --- search-ground-truth.md ----------------------------------------------------------------------------------

def ground_truth_page() -> str:
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
        usage("benchmark_macs", "fit_surrogate", "search_ground_truth"), "",
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
                f"{BENCH_WORDS.get(b, b)} to {n} trials ({_seeds(summary[b]['groups']['gp/penalty']['seeds'])})"
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


# --- zero-cost.md --------------------------------------------------------------------------------------------

def zero_cost_page() -> str:
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
        usage("zero_cost_ground_truth", "zero_cost_vs_trained"), ""]
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
    words = lambda names: _and([f"`{n}`" if n not in _SCORE_WORDS else _SCORE_WORDS[n] for n in names])  # noqa: E731
    best, params = doc["best_data_free"], doc["mean_spearman"]["params"]
    records = settings["data"]
    data = "; ".join(f"{DATA_WORDS.get(d, d)}: {records[d]['train_images']:,} training and "
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
        table(["score", *(DATA_WORDS.get(d, d) for d in sets), "mean", "with block count"], rows,
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
    names = {"naswot_data": "naswot on real images", "naswot_noise": "naswot on noise", "synflow": "`synflow`",
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
        table(["score", "Spearman"], [(names.get(k, k), f"{v:.2f}") for k, v in doc["spearman"].items()], "lr"), "",
        f"Seed noise at that budget, {len(seeded)} candidates each trained with {len(seeded[0])} seeds: {noise}. "
        "One noisy run per candidate bounds what any score can show.", ""]


# --- proxy.md ------------------------------------------------------------------------------------------------

def proxy_page() -> str:
    truth, fidelity = load("proxy_ground_truth"), load("proxy_fidelity")
    proxy = fidelity["settings"]["proxy"]
    lines = [
        "# The training proxy", "",
        f"With `--data`, find-base trains each candidate briefly with the `{proxy['name']}` recipe "
        f"({proxy['epochs']} epochs at {proxy['resolution']} px, each residual block starting as the identity) and "
        "ranks candidates by that accuracy. A proxy is worth what its ranking is worth: here it is ranked against "
        "full training (NAS-Bench-Macro's ground truth) and against a longer schedule at a higher resolution.", "",
        usage("proxy_ground_truth", "proxy_fidelity"), ""]
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
                 [(_network(r["model"]), f"{r['macs_224px'] / 1e6:,.0f}M", cell(r, "proxy_top1"),
                   cell(r, "reference_top1")) for r in rows], "lrrr")


def _fidelity_section(doc: dict) -> list[str]:
    settings, rows = doc["settings"], doc["rows"]
    proxy, reference = settings["proxy"], settings["reference"]
    low, high = settings["candidate_window_macs_224px"]
    candidates = [m for m in rows if m not in KNOWN_NETWORKS]
    spearman, n = doc["spearman"], len(rows)
    interval = fisher_interval(spearman, n)
    lines = [
        "## Against a longer schedule", "", f"Machine: {machine(doc)}.", "",
        f"{n} networks trained on {settings['train_images']:,} images of the CIFAR-10 subset (validated on "
        f"{settings['val_images']:,} held-out images, {_seeds(settings['seeds'])} each; the file records the image "
        f"counts, not the data set) twice: with `{proxy['name']}` ({proxy['epochs']} epochs at {proxy['resolution']} "
        f"px) and with a reference {reference['epochs'] / proxy['epochs']:.0f}x as long at {reference['resolution']} "
        f"px ({reference['epochs']} epochs, {reference['warmup_epochs']} warm-up), "
        f"{sum(r['wall_s'] for r in rows.values()) / 60:.0f} min of training in all. The networks: "
        + ", ".join(_network(m) for m in rows if m in KNOWN_NETWORKS)
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
        f"{_network(m)} ({_ordinal(reference_rank[m])} under the reference, {_ordinal(proxy_rank[m])} under the "
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


# --- supernet.md ---------------------------------------------------------------------------------------------

def supernet_page() -> str:
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
        usage("supernet_vs_ground_truth", "supernet_costs", "supernet_mnasnet"), ""]
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


# --- search-quality.md ---------------------------------------------------------------------------------------

def search_quality_page() -> str:
    lines = [
        "# find-base with training, at CPU scale", "",
        "Does find-base, training its candidates, find a better base than EfficientNet-B0, and does TPE beat "
        "random search? Judged here the direct way: each search's winner, with the hand-designed networks, trained "
        "again with a longer reference schedule. At CPU scale that cannot say much; [search against ground truth]"
        "(search-ground-truth.md) judges the search where ground truth exists.", "",
        usage("search_quality", "find_base_default"), ""]
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
        + " and ".join(f"{DATA_WORDS.get(d, d)} ({settings['data'][d]['train_images']:,} training images, digest "
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
            winner = "EfficientNet-B0" if s["is_b0"] else _network(s["winner"])
            rows.append((DATA_WORDS.get(d, d), f"{sampler} {seed}", winner, f"{s['macs'] / 1e6:.1f}M",
                         f"{100 * s['reference_mean']:.1f} +- {100 * s['reference_std']:.1f}",
                         f"{s['vs_b0_points']:+.1f}", f"{100 * s['finalist_margin_vs_base']:+.1f}",
                         f"{s['trial_s']:.0f} s"))
    lines += [table(["data", "sampler, seed", "winner", "MACs", "reference top-1 %", "vs B0", "finalist margin",
                     "trials' time"], rows, "lllrrrrr"), "",
              "*vs B0*: points against EfficientNet-B0 under the reference; *finalist margin*: the winner's margin "
              "over B0 in the search's own finalist stage, in points; *trials' time*: the trials' summed duration.",
              ""]
    known = [n for n in KNOWN_NETWORKS if all(n in summary[d]["reference"] for d in sets)]
    rows = [(DATA_WORDS.get(d, d), *(f"{summary[d]['reference'][n]['mean']:.1%} +- "
                                     f"{summary[d]['reference'][n]['std']:.1%}" for n in known)) for d in sets]
    lines += ["The hand-designed networks under the same reference:", "",
              table(["data", *(KNOWN_NETWORKS[n] for n in known)], rows, "l" + "r" * len(known)), ""]
    clauses = {"tpe_not_b0_within_400m": "every TPE search returns a network other than B0 within the limit",
               "tpe_beats_b0_by_1_point": "TPE's winners beat B0 by >= 1 point under the reference (mean over seeds)",
               "tpe_at_least_random": "TPE's winners at least as good as random search's"}
    rows = [(words, *(goal(summary[d]["goal"].get(key)) for d in sets)) for key, words in clauses.items()]
    rows.append(("all three", *(goal(summary[d]["goal_met"]) for d in sets)))
    lines += ["Goals, per data set:", "", table(["goal", *(DATA_WORDS.get(d, d) for d in sets)], rows), ""]
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


# --- headlines -----------------------------------------------------------------------------------------------

def _search_headline() -> tuple[str, str, str]:
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
            "(points below the best network there is)", figure_text or "not measured", "search-ground-truth.md")


def _supernet_headline() -> tuple[str, str, str]:
    doc = load("supernet_mnasnet")
    summary, settings = doc["summary"], doc["settings"]
    best, base = summary.get("best_found"), summary.get("base")
    figure_text = "not measured"
    if best and base and summary.get("complete"):
        figure_text = (f"{summary['best_found_minus_base']:+.1f} points top-1 ({best['mean']:.1f}% against "
                       f"{base['mean']:.1f}%, {summary['seeds']} seeds each) at {best['macs'] / base['macs']:.2f}x "
                       f"B0's MACs; {summary['epochs']} epochs on {settings['data']['train_images']:,} CIFAR-10 images")
    return ("Supernet-driven find-base in MnasNet's space (CPU-sized) against EfficientNet-B0, both trained "
            "stand-alone", figure_text, "supernet.md")


PAGES = {
    "search-ground-truth.md": ground_truth_page,
    "zero-cost.md": zero_cost_page,
    "proxy.md": proxy_page,
    "supernet.md": supernet_page,
    "search-quality.md": search_quality_page,
}
HEADLINES = [_search_headline, _supernet_headline]
