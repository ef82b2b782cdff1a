"""The documentation's results pages, rendered from benchmarks/results/*.json.

Each topic module (:mod:`.measure`, :mod:`.search`, :mod:`.training`, :mod:`.development`) holds
``PAGES``, a mapping of a page's file under docs/results/ to the function that renders it, and
``HEADLINES``, functions that each give one row of the headline table (README and the results
index): ``(result, figure, page file)``. ``python benchmarks/render_pages.py`` writes them all;
tests/test_docs.py fails when a committed page differs from what its JSON renders now.
"""

from __future__ import annotations

import importlib
from typing import Callable

TOPICS = ("measure", "search", "training", "development")


def _modules():
    found = []
    for topic in TOPICS:
        try:
            found.append(importlib.import_module(f"pages.{topic}"))
        except ModuleNotFoundError as err:
            if err.name != f"pages.{topic}":
                raise
    return found


def pages() -> dict[str, Callable[[], str]]:
    """Every results page: its file under docs/results/, and its renderer."""
    found: dict[str, Callable[[], str]] = {}
    for module in _modules():
        for name, render in module.PAGES.items():
            assert name not in found, f"two topics render docs/results/{name}"
            found[name] = render
    return found


def suite_time() -> str:
    """README's sentence on how long the test suite takes (from suite_runs.json)."""
    from pages.development import suite_time as sentence

    return sentence()


def headlines() -> list[tuple[str, str, str]]:
    """The headline rows, topic by topic: (result, figure, page file)."""
    return [row() for module in _modules() for row in module.HEADLINES]
