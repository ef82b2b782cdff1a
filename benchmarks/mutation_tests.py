"""Run the tests that run a mutant's line: cosmic-ray's test command in a sampled session.

Run (by cosmic-ray, in the mutated copy):  python mutation_tests.py MAP

Finds the module that differs from MAP's digests (benchmarks/mutation_map.py: the map of the commit
this copy holds), compares it with its unmutated text to find the changed lines, looks up the
tests that ran those lines, and
runs them, quickest first, stopping at the first failure: exit 0 means the mutant survived. A line
no test runs survives without a run. A line run only on import (a constant, a decorator) runs
every test that runs any line of the module. Child processes import the copy's scalesearch.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import os
import sys
from pathlib import Path


def changed_lines(pristine: list[str], mutated: list[str]) -> set[int]:
    """The 1-based lines of ``pristine`` that the mutation replaced."""
    lines: set[int] = set()
    for tag, start, end, _, _ in difflib.SequenceMatcher(a=pristine, b=mutated, autojunk=False).get_opcodes():
        if tag != "equal":
            lines.update(range(start + 1, max(end, start + 1) + 1))
    return lines


def statement_lines(source: str, lines: set[int]) -> set[int | None]:
    """The first line of the innermost statement holding each of ``lines`` (coverage records a statement
    on its first line); None for a line outside every statement (a decorator of a module-level def)."""
    statements = [(node.lineno, node.end_lineno) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.stmt)]
    firsts: set[int | None] = set()
    for line in lines:
        holding = [start for start, end in statements if start <= line <= end]
        firsts.add(max(holding) if holding else None)
    return firsts


def selection(coverage_map: dict, module: str, source: str, lines: set[int]) -> list[str]:
    """The tests to run for a mutant of ``module`` on ``lines``, quickest first."""
    by_line = coverage_map["modules"].get(module, {}).get("lines", {})
    firsts = statement_lines(source, lines)
    ran = [by_line.get(str(line), []) for line in firsts if line is not None]
    on_import = None in firsts or any(str(line) in by_line and not by_line[str(line)] for line in firsts)
    if on_import:  # a line run only on import: whatever runs the module
        ran = list(by_line.values())
    ids = sorted({i for tests in ran for i in tests}, key=lambda i: coverage_map["seconds"][i])
    return [coverage_map["tests"][i] for i in ids]


def mutated_module(coverage_map: dict) -> str:
    """The module of the current directory whose text is not the map's."""
    changed = [module for module, entry in coverage_map["modules"].items()
               if hashlib.sha256(Path(module).read_bytes()).hexdigest()[:16] != entry["digest"]]
    if len(changed) != 1:
        print(f"mutation_tests error: {len(changed)} modules differ from the map's commit ({changed[:3]}); "
              "expected one mutant")
        sys.exit(1)
    return changed[0]


def main() -> None:
    coverage_map = json.loads(Path(sys.argv[1]).read_text())
    module = mutated_module(coverage_map)
    source = (Path(sys.argv[1]).parent / "map-tree" / module).read_text()  # the map's commit, unmutated
    lines = changed_lines(source.splitlines(), Path(module).read_text().splitlines())
    tests = selection(coverage_map, module, source, lines)
    if not tests:
        print(f"no test runs line(s) {sorted(lines)} of {module}: survived without a run")
        sys.exit(0)
    os.environ["PYTHONPATH"] = os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])
    os.execv(sys.executable, [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                              "-p", "no:randomly", *tests])


if __name__ == "__main__":
    main()
