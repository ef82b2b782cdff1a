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
    table = Table(title=title)
    for header in ("phi", "depth x", "width x", "px", "params (M)", "MACs (M)", "x prev"):
        table.add_column(header, justify="right", no_wrap=True)
    previous = None
    for r in records:
        ratio = f"{r['macs'] / previous:.2f}" if previous else ""
        row = [f"{r['phi']:g}", f"{r['depth_mult']:.3f}", f"{r['width_mult']:.3f}", str(r["resolution"]),
               _millions(r["params"]), _millions(r["macs"]), ratio]
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
def progress(*tasks: tuple[str, int], enabled: bool = True) -> Iterator[list[Callable[[int], None]]]:
    """One rich progress display on stderr (only on a terminal, never with ``--json``) with a bar per
    ``(description, total)``; yields an ``update(completed)`` function per task."""
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True,
                   disable=not (enabled and err_console.is_terminal))
    with bar:
        ids = [bar.add_task(description, total=total) for description, total in tasks]
        yield [lambda completed, task=task: bar.update(task, completed=completed) for task in ids]


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


def _plot(path: Path, records: list[dict[str, Any]], x_key: str, x_label: str, x_scale: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
