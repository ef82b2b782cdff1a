"""Latency predicted from a per-device lookup table of per-component latencies.

A network is cut into components: the stem, every block (each distinct configuration: kind,
fields, input channels, stride, input size, activation), and the head (head conv, global pool,
classifier). Each distinct component is measured once on the device, standalone, and cached on
disk under a key naming the device, backend (and its version), threads, precision and batch.
A network's latency is the sum of its components' latencies minus the fixed per-call overhead
that every standalone measurement included once (measured on an identity graph) and the whole
network pays once. Standalone components do not behave exactly as they do inside a network
(caches, allocation, thread wake-ups), so :meth:`LatencyTable.calibrate` measures a few whole
networks and fits one factor, ``latency = scale * sum``, minimising relative error. (A second
term per component overfitted: on 10 calibration networks it made 50 held-out predictions worse.)
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, fields, replace
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn

from scalesearch.arch.spec import NetworkSpec
from scalesearch.arch.walk import walk
from scalesearch.errors import UsageError, notify
from scalesearch.files import check_destination, write_json
from scalesearch.measure.environment import cpu_model
from scalesearch.measure.latency import BenchConfig, measure_all, time_modules
from scalesearch.nn.builder import build_block, build_classifier, build_head_conv, build_stem

#: Components are small: a shorter budget per measurement than a whole network's.
COMPONENT_BUDGET_S = 0.5
_OVERHEAD_KEY = "overhead"


@dataclass(frozen=True)
class Component:
    """One separately measured piece of a network."""

    key: str
    input_shape: tuple[int, int, int]  # channels, height, width (batch excluded)
    build: Callable[[], nn.Module]


class _Head(nn.Module):
    def __init__(self, conv: nn.Module | None, classifier: nn.Module) -> None:
        super().__init__()
        self.conv = conv if conv is not None else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.conv(x)), 1))


def _fields_key(obj: object) -> str:
    return ",".join(f"{f.name}={getattr(obj, f.name)!r}" for f in fields(obj) if f.name != "repeats")


def components(spec: NetworkSpec, resolution: int | None = None) -> list[Component]:
    """The components of ``spec`` at ``resolution``, in forward order (repeated blocks repeated)."""
    size = resolution or spec.resolution
    act = spec.activation
    out: list[Component] = [Component(f"stem|{act}|in={spec.in_channels}|{_fields_key(spec.stem)}|hw={size}",
                                      (spec.in_channels, size, size), lambda: build_stem(spec))]
    route = walk(spec, size)
    for site in route.sites:
        key = (f"{site.block.kind}|{act}|{_fields_key(site.block)}|in={site.in_channels}|stride={site.stride}"
               f"|hw={site.size}")
        out.append(Component(key, (site.in_channels, site.size, site.size),
                             lambda s=site: build_block(spec, s.block, s.in_channels, s.stride)))
    cin, size = route.head_channels, route.head_size
    head = "none" if spec.head is None else spec.head.out_channels
    out.append(Component(f"head|{act}|in={cin}|head={head}|classes={spec.num_classes}|hw={size}", (cin, size, size),
                         lambda c=cin: _Head(build_head_conv(spec, c), build_classifier(spec))))
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def table_key(config: BenchConfig) -> str:
    """Names the device, backend and its version, threads, precision, batch size and protocol."""
    if config.device == "cuda":
        device, threads = torch.cuda.get_device_name(0), "gpu"
    else:
        device, threads = cpu_model(), f"t{config.cpu_threads}"
    package = config.backend if config.backend in ("onnxruntime", "openvino") else "torch"
    version = metadata.version(package)
    return _slug(f"{device}_{config.backend}-{version}_{threads}_{config.precision}_bs{config.batch}_{config.protocol}")


def default_cache_dir() -> Path:
    """``$SCALESEARCH_CACHE_DIR``, else ``~/.cache/scalesearch``."""
    return Path(os.environ.get("SCALESEARCH_CACHE_DIR") or Path.home() / ".cache" / "scalesearch")


class LatencyTable:
    """Per-component latencies (ms) for one device configuration, persisted as JSON."""

    def __init__(self, config: BenchConfig, cache_dir: Path | None = None) -> None:
        self.config = replace(config, budget_s=COMPONENT_BUDGET_S, mode="eager")
        self.key = table_key(config)
        self.path = (cache_dir or default_cache_dir()) / "latency" / f"{self.key}.json"
        self.entries: dict[str, float] = {}
        self.calibration: dict[str, float] | None = None
        if self.path.exists() and not self.path.is_file():  # a FIFO would block the read for ever
            raise UsageError(f"latency table {self.path} is not a regular file: remove it (it is measured again), "
                             "or set SCALESEARCH_CACHE_DIR to another folder")
        if self.path.exists():
            try:
                stored = json.loads(self.path.read_text())
                entries, calibration = stored["entries"], stored.get("calibration")
                if not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in entries.values()):
                    raise ValueError("an entry is not a latency in ms")
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
                notify(f"latency table {self.path} is unreadable ({type(err).__name__}: {err}); measuring afresh "
                       f"(the file is replaced when the new table is saved)")
            else:
                self.entries, self.calibration = entries, calibration

    def save(self) -> Path:
        """Write the table atomically (a crash mid-write never loses earlier entries)."""
        return write_json(self.path, {"key": self.key, "calibration": self.calibration, "entries": self.entries})

    def _measure(self, parts: list[tuple[Callable[[], nn.Module], tuple[int, int, int]]]) -> list[float]:
        """Latencies (ms) of standalone components, taking turns under the ``windows`` protocol."""
        jobs = []
        for build, shape in parts:
            with torch.random.fork_rng(devices=[]):  # the same weights every time, the caller's RNG untouched
                torch.manual_seed(0)
                jobs.append((build(), (self.config.batch, *shape), self.config))
        return [stats.median_ms for stats in time_modules(jobs)]

    def missing(self, specs: Iterable[NetworkSpec]) -> list[Component]:
        """Distinct components of ``specs`` not yet in the table."""
        todo: dict[str, Component] = {}
        for spec in specs:
            for c in components(spec):
                if c.key not in self.entries and c.key not in todo:
                    todo[c.key] = c
        return list(todo.values())

    def fill(self, specs: Iterable[NetworkSpec], on_progress: Callable[[int, int], None] | None = None,
             save_every: int = 20) -> int:
        """Measure every missing component of ``specs``, ``save_every`` at a time (taking turns under
        the ``windows`` protocol) and saving after each; returns how many were measured."""
        todo = self.missing(specs)
        check_destination(self.path, "the latency table")  # before measuring, not after
        jobs = [(c.key, c.build, c.input_shape) for c in todo]
        if _OVERHEAD_KEY not in self.entries:  # in turns with the first components: under the same load
            jobs.insert(0, (_OVERHEAD_KEY, nn.Identity, (8, 1, 1)))
        for first in range(0, len(jobs), save_every):
            chunk = jobs[first:first + save_every]
            for (key, _, _), ms in zip(chunk, self._measure([(build, shape) for _, build, shape in chunk])):
                self.entries[key] = ms
            if on_progress:
                on_progress(first + len(chunk), len(jobs))
            self.save()
        self.save()
        return len(todo)

    def raw(self, spec: NetworkSpec) -> float:
        """Uncalibrated prediction (ms): component sum minus the repeated per-call overhead."""
        if self.missing([spec]) or _OVERHEAD_KEY not in self.entries:
            self.fill([spec])
        parts = components(spec)
        return sum(self.entries[c.key] for c in parts) - (len(parts) - 1) * self.entries[_OVERHEAD_KEY]

    def calibrate(self, measured: list[tuple[NetworkSpec, float]]) -> dict[str, float]:
        """Fit ``scale`` to whole networks measured on this device (ms), by relative least squares."""
        if not measured:
            raise ValueError("calibration needs at least one measured network")
        ratios = [self.raw(spec) / ms for spec, ms in measured]
        # argmin over s of sum((s * raw / ms - 1)^2)
        scale = sum(ratios) / sum(r * r for r in ratios)
        self.calibration = {"scale": scale, "networks": len(measured)}
        self.save()
        return self.calibration

    def predict(self, spec: NetworkSpec) -> float:
        """Predicted latency of ``spec`` in ms; measures (and caches) any missing component first."""
        scale = self.calibration["scale"] if self.calibration else 1.0
        return scale * self.raw(spec)


#: The most candidates a latency table samples, and whole networks it calibrates on (the defaults
#: are 100 and 5; a table of 10,000 candidates already takes hours to measure).
MAX_TABLE_SAMPLES = 10_000
MAX_CALIBRATION = 1_000


def check_table_size(samples: int, calibrate: int) -> None:
    """Refuse a latency table of no candidates, or of more than the bounds above, before any sampling."""
    if not 1 <= samples <= MAX_TABLE_SAMPLES or not 0 <= calibrate <= MAX_CALIBRATION:
        raise UsageError(f"`samples` must be in [1, {MAX_TABLE_SAMPLES:,}] and `calibrate` in "
                         f"[0, {MAX_CALIBRATION:,}], got {samples} and {calibrate}")


def build_table(config: BenchConfig, specs: list[NetworkSpec], calibration: list[NetworkSpec],
                cache_dir: Path | None = None, on_component: Callable[[int, int], None] | None = None,
                on_network: Callable[[int, int], None] | None = None) -> tuple[LatencyTable, int]:
    """Measure the missing components of ``specs`` and ``calibration``, then calibrate on the whole
    ``calibration`` networks (if any; they take turns under the ``windows`` protocol; ``on_network(done, total)``
    counts their timed turns). Returns the saved table and how many components were measured."""
    table = LatencyTable(config, cache_dir)
    measured = table.fill(specs + calibration, on_progress=on_component)
    if calibration:
        results = measure_all([(spec, config) for spec in calibration], on_progress=on_network)
        table.calibrate([(spec, r.stats.median_ms) for spec, r in zip(calibration, results)])
    return table, measured
