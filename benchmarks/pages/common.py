"""What every results page shares: reading a result, writing numbers, tables, figures, the machine
and the line that says where the page comes from. Pages are rendered, never typed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks/results"
#: docs/data is a link to benchmarks/results: pages show its figures and link its JSON from there.
DATA = "../data"


def load(name: str) -> dict[str, Any]:
    """``benchmarks/results/NAME.json``."""
    return json.loads((RESULTS / f"{name}.json").read_text())


def exists(name: str) -> bool:
    return (RESULTS / f"{name}.json").exists()


def pct(fraction: float | None, digits: int = 1) -> str:
    """0.5204 -> ``52.0%``; None -> ``-``."""
    return "-" if fraction is None else f"{fraction:.{digits}%}"


def num(value: float | None, digits: int = 2) -> str:
    """A number with ``digits`` decimals and thousands separators; None -> ``-``."""
    return "-" if value is None else f"{value:,.{digits}f}"


def millions(macs: float | None, digits: int = 1) -> str:
    """385814752 -> ``385.8M``."""
    return "-" if macs is None else f"{macs / 1e6:,.{digits}f}M"


def goal(met: bool | None) -> str:
    return "not measured" if met is None else "**met**" if met else "**not met**"


def table(header: Iterable[str], rows: Iterable[Iterable[Any]], align: str | None = None) -> str:
    """A Markdown table; ``align`` is one letter per column, ``l`` or ``r`` (default: all left)."""
    header = list(header)
    marks = [":---" if a == "l" else "---:" for a in align] if align else ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def figure(file: str, alt: str) -> str:
    """A figure of benchmarks/results (``file`` relative to it)."""
    return f"![{alt}]({DATA}/{file})"


def machine(document: dict[str, Any]) -> str:
    """The machine a result was measured on, in one line, with the interference it recorded."""
    info = document.get("machine") or {}
    gpu = info.get("gpu")
    cores = info.get("usable_cores", "?")
    parts = [f"{info.get('cpu', 'unknown CPU')}, {cores} usable core{'' if cores == 1 else 's'}"]
    if gpu:
        parts.append(gpu if isinstance(gpu, str) else str(gpu.get("name", gpu)))
    parts.append(f"torch {info.get('torch', '?')}")
    line = "; ".join(parts)
    interference = document.get("interference")
    if isinstance(interference, dict) and "other_processes_cores_busy" in interference:
        line += (f"; interference: other processes kept {interference['other_processes_cores_busy']:.2f} cores "
                 f"busy on average")
    return line


def source(*names: str) -> str:
    """The footer every page ends with: its JSON files, and that it is rendered."""
    files = ", ".join(f"[`{n}.json`]({DATA}/{n}.json)" for n in names)
    return (f"*Rendered from {files} by `python benchmarks/render_pages.py`: change the script or re-run the "
            f"benchmark, never this page.*")
