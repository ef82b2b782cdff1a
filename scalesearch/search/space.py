"""A search space as data: per-stage choices over a base network's skeleton.

A candidate is a plain dict of choices (``{"s0_kernel": 5, ...}``), which is what Optuna's
trials and random sampling both produce; :meth:`SearchSpace.candidate` turns it into a valid
:class:`NetworkSpec`. The builder never sees a trial.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from scalesearch.arch.io import read_data_file, resolve_spec, search_spaces_dir
from scalesearch.arch.rounding import make_divisible
from scalesearch.arch.spec import KERNELS, FusedMBConv, MBConv, NetworkSpec, _InvertedResidual
from scalesearch.errors import SpecError, UsageError, shown
from scalesearch.typed_data import check, decode

_KINDS = {cls.kind: cls for cls in (MBConv, FusedMBConv)}


def _options(field: str, values: tuple, ok, requirement: str) -> None:
    if not values:
        raise SpecError(field, "must list at least one option")
    for v in values:
        check(not (isinstance(v, bool) and field != "skip") and ok(v), field, v, requirement)


@dataclass(frozen=True)
class Choices:
    """The options every stage chooses from."""

    expand_ratio: tuple[float, ...]
    kernel: tuple[int, ...]
    se_ratio: tuple[float, ...]
    width_mult: tuple[float, ...]
    repeats_delta: tuple[int, ...]
    block: tuple[str, ...] = ("mbconv",)
    skip: tuple[bool, ...] = (True,)

    def __post_init__(self) -> None:
        _options("block", self.block, lambda v: v in _KINDS, f"must be one of {tuple(_KINDS)}")
        _options("expand_ratio", self.expand_ratio, lambda v: 1 <= v <= 16, "must be in [1, 16]")
        _options("kernel", self.kernel, lambda v: v in KERNELS, f"must be an odd kernel size in {KERNELS}")
        _options("se_ratio", self.se_ratio, lambda v: 0 <= v < 1, "must be in [0, 1)")
        _options("skip", self.skip, lambda v: isinstance(v, bool), "must be true or false")
        _options("width_mult", self.width_mult, lambda v: 0 < v <= 8, "must be in (0, 8]")
        _options("repeats_delta", self.repeats_delta, lambda v: -16 <= v <= 16, "must be in [-16, 16]")


@dataclass(frozen=True)
class SearchSpace:
    """A base skeleton (``base``: built-in name or spec path) and the per-stage ``choices``."""

    name: str
    base: str
    choices: Choices

    @cached_property
    def base_spec(self) -> NetworkSpec:
        spec = resolve_spec(self.base)
        for i, stage in enumerate(spec.stages):
            if not isinstance(stage, _InvertedResidual):
                raise SpecError(f"stages[{i}].block", f"a search base must be built of mbconv/fused_mbconv stages, "
                                f"got {shown(stage.kind)}", source=self.base)
        return spec

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        """Every parameter a candidate sets, with its options, in a stable order."""
        dims: dict[str, tuple[Any, ...]] = {}
        for i in range(len(self.base_spec.stages)):
            for field in dataclasses.fields(Choices):
                dims[f"s{i}_{field.name}"] = getattr(self.choices, field.name)
        return dims

    def candidate(self, params: dict[str, Any]) -> NetworkSpec:
        """The network for one choice of every dimension."""
        dims = self.dimensions()
        missing = [k for k in dims if k not in params]
        if missing:
            raise UsageError(f"candidate is missing {missing[0]!r}")
        for key, options in dims.items():
            if params[key] not in options:
                raise UsageError(f"candidate {key}={params[key]!r} is not one of {options}")
        stages = []
        for i, base_stage in enumerate(self.base_spec.stages):
            p = {field.name: params[f"s{i}_{field.name}"] for field in dataclasses.fields(Choices)}
            stages.append(_KINDS[p["block"]](
                out_channels=make_divisible(base_stage.out_channels * p["width_mult"]),
                repeats=max(1, base_stage.repeats + p["repeats_delta"]),
                stride=base_stage.stride,
                kernel=p["kernel"],
                expand_ratio=p["expand_ratio"],
                se_ratio=p["se_ratio"],
                skip=p["skip"],
            ))
        digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
        return dataclasses.replace(self.base_spec, name=f"{self.name}-{digest}", stages=tuple(stages), scaling=None)

    def base_params(self) -> dict[str, Any] | None:
        """The choices that rebuild the base network itself, if the space can express it."""
        params: dict[str, Any] = {}
        for i, stage in enumerate(self.base_spec.stages):
            own = {"block": stage.kind, "expand_ratio": stage.expand_ratio, "kernel": stage.kernel,
                   "se_ratio": stage.se_ratio, "skip": stage.skip, "width_mult": 1.0, "repeats_delta": 0}
            params.update({f"s{i}_{k}": v for k, v in own.items()})
        dims = self.dimensions()
        return params if all(params[k] in dims[k] for k in dims) else None

    def extreme(self, cost: Callable[[NetworkSpec], float], largest: bool = False) -> tuple[float, NetworkSpec]:
        """The (approximately) smallest or largest candidate by ``cost``: coordinate descent from the
        per-dimension extreme options, two passes (exact for costs monotone in each choice)."""
        pick = max if largest else min
        dims = self.dimensions()
        params = {k: pick(v) if k.split("_", 1)[1] not in ("block", "skip") else v[0] for k, v in dims.items()}
        sign = -1 if largest else 1
        for _ in range(2):
            for key, options in dims.items():
                params[key] = min(options, key=lambda o: sign * cost(self.candidate({**params, key: o})))
        spec = self.candidate(params)
        return cost(spec), spec

    def sample(self, rng: random.Random, accept: Callable[[NetworkSpec], bool] | None = None,
               tries: int = 10_000) -> tuple[dict[str, Any], NetworkSpec]:
        """A uniformly random candidate (among those ``accept`` admits, e.g. a MACs window): its
        choices and its spec. Rejection sampling, so the draws for a seed do not depend on ``tries``."""
        dims = self.dimensions()
        for _ in range(tries):
            params = {key: rng.choice(options) for key, options in dims.items()}
            spec = self.candidate(params)
            if accept is None or accept(spec):
                return params, spec
        raise UsageError(f"no candidate of search space {self.name!r} was accepted in {tries} draws")


def space_names() -> list[str]:
    """The built-in search spaces."""
    return sorted(p.stem for p in search_spaces_dir().glob("*.yaml"))


def load_space(name_or_path: str | Path = "mnasnet") -> SearchSpace:
    """A built-in space by name (``search_spaces/NAME.yaml``) or a space file by path. As for bases
    and recipes, a built-in name wins over a file of that name in the working folder."""
    builtin = search_spaces_dir() / f"{name_or_path}.yaml"
    path = builtin if str(name_or_path) in space_names() else Path(name_or_path)
    if not path.is_file():
        raise UsageError(f"search space not found: {name_or_path} (built-in: {', '.join(space_names())}; or a "
                         f".yaml/.json file)")
    try:
        space = decode(SearchSpace, read_data_file(path))
        _ = space.base_spec  # resolve and check the base now, not in the middle of a search
    except SpecError as err:
        raise (err if err.source else err.in_file(str(path))) from None
    return space
