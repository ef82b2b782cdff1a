"""A search space as data: choices over a base network's skeleton, per stage or per layer.

A candidate is a plain dict of choices (``{"s0_kernel": 5, ...}``), which is what Optuna's
trials and random sampling both produce; :meth:`SearchSpace.candidate` turns it into a valid
:class:`NetworkSpec`. The builder never sees a trial.

A space file names a ``base`` (its skeleton: stem, stages with their widths and strides, head)
and ``choices``, the options of each block field; a field it leaves out keeps the base's value.
Three extensions express the public NAS benchmarks' spaces:

* ``stages``: per-stage overrides of the options (Accel-NASBench's fifth stage has 1-4 layers, the
  others 1-3);
* ``op``: coupled options, each setting several fields at once and chosen as one (NAS-Bench-Macro's
  "expansion 3 with kernel 3" or "expansion 6 with kernel 5"), ``{block: identity}`` among them
  (the layer is skipped, or a 1x1 projection where it strides or widens);
* ``per_layer: true``: every block of a stage chooses for itself (keys ``s{stage}_b{block}_{field}``)
  instead of the whole stage choosing once (keys ``s{stage}_{field}``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import random
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Callable

from scalesearch.arch.io import read_data_file, resolve_spec, search_spaces_dir
from scalesearch.arch.rounding import make_divisible
from scalesearch.arch.spec import KERNELS, MAX_REPEATS, FusedMBConv, Identity, MBConv, NetworkSpec, _InvertedResidual
from scalesearch.arch.walk import walk
from scalesearch.errors import SpecError, UsageError, shown
from scalesearch.seeds import check_seed
from scalesearch.typed_data import check, decode

_KINDS = {cls.kind: cls for cls in (MBConv, FusedMBConv, Identity)}
#: Block fields an option may set (``op`` sets several of them together).
_BLOCK_FIELDS = ("block", "expand_ratio", "kernel", "se_ratio", "skip")
_KEY = re.compile(r"s(\d+)_(?:b(\d+)_)?([a-z_]+)")


def _options(field: str, values: tuple | None, ok, requirement: str) -> None:
    if values is None:
        return
    if not values:
        raise SpecError(field, "must list at least one option")
    for v in values:
        check(not (isinstance(v, bool) and field != "skip") and ok(v), field, v, requirement)
    check(len(set(values)) == len(values), field, values, "must not list an option twice")


_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "block": (lambda v: v in _KINDS, f"must be one of {tuple(_KINDS)}"),
    "expand_ratio": (lambda v: 1 <= v <= 16, "must be in [1, 16]"),
    "kernel": (lambda v: v in KERNELS, f"must be an odd kernel size in {KERNELS}"),
    "se_ratio": (lambda v: 0 <= v < 1, "must be in [0, 1)"),
    "skip": (lambda v: isinstance(v, bool), "must be true or false"),
    "width_mult": (lambda v: 0 < v <= 8, "must be in (0, 8]"),
    "repeats_delta": (lambda v: -16 <= v <= 16, "must be in [-16, 16]"),
    "repeats": (lambda v: isinstance(v, int) and 1 <= v <= MAX_REPEATS, f"must be an integer in [1, {MAX_REPEATS}]"),
}


@dataclass(frozen=True)
class Op:
    """One option of a coupled choice: the block fields it sets together (the others keep their value)."""

    block: str | None = None
    expand_ratio: float | None = None
    kernel: int | None = None
    se_ratio: float | None = None
    skip: bool | None = None

    def __post_init__(self) -> None:
        for name in _BLOCK_FIELDS:
            value = getattr(self, name)
            if value is not None:
                ok, requirement = _RULES[name]
                check(not (isinstance(value, bool) and name != "skip") and ok(value), name, value, requirement)
        if self.block == "identity":
            check(all(getattr(self, f) is None for f in _BLOCK_FIELDS[1:]), "block", self.block,
                  "must not be identity in an option that sets other fields too (an identity has none)")
        check(any(getattr(self, f) is not None for f in _BLOCK_FIELDS), "op", self, "must set at least one field")

    def fields(self) -> dict[str, Any]:
        """The fields this option sets."""
        return {f: getattr(self, f) for f in _BLOCK_FIELDS if getattr(self, f) is not None}


@dataclass(frozen=True)
class Choices:
    """The options a stage (or a layer) chooses from; a field left out (None) keeps the base's value.
    ``repeats`` sets a stage's layer count outright, ``repeats_delta`` adds to the base's (never
    below 1); ``op`` lists coupled options (see :class:`Op`), chosen by their index."""

    expand_ratio: tuple[float, ...] | None = None
    kernel: tuple[int, ...] | None = None
    se_ratio: tuple[float, ...] | None = None
    width_mult: tuple[float, ...] | None = None
    repeats_delta: tuple[int, ...] | None = None
    block: tuple[str, ...] | None = None
    skip: tuple[bool, ...] | None = None
    repeats: tuple[int, ...] | None = None
    op: tuple[Op, ...] | None = None

    def __post_init__(self) -> None:
        for name, (ok, requirement) in _RULES.items():
            _options(name, getattr(self, name), ok, requirement)
        if self.op is not None:
            check(len(self.op) > 0, "op", self.op, "must list at least one option")
            for name in {f for o in self.op for f in o.fields()}:
                check(getattr(self, name) is None, name, getattr(self, name),
                      f"must be left out when an `op` option sets it (choose {name} in one place)")
        check(self.repeats is None or self.repeats_delta is None, "repeats", self.repeats,
              "must be left out when repeats_delta is chosen (one sets a stage's layers, the other adds to the base's)")

    def merged(self, override: Choices) -> Choices:
        """These choices with every field ``override`` sets replaced."""
        changes = {f.name: getattr(override, f.name) for f in dataclasses.fields(Choices)
                   if getattr(override, f.name) is not None}
        if "repeats" in changes or "repeats_delta" in changes:  # one sets the layers, the other adds to them
            changes.setdefault("repeats", None)
            changes.setdefault("repeats_delta", None)
        return dataclasses.replace(self, **changes)

    def given(self) -> dict[str, tuple[Any, ...]]:
        """The fields with options, in a stable order; ``op`` by option index."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(Choices) if getattr(self, f.name) is not None}
        if "op" in out:
            out["op"] = tuple(range(len(self.op)))
        return out


@dataclass(frozen=True, kw_only=True)
class StageChoices(Choices):
    """Options for one stage (``stage``: its index in the base) that replace the space-wide ones."""

    stage: int

    def __post_init__(self) -> None:
        check(isinstance(self.stage, int) and not isinstance(self.stage, bool) and self.stage >= 0, "stage",
              self.stage, "must be a stage index (0 for the first)")
        super().__post_init__()


@dataclass(frozen=True)
class SearchSpace:
    """A base skeleton (``base``: built-in name or spec path), the ``choices`` every stage makes,
    per-stage overrides (``stages``), and whether each layer chooses alone (``per_layer``)."""

    name: str
    base: str
    choices: Choices
    stages: tuple[StageChoices, ...] = ()
    per_layer: bool = False

    def __post_init__(self) -> None:
        seen = [s.stage for s in self.stages]
        check(len(set(seen)) == len(seen), "stages", seen, "must name each stage once")
        if self.per_layer:
            for options in (self.choices, *self.stages):
                check(options.repeats is None and options.repeats_delta is None, "per_layer", True,
                      "must be false when repeats or repeats_delta is chosen (per_layer keeps the base's layers; an "
                      "identity `op` skips one)")

    @cached_property
    def base_spec(self) -> NetworkSpec:
        spec = resolve_spec(self.base)
        for i, stage in enumerate(spec.stages):
            if not isinstance(stage, _InvertedResidual):
                raise SpecError(f"stages[{i}].block", f"a search base must be built of mbconv/fused_mbconv stages, "
                                f"got {shown(stage.kind)}", source=self.base)
        for override in self.stages:
            if override.stage >= len(spec.stages):
                raise SpecError("stages", f"stage {override.stage} is not a stage of base {spec.name!r} (it has "
                                f"{len(spec.stages)}: 0-{len(spec.stages) - 1})")
        return spec

    def stage_choices(self, i: int) -> Choices:
        """The options stage ``i`` chooses from: the space-wide ones with its overrides."""
        override = next((s for s in self.stages if s.stage == i), None)
        return self.choices if override is None else self.choices.merged(override)

    def _slots(self) -> list[tuple[int, int | None, str]]:
        """(stage, layer or None, key prefix) of every choosing place, in forward order."""
        if not self.per_layer:
            return [(i, None, f"s{i}_") for i in range(len(self.base_spec.stages))]
        return [(i, j, f"s{i}_b{j}_") for i, stage in enumerate(self.base_spec.stages) for j in range(stage.repeats)]

    def dimensions(self) -> dict[str, tuple[Any, ...]]:
        """Every parameter a candidate sets, with its options, in a stable order."""
        return {prefix + field: options for i, _, prefix in self._slots()
                for field, options in self.stage_choices(i).given().items()}

    def _block(self, base: _InvertedResidual, options: Choices, chosen: dict[str, Any], stride: int,
               repeats: int) -> Any:
        """One stage of the candidate from the base's stage and the values ``chosen`` for it."""
        fields = {f: getattr(base, f) for f in _BLOCK_FIELDS[1:]} | {"block": base.kind}
        fields |= {f: v for f, v in chosen.items() if f in _BLOCK_FIELDS}
        if "op" in chosen:
            fields |= options.op[chosen["op"]].fields()
        out_channels = make_divisible(base.out_channels * chosen["width_mult"]) if "width_mult" in chosen \
            else base.out_channels
        kind = fields.pop("block")
        if kind == "identity":
            return Identity(out_channels=out_channels, repeats=repeats, stride=stride)
        return _KINDS[kind](out_channels=out_channels, repeats=repeats, stride=stride, **fields)

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
        for i, layer, prefix in self._slots():
            base, options = self.base_spec.stages[i], self.stage_choices(i)
            chosen = {field: params[prefix + field] for field in options.given()}
            if layer is not None:  # one stage per layer; only the first strides
                stages.append(self._block(base, options, chosen, base.stride if layer == 0 else 1, 1))
                continue
            repeats = chosen.get("repeats", max(1, base.repeats + chosen.get("repeats_delta", 0)))
            stages.append(self._block(base, options, chosen, base.stride, repeats))
        digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
        return dataclasses.replace(self.base_spec, name=f"{self.name}-{digest}", stages=tuple(stages), scaling=None)

    def params_of(self, spec: Any) -> dict[str, Any] | None:
        """The choices that build ``spec`` (whatever its name), or None when the space cannot build
        it: the inverse of :meth:`candidate`, which is how a benchmark's table recognises a network."""
        base = self.base_spec
        if not isinstance(spec, NetworkSpec) or _frame(spec) != _frame(base):
            return None
        if self.per_layer:  # each layer as a one-block stage, striding where it strides
            targets = [dataclasses.replace(s.block, repeats=1, stride=s.stride) for s in walk(spec).sites]
        else:
            targets = list(spec.stages)
        slots = self._slots()
        if len(targets) != len(slots):
            return None
        params: dict[str, Any] = {}
        for (i, layer, prefix), target in zip(slots, targets):
            options = self.stage_choices(i)
            given = options.given()
            stride = base.stages[i].stride if not layer else 1
            for combo in itertools.product(*given.values()):
                chosen = dict(zip(given, combo))
                repeats = 1 if layer is not None else chosen.get(
                    "repeats", max(1, base.stages[i].repeats + chosen.get("repeats_delta", 0)))
                try:
                    built = self._block(base.stages[i], options, chosen, stride, repeats)
                except SpecError:  # a combination that is no valid block
                    continue
                if built == target:
                    params.update({prefix + field: value for field, value in chosen.items()})
                    break
            else:
                return None
        return params

    def base_params(self) -> dict[str, Any] | None:
        """The choices that rebuild the base network itself, if the space can express it."""
        params: dict[str, Any] = {}
        for i, _, prefix in self._slots():
            stage, options = self.base_spec.stages[i], self.stage_choices(i)
            own = {"block": stage.kind, "expand_ratio": stage.expand_ratio, "kernel": stage.kernel,
                   "se_ratio": stage.se_ratio, "skip": stage.skip, "width_mult": 1.0, "repeats_delta": 0,
                   "repeats": stage.repeats}
            if options.op is not None:
                matching = [n for n, o in enumerate(options.op) if all(own[f] == v for f, v in o.fields().items())]
                if not matching:
                    return None
                own["op"] = matching[0]
            params.update({prefix + field: own[field] for field in options.given()})
        dims = self.dimensions()
        return params if all(params[k] in dims[k] for k in dims) else None

    def extreme(self, cost: Callable[[NetworkSpec], float], largest: bool = False) -> tuple[float, NetworkSpec]:
        """The (approximately) smallest or largest candidate by ``cost``: coordinate descent from the
        per-dimension extreme options, two passes (exact for costs monotone in each choice)."""
        pick = max if largest else min
        dims = self.dimensions()
        params = {k: v[0] if _KEY.fullmatch(k)[3] in ("block", "skip", "op") else pick(v) for k, v in dims.items()}
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

    def draw(self, count: int, seed: int, accept: Callable[[NetworkSpec], bool] | None = None) -> list[NetworkSpec]:
        """``count`` random candidates (see :meth:`sample`), drawn one after another from ``seed``:
        the same seed, the same networks, and the first k of a longer draw are a shorter one's."""
        check_seed(seed)
        rng = random.Random(seed)
        return [self.sample(rng, accept)[1] for _ in range(count)]

    def size(self) -> int:
        """How many candidates the space holds (distinct choices; two may build the same network)."""
        total = 1
        for options in self.dimensions().values():
            total *= len(options)
        return total


def _frame(spec: NetworkSpec) -> dict[str, Any]:
    """Everything of a network but its name, its stages and how it was scaled."""
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)
            if f.name not in ("name", "stages", "scaling")}


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
    stat = path.stat()
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _load(path: str, _mtime_ns: int, _size: int) -> SearchSpace:
    """A space file decoded once per version of it (a study looks its space up for every trial)."""
    try:
        space = decode(SearchSpace, read_data_file(Path(path)))
        _ = space.base_spec  # resolve and check the base now, not in the middle of a search
    except SpecError as err:
        raise (err if err.source else err.in_file(path)) from None
    return space
