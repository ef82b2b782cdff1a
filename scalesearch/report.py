"""Everything users read: rich tables on a terminal, one JSON document with ``--json``.

Data goes to stdout; diagnostics go to stderr (:data:`err_console`), so ``--json`` output
stays parseable.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
)
from rich.table import Table

from scalesearch.arch.spec import NetworkSpec
from scalesearch.measure.flops import Count

err_console = Console(stderr=True)


def error_line(message: str) -> None:
    """One unwrapped line on stderr, however long and whatever the terminal width."""
    first = " ".join(message.split())
    sys.stderr.write(f"error: {first}\n")
    sys.stderr.flush()


def log(message: str) -> None:
    """A diagnostic on stderr (never mixed into stdout data)."""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)


def print_json(document: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()


def _millions(n: int) -> str:
    return f"{n / 1e6:,.2f}"


def count_record(name: str, c: Count, target_macs: int | None = None) -> dict[str, Any]:
    """The ``flops`` JSON object: ``macs``, ``params``, ``resolution``, ``counter`` (+ target)."""
    record: dict[str, Any] = {"model": name, "macs": c.macs, "params": c.params,
                              "resolution": c.resolution, "counter": c.counter}
    if target_macs is not None:
        record["target_macs"] = target_macs
        record["macs_to_target"] = c.macs / target_macs
    return record


def print_count(record: dict[str, Any]) -> None:
    """``flops`` as a table."""
    table = Table(title=f"{record['model']} at {record['resolution']} px ({record['counter']} counter)")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("multiply-adds (MACs)", f"{record['macs']:,}  ({record['macs'] / 1e9:.3f} G)")
    table.add_row("parameters", f"{record['params']:,}  ({record['params'] / 1e6:.2f} M)")
    if "target_macs" in record:
        table.add_row("target MACs", f"{record['target_macs']:,}")
        table.add_row("MACs / target", f"{record['macs_to_target']:.3f}")
    Console().print(table)


def scale_record(spec: NetworkSpec, c: Count, spec_path: Path | None) -> dict[str, Any]:
    """One ``scale`` JSON object: ``phi``, multipliers, ``resolution``, ``params``, ``macs``, ``spec_path``."""
    record = spec.scaling
    if record is None:
        raise ValueError(f"{spec.name} is not a scaled spec")
    return {"phi": record.phi, "name": spec.name, "depth_mult": record.depth_mult, "width_mult": record.width_mult,
            "resolution": spec.resolution, "params": c.params, "macs": c.macs,
            "spec_path": str(spec_path) if spec_path else None}


def print_scale(records: list[dict[str, Any]], title: str) -> None:
    """``scale`` as a table: px is the input resolution; x prev is the MACs ratio to the row above."""
    timed = "latency_ms" in records[0]
    if timed:
        title += f"\nlatency: median ms, batch 1, fp32, {records[0]['latency_device']}/{records[0]['latency_backend']}"
    table = Table(title=title)
    headers = ["phi", "depth x", "width x", "px", "params (M)", "MACs (M)", "x prev"]
    if timed:
        headers.append("latency ms")
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    previous = None
    for r in records:
        ratio = f"{r['macs'] / previous:.2f}" if previous else ""
        row = [f"{r['phi']:g}", f"{r['depth_mult']:.3f}", f"{r['width_mult']:.3f}", str(r["resolution"]),
               _millions(r["params"]), _millions(r["macs"]), ratio]
        if timed:
            row.append(f"{r['latency_ms']:.2f}")
        table.add_row(*row)
        previous = r["macs"]
    Console().print(table)


def print_bases(rows: list[tuple[str, NetworkSpec, Count]]) -> None:
    """``bases`` as a table."""
    table = Table(title="Built-in bases (search_spaces/bases)")
    for header in ("name", "blocks", "resolution (px)", "params (M)", "MACs (M)"):
        table.add_column(header, justify="left" if header == "name" else "right")
    for name, spec, c in rows:
        table.add_row(name, str(spec.num_blocks), str(spec.resolution), _millions(c.params), _millions(c.macs))
    Console().print(table)


@contextlib.contextmanager
def progress(*tasks: tuple[str, int], enabled: bool = True) -> Iterator[list[Callable[..., None]]]:
    """One rich progress display on stderr (only on a terminal, never with ``--json``) with a bar per
    ``(description, total)``; yields an ``update(completed, description=None)`` function per task."""
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True,
                   disable=not (enabled and err_console.is_terminal))
    with bar:
        ids = [bar.add_task(description, total=total) for description, total in tasks]
        yield [lambda completed, description=None, task=task: bar.update(task, completed=completed,
                                                                         description=description)
               for task in ids]


def print_bench(records: list[dict[str, Any]]) -> None:
    """``bench`` as a table."""
    first = records[0]
    where = f"{first['device']}, {first['backend']}, {first['precision']}, {first['mode']}" + (
        f", {first['threads']} threads" if first["threads"] else "")
    table = Table(title=f"Latency in ms per batch ({where})")
    for header in ("model", "batch", "median ms", "p90 ms", "CV", "runs", "MACs (M)"):
        table.add_column(header, justify="left" if header == "model" else "right", no_wrap=header != "model")
    for r in records:
        table.add_row(r["model"], str(r["batch"]), f"{r['median_ms']:.3f}", f"{r['p90_ms']:.3f}", f"{r['cv']:.3f}",
                      str(r["runs"]), _millions(r["macs"]))
    Console().print(table)


_PERCENT_KEYS = ("val_top1", "val_top1_std", "test_top1", "test_top1_std")


def emit(record: dict[str, Any], json_out: bool) -> None:
    """One result: a JSON document on stdout, or a two-column table (top-1 fractions shown as %)."""
    if json_out:
        print_json(record)
        return
    table = Table(show_header=False)
    for key, value in record.items():
        if key in _PERCENT_KEYS and isinstance(value, float):
            shown = f"{value:.2%}"
        elif isinstance(value, float):
            shown = f"{value:,.4g}"
        elif isinstance(value, list):
            shown = ", ".join(f"{v:.2%}" if isinstance(v, float) else str(v) for v in value)
        else:
            shown = str(value)
        table.add_row(key, shown)
    Console().print(table)


def _plot(path: Path, records: list[dict[str, Any]], x_key: str, x_label: str, x_scale: float) -> None:
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_bench_report(path: Path, records: list[dict[str, Any]], environment: dict[str, Any]) -> list[Path]:
    """Markdown with the latency table and the environment, plus PNG plots beside it: latency vs
    MACs, and latency vs phi when the models are one scaled family. Returns the files written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = [path]
    macs_png = path.with_name(f"{path.stem}_latency_vs_macs.png")
    _plot(macs_png, records, "macs", "multiply-adds (G MACs)", 1e9)
    written.append(macs_png)
    phis = {r["phi"] for r in records}
    phi_png = path.with_name(f"{path.stem}_latency_vs_phi.png")
    if None not in phis and len(phis) > 1:
        _plot(phi_png, records, "phi", "compound coefficient phi", 1.0)
        written.append(phi_png)
    lines = ["# Latency report", "",
             "| model | batch | precision | mode | median ms | p10 ms | p90 ms | min ms | IQR ms | CV | runs | MACs (M) "
             "| params (M) |", "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        lines.append(f"| {r['model']} | {r['batch']} | {r['precision']} | {r['mode']} | {r['median_ms']:.3f} | "
                     f"{r['p10_ms']:.3f} | {r['p90_ms']:.3f} | {r['min_ms']:.3f} | {r['iqr_ms']:.3f} | {r['cv']:.3f} | "
                     f"{r['runs']} | {_millions(r['macs'])} | {_millions(r['params'])} |")
    lines += ["", f"![latency vs MACs]({macs_png.name})"]
    if phi_png in written:
        lines += ["", f"![latency vs phi]({phi_png.name})"]
    lines += ["", "## Environment", "", *(f"- {k}: {v}" for k, v in environment.items()),
              f"- device/backend: {records[0]['device']}/{records[0]['backend']}",
              f"- threads: {records[0]['threads']}", ""]
    path.write_text("\n".join(lines))
    return written


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_search_report(run_dir: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> list[Path]:
    """``report.md`` for a find-base study with two PNG plots: the optimisation history (score per
    evaluated trial and best so far) and accuracy against MACs with the Pareto front."""
    plt = _pyplot()
    accuracy_key = "zero_cost" if summary["accuracy_is_zero_cost"] else "val_top1"
    accuracy_label = "zero-cost score (not accuracy)" if accuracy_key == "zero_cost" else "validation top-1"
    scored = [r for r in rows if r["state"] == "complete" and r["score"] is not None]
    history_png, scatter_png = run_dir / "history.png", run_dir / "accuracy_vs_macs.png"
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
    ax.set_ylabel(f"score = ACC x ({summary['target_unit']}/T)^w")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(history_png, dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    measured = [r for r in rows if r["state"] == "complete" and r[accuracy_key] is not None]
    front = set(summary["pareto_front"])
    ax.scatter([r["macs"] / 1e6 for r in measured], [r[accuracy_key] for r in measured], s=12, label="evaluated")
    on_front = sorted((r for r in measured if r["number"] in front), key=lambda r: r["macs"])
    ax.plot([r["macs"] / 1e6 for r in on_front], [r[accuracy_key] for r in on_front], color="C3", marker="o",
            label="Pareto front")
    if summary["target_unit"] == "MACs":
        ax.axvline(summary["target"] / 1e6, color="gray", linestyle="--", label="target")
    ax.set_xlabel("multiply-adds (M MACs)")
    ax.set_ylabel(accuracy_label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(scatter_png, dpi=120)
    plt.close(fig)
    best = summary["best"]
    target = (f"{summary['target'] / 1e6:.1f}M MACs" if summary["target_unit"] == "MACs"
              else f"{summary['target']:.2f} ms")
    lines = [f"# find-base: {summary['study']}", "",
             f"- target: {target}, constraint {summary['constraint']}", f"- evaluator: {summary['evaluator']}"
             + (" — scores are training-free stand-ins, not accuracies" if summary["accuracy_is_zero_cost"] else ""),
             f"- trials: {summary['n_trials']} evaluated ({summary['n_complete']} complete, {summary['n_pruned']} "
             f"pruned, {summary['n_failed']} failed), {summary['n_rejected']} rejected untrained, "
             f"{summary['n_died']} lost with their worker and retried",
             f"- storage: `{summary['storage']}`", ""]
    if summary["failures"]:
        lines += ["## Failures by reason", "", *(f"- {n} x {reason}" for reason, n in summary["failures"].items()), ""]
    if summary["latency_failures"]:
        lines += ["## Finalists whose latency could not be measured (the predicted figure stands)", "",
                  *(f"- trial {n}: {reason}" for n, reason in summary["latency_failures"].items()), ""]
    if best:
        acc = best["val_top1"] if best["val_top1"] is not None else best["zero_cost"]
        lines += ["## Best base", "", "| trial | MACs (M) | params (M) | " + accuracy_label + " | score | spec |",
                  "|---:|---:|---:|---:|---:|---|",
                  f"| {best['trial']} | {_millions(best['macs'])} | {_millions(best['params'])} | {acc:.4g} | "
                  f"{best['score']:.4g} | `{Path(best['spec_path']).name}` |", ""]
    if summary.get("baselines"):
        lines += ["## Known networks, same evaluator", "", f"| network | MACs (M) | {accuracy_label} | score |",
                  "|---|---:|---:|---:|"]
        for b in summary["baselines"]:
            lines.append(f"| {b['name']} | {_millions(b['macs'])} | {b[accuracy_key]:.4g} | {b['score']:.4g} |")
        lines.append("")
    lines += ["## Top trials", "", f"| trial | MACs (M) | {accuracy_label} | score | s |", "|---:|---:|---:|---:|---:|"]
    for r in sorted(scored, key=lambda r: -r["score"])[:10]:
        lines.append(f"| {r['number']} | {_millions(r['macs'])} | {r[accuracy_key]:.4g} | {r['score']:.4g} | "
                     f"{r['duration_s'] or 0:.1f} |")
    lines += ["", f"![optimisation history]({history_png.name})", "", f"![accuracy vs MACs]({scatter_png.name})", ""]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines))
    return [path, history_png, scatter_png]


def write_grid_heatmap(path: Path, document: dict[str, Any]) -> Path:
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


#: EfficientNet (Tan & Le, 2019) Figure 3 / Table 3, ImageNet top-1 (%), to set beside ours.
PAPER_SCALING = {
    "mobilenet-v2": {"base": (0.3, 72.0), "depth": (1.2, 76.8), "width": (1.1, 76.4), "resolution": (1.2, 74.8),
                     "compound": (1.3, 77.4)},
    "resnet50": {"base": (4.1, 76.0), "depth": (None, 78.1), "width": (None, 77.7), "resolution": (None, 77.5),
                 "compound": (16.7, 78.8)},
    "efficientnet-b0": {"base": (0.4, 77.3), "depth": (None, 79.0), "width": (None, 78.9),
                        "resolution": (None, 79.1), "compound": (1.8, 81.1)},
}


def _top1(row: dict[str, Any]) -> str:
    if row["val_top1"] is None:
        return "unmatched"
    return f"{row['val_top1']:.2%} +- {row['val_top1_std']:.2%}"


def print_compare(rows: list[dict[str, Any]]) -> None:
    """``compare-scaling`` as a table."""
    table = Table(title="Scaling strategies at matched MACs (val top-1, mean +- std over seeds)")
    for header in ("strategy", "x MACs", "d", "w", "r", "px", "MACs (M)", "val top-1"):
        table.add_column(header, justify="left" if header == "strategy" else "right")
    for r in rows:
        table.add_row(r["strategy"], f"{r['macs_ratio']:.2f}", f"{r['depth_mult']:.2f}", f"{r['width_mult']:.2f}",
                      f"{r['resolution_mult']:.2f}", str(r["train_resolution"]), _millions(r["macs"]), _top1(r))
    Console().print(table)


def write_compare_report(run_dir: Path, document: dict[str, Any]) -> list[Path]:
    """``compare_scaling.md`` and ``compare_scaling.png`` (accuracy against MACs per strategy)."""
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
    fig.tight_layout()
    png = run_dir / "compare_scaling.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    lines = [f"# Scaling strategies for {document['base']}", "", f"Data `{document['data']}`, recipe "
             f"`{document['recipe']}` ({document['epochs']} epochs), seeds {document['seeds']}. Variants more than 5% "
             f"from the requested MACs after rounding are not trained.", "",
             "| strategy | x MACs | d | w | r | train px | MACs (M) | val top-1 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['strategy']} | {r['macs_ratio']:.2f} | {r['depth_mult']:.2f} | {r['width_mult']:.2f} | "
                     f"{r['resolution_mult']:.2f} | {r['train_resolution']} | {_millions(r['macs'])} | {_top1(r)} |")
    paper = PAPER_SCALING.get(document["base"])
    if paper:
        lines += ["", "EfficientNet's ImageNet figures for this base (G MACs, top-1 %):", "",
                  *(f"- {k}: {'' if g is None else f'{g} G, '}{acc}%" for k, (g, acc) in paper.items())]
    lines += ["", f"![accuracy vs MACs]({png.name})", ""]
    md = run_dir / "compare_scaling.md"
    md.write_text("\n".join(lines))
    return [md, png]
