"""scalesearch: compound-scaling neural architecture search.

The library API under the ``scalesearch`` command line. "FLOPs" here are multiply-adds (MACs).
Names load on first use (``import scalesearch`` does not import torch), so the command line can
answer Ctrl-C with one line even while its libraries are still loading.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

# torchvision (on import) and fvcore (when tracing) use torch.jit, which torch >= 2.10 marks
# deprecated; nobody using scalesearch can act on that, so it must not bury real diagnostics.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)

__version__ = "0.1.0"

_EXPORTS = {
    "scalesearch.arch.io": ("builtin_bases", "load_spec", "resolve_spec", "save_spec"),
    "scalesearch.arch.scaling": ("Coefficients", "scale"),
    "scalesearch.arch.spec": ("BasicBlock", "Bottleneck", "DepthwiseSeparable", "FusedMBConv", "Head", "MBConv",
                              "NetworkSpec", "ScalingRecord", "Stem"),
    "scalesearch.errors": ("ExportError", "ScalesearchError", "SpecError", "UsageError"),
    "scalesearch.export": ("export_spec",),
    "scalesearch.measure.flops": ("Count", "analytic_count", "count", "fvcore_count"),
    "scalesearch.nn": ("build_model",),
    "scalesearch.quantities": ("parse_macs", "parse_phis"),
    "scalesearch.search.objective": ("Objective",),
    "scalesearch.search.space": ("load_space",),
    "scalesearch.search.study": ("SearchConfig", "search", "validate"),
    "scalesearch.train.data": ("load_data",),
    "scalesearch.train.loop": ("TrainingError", "train"),
    "scalesearch.train.recipes": ("Recipe", "load_recipe"),
    "scalesearch.train.zero_cost": ("zero_cost_score",),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'scalesearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and IDEs see
    from scalesearch.arch.io import builtin_bases, load_spec, resolve_spec, save_spec  # noqa: F401
    from scalesearch.arch.scaling import Coefficients, scale  # noqa: F401
    from scalesearch.arch.spec import (  # noqa: F401
        BasicBlock, Bottleneck, DepthwiseSeparable, FusedMBConv, Head, MBConv, NetworkSpec, ScalingRecord, Stem,
    )
    from scalesearch.errors import ExportError, ScalesearchError, SpecError, UsageError  # noqa: F401
    from scalesearch.export import export_spec  # noqa: F401
    from scalesearch.measure.flops import Count, analytic_count, count, fvcore_count  # noqa: F401
    from scalesearch.nn import build_model  # noqa: F401
    from scalesearch.quantities import parse_macs, parse_phis  # noqa: F401
    from scalesearch.search.objective import Objective  # noqa: F401
    from scalesearch.search.space import load_space  # noqa: F401
    from scalesearch.search.study import SearchConfig, search, validate  # noqa: F401
    from scalesearch.train.data import load_data  # noqa: F401
    from scalesearch.train.loop import TrainingError, train  # noqa: F401
    from scalesearch.train.recipes import Recipe, load_recipe  # noqa: F401
    from scalesearch.train.zero_cost import zero_cost_score  # noqa: F401
