"""Time calls: one until its median is stable, or several taking turns in short windows; and
summarise the samples."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Sequence


@dataclass(frozen=True)
class TimingStats:
    """Summary of per-call latencies, in milliseconds."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    iqr_ms: float
    cv: float  # standard deviation / mean over the samples
    runs: int
    windows: int = 1  # of which these samples are the one with the lowest median

    @classmethod
    def from_samples(cls, samples_ms: list[float]) -> "TimingStats":
        if not samples_ms:
            raise ValueError("no samples")
        if len(samples_ms) == 1:
            only = samples_ms[0]
            return cls(only, only, only, only, 0.0, 0.0, 1)
        deciles = statistics.quantiles(samples_ms, n=10, method="inclusive")
        quartiles = statistics.quantiles(samples_ms, n=4, method="inclusive")
        mean = statistics.fmean(samples_ms)
        return cls(
            median_ms=statistics.median(samples_ms), p10_ms=deciles[0], p90_ms=deciles[-1], min_ms=min(samples_ms),
            iqr_ms=quartiles[2] - quartiles[0], cv=statistics.stdev(samples_ms) / mean if mean > 0 else math.inf,
            runs=len(samples_ms),
        )

    @classmethod
    def lowest_window(cls, windows: Sequence[list[float]]) -> "TimingStats":
        """The statistics of the window whose median is lowest."""
        lowest = min(windows, key=statistics.median)
        return replace(cls.from_samples(lowest), windows=len(windows))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def repeat_until_stable(
    run_once: Callable[[], float],
    *,
    budget_s: float,
    warmup_s: float = 0.3,
    min_warmup: int = 3,
    chunk: int = 10,
    min_runs: int = 20,
    max_runs: int = 2000,
    rel_tol: float = 0.01,
    min_time_fraction: float = 0.5,
) -> TimingStats:
    """Call ``run_once`` (which returns one call's latency in ms) after a warm-up, in chunks, until
    the running median moves by less than ``rel_tol`` over two consecutive chunks and at least
    ``min_time_fraction`` of the budget has been spent timing, or ``max_runs`` is reached, or
    ``budget_s`` of wall time is spent (at least ``min_runs`` unless one call outlasts the budget).

    The time floor matters on shared machines: a median that looks stable over 30 calls (0.6 s
    for B0) still moved 13% between runs on a 2-vCPU VM, against 2% when timing for 1.5 s.
    """
    _warm(run_once, warmup_s, min_warmup, budget_s)
    samples: list[float] = []
    stable_chunks = 0
    previous = None
    measure_start = time.perf_counter()
    while len(samples) < max_runs:
        samples.extend(run_once() for _ in range(chunk))
        median = statistics.median(samples)
        if previous is not None and abs(median - previous) <= rel_tol * previous:
            stable_chunks += 1
        else:
            stable_chunks = 0
        previous = median
        elapsed = time.perf_counter() - measure_start
        if len(samples) >= min_runs and stable_chunks >= 2 and elapsed >= min_time_fraction * budget_s:
            break
        if elapsed > budget_s:
            break
    return TimingStats.from_samples(samples)


def _warm(run_once: Callable[[], float], seconds: float, calls: int, budget_s: float = math.inf) -> None:
    """Untimed calls: at least ``calls`` and ``seconds``, unless ``budget_s`` runs out first."""
    start = time.perf_counter()
    done = 0
    while done < calls or time.perf_counter() - start < seconds:
        run_once()
        done += 1
        if time.perf_counter() - start > budget_s:
            break


def lowest_window_median(
    runs: Sequence[Callable[[], float]],
    budgets_s: Sequence[float],
    windows: int = 3,
    *,
    min_calls: int = 3,
    on_turn: Callable[[int], None] | None = None,
) -> list[TimingStats]:
    """Time several calls taking turns: each gets ``windows`` windows of its budget, spread over the
    whole measurement, and its figure is the window with the lowest median
    (:meth:`TimingStats.lowest_window`). A slow spell of a shared machine (another process, a vCPU
    taken away) then costs a window, not the figure, and hits every network alike. Each run is
    warmed up first (a tenth of its budget, at most 0.3 s) and called once untimed at the start of
    each turn, as another network's turn may have evicted its caches. ``on_turn(n)`` follows each
    of the ``windows * len(runs)`` turns."""
    shares = []
    for run_once, budget in zip(runs, budgets_s, strict=True):
        warmup = min(0.3, budget / 10)
        _warm(run_once, warmup, 3)
        shares.append((budget - warmup) / windows)
    samples: list[list[list[float]]] = [[] for _ in runs]
    turn = 0
    for _ in range(windows):
        for run_once, share, taken in zip(runs, shares, samples):
            run_once()
            calls: list[float] = []
            end = time.perf_counter() + share
            while len(calls) < min_calls or time.perf_counter() < end:
                calls.append(run_once())
            taken.append(calls)
            turn += 1
            if on_turn:
                on_turn(turn)
    return [TimingStats.lowest_window(w) for w in samples]
