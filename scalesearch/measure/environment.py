"""What machine a measurement ran on, recorded beside every benchmark figure."""

from __future__ import annotations

import os
import platform
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
