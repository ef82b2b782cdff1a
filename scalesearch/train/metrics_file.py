"""A ``train`` run's ``metrics.csv``: one row per seed and epoch (:class:`EpochMetrics`), written
a row at a time, each time replacing the file atomically, and read back like user input when a run
resumes (a file this version did not write is refused, rows a killed run wrote after its last
checkpoint are dropped).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import asdict, dataclass
from pathlib import Path

from scalesearch.errors import UsageError
from scalesearch.files import write_atomic


@dataclass(frozen=True)
class EpochMetrics:
    """One seed's epoch, as a row of ``metrics.csv``; ``train_loss`` is the epoch's mean."""

    seed: int
    epoch: int
    train_loss: float
    val_top1: float | None  # None after an epoch the recipe's ``eval_every`` skips
    img_per_s: float
    lr: float


_METRIC_TYPES = {f.name: f.type for f in dataclasses.fields(EpochMetrics)}


def append_epoch(run_dir: Path, metrics: EpochMetrics) -> None:
    """Add this epoch's row, replacing the file atomically: a crash or a full disk leaves the
    previous epoch's file whole, never a cut-off row."""
    csv_path = run_dir / "metrics.csv"
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(asdict(metrics)))
    if not csv_path.exists() or csv_path.stat().st_size == 0:
        writer.writeheader()
    writer.writerow(asdict(metrics))
    earlier = csv_path.read_text() if csv_path.exists() else ""
    write_atomic(csv_path, earlier + text.getvalue())


def keep_epochs(run_dir: Path, seed: int, done: int, rewrite: bool) -> list[EpochMetrics]:
    """The metrics of ``seed``'s first ``done`` epochs. Rows of its later epochs (written before a
    checkpoint that a kill cut off) are dropped from the file where ``rewrite``."""
    rows = _rows(run_dir)
    kept = [r for r in rows if int(r["seed"]) != seed or int(r["epoch"]) <= done]
    if len(kept) != len(rows) and rewrite:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(_METRIC_TYPES))
        writer.writeheader()
        writer.writerows(kept)
        write_atomic(run_dir / "metrics.csv", text.getvalue())
    return [_metrics(r) for r in kept if int(r["seed"]) == seed]


def _rows(run_dir: Path) -> list[dict[str, str]]:
    """``metrics.csv``'s rows, each checked to be a row this version wrote (read back like user input)."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return []
    try:
        reader = csv.DictReader(io.StringIO(path.read_text()))
        rows = list(reader)
        if rows and list(reader.fieldnames or []) != list(_METRIC_TYPES):
            raise ValueError(f"its columns are {', '.join(reader.fieldnames or [])}")
        for row in rows:
            _metrics(row)
    except (UnicodeDecodeError, ValueError, TypeError) as err:
        raise UsageError(f"{path}: not a metrics file this run can go on from ({err}); remove the run folder, or "
                         "use another one") from None
    return rows


def _metrics(row: dict[str, str]) -> EpochMetrics:
    return EpochMetrics(**{k: None if v == "" else (float(v) if _METRIC_TYPES[k] != "int" else int(v))
                           for k, v in row.items()})
