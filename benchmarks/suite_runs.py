"""The whole test suite, several runs in a row: does it pass every time, and how long does it take?

Run:  python benchmarks/suite_runs.py [--runs 3] [--work runs/suite-runs] [--out FILE]

Runs README's test command (`python -m pytest -q`) in a copy of the last commit (`--work`/tree, so
that edits meanwhile change nothing), one run after another, and records each: exit code, passed /
failed / skipped counts, wall time and what else the machine did meanwhile (a busy machine is the
point: a steady suite passes under load), keeping each run's whole output in `--work`/run-N.log (the
results keep pytest's one-line summary of each failure). Resumable: a finished run is kept, and the
same command runs the rest. The commit is part of the settings, so results of another commit are
refused rather than mixed (delete --work and the results file to start again). Writes
benchmarks/results/suite_runs.json; README's test time is rendered from it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scalesearch.measure.environment import Interference, machine_info  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402

COMMAND = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
#: As .ci/run sets them: the PostgreSQL and Fashion-MNIST tests fail, rather than skip, without their server or files.
CI_ENV = {"SCALESEARCH_REQUIRE_POSTGRES": "1", "SCALESEARCH_REQUIRE_FASHION": "1"}
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)")


def _tree(work: Path) -> tuple[Path, str]:
    """A copy of HEAD under ``work`` (made once; a resumed run keeps it), and its commit."""
    tree, stamp = work / "tree", work / "commit"
    if not stamp.exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        stamp.write_text(head.stdout.strip())
    return tree, stamp.read_text()


def _runs(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 100):
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 100, got {text!r}")
    return int(text)


def counts(summary: str) -> dict[str, int]:
    """pytest's last line (``812 passed, 8 skipped in 745.2s``) as counts."""
    found = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
    for number, kind in _COUNT.findall(summary):
        found["errors" if kind.startswith("error") else kind] = found.get(kind, 0) + int(number)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=_runs, default=3, help="runs in a row, 1 to 100")
    parser.add_argument("--work", type=Path, default=ROOT / "runs/suite-runs")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/suite_runs.json")
    args = parser.parse_args()
    tree, commit = _tree(args.work)
    results = ResultsFile(args.out, {"command": "python -m pytest -q", "commit": commit, "env": CI_ENV},
                          header={"benchmark": "suite_runs"})
    results.update(machine=machine_info())
    for run in range(1, args.runs + 1):
        key = f"run {run}"
        if key in results.rows:
            continue
        interference, started = Interference(), time.perf_counter()
        done = subprocess.run(COMMAND, cwd=tree, capture_output=True, text=True, env={**os.environ, **CI_ENV})
        (args.work / f"run-{run}.log").write_text(done.stdout + done.stderr)  # a failure's whole story
        lines = done.stdout.strip().splitlines() or [""]
        row = {"exit_code": done.returncode, **counts(lines[-1]), "wall_s": round(time.perf_counter() - started, 1),
               "interference": interference.report(), "failures": [line for line in lines
                                                                  if line.startswith(("FAILED", "ERROR"))][:20]}
        results.add(key, row)
        print(f"{key}: exit {row['exit_code']}, {row['passed']} passed, {row['failed']} failed, "
              f"{row['skipped']} skipped in {row['wall_s']:.0f} s", flush=True)
    rows = list(results.rows.values())
    results.update(summary={"runs": len(rows), "all_passed": all(r["exit_code"] == 0 for r in rows),
                            "wall_s_min": min(r["wall_s"] for r in rows), "wall_s_max": max(r["wall_s"] for r in rows)})


if __name__ == "__main__":
    main()
