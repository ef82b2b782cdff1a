"""What the results pages share: reading a result, writing numbers, names and ranges, tables, figures,
bash blocks (a script's own usage lines among them), the machine and the line that says where the page comes
from. Pages are rendered, never typed."""

from __future__ import annotations

import ast
import json
import re
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
    """Whether ``benchmarks/results/NAME.json`` is there."""
    return (RESULTS / f"{name}.json").exists()


# --- numbers ----------------------------------------------------------------------------------------------------------

def pct(fraction: float | None, digits: int = 1) -> str:
    """0.5204 -> ``52.0%``; None -> ``-``."""
    return "-" if fraction is None else f"{fraction:.{digits}%}"


def num(value: float | None, digits: int = 2) -> str:
    """A number with ``digits`` decimals and thousands separators; None -> ``-``."""
    return "-" if value is None else f"{value:,.{digits}f}"


def millions(macs: float | None, digits: int = 1) -> str:
    """385814752 -> ``385.8M``."""
    return "-" if macs is None else f"{macs / 1e6:,.{digits}f}M"


def pm(mean: float | None, std: float | None) -> str:
    """0.3795, 0.0134 -> ``38.0 ± 1.3`` (percent)."""
    return "-" if mean is None else f"{mean * 100:.1f} ± {(std or 0) * 100:.1f}"


def points(value: float, digits: int = 1) -> str:
    """A signed difference in points: ``+2.7``, ``-0.6``."""
    return f"{value:+.{digits}f}"


def spread(values: list[float], digits: int = 1) -> str:
    """The range of some differences in points: ``-7.4 to -4.6``."""
    low, high = min(values), max(values)
    return points(low, digits) if f"{low:.{digits}f}" == f"{high:.{digits}f}" else \
        f"{points(low, digits)} to {points(high, digits)}"


def span(values: list[float], digits: int = 1, unit: str = "") -> str:
    """The range of some values, ``low-high`` (one value when they round alike)."""
    low, high = f"{min(values):,.{digits}f}", f"{max(values):,.{digits}f}"
    return f"{low}{unit}" if low == high else f"{low}-{high}{unit}"


# --- words ------------------------------------------------------------------------------------------------------------

def goal(met: bool | None) -> str:
    """A goal's verdict: ``**met**``, ``**not met**`` or ``not measured`` (None)."""
    return "not measured" if met is None else "**met**" if met else "**not met**"


def threshold(goal_text: str) -> float:
    """The number a goal's text compares with (``">= 0.90 of ..."`` -> 0.9), so it is never typed twice."""
    return float(re.search(r"[<>]=\s*([0-9.]+)", goal_text)[1])


def names(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)


def plural(count: int, noun: str) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


DATA_NAMES = {"cifar10": "CIFAR-10 subset", "fashion-mnist": "Fashion-MNIST"}


def data_name(kind: str, article: bool = False) -> str:
    """A data set's kind in words (``the CIFAR-10 subset`` with ``article``)."""
    name = DATA_NAMES.get(kind, kind)
    return f"the {name}" if article and name.endswith("subset") else name


def network_name(name: str) -> str:
    """A network's name as a reader knows it (``efficientnet-b0-official-phi3`` -> EfficientNet-B3)."""
    official = re.fullmatch(r"efficientnet-b0-official-phi(\d)", name)
    if official:
        return f"EfficientNet-B{official[1]}"
    resnet = re.fullmatch(r"resnet(\d+)", name)
    if resnet:
        return f"ResNet-{resnet[1]}"
    known = {"efficientnet-b0": "EfficientNet-B0", "efficientnet-b1": "EfficientNet-B1", "b0": "EfficientNet-B0",
             "b0-w0.5": "EfficientNet-B0 at width 0.5", "mobilenet-v1": "MobileNetV1", "mobilenet-v2": "MobileNetV2",
             "mnasnet-a1": "MnasNet-A1"}
    return known.get(name, f"`{name}`")


# --- page parts -------------------------------------------------------------------------------------------------------

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


def bash(*lines: str) -> list[str]:
    """A bash block of ``lines``, as lines of a page."""
    return ["```bash", *lines, "```"]


# an absolute path of the machine a script's docstring was written on (tests/test_portable_results.py's rule)
_MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root|home|Users|mnt|scratch|usr|opt|var|srv|data|private)/"
                           r"""[^\s"'`,;)\]]*""")


def usage(*scripts: str) -> list[str]:
    """The benchmark scripts' own usage lines (their docstrings' ``Run`` and ``GPU-sized`` commands), as one
    bash block, so that a page never restates a command its script has changed."""
    commands: list[list[str]] = []
    for script in scripts:
        doc = ast.get_docstring(ast.parse((ROOT / "benchmarks" / f"{script}.py").read_text())) or ""
        inside = False
        for line in doc.splitlines():
            head = re.match(r"(Run|GPU-sized)\b[^:]*:\s*(.*)$", line)
            text = _MACHINE_PATH.sub("PATH", (head.group(2) if head else line).strip())
            if head:
                inside = not text or text.startswith("python")
                if text.startswith("python"):
                    commands.append([text])
            elif inside and line.startswith(" ") and text:
                if text.startswith("python"):
                    commands.append([text])
                elif commands:
                    commands[-1].append(text)
            else:
                inside = False
    return bash(*(" \\\n    ".join(parts) for parts in commands))


# --- where a figure comes from ----------------------------------------------------------------------------------------

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


def measured_on(document: dict[str, Any], what: str = "") -> str:
    """The machine line, with the whole interference record (or that the script keeps none); ``what``
    names the run when a page has several."""
    line = machine(document)
    interference = document.get("interference")
    if isinstance(interference, dict) and "steal_s" in interference:
        line += (f", and the hypervisor stole {interference['steal_s']:.1f} s of the run's "
                 f"{interference['wall_s']:,.0f} s")
    elif not interference:
        line += ("; interference: not recorded (this script keeps no record of what else the machine ran, "
                 "so a slow spell cannot be told apart)")
    return f"Measured on{f' ({what})' if what else ''}: {line}."


def source(*stems: str) -> str:
    """The footer every page ends with: its JSON files, and that it is rendered."""
    files = ", ".join(f"[`{n}.json`]({DATA}/{n}.json)" for n in stems)
    return (f"*Rendered from {files} by `python benchmarks/render_pages.py`: change the script or re-run the "
            f"benchmark, never this page.*")
