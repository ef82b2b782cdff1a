"""Everything users read: rich tables on a terminal, one JSON document with ``--json``.

Data goes to stdout; diagnostics go to stderr (:data:`err_console`), so ``--json`` output
stays parseable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
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
