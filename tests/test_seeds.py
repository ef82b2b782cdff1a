"""Seeds are checked in one place: unsigned 32-bit integers, at most MAX_SEEDS of them a run."""

from __future__ import annotations

import pytest

from scalesearch.errors import UsageError
from scalesearch.seeds import MAX_SEED, MAX_SEEDS, check_seed, seed_list


@pytest.mark.parametrize("seed", [0, 1, 2**31, MAX_SEED])
def test_a_seed_is_any_unsigned_32_bit_integer(seed):
    assert check_seed(seed) == seed and MAX_SEED == 2**32 - 1


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64, True, False, 1.0, "1", None])
def test_anything_else_is_refused_naming_the_parameter(seed):
    with pytest.raises(UsageError, match=r"^`data_seed` must be in \[0, 2\*\*32 - 1\], got "):
        check_seed(seed, "data_seed")


@pytest.mark.parametrize("count, first, seeds", [(1, 0, [0]), (3, 5, [5, 6, 7]),
                                                 (2, MAX_SEED - 1, [MAX_SEED - 1, MAX_SEED]),
                                                 (MAX_SEEDS, 0, list(range(1000)))])
def test_seed_list(count, first, seeds):
    assert seed_list(count, first) == seeds and MAX_SEEDS == 1000


def test_seeds_start_at_0_unless_told():
    assert seed_list(3) == [0, 1, 2]


@pytest.mark.parametrize("count, first, message", [
    (0, 0, r"`seeds` must be in \[1, 1000\], got 0"), (MAX_SEEDS + 1, 0, r"`seeds` must be in \[1, 1000\], got 1001"),
    (True, 0, r"`seeds` must be in \[1, 1000\], got True"), (2.0, 0, r"`seeds` must be in \[1, 1000\], got 2.0"),
    (1, -1, r"`first_seed` must be in \[0, 2\*\*32 - 1\], got -1"),
    (2, MAX_SEED, r"`first_seed` \+ `seeds` - 1 must be at most 2\*\*32 - 1, got 4294967296"),
    (4, MAX_SEED - 1, r"`first_seed` \+ `seeds` - 1 must be at most 2\*\*32 - 1, got 4294967297"),
])
def test_seed_list_refuses(count, first, message):
    with pytest.raises(UsageError, match=f"^{message}$"):
        seed_list(count, first)
