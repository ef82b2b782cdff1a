"""NAS-Bench-Macro (Su et al., "Prioritized Architecture Sampling with Monte-Carlo Tree Search",
CVPR 2021) as a lookup table: every one of the 3^8 = 6,561 networks of its space
(``search_spaces/nas-bench-macro.yaml``) trained on CIFAR-10 with 3 seeds.

The file is the benchmark's own ``nas-bench-macro_cifar10.json``: keys are the 8 layer choices
(``"22212220"``; 0 identity, 1 expansion 3 kernel 3, 2 expansion 6 kernel 5), values hold
``test_acc`` (the 3 seeds' top-1, %), ``params`` and ``flops``. Its ``flops`` are multiply-adds of
the convolutions and the classifier, exactly what :func:`~scalesearch.measure.flops.analytic_count`
counts (equal on all 6,561 networks: ``benchmarks/benchmark_macs.py``).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalesearch.errors import UsageError, shown
from scalesearch.files import read_json_object
from scalesearch.measure.ranking import kendall, spearman
from scalesearch.search.space import SearchSpace, load_space

#: The built-in space whose networks the table holds.
SPACE = "nas-bench-macro"
LAYERS, OPTIONS = 8, 3
#: The benchmark's file is 1.2 MB; anything far larger is not it.
MAX_BYTES = 64 * 2**20
_RECORD_KEYS = {"test_acc", "mean_acc", "std", "params", "flops"}


@dataclass(frozen=True)
class Record:
    """One network's results: top-1 (%) of each training seed, its params and MACs as recorded."""

    accuracies: tuple[float, ...]
    params: int
    macs: int

    @property
    def mean(self) -> float:
        return math.fsum(self.accuracies) / len(self.accuracies)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _record(key: str, value: Any, source: str) -> Record:
    def bad(reason: str) -> UsageError:
        return UsageError(f"{source}: network {key!r}: {reason}; not a NAS-Bench-Macro table "
                          f"(nas-bench-macro_cifar10.json)")

    if not isinstance(value, dict):
        raise bad(f"must be a mapping, got {shown(value)}")
    unknown = sorted(str(k) for k in value if k not in _RECORD_KEYS)
    if unknown:
        raise bad(f"unknown field {unknown[0]!r}")
    accuracies = value.get("test_acc")
    if not isinstance(accuracies, list) or not 1 <= len(accuracies) <= 100 or \
            not all(_number(a) and 0 <= a <= 100 for a in accuracies):
        raise bad(f"test_acc must list 1 to 100 accuracies in [0, 100] (%), got {shown(accuracies)}")
    for field in ("params", "flops"):
        count = value.get(field)
        if not (isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 2**63):
            raise bad(f"{field} must be a non-negative integer, got {shown(count)}")
    return Record(tuple(float(a) for a in accuracies), value["params"], value["flops"])


class MacroTable:
    """The table: each network's recorded results, and lookups that vary by seed as training does."""

    def __init__(self, records: dict[str, Record], digest: str, source: str) -> None:
        self.records, self.digest, self.source = records, digest, source
        self._space: SearchSpace | None = None

    @classmethod
    def load(cls, path: str | Path) -> MacroTable:
        """Read and check the benchmark's JSON file; one line (exit 2) says what is wrong with it."""
        path = Path(path)
        document, sha256 = read_json_object(path, MAX_BYTES, "a NAS-Bench-Macro table",
                                    " (the benchmark's nas-bench-macro_cifar10.json)")
        wrong = next((k for k in document if len(k) != LAYERS or set(k) - set("012")), None)
        if wrong is not None:
            raise UsageError(f"{path}: key {shown(wrong)} is not a NAS-Bench-Macro network (8 layer choices, each "
                             f"0, 1 or 2); is this the table of another space?")
        if len(document) != OPTIONS**LAYERS:
            raise UsageError(f"{path}: holds {len(document):,} networks, NAS-Bench-Macro has {OPTIONS**LAYERS:,}; "
                             f"a truncated or partial table cannot answer every candidate")
        records = {key: _record(key, value, str(path)) for key, value in document.items()}
        return cls(records, sha256, str(path))

    @property
    def space(self) -> SearchSpace:
        if self._space is None:
            self._space = load_space(SPACE)
        return self._space

    def key(self, spec: Any) -> str:
        """The table's key of a network (its 8 layer choices); UsageError if the table lacks it."""
        params = self.space.params_of(spec)
        if params is None:
            raise UsageError(f"network {getattr(spec, 'name', spec)!r} is not one of NAS-Bench-Macro's (its space "
                             f"is search_spaces/{SPACE}.yaml): search with --space {SPACE}")
        return "".join(str(params[k]) for k in self.space.dimensions())

    def accuracy(self, key: str, seed: int) -> float:
        """One recorded run of network ``key``: which one is a fixed function of (key, seed), so a
        search sees one seed's result at random, and ``len(runs)`` consecutive seeds see them all."""
        runs = self.records[key].accuracies
        offset = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
        return runs[(offset + seed) % len(runs)]

    def mean(self, key: str) -> float:
        return self.records[key].mean

    def seed_to_seed(self, keys: list[str]) -> dict[str, float]:
        """The benchmark's own ceiling on ``keys``: Kendall tau and Spearman of one training seed's
        accuracies with another's, averaged over the pairs of seeds."""
        runs = [self.records[k].accuracies for k in keys]
        pairs = list(itertools.combinations(range(min(len(r) for r in runs)), 2))
        return {name: math.fsum(rank([r[a] for r in runs], [r[b] for r in runs]) for a, b in pairs) / len(pairs)
                for name, rank in (("kendall", kendall), ("spearman", spearman))}

    def check_space(self, space: SearchSpace, tries: int = 20) -> None:
        """Fail before a search if ``space`` builds networks the table does not hold."""
        rng = random.Random(0)
        for _ in range(tries):
            _, spec = space.sample(rng)
            if self.space.params_of(spec) is None:
                raise UsageError(f"search space {space.name!r} builds networks NAS-Bench-Macro does not hold "
                                 f"(e.g. {spec.name}): search with --space {SPACE}")

