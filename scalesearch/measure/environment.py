"""What machine a measurement ran on, recorded beside every benchmark figure."""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import torch


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else platform's best guess."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU, core count, GPU (if any) and the versions of the libraries that produce the numbers."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    for package in ("torch", "torchvision", "fvcore", "onnxruntime", "optuna"):
        info[package] = _version(package)
    return info


def physical_cores() -> int:
    """Physical CPU cores (distinct physical id / core id pairs on Linux), else logical CPUs."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cores, physical = set(), "0"
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("physical id"):
                physical = line.split(":", 1)[1].strip()
            elif line.startswith("core id"):
                cores.add((physical, line.split(":", 1)[1].strip()))
        if cores:
            return min(len(cores), os.cpu_count() or len(cores))
    return os.cpu_count() or 1


def cpu_seconds(stat_line: str, ticks: int) -> tuple[float, float]:
    """The machine's busy CPU seconds (user, nice, system, irq and softirq; never idle, iowait or
    steal) and its stolen seconds, from the first line of ``/proc/stat`` (counts of ``ticks`` a second)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in stat_line.split()[1:9])
    return (user + nice + system + irq + softirq) / ticks, steal / ticks


class Interference:
    """What else the machine did while a benchmark ran: CPU time used by processes other than this
    one and its finished children, and time the hypervisor stole, from /proc/stat (Linux only).

    A latency figure taken while another job ran is not a figure of the model, so every latency
    benchmark records this beside its numbers. ``report()`` is None where /proc/stat is missing.
    """

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float, float] | None:
        stat = Path("/proc/stat")
        if not stat.exists():
            return None
        import resource  # POSIX only, like /proc/stat

        busy, steal = cpu_seconds(stat.read_text().split("\n", 1)[0], os.sysconf("SC_CLK_TCK"))
        own = sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                  for field in ("ru_utime", "ru_stime"))
        return time.monotonic(), busy, steal, own

    def report(self) -> dict[str, float] | None:
        end = self._sample()
        if self._start is None or end is None:
            return None
        wall, busy, steal, own = (b - a for a, b in zip(self._start, end))
        other = max(0.0, busy - own)
        return {"wall_s": round(wall, 1), "other_processes_cpu_s": round(other, 1),
                "other_processes_cores_busy": round(other / wall, 3) if wall > 0 else 0.0,
                "steal_s": round(steal, 1)}
