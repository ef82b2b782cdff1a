"""Seeds, checked in one place: a seed is what torch, NumPy and Optuna all accept (an unsigned 32-bit
integer), and a run trains a bounded number of them."""

from __future__ import annotations

from scalesearch.errors import UsageError

MAX_SEED = 2**32 - 1
#: The most seeds one command trains (a thousand trainings of one network is already days of work).
MAX_SEEDS = 1000


def check_seed(seed: int, name: str = "seed") -> int:
    """``seed`` itself, or a UsageError naming parameter ``name``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"`{name}` must be in [0, 2**32 - 1], got {seed!r}")
    return seed


def seed_list(count: int, first: int = 0) -> list[int]:
    """``count`` consecutive seeds from ``first``: all of them seeds, at most :data:`MAX_SEEDS`."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SEEDS:
        raise UsageError(f"`seeds` must be in [1, {MAX_SEEDS}], got {count!r}")
    check_seed(first, "first_seed")
    if first + count - 1 > MAX_SEED:
        raise UsageError(f"`first_seed` + `seeds` - 1 must be at most 2**32 - 1, got {first + count - 1}")
    return list(range(first, first + count))
