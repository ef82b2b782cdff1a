"""scalesearch: compound-scaling neural architecture search.

The library API under the ``scalesearch`` command line. "FLOPs" here are multiply-adds (MACs).
"""

import warnings

# torchvision (on import) and fvcore (when tracing) use torch.jit, which torch >= 2.10 marks
# deprecated; nobody using scalesearch can act on that, so it must not bury real diagnostics.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)

from scalesearch.arch.io import builtin_bases, load_spec, resolve_spec, save_spec
from scalesearch.arch.scaling import Coefficients, scale
from scalesearch.arch.spec import (
    BasicBlock, Bottleneck, DepthwiseSeparable, FusedMBConv, Head, MBConv, NetworkSpec, ScalingRecord, Stem,
)
from scalesearch.errors import ExportError, ScalesearchError, SpecError, UsageError
from scalesearch.export import export_spec
from scalesearch.measure.flops import Count, analytic_count, count, fvcore_count
from scalesearch.nn import build_model
from scalesearch.quantities import parse_macs, parse_phis
from scalesearch.search.objective import Objective
from scalesearch.search.space import load_space
from scalesearch.search.study import SearchConfig, search, validate
from scalesearch.train.data import load_data
from scalesearch.train.loop import TrainingError, train
from scalesearch.train.recipes import Recipe, load_recipe
from scalesearch.train.zero_cost import zero_cost_score

__version__ = "0.1.0"

__all__ = [
    "BasicBlock", "Bottleneck", "Coefficients", "Count", "DepthwiseSeparable", "ExportError", "FusedMBConv", "Head",
    "MBConv", "NetworkSpec", "Objective", "Recipe", "ScalesearchError", "ScalingRecord", "SearchConfig", "SpecError",
    "Stem", "TrainingError", "UsageError", "analytic_count", "build_model", "builtin_bases", "count", "export_spec",
    "fvcore_count", "load_data", "load_recipe", "load_space", "load_spec", "parse_macs", "parse_phis",
    "resolve_spec", "save_spec", "scale", "search", "train", "validate", "zero_cost_score",
]
