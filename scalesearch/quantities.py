"""Parsers for the quantities users type: MACs budgets (``400M``), phi values or ranges (``1-7``),
batch sizes, GPU indices, latencies (``15ms``) and MACs multipliers (``2,4``)."""

from __future__ import annotations

import math
import re

from scalesearch.arch.scaling import check_phi
from scalesearch.errors import UsageError

_SI = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_MACS = re.compile(
    r"\s*(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*(?P<si>[kmgt]?)\s*(?:macs?|flops?)?\s*",
    re.IGNORECASE | re.ASCII,  # digits 0-9 only: int() and float() take other scripts' digits, '²' breaks them
)
_PHI_RANGE = re.compile(r"\s*(?P<lo>-?\d+)\s*-\s*(?P<hi>-?\d+)\s*", re.ASCII)


def parse_macs(text: str) -> int:
    """``"400M"`` -> 400_000_000 multiply-adds. Suffixes K, M, G, T (any case; ``m`` is mega, since
    milli-MACs mean nothing), an optional unit word (``400 MFLOPs``, ``1.8G MACs``), or a plain number."""
    match = _MACS.fullmatch(text)
    if match is None:
        raise UsageError(f"invalid MACs quantity {text!r}: expected a positive number with an optional "
                         f"K, M, G or T suffix, e.g. 400M or 1.8G")
    value = float(match["num"]) * _SI[match["si"].lower()]
    if not math.isfinite(value) or value < 1:
        raise UsageError(f"invalid MACs quantity {text!r}: must be positive (at least 1 multiply-add)")
    return int(round(value))


def parse_phis(text: str) -> list[float]:
    """``"3"`` -> [3]; ``"-1.5"`` -> [-1.5]; ``"1-7"`` -> [1, 2, ..., 7] (an ascending integer range)."""
    match = _PHI_RANGE.fullmatch(text)
    if match is not None:
        lo, hi = int(match["lo"]), int(match["hi"])
        if lo > hi:
            raise UsageError(f"phi range {text!r} is descending: write it low to high, e.g. {hi}-{lo}")
        check_phi(hi)  # before the list is made: 0-99999999999 would fill the memory
        return list(range(lo, hi + 1))
    invalid = UsageError(f"invalid phi {text!r}: expected a number (3, -1, 0.5) or an integer range (1-7)")
    if not text.isascii():  # float() takes other scripts' digits
        raise invalid
    try:
        value = float(text)
    except ValueError:
        raise invalid from None
    if not math.isfinite(value):
        raise UsageError(f"invalid phi {text!r}: must be a finite number")
    return [int(value) if value.is_integer() else value]


def parse_batches(text: str) -> list[int]:
    """``"1,8,64"`` -> [1, 8, 64]: batch sizes, each a positive integer."""
    batches = []
    for part in text.split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit()) or int(part) < 1:
            raise UsageError(f"invalid batch size {part!r} in {text!r}: each must be a positive integer, e.g. 1,8,64")
        batches.append(int(part))
    return batches


def parse_multipliers(text: str) -> list[float]:
    """``"2,4,8"`` -> [2.0, 4.0, 8.0]: numbers (their range is the caller's to check, e.g. > 1)."""
    try:
        if not text.isascii():  # float() takes other scripts' digits
            raise ValueError
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"`flops_multiplier` must be numbers separated by commas, e.g. 2,4, got {text!r}") from None


def parse_devices(text: str) -> tuple[int, ...]:
    """``"0,1,3"`` -> (0, 1, 3): GPU indices, each once."""
    devices = []
    for part in text.split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit()) or int(part) in devices:
            raise UsageError(f"invalid GPU index {part!r} in {text!r}: give distinct indices such as 0,1,2,3")
        devices.append(int(part))
    return tuple(devices)


_LATENCY = re.compile(r"\s*(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*(?P<unit>ms|us|µs|s)\s*",
                      re.IGNORECASE | re.ASCII)
_TO_MS = {"ms": 1.0, "us": 1e-3, "µs": 1e-3, "s": 1e3}


def parse_latency(text: str) -> float:
    """``"15ms"`` -> 15.0 (milliseconds); units ms, us or s are required."""
    match = _LATENCY.fullmatch(text)
    if match is None:
        raise UsageError(f"invalid latency {text!r}: expected a positive number with a unit, e.g. 15ms, 800us or 0.02s")
    value = float(match["num"]) * _TO_MS[match["unit"].lower()]
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"invalid latency {text!r}: must be positive")
    return value
