"""Which tests run each line of scalesearch: the coverage map that picks a mutant's tests.

Run:  python benchmarks/mutation_map.py [--work runs/mutation]   (or `mutation.py --map`)

Runs README's test command (the whole suite) once, under coverage, in a copy of the last commit
(`--work`/tree), with every test its own coverage context, subprocesses included (each child
process started during a test reads that test's id from the environment). Writes `--work`/map.json:
for every module of scalesearch, its text digest and, line by line, the tests that ran the line;
and every test's duration, so that a mutant's tests run quickest first. Lines only run while a
module is imported (constants, decorators, class bodies) belong to no test: their mutants run every
test that runs any line of the module. benchmarks/mutation_tests.py reads the map for each mutant.

Also the pytest plugin that sets each test's context (`-p mutation_map`, benchmarks/ on the path).
"""

from __future__ import annotations

import argparse
import json
import os
import site
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mutation_tests import digest, usage_error

#: The environment variable that carries the running test's id into child processes.
CONTEXT_VARIABLE = "SCALESEARCH_MUTATION_TEST"
_durations: dict[str, float] = {}
_failed: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Each test its own coverage context, in this process and in every process it starts."""
    import coverage

    os.environ[CONTEXT_VARIABLE] = item.nodeid
    current = coverage.Coverage.current()
    if current is not None:
        current.switch_context(item.nodeid)
    started = time.perf_counter()
    yield
    _durations[item.nodeid] = round(time.perf_counter() - started, 3)
    if current is not None:
        current.switch_context("")
    os.environ.pop(CONTEXT_VARIABLE, None)


def pytest_runtest_logreport(report):
    if report.failed:
        _failed.append(report.nodeid)


def pytest_sessionfinish(session):
    target = os.environ.get("SCALESEARCH_MUTATION_DURATIONS")
    if target:
        Path(target).write_text(json.dumps({"seconds": _durations, "failed": _failed}))


def build(tree: Path, work: Path, selection: list[str] | None = None) -> Path:
    """Run the suite (or a pytest ``selection`` of it, to try the map) in ``tree`` under coverage and
    write ``work``/map.json from what it saw."""
    data_dir = work / "coverage"
    data_dir.mkdir(parents=True, exist_ok=True)
    for old in data_dir.glob(".coverage*"):  # a run's data, never merged with an earlier commit's
        old.unlink()
    rcfile = work / "coverage.rc"
    rcfile.write_text(f"[run]\ndata_file = {data_dir / '.coverage'}\nparallel = true\nsource_pkgs = scalesearch\n"
                      f"context = ${{{CONTEXT_VARIABLE}-}}\n")
    hook = Path(site.getsitepackages()[0]) / "scalesearch_mutation_map.pth"
    hook.write_text("import coverage; coverage.process_startup()\n")  # starts coverage in every process
    durations = work / "durations.json"
    env = {**os.environ, "COVERAGE_PROCESS_START": str(rcfile), "SCALESEARCH_MUTATION_DURATIONS": str(durations),
           # the copy's scalesearch, in child processes too (not the editable install's)
           "PYTHONPATH": os.pathsep.join([str(tree), str(Path(__file__).resolve().parent)])}
    try:
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "mutation_map",
                        *(selection or [])], cwd=tree, env=env)
    finally:
        hook.unlink(missing_ok=True)
    return write_map(tree, work)


def write_map(tree: Path, work: Path) -> Path:
    """``work``/map.json from the coverage data and durations of the run in ``tree``. A test that failed
    under coverage is left out of the map (it would catch every mutant of its lines): named on stderr."""
    from coverage import CoverageData
    from coverage.data import combine_parallel_data

    data_dir = work / "coverage"
    if not (work / "durations.json").exists():
        sys.exit(f"error: no test durations in {work}: the suite's run under coverage ended before its last test; "
                 "run benchmarks/mutation_map.py again")
    run = json.loads((work / "durations.json").read_text())
    for nodeid in run["failed"]:
        print(f"warning: {nodeid} failed under coverage: left out of the map", file=sys.stderr)
    tests = {nodeid: seconds for nodeid, seconds in run["seconds"].items() if nodeid not in run["failed"]}
    combined = CoverageData(basename=str(data_dir / ".coverage"))
    combine_parallel_data(combined, keep=True)
    order = {nodeid: i for i, nodeid in enumerate(tests)}
    modules = {}
    for filename in combined.measured_files():
        relative = "scalesearch/" + filename.rsplit("/scalesearch/", 1)[-1]
        entry = modules.setdefault(relative, {"lines": {}})  # the copy's, or the editable install's
        for line, contexts in combined.contexts_by_lineno(filename).items():
            ids = {order[c] for c in contexts if c in order}
            entry["lines"][str(line)] = sorted(set(entry["lines"].get(str(line), [])) | ids)
    for relative, entry in modules.items():
        entry["digest"] = digest(tree / relative)
    target = work / "map.json"
    target.write_text(json.dumps({"tests": list(tests), "seconds": list(tests.values()),
                                  "modules": modules}))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.error = usage_error  # one line, exit 2
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent.parent / "runs/mutation")
    parser.add_argument("selection", nargs="*", help="pytest arguments (default: the whole suite)")
    parser.add_argument("--from-data", action="store_true",
                        help="write the map from the last run's coverage data (no run)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from mutation import copy_tree

    work = args.work.resolve()
    tree = work / "map-tree"
    if args.from_data:
        print(f"map written: {write_map(tree, work)}")
        return
    copy_tree(tree)
    print(f"map written: {build(tree, work, args.selection)}")


if __name__ == "__main__":
    main()
