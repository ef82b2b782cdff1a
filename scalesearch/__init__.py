"""scalesearch: compound-scaling neural architecture search.

The library API under the ``scalesearch`` command line. "FLOPs" here are multiply-adds (MACs).
Names load on first use (``import scalesearch`` does not import torch), so the command line can
answer Ctrl-C with one line even while its libraries are still loading.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

# torchvision (on import) and fvcore (when tracing) use torch.jit, which torch >= 2.10 marks
# deprecated; nobody using scalesearch can act on that, so it must not bury real diagnostics.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)

__version__ = "0.1.0"

#: The public API: each name, by the module that defines it (the one list of them).
_EXPORTS = {
    "scalesearch.arch.io": ("builtin_bases", "load_spec", "resolve_spec", "save_spec"),
    "scalesearch.arch.scaling": ("Coefficients", "scale"),
    "scalesearch.arch.spec": ("BasicBlock", "Bottleneck", "DepthwiseSeparable", "FusedMBConv", "Head", "Identity",
                              "MBConv", "NetworkSpec", "ScalingRecord", "Stem"),
    "scalesearch.errors": ("ExportError", "ScalesearchError", "SpecError", "TrainingError", "UsageError"),
    "scalesearch.export": ("export_spec",),
    "scalesearch.measure.flops": ("Count", "analytic_count", "count", "fvcore_count"),
    "scalesearch.nn": ("build_model",),
    "scalesearch.quantities": ("parse_macs", "parse_phis"),
    "scalesearch.search.objective": ("Objective",),
    "scalesearch.search.space": ("load_space",),
    "scalesearch.search.config": ("SearchConfig", "validate"),
    "scalesearch.search.find_base": ("search",),
    "scalesearch.train.data": ("load_data",),
    "scalesearch.train.loop": ("train",),
    "scalesearch.train.recipes": ("Recipe", "load_recipe"),
    "scalesearch.train.zero_cost": ("zero_cost_score",),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = [
    "BasicBlock", "Bottleneck", "Coefficients", "Count", "DepthwiseSeparable", "ExportError", "FusedMBConv", "Head",
    "Identity", "MBConv", "NetworkSpec", "Objective", "Recipe", "ScalesearchError", "ScalingRecord", "SearchConfig",
    "SpecError", "Stem", "TrainingError", "UsageError", "analytic_count", "build_model", "builtin_bases", "count",
    "export_spec", "fvcore_count", "load_data", "load_recipe", "load_space", "load_spec", "parse_macs", "parse_phis",
    "resolve_spec", "save_spec", "scale", "search", "train", "validate", "zero_cost_score",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'scalesearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

