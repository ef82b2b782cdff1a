"""flops-counting.md, from flops_counting.json: the analytic MACs count against fvcore and torchvision."""

from __future__ import annotations

from typing import Any

from pages.common import bash, goal, load, measured_on, millions, network_name, source, span, table

PAGE = "flops-counting.md"


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


def render() -> str:
    document = load("flops_counting")
    summary, models = document["summary"], document["models"]
    rows, compared, agreed = [], 0, 0
    for m in models:
        same, shown = _against_published(m)
        if same is not None:
            compared, agreed = compared + 1, agreed + same
        traced = ("equal" if (m["fvcore_macs"], m["fvcore_params"]) == (m["analytic_macs"], m["analytic_params"])
                  else f"{millions(m['fvcore_macs'])}, {m['fvcore_params'] / 1e6:.2f}M params")
        rows.append([network_name(m["model"]), m["resolution"], millions(m["analytic_macs"]),
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
        *bash("python benchmarks/flops_counting.py"),
        "",
        measured_on(document) + f" Counted with fvcore {document['machine'].get('fvcore', '?')}.",
        "",
        "## Agreement and speed",
        "",
        f"The networks are every built-in base and {network_name(scaled[0])} to {network_name(scaled[-1])} scaled "
        "from B0 with the official preset, each at its own resolution. *torchvision* is the figure torchvision "
        "publishes with the network's ImageNet weights (G multiply-adds, as torchvision rounds them; recorded from "
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
        f"The analytic count takes {span([m['analytic_ms'] for m in models], 2)} ms per network; fvcore takes "
        f"{fastest_fvcore['fvcore_ms']:,.0f} ms ({network_name(fastest_fvcore['model'])}) to "
        f"{slowest_fvcore['fvcore_ms'] / 1e3:,.1f} s ({network_name(slowest_fvcore['model'])} at "
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


def headline() -> tuple[str, str, str]:
    document = load("flops_counting")
    models = document["models"]
    exact = sum((m["analytic_macs"], m["analytic_params"]) == (m["fvcore_macs"], m["fvcore_params"]) for m in models)
    published = [same for same in (_against_published(m)[0] for m in models) if same is not None]
    speedups = [m["speedup"] for m in models]
    figure_ = (f"equal to fvcore on {exact} of {len(models)} networks and to torchvision's published figure on "
               f"{sum(published)} of {len(published)}; {min(speedups):,.0f}x-{max(speedups):,.0f}x faster")
    return "MACs counted from the spec, against fvcore on the built model", figure_, PAGE
