"""The quantity parsers find-base and scale share."""

from __future__ import annotations

import pytest

from scalesearch.errors import UsageError
from scalesearch.quantities import parse_macs, parse_phis


@pytest.mark.parametrize("text, macs", [
    ("400M", 400_000_000), ("400m", 400_000_000), ("0.4G", 400_000_000), ("1.8g", 1_800_000_000),
    ("400M MACs", 400_000_000), ("400MFLOPs", 400_000_000), ("400 MACs", 400), ("4e8", 400_000_000),
    ("385814752", 385_814_752),
    ("2k", 2000), ("1T", 10**12), (" 12.5M ", 12_500_000),
])
def test_parse_macs(text: str, macs: int):
    assert parse_macs(text) == macs


@pytest.mark.parametrize("text, words", [
    ("400X", "invalid MACs quantity '400X'"), ("-5M", "must be positive"), ("0", "must be positive"),
    ("abc", "expected a positive number"), ("", "expected"), ("M", "expected"), ("1e400", "must be positive"),
    ("0.5", "must be positive"), ("4 00M", "expected"),
])
def test_parse_macs_rejects(text: str, words: str):
    with pytest.raises(UsageError, match=words) as info:
        parse_macs(text)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("text, phis", [
    ("3", [3]), ("-1", [-1]), ("0.5", [0.5]), ("1-7", [1, 2, 3, 4, 5, 6, 7]), ("-2-1", [-2, -1, 0, 1]),
    ("-3--1", [-3, -2, -1]), ("4-4", [4]),
])
def test_parse_phis(text: str, phis: list[float]):
    assert parse_phis(text) == phis


@pytest.mark.parametrize("text, words", [("7-1", "descending"), ("x", "invalid phi"), ("1-", "invalid phi"),
                                         ("inf", "finite"), ("1.5-3", "invalid phi")])
def test_parse_phis_rejects(text: str, words: str):
    with pytest.raises(UsageError, match=words):
        parse_phis(text)
