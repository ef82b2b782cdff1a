"""The documentation's results pages, rendered from benchmarks/results/*.json.

One module per page, named for it (``flops_counting`` renders docs/results/flops-counting.md): each holds
``PAGE``, the page's file under docs/results/, ``render()``, which returns its text, and, where the page
has a row in the headline table (README and the results index), ``headline()``, which returns that row:
``(result, figure, page file)``. What several pages share is in :mod:`.common` (and, for the search
pages only, :mod:`.search_common`); README's sentence on the suite's time is :mod:`.suite_runs`.
``python benchmarks/render_pages.py`` writes them all; tests/test_docs.py fails when a committed page
differs from what its JSON renders now.

A page module may share its name with the benchmark script whose results it shows (benchmarks/X.py and
benchmarks/pages/X.py): imports are absolute, so ``import X as script`` in the page is the script.
"""

from __future__ import annotations

from types import ModuleType
from typing import Callable

from pages import (
    compound_vs_single,
    flops_counting,
    latency_cpu_backends,
    latency_gpu,
    latency_predictor,
    latency_protocols,
    latency_vs_torchvision,
    mutation,
    noisy_student,
    pipeline_cifar,
    proxy,
    rethinking_pretraining,
    search_ground_truth,
    search_quality,
    search_throughput,
    supernet,
    training_recipes,
    training_throughput,
    vit_vs_cnn,
    zero_cost,
)
from pages.suite_runs import suite_time

__all__ = ["MODULES", "headlines", "pages", "suite_time"]

#: Every page module: measurement, the search, training, the project itself. The headline table lists
#: the rows of those with a ``headline()`` in this order.
MODULES: tuple[ModuleType, ...] = (
    flops_counting,
    latency_predictor,
    latency_cpu_backends,
    latency_protocols,
    latency_vs_torchvision,
    latency_gpu,
    training_throughput,
    search_throughput,
    search_ground_truth,
    supernet,
    zero_cost,
    proxy,
    search_quality,
    pipeline_cifar,
    training_recipes,
    rethinking_pretraining,
    noisy_student,
    vit_vs_cnn,
    compound_vs_single,
    mutation,
)


def pages() -> dict[str, Callable[[], str]]:
    """Every results page: its file under docs/results/, and its renderer."""
    found: dict[str, Callable[[], str]] = {}
    for module in MODULES:
        assert module.PAGE not in found, f"two modules render docs/results/{module.PAGE}"
        found[module.PAGE] = module.render
    return found


def headlines() -> list[tuple[str, str, str]]:
    """The headline rows, in :data:`MODULES`' order: (result, figure, page file)."""
    return [module.headline() for module in MODULES if hasattr(module, "headline")]
