"""latency-protocols.md, from latency_agreement*.json and latency_repeat_t1*.json: does latency repeat?"""

from __future__ import annotations

import inspect
import itertools
import statistics
from typing import Any

import latency_agreement

from pages.common import bash, goal, load, measured_on, network_name, pct, source, span, table, threshold
from scalesearch.measure.latency import WINDOWS
from scalesearch.measure.timing import repeat_until_stable

PAGE = "latency-protocols.md"
#: The statistics each agreement run timed, as (row label, threads, key in runs 1-3, key in run 4).
_AGREEMENT_ROWS = (
    ("settle: a fresh session per network, calls until the median settles (`bench`'s protocol until "
     "windows)", 2, "today (median)", "settle, 2 threads"),
    ("one session per network kept, 6 windows taking turns: median of all calls", 2, "windows: median", None),
    ("the same, lowest window median", 2, "windows: lowest window median", None),
    ("windows (`bench` now: 3 windows taking turns, lowest window median)", 2, None, "windows, 2 threads"),
    ("settle", 1, "one thread (median)", "settle, 1 thread"),
    ("windows (declared before run 2)", 1, "one thread: lowest of 3 window medians", "windows, 1 thread"),
)
_AGREEMENT_RUNS = ("latency_agreement_run1", "latency_agreement_run2", "latency_agreement_run3", "latency_agreement")


def _pairs(document: dict[str, Any], key: str) -> tuple[int, int]:
    """(network, pair of passes) within tolerance, and how many there are, for statistic ``key``."""
    passes = document["passes"]
    total = len(passes[0]) * len(list(itertools.combinations(passes, 2)))
    return round(latency_agreement.agreement(passes, key) * total), total


def render() -> str:
    runs = [load(name) for name in _AGREEMENT_RUNS]
    run4 = runs[-1]
    repeat = {"windows": load("latency_repeat_t1"), "settle": load("latency_repeat_t1_settle")}
    goal_share = threshold(run4["goal"])
    settle = inspect.signature(repeat_until_stable).parameters
    rows = []
    for label, threads, old, new in _AGREEMENT_ROWS:
        cells = [pct(run["agreement"].get(key), 0) if key else "-"
                 for run, key in zip(runs, (old,) * (len(runs) - 1) + (new,))]
        rows.append([label, threads, *cells])
    rows.append(["other processes, cores busy", "", *(f"{r['interference']['other_processes_cores_busy']:.3f}"
                                                      for r in runs)])
    keys = [{row: (old if i < len(runs) - 1 else new) for row, (_, _, old, new) in enumerate(_AGREEMENT_ROWS)}
            for i in range(len(runs))]
    # The one-thread windows protocol (row 5) and settle (row 4), over every run that had them.
    hits = [_pairs(run, k[5]) for run, k in zip(runs, keys) if k[5] in run["agreement"]]
    settle_one = [run["agreement"][k[4]] for run, k in zip(runs, keys)]
    two_thread_met = [sum(run["agreement"][k[row]] >= goal_share for run, k in zip(runs, keys)
                          if k[row] in run["agreement"]) for row, entry in enumerate(_AGREEMENT_ROWS) if entry[1] == 2]
    b0 = "efficientnet-b0"
    b0_two = [p[b0]["windows, 2 threads"] for p in run4["passes"]]
    b0_one = [p[b0]["windows, 1 thread"] for p in run4["passes"]]
    resnet_one = [p["resnet18"]["windows, 1 thread"] for p in run4["passes"]]
    one_over_two = [statistics.median(p[n]["windows, 1 thread"] for p in run4["passes"])
                    / min(p[n]["windows, 2 threads"] for p in run4["passes"]) for n in run4["passes"][0]]
    repeat_rows = [[protocol, d["summary"]["threads"], network_name(d["summary"]["model"]),
                    len(d["summary"]["medians_ms"]), span(d["summary"]["medians_ms"], 1, " ms"),
                    pct(d["summary"]["cv_of_medians"]),
                    goal(d["summary"]["goal_met"]), f"{d['interference']['other_processes_cores_busy']:.3f}"]
                   for protocol, d in repeat.items()]
    lines = [
        "# Latency protocols: does a measurement repeat?",
        "",
        "A latency target is only as good as the measurement behind it: if the same network, timed twice "
        "minutes apart, gives figures far apart, a search that keeps candidates under a target keeps the lucky "
        "ones. These benchmarks ask how well CPU latency repeats on a shared machine, under the two protocols "
        "`scalesearch bench --protocol` offers:",
        "",
        f"- **windows** (the default): every network is prepared first (exported, compiled), then the networks "
        f"take turns: {WINDOWS} windows, each 1/{WINDOWS} of the budget (after a short warm-up, and one "
        f"untimed call per turn), and each keeps the window with the lowest median. A busy spell of a shared "
        f"machine then costs a window, not the figure, and hits every network alike.",
        f"- **settle**: one network after another, calls until the running median moves by less than "
        f"{settle['rel_tol'].default:.0%} over two chunks of {settle['chunk'].default} calls and at least "
        f"{settle['min_time_fraction'].default:.0%} of the budget has been spent timing, or the whole budget is "
        f"spent.",
        "",
        "## Two measurements minutes apart",
        "",
        *bash("python benchmarks/latency_agreement.py --gap 45"),
        "",
        f"{len(run4['networks'])} networks ({', '.join(network_name(n) for n in run4['networks'])}), batch 1, "
        f"onnxruntime, {len(run4['passes'])} passes {run4['gap_s']:g} s apart, {run4['budget_s']:g} s per network "
        f"and protocol. Agreement is the share of (network, pair of passes) whose two figures lie within "
        f"+-{run4['tolerance']:.0%} of their mean. Run 4 (`latency_agreement.json`) timed the library's own "
        f"protocols as `bench` runs them; runs 1-3, the same day, timed candidate protocols with the benchmark's "
        f"own loops, before the library had them.",
        "",
        measured_on(run4, "run 4"),
        "",
        table(["protocol", "threads", "run 1", "run 2", "run 3", "run 4"], rows, "lrrrrr"),
        "",
        f"Goal ({run4['goal']}): met by the windows protocol at one thread in all {len(hits)} runs it had "
        f"({sum(h for h, _ in hits)} of {sum(t for _, t in hits)} pairs), by settle at one thread in "
        f"{sum(a >= goal_share for a in settle_one)} runs of {len(settle_one)}, and by no two-thread statistic "
        f"in more than {max(two_thread_met)} run{'' if max(two_thread_met) == 1 else 's'}.",
        "",
        "Why two threads do not repeat: at two threads a network's figure sits at one of two levels, the slower "
        f"one close to the one-thread figure. In run 4, B0 under windows at two threads measured "
        f"{', '.join(f'{v:.2f}' for v in b0_two)} ms in its {len(b0_two)} passes, and at one thread "
        f"{span(b0_one)} ms; as if the second thread sometimes shares a vCPU with the first, for minutes at a "
        "time. No statistic of one measurement can say which level a user will get. One thread has one level, "
        f"and its slow spells are short enough for the lowest of {WINDOWS} spread windows to step over them "
        f"(ResNet-18: {span(resnet_one)} ms over the {len(resnet_one)} passes of run 4).",
        "",
        "So `bench` measures under the windows protocol by default, and on a machine like this one "
        "`--threads 1` is the figure that repeats. It is a different figure: single-thread latency, here "
        f"{span(one_over_two)}x the faster two-thread level (run 4, each network's median one-thread figure over "
        "its fastest two-thread pass). What would make two threads repeat is a machine whose cores stay put, not "
        "a statistic.",
        "",
        "## The same network in separate processes",
        "",
        *bash("python benchmarks/latency_repeat.py [--protocol windows|settle]"),
        "",
        "One network timed by `scalesearch bench` in separate processes, one after another, at one thread; the "
        "coefficient of variation (CV) of their medians:",
        "",
        measured_on(repeat["windows"]),
        "",
        table(["protocol", "threads", "network", "processes", "medians", "CV of medians", "goal",
               "other processes, cores busy"], repeat_rows, "lrlrrrll"),
        "",
        f"Goal ({repeat['windows']['summary']['goal']}): "
        + " and ".join(f"{goal(d['summary']['goal_met'])} under {p}" for p, d in repeat.items())
        + ". Both runs were taken one after the other on a quiet machine. An earlier settle run "
        "(`latency_repeat_t1.json` at commit eccd631, in git history) did not meet it: that day's machine was "
        "slower and less steady, which no protocol undoes.",
        "",
        source(*_AGREEMENT_RUNS, "latency_repeat_t1", "latency_repeat_t1_settle"),
        "",
    ]
    return "\n".join(lines)
