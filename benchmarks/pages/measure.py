"""Results about measurement: counting MACs, timing networks on CPU runtimes and a GPU, predicting
latency from a table of components, and how fast training and the search run.

Eight pages, one per question a reader brings (the slugs are linked from elsewhere; keep them). Every
number is read from benchmarks/results/*.json (torchvision's published figures too: flops_counting.py
records them from torchvision's weights metadata).
"""

from __future__ import annotations

import inspect
import itertools
import re
import statistics
from typing import Any

import latency_agreement

from pages.common import exists, figure, goal, load, machine, millions, num, pct, source, table
from scalesearch.measure.latency import WINDOWS
from scalesearch.measure.timing import repeat_until_stable

# ---------------------------------------------------------------------------------------------
# Shared by the pages of this topic (candidates for common.py).


def _measured_on(document: dict[str, Any], what: str = "") -> str:
    """The machine line, with the whole interference record (or that the script keeps none); ``what``
    names the run when a page has several."""
    line = machine(document)
    interference = document.get("interference")
    if isinstance(interference, dict) and "steal_s" in interference:
        line += (f", and the hypervisor stole {interference['steal_s']:.1f} s of the run's "
                 f"{interference['wall_s']:,.0f} s")
    elif not interference:
        line += ("; interference: not recorded (this script keeps no record of what else the machine ran, "
                 "so a slow spell cannot be told apart)")
    return f"Measured on{f' ({what})' if what else ''}: {line}."


def _label(name: str) -> str:
    """A network's name as a reader knows it (``efficientnet-b0-official-phi3`` -> EfficientNet-B3)."""
    official = re.fullmatch(r"efficientnet-b0-official-phi(\d)", name)
    if official:
        return f"EfficientNet-B{official[1]}"
    resnet = re.fullmatch(r"resnet(\d+)", name)
    if resnet:
        return f"ResNet-{resnet[1]}"
    known = {"efficientnet-b0": "EfficientNet-B0", "efficientnet-b1": "EfficientNet-B1", "b0": "EfficientNet-B0",
             "mobilenet-v1": "MobileNetV1", "mobilenet-v2": "MobileNetV2", "mnasnet-a1": "MnasNet-A1"}
    return known.get(name, f"`{name}`")


def _span(values: list[float], digits: int = 1, unit: str = "") -> str:
    """The range of some values, ``low-high`` (one value when they round alike)."""
    low, high = f"{min(values):,.{digits}f}", f"{max(values):,.{digits}f}"
    return f"{low}{unit}" if low == high else f"{low}-{high}{unit}"


def _pct_span(fractions: list[float]) -> str:
    """The range of some shares, ``68-72%``."""
    low, high = f"{min(fractions):.0%}", f"{max(fractions):.0%}"
    return low if low == high else f"{low.removesuffix('%')}-{high}"


def _command(*lines: str) -> str:
    return "\n".join(["```bash", *lines, "```"])


def _threshold(goal_text: str) -> float:
    """The number a goal's text compares with (``">= 0.90 of ..."`` -> 0.9), so it is never typed twice."""
    return float(re.search(r"[<>]=\s*([0-9.]+)", goal_text)[1])


# ---------------------------------------------------------------------------------------------
# flops-counting.md


def _against_published(model: dict[str, Any]) -> tuple[bool | None, str]:
    """Whether a counted network equals torchvision's published figure (None: not comparable), and the cell."""
    published = model.get("torchvision_published")
    if published is None:
        return None, "-"
    if published["crop_px"] != model["resolution"]:
        return None, f"{published['gmacs']:.3f} at {published['crop_px']} px"
    same = (round(model["analytic_macs"] / 1e9, 3) == published["gmacs"]
            and model["analytic_params"] == published["params"])
    return same, f"{published['gmacs']:.3f}, {'equal' if same else 'differs'}"


def flops_page() -> str:
    document = load("flops_counting")
    summary, models = document["summary"], document["models"]
    rows, compared, agreed = [], 0, 0
    for m in models:
        same, shown = _against_published(m)
        if same is not None:
            compared, agreed = compared + 1, agreed + same
        traced = ("equal" if (m["fvcore_macs"], m["fvcore_params"]) == (m["analytic_macs"], m["analytic_params"])
                  else f"{millions(m['fvcore_macs'])}, {m['fvcore_params'] / 1e6:.2f}M params")
        rows.append([_label(m["model"]), m["resolution"], millions(m["analytic_macs"]),
                     f"{m['analytic_params'] / 1e6:.2f}M", traced, shown,
                     f"{m['analytic_ms']:.3f}", f"{m['fvcore_ms']:,.0f}", f"{m['speedup']:,.0f}x"])
    exact = sum(m["analytic_macs"] == m["fvcore_macs"] and m["analytic_params"] == m["fvcore_params"] for m in models)
    speedups = [m["speedup"] for m in models]
    fastest_fvcore = min(models, key=lambda m: m["fvcore_ms"])
    slowest_fvcore = max(models, key=lambda m: m["fvcore_ms"])
    with_build = [m["speedup_incl_build"] for m in models]
    scaled = [m["model"] for m in models if "-official-phi" in m["model"]]
    lines = [
        "# FLOPs counting: analytic against fvcore",
        "",
        "Every search step that checks a FLOPs target counts multiply-adds (MACs), many times over in one "
        "search, so the count must be right and cheap. scalesearch has two counters:",
        "",
        "- **analytic** (the default): walks the architecture spec block by block; no model is built.",
        "- **fvcore**: fvcore's `FlopCountAnalysis` on the built PyTorch model, keeping only its convolution, "
        "linear and matrix-product operators.",
        "",
        "Both count every convolution (the squeeze-excite 1x1 convolutions included) and the classifier, at batch "
        "size 1. Neither counts batch norm, activations, pooling, residual additions or the squeeze-excite gating "
        "multiply: that is how the EfficientNet paper counts B0 and how torchvision counts the figures it "
        "publishes with its weights. Parameters are trainable tensors only. Beyond the networks below, "
        "`tests/test_flops.py` checks that the two counters agree exactly on random specs covering every block "
        "kind, and that the analytic count equals torchvision's published figures.",
        "",
        _command("python benchmarks/flops_counting.py"),
        "",
        _measured_on(document) + f" Counted with fvcore {document['machine'].get('fvcore', '?')}.",
        "",
        "## Agreement and speed",
        "",
        f"The networks are every built-in base and {_label(scaled[0])} to {_label(scaled[-1])} scaled from B0 "
        "with the official preset, each at its own resolution. *torchvision* is the figure torchvision publishes "
        "with the network's ImageNet weights (G multiply-adds, as torchvision rounds them; recorded from "
        "torchvision's weights metadata by the benchmark), compared where "
        "torchvision's weights use the same resolution. *MACs* and *params* are the analytic counter's; *equal* "
        "means fvcore's (or torchvision's, rounded as it rounds) MACs and parameter counts are the same.",
        "",
        table(["network", "px", "MACs", "params", "fvcore", "torchvision (G)", "analytic ms", "fvcore ms",
               "speed-up"], rows, "lrrrllrrr"),
        "",
        f"The two counters give the same MACs and parameters on {exact} of {len(models)} networks (largest "
        f"deviation of the ratio from 1: {summary['max_abs_macs_deviation']:g}). torchvision's published figure "
        f"is met on {agreed} of the {compared} networks it publishes at the same resolution.",
        "",
        f"The analytic count takes {_span([m['analytic_ms'] for m in models], 2)} ms per network; fvcore takes "
        f"{fastest_fvcore['fvcore_ms']:,.0f} ms ({_label(fastest_fvcore['model'])}) to "
        f"{slowest_fvcore['fvcore_ms'] / 1e3:,.1f} s ({_label(slowest_fvcore['model'])} at "
        f"{slowest_fvcore['resolution']} px) on a model already built, so the analytic counter is "
        f"{min(speedups):,.0f}x to {max(speedups):,.0f}x faster ({min(with_build):,.0f}x to "
        f"{max(with_build):,.0f}x counting the model's construction, which fvcore needs and the analytic "
        f"counter does not).",
        "",
        f"Goal ({summary['goal']}): {goal(summary['goal_met'])}.",
        "",
        source("flops_counting"),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# latency-cpu-backends.md

_RUNTIMES = (("torch", "torch eager"), ("onnxruntime", "onnxruntime"), ("openvino", "OpenVINO"))


def cpu_backends_page() -> str:
    document = load("cpu_backends")
    rows = document["rows"]
    versions = document["versions"]
    table_rows = []
    for name, row in rows.items():
        median = row["median_ms"]
        table_rows.append([_label(name), row["resolution"], *(num(median[r], 1) for r, _ in _RUNTIMES),
                           f"{row['ratio_median']['onnxruntime / openvino']:.2f}",
                           f"{row['ratio_median']['torch / onnxruntime']:.2f}",
                           dict(_RUNTIMES)[row["fastest"]]])
    ov_wins = [n for n, r in rows.items() if r["fastest"] == "openvino"]
    margin = {n: rows[n]["ratio_median"]["onnxruntime / openvino"] - 1 for n in ov_wins}
    torch_ratio = [r["ratio_median"]["torch / onnxruntime"] for r in rows.values()]
    largest_difference = max(d for r in rows.values() for d in r["max_difference"].values())
    lines = [
        "# CPU runtimes side by side: torch, onnxruntime and OpenVINO",
        "",
        "`scalesearch bench` (and every latency the search uses) can time a network on three CPU runtimes: "
        "torch in eager mode, onnxruntime (the default) and OpenVINO Runtime (`--backend openvino`, with "
        "`pip install 'scalesearch[openvino]'`). This benchmark times the same networks on all three, so that "
        "a reader can see what choosing one costs.",
        "",
        "Every network is built once, exported once to ONNX and compiled once per runtime (onnxruntime: "
        "sequential execution, all graph optimisations; OpenVINO: LATENCY hint, one stream, fp32; torch: eager, "
        "inference mode). Then, round after round, every (network, runtime) pair is timed for one window of calls "
        "in turn, so that a busy spell of the machine hits every runtime alike. A figure is the median over "
        "rounds of each window's median; a ratio is taken within each round, then its median over rounds.",
        "",
        _command("python benchmarks/cpu_backends.py [--rounds 5] [--window 1.0] [--threads 2]"),
        "",
        _measured_on(document) + " Runtimes: " + ", ".join(f"{label} {versions[key]}" for key, label in _RUNTIMES)
        + f"; {document['threads']} threads, batch {document['batch']}, {document['rounds']} rounds of "
        f"{document['window_s']:g} s windows.",
        "",
        "Median latency in ms, and the per-round ratios:",
        "",
        table(["network", "px", *(label for _, label in _RUNTIMES), "onnxruntime / OpenVINO",
               "torch / onnxruntime", "fastest"], table_rows, "lrrrrrrl"),
        "",
        f"OpenVINO was the fastest runtime for {len(ov_wins)} of {len(rows)} networks"
        + (f", by {min(margin.values()):.0%} ({_label(min(margin, key=margin.get))}) to "
           f"{max(margin.values()):.0%} ({_label(max(margin, key=margin.get))}) over onnxruntime" if ov_wins else "")
        + f"; torch eager took {_span(torch_ratio)}x onnxruntime's time. On one input, the three runtimes' outputs "
        f"differ by at most {largest_difference:.1e} of the largest logit.",
        "",
        f"Which runtime wins moves with the machine and its load: this is one run on one shared VM with "
        f"{document['machine']['usable_cores']} vCPUs. That is why the search measures latency on the runtime a "
        "deployment ships (`find-base --latency ... --backend`, "
        "`latency-table build --backend`), not on a proxy for it.",
        "",
        source("cpu_backends"),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# latency-protocols.md

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


def protocols_page() -> str:
    runs = [load(name) for name in _AGREEMENT_RUNS]
    run4 = runs[-1]
    repeat = {"windows": load("latency_repeat_t1"), "settle": load("latency_repeat_t1_settle")}
    goal_share = _threshold(run4["goal"])
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
    repeat_rows = [[protocol, d["summary"]["threads"], _label(d["summary"]["model"]), len(d["summary"]["medians_ms"]),
                    _span(d["summary"]["medians_ms"], 1, " ms"), pct(d["summary"]["cv_of_medians"]),
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
        _command("python benchmarks/latency_agreement.py --gap 45"),
        "",
        f"{len(run4['networks'])} networks ({', '.join(_label(n) for n in run4['networks'])}), batch 1, "
        f"onnxruntime, {len(run4['passes'])} passes {run4['gap_s']:g} s apart, {run4['budget_s']:g} s per network "
        f"and protocol. Agreement is the share of (network, pair of passes) whose two figures lie within "
        f"+-{run4['tolerance']:.0%} of their mean. Run 4 (`latency_agreement.json`) timed the library's own "
        f"protocols as `bench` runs them; runs 1-3, the same day, timed candidate protocols with the benchmark's "
        f"own loops, before the library had them.",
        "",
        _measured_on(run4, "run 4"),
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
        f"{_span(b0_one)} ms; as if the second thread sometimes shares a vCPU with the first, for minutes at a "
        "time. No statistic of one measurement can say which level a user will get. One thread has one level, "
        f"and its slow spells are short enough for the lowest of {WINDOWS} spread windows to step over them "
        f"(ResNet-18: {_span(resnet_one)} ms over the {len(resnet_one)} passes of run 4).",
        "",
        "So `bench` measures under the windows protocol by default, and on a machine like this one "
        "`--threads 1` is the figure that repeats. It is a different figure: single-thread latency, here "
        f"{_span(one_over_two)}x the faster two-thread level (run 4, each network's median one-thread figure over "
        "its fastest two-thread pass). What would make two threads repeat is a machine whose cores stay put, not "
        "a statistic.",
        "",
        "## The same network in separate processes",
        "",
        _command("python benchmarks/latency_repeat.py [--protocol windows|settle]"),
        "",
        "One network timed by `scalesearch bench` in separate processes, one after another, at one thread; the "
        "coefficient of variation (CV) of their medians:",
        "",
        _measured_on(repeat["windows"]),
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


# ---------------------------------------------------------------------------------------------
# latency-vs-torchvision.md


def vs_torchvision_page() -> str:
    document = load("latency_vs_torchvision")
    summary, rounds = document["summary"], document["rounds"]
    ratios = [r["ratio"] for r in rounds]
    later = load("latency_repeat_t1")["summary"]
    later_ms = statistics.median(later["medians_ms"])
    rows = [[i, f"{r['ours_ms']:.2f}", f"{r['torchvision_ms']:.2f}", f"{r['ratio']:.3f}"]
            for i, r in enumerate(rounds, 1)]
    lines = [
        "# Our EfficientNet-B0 against torchvision's",
        "",
        "scalesearch builds its networks from spec files. Does that cost speed? This benchmark builds our "
        "EfficientNet-B0, loads torchvision's B0 weights into it (same weights: only the graph can differ), and "
        "times both through onnxruntime on the CPU, round by round, so that a drift in the machine's speed hits "
        "both alike.",
        "",
        _command("python benchmarks/latency_vs_torchvision.py [--rounds 10] [--threads 1]"),
        "",
        _measured_on(document) + f" {summary['threads']} thread{'s' if summary['threads'] > 1 else ''}, batch 1.",
        "",
        table(["round", "ours ms", "torchvision ms", "ours / torchvision"], rows, "rrrr"),
        "",
        f"Median over {summary['rounds']} rounds of ours / torchvision: {summary['median_ratio']:.3f} (medians "
        f"{summary['ours_median_ms']:.2f} ms against {summary['torchvision_median_ms']:.2f} ms). Goal "
        f"({summary['goal']}): {goal(summary['goal_met'])}.",
        "",
        f"Read the verdict with the rounds beside it: single rounds range from {min(ratios):.2f} to "
        f"{max(ratios):.2f}, so the median's margin to the goal is well inside the noise of this run; it says the "
        f"two graphs run at about the same speed, not that ours is within a precise percentage. Other processes "
        f"kept only {document['interference']['other_processes_cores_busy']:.3f} cores busy, but the machine "
        f"itself was slower and less steady that day: B0's median here, {summary['ours_median_ms']:.1f} ms, is "
        f"{summary['ours_median_ms'] / later_ms:.1f}x its median at {later['threads']} thread in a later repeat "
        f"run ({later_ms:.1f} ms, CV of {len(later['medians_ms'])} processes' medians {later['cv_of_medians']:.1%}; "
        f"see [latency protocols](latency-protocols.md)). That run also "
        f"timed torchvision first in every round; the script now alternates the order from round to round and "
        f"has not been re-run since. A re-run on a day like the later one would narrow the verdict.",
        "",
        source("latency_vs_torchvision", "latency_repeat_t1"),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# latency-gpu.md

_GPU_STEM = "latency_gpu_nvidia-h100-80gb-hbm3"


def gpu_page() -> str:
    document = load(_GPU_STEM)
    records, summary = document["records"], document["summary"]
    phis = sorted({r["phi"] for r in records})
    settings = [("graph", 1), ("graph", 64), ("eager", 1), ("eager", 64)]
    by = {(r["mode"], r["batch"], r["phi"]): r for r in records}
    shown = {mode: "CUDA graph" if mode == "graph" else mode for mode, _ in settings}
    rows = [[f"{shown[mode]}, {batch}",
             *(f"{by[mode, batch, phi]['median_ms']:.2f}" if (mode, batch, phi) in by else "-" for phi in phis)]
            for mode, batch in settings]
    cvs = "; ".join(f"{shown[mode]} at batch {batch}: "
                    f"{_span([by[mode, batch, phi]['cv'] for phi in phis if (mode, batch, phi) in by], 3)}"
                    for mode, batch in settings)
    eager_1 = [by["eager", 1, phi] for phi in phis]
    inversions = [(a["phi"], b["phi"]) for a, b in zip(eager_1, eager_1[1:]) if b["median_ms"] < a["median_ms"]]
    graph_1_cv = max(by["graph", 1, phi]["cv"] for phi in phis)
    precision = records[0]["precision"]
    lines = [
        "# GPU latency: EfficientNet-B0 to B7 on an H100",
        "",
        "How long the scaled family takes on a data-centre GPU, in PyTorch's eager mode and captured in a CUDA "
        f"graph, at batch 1 and batch 64, in {precision}. On a GPU, `scalesearch bench --device cuda` tunes cuDNN "
        "during warm-up, runs channels_last under autocast and times with CUDA events; `--mode graph` captures "
        "the forward pass in a CUDA graph and replays it.",
        "",
        _command(f"python benchmarks/latency_gpu.py --budget {document['budget_s']:g}"),
        "",
        _measured_on(document),
        "",
        "Median ms per network (EfficientNet-B0 scaled with the official preset):",
        "",
        table(["mode, batch", *(f"B{phi}" for phi in phis)], rows, "l" + "r" * len(phis)),
        "",
        f"The coefficient of variation (CV) of the calls, over the {len(phis)} networks of each row: {cvs}.",
        "",
        f"Batch 1 in eager mode is launch-bound: the host, not the GPU, sets the pace, so a bigger network can be "
        f"faster ({', '.join(f'B{b} took less than B{a}' for a, b in inversions) or 'none here'}) and the CV "
        f"reaches {max(r['cv'] for r in eager_1):.2f}. A CUDA graph removes the launches: every batch-1 graph "
        f"figure has a CV of at most {graph_1_cv:.3f}.",
        "",
        f"Goal ({summary['goal']}): {goal(summary['goal_met'])}, {summary['b0_bs1_graph_median_ms']:.2f} ms. "
        "Graph mode already removes the launch overhead, so what is left is the many small kernels of a "
        "depthwise network run one after another; fusing them (torch.compile, TensorRT) might change the "
        "answer, but `bench` offers neither and nothing here measures it.",
        "",
        f"This file holds the {len(phis)} EfficientNets only ({summary['records']} records, "
        f"{'complete' if summary['complete'] else 'incomplete'}); the script now also times ViT-Ti/S/B-16 beside "
        "them, and this file predates that.",
        "",
        "## Plots",
        "",
        "Median latency against MACs, both axes logarithmic, in a CUDA graph (straight lines: latency follows "
        "the work) and in eager mode (batch 1 out of order: the launches set the pace):",
        "",
        figure(f"{_GPU_STEM}_graph_latency_vs_macs.png", "CUDA graph: median latency against MACs, two batch sizes"),
        "",
        figure(f"{_GPU_STEM}_eager_latency_vs_macs.png", "Eager: median latency against MACs, two batch sizes"),
        "",
        f"The reports `bench --report` wrote hold every statistic of each row (p10, p90, min, IQR, calls, MACs, "
        f"parameters) and the same latencies against phi: [eager](../data/{_GPU_STEM}_eager.md) and "
        f"[CUDA graph](../data/{_GPU_STEM}_graph.md).",
        "",
        source(_GPU_STEM),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# latency-predictor.md

#: The predictor's runs: file, runtime, protocol.
_PREDICTOR_RUNS = (
    ("latency_predictor", "onnxruntime", "windows"),
    ("latency_predictor_openvino", "OpenVINO", "windows"),
    ("latency_predictor_settle", "onnxruntime", "settle"),
    ("latency_predictor_openvino_settle", "OpenVINO", "settle"),
)


def _predictor_row(name: str, runtime: str, protocol: str) -> list[str]:
    document = load(name)
    s = document["summary"]
    return [f"{runtime}, {protocol}", pct(s["within_10pct"], 0), f"{s['mean_abs_rel_error']:.1%}",
            f"{s['max_abs_rel_error']:.1%}", f"{pct(s['uncalibrated_within_10pct'], 0)} / "
            f"{s['uncalibrated_mean_abs_rel_error']:.1%}",
            f"{pct(s['second_vs_first_measurement_within_10pct'], 0)} "
            f"({s['second_vs_first_measurement_mean_abs_rel_diff']:.1%})",
            goal(s["goal_met"]), f"{document['interference']['other_processes_cores_busy']:.3f}"]


def predictor_page() -> str:
    documents = {name: load(name) for name, _, _ in _PREDICTOR_RUNS}
    current = documents["latency_predictor"]
    s = current["summary"]
    settle = documents["latency_predictor_settle"]["summary"]
    ov, ov_settle = documents["latency_predictor_openvino"]["summary"], \
        documents["latency_predictor_openvino_settle"]["summary"]
    worst = []
    for name, runtime, _ in _PREDICTOR_RUNS[:2]:
        candidates = sorted(documents[name]["candidates"], key=lambda c: -abs(c["rel_error"]))[:3]
        worst += [[runtime, f"`{c['model']}`", millions(c["macs"]), f"{c['measured_median_ms']:.2f}",
                   f"{c['predicted_ms']:.2f}", f"{c['rel_error']:+.1%}"] for c in candidates]
    agreeing = round(s["second_vs_first_measurement_within_10pct"] * s["candidates"])
    met = sum(bool(d["summary"]["goal_met"]) for d in documents.values())
    signed = {runtime: [c["rel_error"] for c in documents[name]["candidates"]]
              for name, runtime, _ in _PREDICTOR_RUNS[:2]}
    scales = [d["summary"]["calibration"]["scale"] for d in documents.values()]
    lines = [
        "# Latency predictor against measurement",
        "",
        "A latency-targeted search cannot time every candidate it considers: `scalesearch latency-table build` "
        "cuts sampled candidates into components (the stem; each distinct block configuration with its input "
        "size; head, pooling and classifier), measures each distinct component once, standalone, and caches the "
        "table. A network's predicted latency is the sum of its components, less the per-call overhead each "
        "standalone run paid, times a calibration factor fitted (relative least squares) to a few whole networks "
        "measured on the same device. How close is that to timing the whole network?",
        "",
        _command("python benchmarks/latency_predictor.py [--backend openvino] [--protocol windows|settle]"),
        "",
        f"{s['candidates']} random candidates of the MBConv space, batch 1, {s['threads']} thread, each at its "
        f"nominal resolution; the table is calibrated on {s['calibration_networks']} other candidates. Components "
        f"and whole networks are measured under the protocol named, one network at a time; each candidate is "
        f"measured twice (once right after its components, once after the whole pass), and the truth it is "
        f"judged against is the mean of the two. How well the two measurements agree is the machine's noise "
        f"floor: a predictor cannot be judged finer than that.",
        "",
        _measured_on(current, "onnxruntime, windows; the other runs' interference is in the table"),
        "",
        table(["runtime, protocol", "within +-10%", "mean error", "worst", "uncalibrated", "truth repeats", "goal",
               "cores busy"],
              [_predictor_row(*run) for run in _PREDICTOR_RUNS], "lrrrrrlr"),
        "",
        "*mean error* and *worst*: absolute relative error of the prediction; *uncalibrated*: within +-10% / mean "
        "error without the calibration factor; *truth repeats*: the two measurements of a candidate within "
        "+-10% of each other (mean difference); *cores busy*: what other processes used during the run.",
        "",
        f"Goal ({s['goal']}): met by {met} of the {len(documents)} runs. Judged against the windows protocol "
        f"(the library's default), the onnxruntime predictor's mean error is {s['mean_abs_rel_error']:.1%} (worst "
        f"{s['max_abs_rel_error']:.1%}), against {settle['mean_abs_rel_error']:.1%} (worst "
        f"{settle['max_abs_rel_error']:.1%}) under settle; and its truth, two measurements minutes apart, agreed "
        f"within +-10% for {agreeing} of {s['candidates']} networks (mean difference "
        f"{s['second_vs_first_measurement_mean_abs_rel_diff']:.1%}, against "
        f"{settle['second_vs_first_measurement_mean_abs_rel_diff']:.1%} under settle). Most of the error left "
        f"under settle was the measurement's, not the predictor's. OpenVINO's measurements already agreed under "
        f"settle ({pct(ov_settle['second_vs_first_measurement_within_10pct'], 0)}), and its predictor moved less "
        f"(mean {ov_settle['mean_abs_rel_error']:.1%} to {ov['mean_abs_rel_error']:.1%}; within +-10% "
        f"{pct(ov_settle['within_10pct'], 0)} and {pct(ov['within_10pct'], 0)}; its worst candidate under windows "
        f"was off by {ov['max_abs_rel_error']:.1%}). One run each, one after the other on the same quiet machine.",
        "",
        f"The fitted calibration factors lie between {min(scales):.3f} and {max(scales):.3f}, so the raw table "
        f"is already close (the *uncalibrated* column). Under windows, predictions below the measurement: "
        + "; ".join(f"{runtime} {sum(e < 0 for e in errors)} of {len(errors)} (mean signed error "
                    f"{statistics.mean(errors):+.1%})" for runtime, errors in signed.items())
        + f". Each run measured {s['components_measured']} components.",
        "",
        "## Largest errors (windows protocol)",
        "",
        table(["runtime", "candidate", "MACs", "measured ms", "predicted ms", "error"], worst, "llrrrr"),
        "",
        "## Earlier run",
        "",
        "An earlier onnxruntime run under settle, on another day (`latency_predictor.json` at commit eccd631, in "
        "git history), did not meet the goal, and its own two measurements of each network agreed far less "
        "often: that \"no\" was the machine's day, not the predictor.",
        "",
        source(*(name for name, _, _ in _PREDICTOR_RUNS)),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# training-throughput.md

def _short(schedule: str) -> str:
    """``search trial, median pruner (evaluated from ...)`` -> ``median pruner``: a column's header."""
    return schedule.split(" (")[0].removeprefix("search trial, ")


def training_page() -> str:
    cpu = load("train_throughput_cpu")
    gpu = load("train_throughput_gpu")
    crops = {"32": load("batched_crop_cpu"), "224": load("batched_crop_cpu_224px")}
    rows = cpu["rows"]
    label = {"b0-small": "`b0-small` (B0 at width 0.5)"}
    schedules = list(cpu["schedules_projected"])
    now, before = sorted(next(iter(rows.values()))["evaluate_s_by_batch"], key=int)  # today's batch is the smaller
    cpu_rows = [[label.get(n, _label(n)), f"{r['limit_img_per_s']:,.0f}", pct(r["fraction"], 0),
                 _pct_span([round_["fraction"] for round_ in r["rounds"]]),
                 *(pct(r["projected_fraction"][schedule], 0) for schedule in schedules),
                 f"{r['evaluation_s'] / r['epoch_s']:.2f}",
                 f"{r['evaluate_s_by_batch'][now]:.2f} / {r['evaluate_s_by_batch'][before]:.2f} s",
                 goal(cpu["goal_met"][n])]
                for n, r in rows.items()]
    met = [n for n, ok in cpu["goal_met"].items() if ok]
    missed = [n for n, ok in cpu["goal_met"].items() if not ok]
    slower = [r["evaluate_s_by_batch"][before] / r["evaluate_s_by_batch"][now] for r in rows.values()]
    negative = [n for n, r in rows.items() if any(round_["evaluation_s"] < 0 for round_ in r["rounds"])]
    crop_rows = []
    for doc in crops.values():
        for kind, r in doc["rows"].items():
            crop_rows.append([f"{doc['size_px']} px (from {doc['source_px']} px), batch {doc['batch']}", kind,
                              f"{r['batched_ms']:.1f}", f"{r['per_image_ms']:.1f}",
                              f"{r['roi_align_ms']:.1f}" if "roi_align_ms" in r else "-", f"{r['speedup']:.2f}x"])
    small, large = crops["32"], crops["224"]
    pixels = [[f"{d['size_px']} px (from {d['source_px']} px)", f"{d['roi_align_vs_torchvision_pixels']['images']:,}",
               f"{d['roi_align_vs_torchvision_pixels']['mean_grey_levels']:.2f}",
               f"{d['roi_align_vs_torchvision_pixels']['p99_grey_levels']:g}"] for d in crops.values()]
    roi_224 = large["rows"]["resized"]
    lines = [
        "# Training throughput: the data pipeline against the model's limit",
        "",
        "A search trains many small networks briefly, so the time `train` spends outside the model's own "
        "forward and backward passes (loading, augmenting, re-estimating BatchNorm, evaluating) decides how many "
        "candidates an hour buys. These benchmarks compare the images per second `train` delivers with the "
        "*limit*: the same network, optimiser and batch size stepping on one constant, already augmented batch.",
        "",
        "## On the CPU",
        "",
        _command("python benchmarks/train_throughput.py --rounds 2"),
        "",
        f"The `{cpu['recipe']}` recipe ({cpu['resolution']} px, batch {cpu['batch']}), {cpu['epochs']} epochs on "
        f"{cpu['train_images']:,} CIFAR-10 training images. Per network, the limit and two pipelines are measured "
        f"one after another, once per round: `train` evaluating after every epoch, as `scalesearch train` runs, "
        f"and evaluating once after the last epoch. From the two come the cost of one evaluation (precise "
        f"BatchNorm plus validation) and of one epoch, and so the rate of the search's own trial under its "
        f"default median pruner and without a pruner: a projection from measured parts. Each figure is the "
        f"median over rounds of that round's ratio; *evaluation / epoch* is what one evaluation costs in epochs.",
        "",
        "The projected columns: " + "; ".join(f"*{_short(schedule)}* is the {schedule}" for schedule in schedules)
        + ".",
        "",
        _measured_on(cpu),
        "",
        table(["network", "limit img/s", "`train`, evaluating every epoch", "the same, by round",
               *(_short(schedule) for schedule in schedules), "evaluation / epoch",
               f"validation, batch {now} / {before}", "goal"],
              cpu_rows, "lrrr" + "r" * len(schedules) + "rrl"),
        "",
        f"Goal ({cpu['goal']}): met for {', '.join(_label(n) for n in met) or 'none'}; not for "
        f"{', '.join(label.get(n, _label(n)) for n in missed) or 'none'}. Validating in batches of {before} took "
        f"{_span(slower)}x as long as in batches of {now} (the *validation* column: the same `evaluate()` on the "
        f"validation images, taking turns), which is why validation now runs in batches of {now}.",
        "",
        "Read the table with its rounds beside it: this VM's second vCPU comes and goes for minutes at a time "
        "(see [latency protocols](latency-protocols.md)), and a limit measured in a slow spell makes the share "
        "look better than it is"
        + (f"; for {', '.join(label.get(n, _label(n)) for n in negative)} the cost of an evaluation came out "
           f"negative in a round (a limit or a pipeline fell in a slow spell), so its projected shares are not "
           f"to be trusted" if negative else "")
        + ". Precise BatchNorm plus validation costs a fixed amount per evaluation; it does not grow with the "
        "training set, so on the full data its share is smaller. What would change the rest: re-estimating "
        "BatchNorm over fewer images (which changes what the proxy measures, and so needs "
        "`benchmarks/proxy_fidelity.py` first), and a machine whose cores stay put.",
        "",
        "## The batched crop and flip",
        "",
        _command("python benchmarks/batched_crop.py [--batch 64 --size 224 --source 256]"),
        "",
        "`train` crops and flips a whole batch at once, each image with its own parameters: the crop boxes are "
        "drawn for the batch exactly as torchvision's `RandomResizedCrop` draws them, and resampled by "
        "torchvision's resize image by image on the CPU (by one `roi_align` call on CUDA); CIFAR's translate crop "
        "is copied out of one padded batch. Against torchvision's per-image transforms, milliseconds per batch "
        "(medians over rounds, the two taking turns):",
        "",
        _measured_on(small, f"{small['size_px']} px run; in the {large['size_px']} px run other processes kept "
                            f"{large['interference']['other_processes_cores_busy']:.3f} cores busy"),
        "",
        table(["images", "crop", "batched ms", "torchvision per image ms", "roi_align ms", "speed-up"], crop_rows,
              "llrrrr"),
        "",
        f"At {small['size_px']} px the batched crop is {small['rows']['resized']['speedup']:.1f}x faster "
        f"(translate: {small['rows']['translate']['speedup']:.1f}x); at {large['size_px']} px the two are about "
        f"level ({large['rows']['resized']['speedup']:.2f}x and {large['rows']['translate']['speedup']:.2f}x). "
        f"On the CPU the boxes go through torchvision's resize because "
        f"`roi_align` there is {roi_224['roi_align_ms'] / roi_224['per_image_ms']:.1f}x slower than it at "
        f"{large['size_px']} px ({roi_224['roi_align_ms']:.0f} against {roi_224['per_image_ms']:.0f} ms per batch "
        f"of {large['batch']}).",
        "",
        "How far `roi_align`'s pixels (bilinear, averaging several samples per pixel when shrinking) are from "
        "torchvision's antialiased resize for the same boxes, on real CIFAR-10 images, in grey levels of 255:",
        "",
        table(["images", "count", "mean difference", "99th percentile"], pixels, "lrrr"),
        "",
        "## On a GPU",
        "",
        _command("python benchmarks/train_throughput_gpu.py"),
        "",
        _measured_on(gpu),
        "",
        f"{_label(gpu['model'])} at {gpu['resolution']} px, batch {gpu['batch']}, bf16, {gpu['steps']} steps: "
        f"{gpu['img_per_s']['pipeline']:,.0f} img/s fed by the data pipeline against "
        f"{gpu['img_per_s']['constant_batch']:,.0f} img/s on one constant batch, {gpu['pipeline_fraction']:.0%}. "
        f"Goal ({gpu['goal']}): {goal(gpu['pipeline_fraction'] >= _threshold(gpu['goal']))}. This run cropped "
        "image by image (a sequence of small kernels per image), before the crop was batched"
        + ("." if exists("batched_crop_cuda") else
           "; the batched crop has not yet been measured on a GPU (`benchmarks/gpu_pending.sh` runs "
           "`batched_crop.py --device cuda`, then this benchmark)."),
        "",
        source("train_throughput_cpu", "train_throughput_gpu", "batched_crop_cpu", "batched_crop_cpu_224px"),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# search-throughput.md


def search_page() -> str:
    trials = load("search_throughput_cpu")
    scaling = load("parallel_scaling")
    trial_rows = [[r["workers"], r["evaluated_trials"], f"{r['seconds']:.0f} s", f"{r['trials_per_hour']:.0f}"]
                  for r in trials["rows"].values()]
    storages = list(dict.fromkeys(r["storage"] for r in scaling["rows"]))
    workers = sorted({r["workers"] for r in scaling["rows"]})
    cell = {(r["storage"], r["workers"]): r for r in scaling["rows"]}
    scaling_rows = [[{"journal": "journal file", "postgresql": "PostgreSQL"}.get(s, s),
                     *(f"{cell[s, w]['trials_per_min_wall']:.1f} ({cell[s, w]['speedup_wall']:.2f}x)"
                       if (s, w) in cell else "-" for w in workers)] for s in storages]
    surplus = [r["n_surplus"] for r in scaling["rows"]]
    one = {s: cell[s, min(workers)] for s in storages}
    pg_cost = 1 - one["postgresql"]["trials_per_min_wall"] / one["journal"]["trials_per_min_wall"]
    pg_most = cell["postgresql", max(workers)]
    per_trial = one["journal"]["trial_span_s"] / one["journal"]["n_evaluated"]
    lines = [
        "# Search throughput: trials per hour, and workers in parallel",
        "",
        "How many candidates a `find-base` search evaluates per hour, and what more worker processes, on one "
        "machine or many, add.",
        "",
        "## Proxy-training trials per hour",
        "",
        _command(f"python benchmarks/search_throughput.py --n-trials {trials['n_trials']}"),
        "",
        f"`find-base --flops 400M` on the CIFAR-10 subset with the `{trials['recipe']}` recipe for "
        f"{trials['epochs']} epochs on {trials['train_images']:,} images, journal storage, no finalist stage, a "
        f"fresh study per worker count, until {trials['n_trials']} trials are evaluated; the workers split the "
        f"CPU's threads. Trials per hour = evaluated trials / wall time of the search (study creation included).",
        "",
        _measured_on(trials),
        "",
        table(["workers", "evaluated trials", "wall time", "trials per hour"], trial_rows, "rrrr"),
        "",
        f"{trials['n_trials']} trials are too few to read more than this: starting a second worker process "
        "(torch's import, the study's load) costs about as long as a trial here. On a GPU, `--devices 0,1,...` "
        "puts local workers on the GPUs in turn. The issue's goal for proxy trials per GPU-hour at CIFAR scale: "
        f"{goal(None)} (the GPU-sized command in the script's docstring has not been run).",
        "",
        "## Workers in parallel: journal file and PostgreSQL",
        "",
        _command("python benchmarks/parallel_scaling.py [--storages journal,postgresql]"),
        "",
        f"Each configuration runs `scalesearch find-base --flops 400M --workers W [--storage URL]` from scratch, as "
        f"a user would, with the `{scaling['workload']}` workload (the default search: a zero-cost score, no data, "
        f"short trials, so that storage overhead shows), until {scaling['n_trials']} trials "
        f"are evaluated; PostgreSQL runs on loopback. Evaluated trials per minute of wall time, and the speed-up "
        f"over one worker:",
        "",
        _measured_on(scaling) + f" {scaling['physical_cores']} physical cores.",
        "",
        table(["storage", *(f"{w} worker{'s' if w > 1 else ''}" for w in workers)], scaling_rows,
              "l" + "r" * len(workers)),
        "",
        f"{'Every' if scaling['every_run_exact'] else 'Not every'} run ended with exactly {scaling['n_trials']} "
        f"evaluated trials ({_span(surplus, 0)} surplus trials per run, started before the total was reached and "
        f"not counted). On {scaling['physical_cores']} cores one worker already uses them "
        f"all (`--workers N` gives each process cores / N threads), so more workers add no compute here: the "
        f"table shows the cost of coordination, not a speed-up. PostgreSQL costs {pg_cost:.0%} of the throughput "
        f"at one worker on trials this short (about {per_trial:.1f} s each on the journal file, plus rejected "
        f"candidates, each a few database round trips); {pg_most['workers']} workers on PostgreSQL reach "
        f"{pg_most['speedup_wall']:.2f}x its one-worker rate. Workers on separate machines add their own cores; "
        "once a trial takes minutes (proxy training), the per-trial overhead is a fraction of a second and the "
        "speed-up should come close to the worker count, which this benchmark does not measure.",
        "",
        source("search_throughput_cpu", "parallel_scaling"),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Headlines: the two results a newcomer must see.


def _flops_headline() -> tuple[str, str, str]:
    document = load("flops_counting")
    models = document["models"]
    exact = sum((m["analytic_macs"], m["analytic_params"]) == (m["fvcore_macs"], m["fvcore_params"]) for m in models)
    published = [same for same in (_against_published(m)[0] for m in models) if same is not None]
    speedups = [m["speedup"] for m in models]
    figure_ = (f"equal to fvcore on {exact} of {len(models)} networks and to torchvision's published figure on "
               f"{sum(published)} of {len(published)}; {min(speedups):,.0f}x-{max(speedups):,.0f}x faster")
    return "MACs counted from the spec, against fvcore on the built model", figure_, "flops-counting.md"


def _predictor_headline() -> tuple[str, str, str]:
    figures = []
    for name, runtime, _ in _PREDICTOR_RUNS[:2]:
        s = load(name)["summary"]
        figures.append(f"{runtime}: {pct(s['within_10pct'], 0)} within +-10%, mean error "
                       f"{s['mean_abs_rel_error']:.1%}")
        candidates, threads = s["candidates"], s["threads"]
    return (f"CPU latency predicted from a component table, against measurement ({candidates} networks, "
            f"{threads} thread{'' if threads == 1 else 's'})",
            "; ".join(figures), "latency-predictor.md")


PAGES = {
    "flops-counting.md": flops_page,
    "latency-cpu-backends.md": cpu_backends_page,
    "latency-protocols.md": protocols_page,
    "latency-vs-torchvision.md": vs_torchvision_page,
    "latency-gpu.md": gpu_page,
    "latency-predictor.md": predictor_page,
    "training-throughput.md": training_page,
    "search-throughput.md": search_page,
}
HEADLINES = [_flops_headline, _predictor_headline]
