"""How numbers and verdicts are written for people, shared by terminal tables and Markdown:
units named, fractions as percentages, a dash for nothing measured (never ``None``)."""

from __future__ import annotations

import re
from typing import Any

from scalesearch.arch.spec import Spec, ViTSpec

#: The longest error line printed; the rest is counted, not shown (a file's content can be huge).
MAX_MESSAGE = 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters (terminal escapes among them) written as ``\\x1b`` and
    the like, so that nothing a file or a name holds can move the cursor or recolour a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def one_line(message: str) -> str:
    """An error message as one printable line of at most :data:`MAX_MESSAGE` characters."""
    line = printable(" ".join(message.split()))
    if len(line) > MAX_MESSAGE:
        line = f"{line[:MAX_MESSAGE]}... ({len(line) - MAX_MESSAGE:,} more characters)"
    return line


def norm_words(spec: Spec) -> str:
    """A network's normalisation in words: ``group (32 groups max) + weight standardization``; a
    ViT's is ``layer`` (LayerNorm)."""
    if isinstance(spec, ViTSpec):
        return "layer"
    return spec.norm + (f" ({spec.norm_groups} groups max)" if spec.norm == "group" else "") + \
        (" + weight standardization" if spec.weight_standardization else "")


def millions(n: int) -> str:
    """``385814752`` -> ``385.81`` (the column says M)."""
    return f"{n / 1e6:,.2f}"


def value(x: float | None, percent: bool) -> str:
    """A measurement: a percentage for accuracies, four significant digits otherwise, '-' for none."""
    if x is None:
        return "-"
    return f"{x:.1%}" if percent else f"{x:.4g}"


def top1(row: dict[str, Any], unmatched: str = "unmatched") -> str:
    """``val_top1 +- val_top1_std`` as percentages, or why there is none."""
    if row["val_top1"] is None:
        return unmatched
    return f"{row['val_top1']:.2%} +- {row['val_top1_std']:.2%}"


def seeds_and_epochs(final: dict[str, Any]) -> str:
    """``seeds 1, 2 and 3, 8 epochs each``."""
    seeds = final["seeds"]
    text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds[:-1]))} and {seeds[-1]}"
    return text + (f", {final['epochs']} epochs each" if final["epochs"] else "")


def finalist_runs(row: dict[str, Any]) -> str:
    """``3 seeds`` or ``2 seeds, 1 failed``."""
    runs = f"{len(row['per_seed'])} seed{'s' if len(row['per_seed']) != 1 else ''}"
    return runs + (f", {len(row['failures'])} failed" if row.get("failures") else "")


def finalist_std(row: dict[str, Any], percent: bool) -> str:
    if row["std"] is None:
        return "-"
    return f"{row['std'] * 100:.1f} pt" if percent else f"{row['std']:.3g}"


def verdict(final: dict[str, Any], percent: bool = True) -> str:
    """One sentence: who won the finalist stage, and by how much over the base network."""
    if not final["complete"]:
        return "The finalist stage is not finished: run the same command to go on."
    if final["winner"] is None:
        return "No finalist trained on every final seed: see the failures above."
    if final["base"] is None:
        return f"The winner is {final['winner']} (this study was not told its space's base network)."
    if final["margin_vs_base"] is None:
        return f"The winner is {final['winner']}; the base network ({final['base']}) failed to train on a final seed."
    if final["winner_is_base"]:
        return f"The base network ({final['base']}) wins: the search found nothing better at this budget."
    margin = final["margin_vs_base"]
    shown = f"{margin * 100:+.1f} points" if percent else f"{margin:+.4g}"
    return f"The winner, {final['winner']}, beats the base network ({final['base']}) by {shown} (mean over seeds)."
