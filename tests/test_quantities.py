"""The quantity parsers find-base and scale share."""

from __future__ import annotations

import pytest

from scalesearch.errors import UsageError
from scalesearch.quantities import parse_batches, parse_devices, parse_latency, parse_macs, parse_phis


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


@pytest.mark.parametrize("text", ["٣٠٠M", "３００M", "1²"])
def test_only_ascii_digits_make_a_quantity(text: str):
    with pytest.raises(UsageError, match="invalid MACs quantity"):
        parse_macs(text)


def test_the_smallest_budget_is_one_multiply_add():
    assert parse_macs("1") == 1 and parse_macs("1.4") == 1
    for text in ("0.99", "0.6"):
        with pytest.raises(UsageError, match="at least 1 multiply-add"):
            parse_macs(text)


@pytest.mark.parametrize("text, batches", [("1", [1]), ("1,8,64", [1, 8, 64]), (" 2 , 16 ", [2, 16])])
def test_parse_batches(text: str, batches: list[int]):
    assert parse_batches(text) == batches


@pytest.mark.parametrize("text", ["0", "1,0", "-1", "1.5", "a", "", "1,,2", "٣"])
def test_parse_batches_rejects(text: str):
    with pytest.raises(UsageError, match="each must be a positive integer"):
        parse_batches(text)


@pytest.mark.parametrize("text, devices", [("0", (0,)), ("0,1,3", (0, 1, 3)), (" 2, 0 ", (2, 0))])
def test_parse_devices(text: str, devices: tuple[int, ...]):
    assert parse_devices(text) == devices


@pytest.mark.parametrize("text", ["0,0", "-1", "a", "", "1,", "٣"])
def test_parse_devices_rejects(text: str):
    with pytest.raises(UsageError, match="give distinct indices"):
        parse_devices(text)


@pytest.mark.parametrize("text, ms", [("15ms", 15.0), ("15MS", 15.0), ("800us", 0.8), ("800µs", 0.8), ("800US", 0.8),
                                      ("0.02s", 20.0), ("2S", 2000.0), (" .5 ms ", 0.5), ("1e-3s", 1.0)])
def test_parse_latency(text: str, ms: float):
    assert parse_latency(text) == pytest.approx(ms, rel=1e-12)


@pytest.mark.parametrize("text, words", [("15", "expected a positive number with a unit"), ("ms", "expected"),
                                         ("-1ms", "expected"), ("١٥ms", "expected"), ("15 minutes", "expected"),
                                         ("0ms", "must be positive"), ("0.0s", "must be positive"),
                                         ("1e400ms", "must be positive")])
def test_parse_latency_rejects(text: str, words: str):
    with pytest.raises(UsageError, match=words):
        parse_latency(text)
