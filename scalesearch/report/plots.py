"""Every PNG figure: latency against MACs or phi, a search's history and accuracy against MACs,
the grid heat map, scaling strategies, and a family's accuracy against cost. Matplotlib loads on
first use (the Agg backend: no display)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from scalesearch.files import write_atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    """Write the figure atomically, and free it."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    _pyplot().close(fig)
    return write_atomic(path, buffer.getvalue())


def latency(path: Path, records: list[dict[str, Any]], x_key: str, x_label: str, x_scale: float) -> Path:
    """Median latency against ``x_key`` (MACs or phi), one line per batch, precision and mode."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        series.setdefault((r["batch"], r["precision"], r["mode"]), []).append(r)
    for (batch, precision, mode), rows in series.items():
        rows = sorted(rows, key=lambda r: r[x_key])
        ax.plot([r[x_key] / x_scale for r in rows], [r["median_ms"] for r in rows], marker="o",
                label=f"batch {batch}, {precision}, {mode}")
        for r in rows:
            ax.annotate(r["model"], (r[x_key] / x_scale, r["median_ms"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xlabel(x_label)
    ax.set_ylabel("median latency (ms)")
    if x_key == "macs":
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    first = records[0]
    ax.set_title(f"{first['device']} / {first['backend']}")
    return _save(fig, path)


def search_history(path: Path, scored: list[dict[str, Any]], unit: str) -> Path:
    """A search's score per evaluated trial, and the best so far."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    if scored:
        best, best_so_far = float("-inf"), []
        for r in scored:
            best = max(best, r["score"])
            best_so_far.append(best)
        ax.scatter([r["number"] for r in scored], [r["score"] for r in scored], s=12, label="trial")
        ax.plot([r["number"] for r in scored], best_so_far, color="C3", label="best so far")
        ax.legend(fontsize=8)
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"score = ACC x ({unit}/T)^w")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def search_scatter(path: Path, measured: list[dict[str, Any]], front: set[int], accuracy_key: str,
                   accuracy_label: str, target_macs: float | None) -> Path:
    """Accuracy (or zero-cost score) of every evaluated trial against MACs, with the Pareto front."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([r["macs"] / 1e6 for r in measured], [r[accuracy_key] for r in measured], s=12, label="evaluated")
    on_front = sorted((r for r in measured if r["number"] in front), key=lambda r: r["macs"])
    ax.plot([r["macs"] / 1e6 for r in on_front], [r[accuracy_key] for r in on_front], color="C3", marker="o",
            label="Pareto front")
    if target_macs is not None:
        ax.axvline(target_macs / 1e6, color="gray", linestyle="--", label="target")
    ax.set_xlabel("multiply-adds (M MACs)")
    ax.set_ylabel(accuracy_label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def grid_heatmap(path: Path, document: dict[str, Any]) -> Path:
    """Accuracy over the (alpha, beta) grid, each cell labelled with its gamma; gamma follows from
    the constraint, so two axes show the whole feasible surface."""
    plt = _pyplot()
    points = [p for p in document["points"] if p["val_top1"] is not None]
    alphas = sorted({p["alpha"] for p in points})
    betas = sorted({p["beta"] for p in points})
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * len(alphas), 1.2 + 0.6 * len(betas)))
    best: dict[tuple[float, float], dict[str, Any]] = {}
    for p in points:  # several gammas can share (alpha, beta): show the best of them
        key = (p["alpha"], p["beta"])
        if key not in best or p["val_top1"] > best[key]["val_top1"]:
            best[key] = p
    grid = [[best[(a, b)]["val_top1"] if (a, b) in best else float("nan") for a in alphas] for b in betas]
    image = ax.imshow(grid, origin="lower", cmap="viridis", aspect="auto")
    for (a, b), p in best.items():
        ax.text(alphas.index(a), betas.index(b), f"{p['val_top1']:.1%}\ng={p['gamma']:.2f}", ha="center",
                va="center", fontsize=7, color="white")
    ax.set_xticks(range(len(alphas)), [f"{a:.2f}" for a in alphas])
    ax.set_yticks(range(len(betas)), [f"{b:.2f}" for b in betas])
    ax.set_xlabel("alpha (depth)")
    ax.set_ylabel("beta (width)")
    ax.set_title(f"{document['base']}: val top-1 at phi = 1 (best: {document['alpha']:.2f}, {document['beta']:.2f}, "
                 f"{document['gamma']:.2f})", fontsize=9)
    fig.colorbar(image, ax=ax, label="validation top-1")
    return _save(fig, path)


def scaling_strategies(path: Path, document: dict[str, Any]) -> Path:
    """compare-scaling: accuracy against MACs, one line per strategy from the base."""
    plt = _pyplot()
    rows = document["rows"]
    base = next(r for r in rows if r["strategy"] == "base")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy in dict.fromkeys(r["strategy"] for r in rows if r["strategy"] != "base"):
        points = [base] + sorted((r for r in rows if r["strategy"] == strategy and r["val_top1"] is not None),
                                 key=lambda r: r["macs"])
        ax.errorbar([p["macs"] / 1e6 for p in points], [p["val_top1"] for p in points],
                    yerr=[p["val_top1_std"] for p in points], marker="o", capsize=3, label=strategy)
    ax.set_xscale("log")
    ax.set_xlabel("multiply-adds at the nominal resolution (M MACs)")
    ax.set_ylabel("validation top-1")
    ax.set_title(f"{document['base']}: scaling strategies ({document['recipe']}, {document['epochs']} epochs, "
                 f"{len(document['seeds'])} seeds)", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def family_accuracy(path: Path, rows: list[dict[str, Any]], x_of, x_label: str, title: str) -> Path:
    """Validation top-1 (mean +- std over seeds) against a cost (``x_of(row)``, None: not shown),
    one line per family, each point labelled with its network."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for family in dict.fromkeys(r["family"] for r in rows):
        points = sorted(((x_of(r), r) for r in rows if r["family"] == family and r["val_top1"] is not None
                         and x_of(r) is not None), key=lambda p: p[0])
        if not points:
            continue
        ax.errorbar([x for x, _ in points], [r["val_top1"] for _, r in points],
                    yerr=[r["val_top1_std"] or 0 for _, r in points], marker="o", capsize=3, label=family)
        for x, r in points:
            ax.annotate(r["name"], (x, r["val_top1"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel("validation top-1")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def self_training(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Validation top-1 per round (round 0 is the teacher), one line per seed and the mean."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    seeds = sorted({r["seed"] for r in rows})
    for seed in seeds:
        chain = sorted((r["round"], r["val_top1"]) for r in rows if r["seed"] == seed)
        ax.plot([x for x, _ in chain], [y for _, y in chain], marker="o", alpha=0.4, label=f"seed {seed}")
    rounds = sorted({r["round"] for r in rows})
    means = [sum(r["val_top1"] for r in rows if r["round"] == k) / sum(1 for r in rows if r["round"] == k)
             for k in rounds]
    ax.plot(rounds, means, marker="s", color="black", linewidth=2, label="mean")
    ax.set_xticks(rounds, [("teacher" if k == 0 else f"round {k}") for k in rounds])
    ax.set_ylabel("validation top-1")
    ax.set_title("Noisy Student: each round's student teaches the next", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
