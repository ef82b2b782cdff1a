"""latency-cpu-backends.md, from cpu_backends.json: torch, onnxruntime and OpenVINO timing the same networks."""

from __future__ import annotations

from pages.common import bash, load, measured_on, network_name, num, source, span, table

PAGE = "latency-cpu-backends.md"
_RUNTIMES = (("torch", "torch eager"), ("onnxruntime", "onnxruntime"), ("openvino", "OpenVINO"))


def render() -> str:
    document = load("cpu_backends")
    rows = document["rows"]
    versions = document["versions"]
    table_rows = []
    for name, row in rows.items():
        median = row["median_ms"]
        table_rows.append([network_name(name), row["resolution"], *(num(median[r], 1) for r, _ in _RUNTIMES),
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
        *bash("python benchmarks/cpu_backends.py [--rounds 5] [--window 1.0] [--threads 2]"),
        "",
        measured_on(document) + " Runtimes: " + ", ".join(f"{label} {versions[key]}" for key, label in _RUNTIMES)
        + f"; {document['threads']} threads, batch {document['batch']}, {document['rounds']} rounds of "
        f"{document['window_s']:g} s windows.",
        "",
        "Median latency in ms, and the per-round ratios:",
        "",
        table(["network", "px", *(label for _, label in _RUNTIMES), "onnxruntime / OpenVINO",
               "torch / onnxruntime", "fastest"], table_rows, "lrrrrrrl"),
        "",
        f"OpenVINO was the fastest runtime for {len(ov_wins)} of {len(rows)} networks"
        + (f", by {min(margin.values()):.0%} ({network_name(min(margin, key=margin.get))}) to "
           f"{max(margin.values()):.0%} ({network_name(max(margin, key=margin.get))}) over onnxruntime"
           if ov_wins else "")
        + f"; torch eager took {span(torch_ratio)}x onnxruntime's time. On one input, the three runtimes' outputs "
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
