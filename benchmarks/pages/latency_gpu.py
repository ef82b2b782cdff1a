"""latency-gpu.md, from latency_gpu_nvidia-h100-80gb-hbm3.json: EfficientNet-B0 to B7 on an H100."""

from __future__ import annotations

from pages.common import bash, figure, goal, load, measured_on, source, span, table

PAGE = "latency-gpu.md"
_GPU_STEM = "latency_gpu_nvidia-h100-80gb-hbm3"


def render() -> str:
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
                    f"{span([by[mode, batch, phi]['cv'] for phi in phis if (mode, batch, phi) in by], 3)}"
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
        *bash(f"python benchmarks/latency_gpu.py --budget {document['budget_s']:g}"),
        "",
        measured_on(document),
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
