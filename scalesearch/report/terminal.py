"""What users read on a terminal: rich tables and progress bars, one JSON document with ``--json``,
one-line errors and diagnostics.

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
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from scalesearch.arch.spec import NetworkSpec, ViTSpec
from scalesearch.files import strict
from scalesearch.measure.flops import Count
from scalesearch.report.words import (
    finalist_std,
    millions,
    one_line,
    printable,
    seeds_and_epochs,
    top1,
    value,
    verdict,
)

err_console = Console(stderr=True)


def error_line(message: str) -> None:
    """One unwrapped, printable line on stderr, whatever the terminal width (cut at 1,000 characters)."""
    sys.stderr.write(f"error: {one_line(message)}\n")
    sys.stderr.flush()


def log(message: str) -> None:
    """A diagnostic on stderr (never mixed into stdout data), control characters escaped."""
    err_console.print(printable(message), markup=False, highlight=False, soft_wrap=True)


def print_json(document: Any) -> None:
    """Write one strict JSON document to stdout: NaN and infinities become null (a measurement
    that has no value), never the ``NaN`` that strict parsers reject."""
    sys.stdout.write(json.dumps(strict(document), indent=2, allow_nan=False, default=str) + "\n")
    sys.stdout.flush()


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


def scale_record(spec: NetworkSpec | ViTSpec, c: Count, spec_path: Path | None) -> dict[str, Any]:
    """One ``scale`` JSON object: ``phi``, multipliers, ``resolution``, ``params``, ``macs``, ``spec_path``."""
    record = spec.scaling
    if record is None:
        raise ValueError(f"{spec.name} is not a scaled spec")
    out = {"phi": record.phi, "name": spec.name, "depth_mult": record.depth_mult, "width_mult": record.width_mult,
           "resolution": spec.resolution, "params": c.params, "macs": c.macs,
           "spec_path": str(spec_path) if spec_path else None}
    if isinstance(spec, ViTSpec):
        out.update(mlp_mult=record.mlp_mult, depth=spec.depth, width=spec.width, heads=spec.heads, mlp_dim=spec.mlp_dim)
    return out


def print_scale(records: list[dict[str, Any]], title: str) -> None:
    """``scale`` as a table: px is the input resolution; x prev is the MACs ratio to the row above."""
    timed = "latency_ms" in records[0]
    if timed:
        title += f"\nlatency: median ms, batch 1, fp32, {records[0]['latency_device']}/{records[0]['latency_backend']}"
    vit = "mlp_dim" in records[0]
    table = Table(title=title, caption="shape: depth/width/heads/MLP dim" if vit else None)
    headers = ["phi", *(["shape"] if vit else ["depth x", "width x"]), "px", "params (M)", "MACs (M)", "x prev"]
    if timed:
        headers.append("latency ms")
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    previous = None
    for r in records:
        ratio = f"{r['macs'] / previous:.2f}" if previous else ""
        phi = "-" if r["phi"] is None else f"{r['phi']:g}"
        shape = ([f"{r['depth']}/{r['width']}/{r['heads']}/{r['mlp_dim']}"] if vit
                 else [f"{r['depth_mult']:.3f}", f"{r['width_mult']:.3f}"])
        row = [phi, *shape, str(r["resolution"]), millions(r["params"]), millions(r["macs"]), ratio]
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
        table.add_row(name, str(spec.num_blocks), str(spec.resolution), millions(c.params), millions(c.macs))
    Console().print(table)


@contextlib.contextmanager
def progress(*tasks: tuple[str, int], enabled: bool = True) -> Iterator[list[Callable[..., None]]]:
    """One rich progress display on stderr (only on a terminal, never with ``--json``) with a bar per
    ``(description, total)``; yields an ``update(completed, description=None, total=None)`` function
    per task."""
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True,
                   disable=not (enabled and err_console.is_terminal))
    with bar:
        ids = [bar.add_task(description, total=total) for description, total in tasks]
        yield [lambda completed, description=None, total=None, task=task: bar.update(
                   task, completed=completed, description=description, total=total) for task in ids]


def print_bench(records: list[dict[str, Any]]) -> None:
    """``bench`` as a table."""
    first = records[0]
    where = f"{first['device']}, {first['backend']}, {first['precision']}, {first['mode']}" + (
        f", {first['threads']} thread{'s' if first['threads'] > 1 else ''}" if first["threads"] else "") + (
        f", lowest of {first['windows']} window medians" if first["protocol"] == "windows" else ", settled median")
    table = Table(title=f"Latency in ms per batch ({where})")
    for header in ("model", "batch", "median ms", "p90 ms", "CV", "runs", "MACs (M)"):
        table.add_column(header, justify="left" if header == "model" else "right", no_wrap=header != "model")
    for r in records:
        table.add_row(r["model"], str(r["batch"]), f"{r['median_ms']:.3f}", f"{r['p90_ms']:.3f}", f"{r['cv']:.3f}",
                      str(r["runs"]), millions(r["macs"]))
    Console().print(table)


_PERCENT_KEYS = ("val_top1", "val_top1_std", "test_top1", "test_top1_std")


def emit(record: dict[str, Any], json_out: bool) -> None:
    """One result: a JSON document on stdout, or a two-column table (top-1 fractions shown as %)."""
    if json_out:
        print_json(record)
        return
    table = Table(show_header=False)
    for key, item in record.items():
        if key in _PERCENT_KEYS and isinstance(item, float):
            shown = f"{item:.2%}"
        elif isinstance(item, float):
            shown = f"{item:,.4g}"
        elif isinstance(item, list):
            shown = ", ".join(f"{v:.2%}" if isinstance(v, float) else str(v) for v in item)
        elif item is None:
            shown = "-"
        else:
            shown = str(item)
        table.add_row(key, shown)
    Console().print(table)


def print_compare(rows: list[dict[str, Any]]) -> None:
    """``compare-scaling`` as a table."""
    table = Table(title="Scaling strategies at matched MACs (val top-1, mean +- std over seeds)")
    for header in ("strategy", "x MACs", "d", "w", "r", "px", "MACs (M)", "val top-1"):
        table.add_column(header, justify="left" if header == "strategy" else "right")
    for r in rows:
        table.add_row(r["strategy"], f"{r['macs_ratio']:.2f}", f"{r['depth_mult']:.2f}", f"{r['width_mult']:.2f}",
                      f"{r['resolution_mult']:.2f}", str(r["train_resolution"]), millions(r["macs"]), top1(r))
    Console().print(table)


def print_search(summary: dict[str, Any]) -> None:
    """``find-base`` for people: what was searched, the finalists, and the best base."""
    target = (f"{summary['target'] / 1e6:,.1f}M MACs" if summary["target_unit"] == "MACs"
              else f"{summary['target']:.2f} ms")
    percent = not summary["accuracy_is_zero_cost"]
    console = Console()
    console.print(f"find-base {summary['study']}: target {target} ({summary['constraint']} constraint), "
                  f"{summary['evaluator']}, sampler {summary['sampler']}, pruner {summary['pruner']}", highlight=False)
    console.print(f"trials: {summary['n_trials']} evaluated ({summary['n_complete']} complete, "
                  f"{summary['n_pruned']} pruned, {summary['n_failed']} failed), {summary['n_rejected']} rejected "
                  f"untrained, {summary['n_died']} lost with their worker and retried", highlight=False)
    for reason, n in summary["failures"].items():
        console.print(f"failed: {n} x {reason}", highlight=False)
    final = summary.get("finalists")
    if final:
        table = Table(title=f"Finalists: {seeds_and_epochs(final)}")
        for header in ("network", "trial", "base", "MACs M", "1 run", "mean", "std", "score"):
            table.add_column(header, justify="left" if header == "network" else "right",
                             no_wrap=header != "network", overflow="fold")
        for r in final["rows"]:
            std = finalist_std(r, percent)
            table.add_row(r["name"], "" if r["trial"] is None else str(r["trial"]), "yes" if r["is_base"] else "",
                          millions(r["macs"]), value(r["search_value"], percent), value(r["mean"], percent), std,
                          value(r["score"], False))
        console.print(table)
        console.print(verdict(final, percent), highlight=False)
    best = summary["best"]
    if best is None:
        console.print("best base: none (no candidate was evaluated to the end)", highlight=False)
        return
    accuracy = best.get("final_mean")
    if accuracy is None:
        accuracy = best["val_top1"] if percent else best["zero_cost"]
    latency = "" if best["latency_ms"] is None else f", {best['latency_ms']:.2f} ms predicted" + (
        "" if best["measured_latency_ms"] is None else f" ({best['measured_latency_ms']:.2f} ms measured)")
    what = "validation top-1" if percent else "zero-cost score"
    console.print(f"best base: {best['name']}, {millions(best['macs'])}M MACs, {millions(best['params'])}M params"
                  f"{latency}; {what} {value(accuracy, percent)}", highlight=False)
    console.print(f"spec: {best['spec_path']}; report: {Path(summary['run_dir']) / 'report.md'}", highlight=False)


def print_family(document: dict[str, Any]) -> None:
    """A trained family as a table: one row per network, grouped by family."""
    rows = sorted(document["rows"].values(), key=lambda r: (r["family"], r["macs"]))
    keys = sorted({k for r in rows for k in r["latency_ms"]})
    table = Table(title=f"Trained alike: {document['settings']['recipe']['name']} recipe, seeds "
                        f"{document['settings']['seeds']} (val top-1, mean +- std)")
    for header in ("family", "network", "MACs (M)", "params (M)", "train px", "val top-1", *(f"{k} ms" for k in keys)):
        table.add_column(header, justify="left" if header in ("family", "network") else "right")
    for r in rows:
        table.add_row(r["family"], r["name"], millions(r["macs"]), millions(r["params"]), str(r["train_resolution"]),
                      top1(r, "not trained yet"), *(value(r["latency_ms"].get(k), False) for k in keys))
    Console().print(table)


def print_pipeline(summary: dict[str, Any]) -> None:
    """A pipeline run for people: the found base, the coefficients, the family, the wall time."""
    console = Console()
    best, grid = summary["found"]["best"], summary["coefficients"]
    console.print(f"found base: {best['name']}, {millions(best['macs'])}M MACs, {millions(best['params'])}M params",
                  highlight=False)
    if summary["found"]["finalists"]:
        console.print(verdict(summary["found"]["finalists"]), highlight=False)
    console.print(f"coefficients: alpha={grid['alpha']:.2f}, beta={grid['beta']:.2f}, gamma={grid['gamma']:.2f}",
                  highlight=False)
    keys = sorted({k for r in summary["family"] for k in r["latency_ms"]})
    table = Table(title="The found family (val top-1, mean +- std)")
    for header in ("phi", "network", "d", "w", "px", "MACs (M)", *(f"{k} ms" for k in keys), "val top-1"):
        table.add_column(header, justify="left" if header == "network" else "right")
    for r in summary["family"]:
        table.add_row(f"{r['phi']:g}", r["name"], f"{r['depth_mult']:.2f}", f"{r['width_mult']:.2f}",
                      str(r["resolution"]), millions(r["macs"]), *(value(r["latency_ms"].get(k), False) for k in keys),
                      top1(r, "-"))
    console.print(table)
    stages = summary["stages"].items()
    console.print("wall time: " + ", ".join(f"{name} {row['wall_s']:,.0f} s" for name, row in stages), highlight=False)
    console.print(f"report: {summary['report']}", highlight=False)


def print_self_train(document: dict[str, Any]) -> None:
    """A self-training run for people: one row per round, over seeds."""
    table = Table(title="Self-training (val top-1, mean +- std over seeds)")
    for header in ("round", "network", "val top-1", "its teacher", "kept / class", "confidence", "label acc"):
        table.add_column(header, justify="left" if header == "network" else "right")
    for r in document["summary"]:
        kept = f"{sum(r['kept_per_class']) / len(r['kept_per_class']):,.0f}" if r.get("kept_per_class") else "-"
        table.add_row("teacher" if r["round"] == 0 else str(r["round"]), r["network"], top1(r, "-"),
                      value(r["teacher_val_top1"], True), kept, value(r["mean_confidence"], True),
                      value(r["pseudo_label_accuracy"], True))
    Console().print(table)
    Console().print(f"report: {document['report']}", highlight=False)
