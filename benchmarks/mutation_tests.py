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
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

#: Seconds a mutant's tests always get.
BUDGET_S = 240
#: A mutant's tests get HANG_FACTOR times their unmutated time under coverage (the map's, itself slower
#: than a plain run), stretched by how oversubscribed the machine is (:func:`load`), plus HANG_SLACK_S, at
#: least BUDGET_S: a run past that hangs, and the mutant is caught (as a timeout: a hang is a bug the
#: suite shows).
HANG_FACTOR = 3.0
HANG_SLACK_S = 60.0
#: The most a mutant's tests get: a selection whose unmutated time asks for more, and runs past it, is
#: undecided (neither caught nor surviving: a long run cannot be told from a hang).
CAP_S = 1200.0
#: pytest's exit codes for a usage error (a test id not found) and for no test collected.
PYTEST_COULD_NOT_RUN = (4, 5)
#: What pytest prints for a test module that raised on import.
COLLECTION_ERROR = "ERROR collecting "
#: How this script begins what it says of a mutant whose tests it could not run (never a kill), whose tests
#: ran past their budget's cap (undecided) and whose tests hung (a kill); benchmarks/mutation.py reads them.
ERROR, UNDECIDED, HANG = "mutation_tests error:", "mutation_tests undecided:", "mutation_tests hang:"


def changed_lines(pristine: list[str], mutated: list[str]) -> set[int]:
    """The 1-based lines of ``pristine`` that the mutation replaced."""
    lines: set[int] = set()
    for tag, start, end, _, _ in difflib.SequenceMatcher(a=pristine, b=mutated, autojunk=False).get_opcodes():
        if tag != "equal":
            lines.update(range(start + 1, max(end, start + 1) + 1))
    return lines


class Statements:
    """Where each line of a module sits: its innermost statement, and whether that statement runs on
    import (outside every function body: a constant, a class body, a decorator, a default)."""

    def __init__(self, source: str) -> None:
        self.tree = ast.parse(source)
        self.spans: list[tuple[int, int, ast.stmt, bool]] = []  # (first, last, statement, runs on import)
        self._walk(self.tree, in_function=False, owner=None)

    def _walk(self, node: ast.AST, in_function: bool, owner: str | None, function: str | None = None) -> None:
        inside = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.spans.append((child.lineno, child.end_lineno, child, not inside))
                child.owner = owner  # the class whose body holds the statement, on import
                child.function = function  # the def whose body holds it, at run time
            named = isinstance(child, ast.ClassDef) and not inside
            self._walk(child, inside, child.name if named else owner, function)

    def innermost(self, line: int) -> tuple[ast.stmt, bool] | None:
        """The innermost statement holding ``line`` and whether it runs on import; None outside every
        statement (a decorator: it runs on import)."""
        holding = [(first, statement, on_import) for first, last, statement, on_import in self.spans
                   if first <= line <= last]
        if not holding:
            return None
        _, statement, on_import = max(holding, key=lambda h: h[0])
        return statement, on_import

    def names(self, statement: ast.stmt | None, line: int) -> set[str]:
        """The names an import-time mutant on ``line`` changes: what its statement binds, or its class
        or def (a decorated def's own name, for a decorator outside every statement)."""
        if statement is None:
            decorated = [n for n in ast.walk(self.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                            ast.ClassDef))
                         and any(d.lineno <= line <= d.end_lineno for d in n.decorator_list)]
            return {n.name for n in decorated}
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return {statement.name}
        bound = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        owner = getattr(statement, "owner", None)
        return bound | ({owner} if owner else set())

    def reach(self, names: set[str]) -> tuple[set[str], set[int]]:
        """``names`` and every name an import-time statement binds from them (a subclass of a class, a
        constant built of one, and so on), and the first lines of the run-time statements that read
        any of those: a base class that only its subclasses read is reached through them."""
        names, lines, grew = set(names), set(), True
        while grew:
            grew = False
            for first, _, statement, on_import in self.spans:
                if not _reads(statement, names):
                    continue
                if on_import:
                    bound = self.names(statement, first)
                    grew = grew or not bound <= names
                    names |= bound
                elif not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    lines.add(first)
        return names, lines


def _reads(statement: ast.stmt, names: set[str]) -> bool:
    """Whether ``statement`` itself (not the statements it holds, and never an annotation: none is
    evaluated) reads any of ``names``."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parts = [*statement.decorator_list, *statement.args.defaults, *filter(None, statement.args.kw_defaults)]
    elif isinstance(statement, ast.ClassDef):
        parts = [*statement.decorator_list, *statement.bases, *statement.keywords]
    else:
        parts = [n for n in ast.iter_child_nodes(statement)
                 if not isinstance(n, ast.stmt) and n is not getattr(statement, "annotation", None)]
    return any(isinstance(n, ast.Name) and n.id in names and isinstance(n.ctx, ast.Load)
               or isinstance(n, ast.Attribute) and n.attr in names for part in parts for n in ast.walk(part))


def selection(coverage_map: dict, module: str, source: str, lines: set[int],
              test_texts: dict[str, str] | None = None) -> list[str]:
    """The tests to run for a mutant of ``module`` on ``lines``, quickest first. A run-time line: the
    tests that ran it. An import-time line: the tests that ran the module's statements reading the
    names it binds, and those whose file names them (``test_texts``: test file -> its text). A
    run-time line run only outside every test (while tests were collected, or a cached function):
    the same, for the function that holds it."""
    by_line = coverage_map["modules"].get(module, {}).get("lines", {})
    statements = Statements(source)
    ids: set[int] = set()
    for line in lines:
        found = statements.innermost(line)
        if found is not None and not found[1]:
            ran = by_line.get(str(found[0].lineno))
            if ran != []:
                ids.update(ran or [])
                continue
            # run, but only outside every test (while tests were collected; a cached function): its def
            names = {found[0].function}
        else:
            names = statements.names(found[0] if found else None, line)
        names, readers = statements.reach(names)
        for reader in readers:
            ids.update(by_line.get(str(reader), []))
        named = {path for path, text in (test_texts or {}).items()
                 if any(re.search(rf"\b{re.escape(name)}\b", text) for name in names)}
        ids.update(i for i, nodeid in enumerate(coverage_map["tests"]) if nodeid.split("::")[0] in named)
    return [coverage_map["tests"][i] for i in sorted(ids, key=lambda i: coverage_map["seconds"][i])]


def load() -> float:
    """How oversubscribed the machine is: runnable processes per core over the last minute, at least 1."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def budget(coverage_map: dict, tests: list[str], stretch: float = 1.0) -> tuple[float, bool]:
    """Seconds ``tests`` get under a mutant on a machine ``stretch`` times oversubscribed, and whether
    running past them is a hang (the budget came from their unmutated time) rather than undecided (the
    budget is :data:`CAP_S`)."""
    seconds = dict(zip(coverage_map["tests"], coverage_map["seconds"]))
    wanted = max(BUDGET_S, HANG_FACTOR * sum(seconds[t] for t in tests) * stretch + HANG_SLACK_S)
    return min(wanted, CAP_S), wanted <= CAP_S


def usage_error(message: str) -> NoReturn:
    """A bad command line: one line on stderr, exit 2 (the mutation scripts' argparse ``error``)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def digest(path: Path) -> str:
    """A module's text, as the map records it (a mutant changes it)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def mutated_module(coverage_map: dict) -> str:
    """The module of the current directory whose text is not the map's."""
    changed = [module for module, entry in coverage_map["modules"].items() if digest(Path(module)) != entry["digest"]]
    if len(changed) != 1:
        print(f"{ERROR} {len(changed)} modules differ from the map's commit ({changed[:3]}); "
              "expected one mutant")
        sys.exit(1)
    return changed[0]


def main() -> None:
    coverage_map = json.loads(Path(sys.argv[1]).read_text())
    module = mutated_module(coverage_map)
    source = (Path(sys.argv[1]).parent / "map-tree" / module).read_text()  # the map's commit, unmutated
    lines = changed_lines(source.splitlines(), Path(module).read_text().splitlines())
    test_texts = {str(p): p.read_text() for p in Path("tests").glob("test_*.py")}
    tests = selection(coverage_map, module, source, lines, test_texts)
    if not tests:
        print(f"no test runs line(s) {sorted(lines)} of {module}: survived without a run")
        sys.exit(0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    job = subprocess.Popen([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seconds, hangs = budget(coverage_map, tests, load())
    try:
        output, _ = job.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        job.communicate()
        if hangs:
            print(f"{HANG} {len(tests)} tests did not finish in {seconds:.0f} s, over "
                  f"{HANG_FACTOR:g} x their unmutated time x the machine's load + {HANG_SLACK_S:.0f} s")
        else:
            print(f"{UNDECIDED} {len(tests)} tests did not finish in {seconds:.0f} s")
        sys.exit(1)
    print(output[-4000:])
    if job.returncode in PYTEST_COULD_NOT_RUN and COLLECTION_ERROR not in output:
        # a test of the map not found here: no test failed, so no kill (a test module the mutant keeps from
        # importing is a kill: the unmutated commit collected it)
        print(f"{ERROR} pytest could not run the map's tests (exit {job.returncode})")
        sys.exit(1)
    sys.exit(job.returncode)


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # never a kill: a failure of this script is no test's failure
        print(f"{ERROR} {type(err).__name__}: {err}")
        sys.exit(1)
