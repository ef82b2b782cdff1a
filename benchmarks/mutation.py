"""Mutation testing: how many small planted bugs each module's tests catch.

Run:  python benchmarks/mutation.py [MODULE ...] [--work runs/mutation] [--timeout 300] [--fresh]
      (no MODULE: every module of MODULES, in order; `--list` shows them)

For each module, cosmic-ray (https://github.com/sixty-north/cosmic-ray) plants one mutation at a time
(a changed operator, comparison, constant, a dropped `not`, a removed decorator...) and runs that
module's tests (the pytest selection of MODULES, `-x`: the first failure kills the mutant). A mutant
no test fails on "survived": either a bug the tests would let through, or a change that cannot be
seen from outside (an equivalent mutant; those are listed in EQUIVALENT with a reason each).

The work happens in a copy of the last commit (`--work`/tree, refreshed when a module's session
starts; commit first), so the mutated files never touch the tree you work in, and an edit in progress
never reaches the mutants. A module's tests must pass unmutated before its session begins. Each module has
its own session database (`--work`/MODULE.sqlite): an interrupted run goes on where it stopped with
the same command (`--fresh` starts a module again, after its tests changed; `--survivors` runs only
the surviving mutants again, after tests were added to kill them). Writes
benchmarks/results/mutation.json after each module: per module, the mutants, killed (timeouts
among them), survived (with the surviving mutations), equivalent, incompetent and the score,
killed / (killed + survived - equivalent). Slow (minutes to hours per module on 2 cores): not in CI.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402

#: Module -> the pytest selection that holds its tests (the tests that name its features).
MODULES: dict[str, list[str]] = {
    "scalesearch/quantities.py": ["tests/test_quantities.py"],
    "scalesearch/seeds.py": ["tests/test_seeds.py"],
    "scalesearch/search/optuna_api.py": ["tests/test_optuna_api.py"],
    # -k also matches a test file's name: "test_resumable" keeps all of that file.
    "scalesearch/resumable.py": ["tests/test_resumable.py", "tests/test_faults.py", "-k",
                                "'test_resumable or tampered or broken_results'"],
    "scalesearch/files.py": ["tests/test_resumable.py", "tests/test_faults.py", "-k",
                             "'test_resumable or write or destination or fifo or link or lock or disk or in_use'"],
    "scalesearch/signals.py": ["tests/test_faults.py", "tests/test_cli.py", "-k",
                               "'signal or sigint or sigterm or stopped or ctrl_c'"],
    "scalesearch/arch/rounding.py": ["tests/test_scaling.py"],
    "scalesearch/search/objective.py": [
        "tests/test_find_base.py", "tests/test_ground_truth.py", "tests/test_rules.py", "-k",
        "'objective_soft or objective_windows or objective_settings or objective_edges or hard_limits or "
        "search_target'"],
    "scalesearch/arch/scaling.py": ["tests/test_scaling.py", "tests/test_rules.py"],
    "scalesearch/arch/spec.py": ["tests/test_spec.py", "tests/test_spec_property.py"],
}

#: Surviving mutants that no test could catch, by (module, operator, occurrence): the reason. (Mutants
#: of annotations are equivalent by rule: see :func:`_annotations`.)
EQUIVALENT: dict[tuple[str, str, int], str] = {
    **{("scalesearch/quantities.py", f"core/ReplaceBinaryOperator_BitOr_{op}", occurrence):
       "re.IGNORECASE | re.ASCII: two distinct bits, so + and ^ give the same flags"
       for op in ("Add", "BitXor") for occurrence in (0, 1)},
    **{("scalesearch/quantities.py", "core/ReplaceBinaryOperator_BitOr_Sub", occurrence):
       "re.IGNORECASE - re.ASCII is -254: the same two bits set, and only bits re ignores besides"
       for occurrence in (0, 1)},
    ("scalesearch/quantities.py", "core/ReplaceComparisonOperator_LtE_Eq", 0):
        "parse_latency: `value <= 0` as `value == 0`: its pattern admits no sign, so no value is below 0",
}

GOAL = 0.85
#: The tool, from the environment this script runs in (`pip install -e '.[mutation]'`).
COSMIC_RAY = str(Path(sys.executable).parent / "cosmic-ray")


def _copy_tree(tree: Path) -> None:
    """A fresh copy of the last commit (HEAD: never an edit in progress) at ``tree``."""
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)


def _baseline(module: str, tree: Path) -> None:
    """The module's tests must pass unmutated: otherwise every mutant would count as caught."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               *(part.strip("'") for part in MODULES[module])]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: {module}: its tests fail before any mutation (exit {done.returncode}):\n"
                 f"{done.stdout[-3000:]}")


def _config(module: str, timeout: float) -> str:
    selection = " ".join(MODULES[module])
    # `python -m pytest` from the copy: its `scalesearch` comes before the editable install's.
    command = f"{sys.executable} -m pytest -x -q -p no:cacheprovider {selection}"
    return (f'[cosmic-ray]\nmodule-path = "{module}"\ntimeout = {timeout}\nexcluded-modules = []\n'
            f'test-command = "{command}"\n\n[cosmic-ray.distributor]\nname = "local"\n')


def _outcomes(module: str, session: Path, tree: Path) -> list[dict]:
    """Every mutant of a session: operator, occurrence, line, outcome (None while pending), and
    whether it only changes an annotation."""
    with sqlite3.connect(session) as db:
        rows = db.execute(
            "SELECT m.operator_name, m.occurrence, m.start_pos_row, m.start_pos_col, r.test_outcome, r.output "
            "FROM mutation_specs m LEFT JOIN work_results r ON m.job_id = r.job_id").fetchall()
    spans = _annotations(tree / module)  # the lines of the commit the session mutates
    return [{"operator": op, "occurrence": occ, "line": line, "outcome": (test or "").lower() or None,
             "timeout": output == "timeout", "annotation": any(start <= (line, col) < end for start, end in spans)}
            for op, occ, line, col, test, output in rows]


def _annotations(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (line, column) spans of every annotation in ``path``. Every listed module has ``from
    __future__ import annotations``, so annotations are never evaluated: a mutant inside one is
    equivalent."""
    spans = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            annotated = [a.annotation for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                                arguments.vararg, arguments.kwarg) if a is not None]
            annotated += [node.returns]
        elif isinstance(node, ast.AnnAssign):
            annotated = [node.annotation]
        else:
            continue
        spans += [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in annotated if a is not None]
    return spans


def _score(module: str, outcomes: list[dict]) -> dict:
    """Caught: killed, or timed out (a hang the timeout caught). Incompetent mutants (code that does
    not import) and equivalent ones do not count."""
    done = [o for o in outcomes if o["outcome"] is not None]
    killed = [o for o in done if o["outcome"] == "killed"]
    survived = [o for o in done if o["outcome"] == "survived"]
    equivalent = [o for o in survived if o["annotation"] or (module, o["operator"], o["occurrence"]) in EQUIVALENT]
    real = [o for o in survived if o not in equivalent]
    counted = len(killed) + len(real)
    score = len(killed) / counted if counted else None
    return {"mutants": len(outcomes), "done": len(done), "killed": len(killed),
            "timeouts": sum(o["timeout"] for o in killed), "survived": len(real), "equivalent": len(equivalent),
            "incompetent": sum(o["outcome"] == "incompetent" for o in done),
            "score": None if score is None else round(score, 4),
            "meets_goal": None if score is None or len(done) < len(outcomes) else score >= GOAL,
            "surviving": [{"line": o["line"], "operator": o["operator"], "occurrence": o["occurrence"]}
                          for o in sorted(real, key=lambda o: o["line"])],
            "tests": " ".join(MODULES[module])}




def render(document: dict | None = None) -> str:
    """The score table, from benchmarks/results/mutation.json (modules not yet run: not measured);
    docs/results/mutation.md shows it (benchmarks/pages/mutation.py)."""
    if document is None:
        path = ROOT / "benchmarks/results/mutation.json"
        document = json.loads(path.read_text()) if path.exists() else {"rows": {}}
    lines = ["| module | mutants | caught | survived | equivalent | score | goal >= 85% |",
             "|---|---|---|---|---|---|---|"]
    for module in MODULES:
        row = document["rows"].get(module)
        if row is None:
            lines.append(f"| `{module}` | - | - | - | - | - | not measured |")
            continue
        goal = ("no mutant outside annotations" if row["score"] is None and row["done"] == row["mutants"]
                else "not finished" if row["meets_goal"] is None else "**met**" if row["meets_goal"] else "**not met**")
        score = "-" if row["score"] is None else f"{row['score']:.0%}"
        lines.append(f"| `{module}` | {row['done']} of {row['mutants']} run | {row['killed']} | {row['survived']} | "
                     f"{row['equivalent']} | {score} | {goal} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="modules of MODULES (default: all)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs/mutation")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant's test run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/mutation.json")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--no-run", action="store_true", help="only score the sessions so far (none is run)")
    parser.add_argument("--fresh", action="store_true", help="start the modules' sessions again (tests changed)")
    parser.add_argument("--survivors", action="store_true",
                        help="run a finished session's surviving mutants again, against the last commit's tests "
                             "(after tests were added; killed mutants are not run again)")
    args = parser.parse_args()
    args.work = args.work.resolve()  # cosmic-ray runs in the tree: a relative path would point inside it
    if args.list:
        print("\n".join(MODULES))
        return
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        sys.exit(f"error: not in MODULES: {', '.join(unknown)} (see --list)")
    results = ResultsFile(args.out, {"tool": "cosmic-ray 8", "goal": GOAL},
                          header={"benchmark": "mutation"})
    results.update(machine=machine_info())
    args.work.mkdir(parents=True, exist_ok=True)
    for module in args.modules or list(MODULES):
        slug = module.replace("/", ".").removesuffix(".py")
        tree, session, config = args.work / "tree", args.work / f"{slug}.sqlite", args.work / f"{slug}.toml"
        if args.no_run and not session.exists():
            continue
        if args.survivors and session.exists():  # its killed mutants stand: tests were only added since
            _copy_tree(tree)
            _baseline(module, tree)
            config.write_text(_config(module, args.timeout))
            with sqlite3.connect(session) as db:
                db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
        elif args.fresh or not config.exists():  # a session is only ever resumed with the config it began with
            session.unlink(missing_ok=True)
        if not session.exists():
            _copy_tree(tree)
            _baseline(module, tree)
            config.write_text(_config(module, args.timeout))
            subprocess.run([COSMIC_RAY, "init", str(config), str(session)], cwd=tree, check=True)
        elif not tree.exists():
            _copy_tree(tree)
        started = time.perf_counter()
        if not args.no_run:
            subprocess.run([COSMIC_RAY, "exec", str(config), str(session)], cwd=tree, check=True)
        row = _score(module, _outcomes(module, session, tree))
        earlier = results.rows.get(module, {}).get("wall_s")  # None: a session's time not recorded (it was stopped)
        row["wall_s"] = earlier if args.no_run else round(time.perf_counter() - started + (earlier or 0), 1)
        results.add(module, row)
        print(f"{module}: {row['killed']}/{row['killed'] + row['survived']} caught "
              f"(score {row['score']}), {row['survived']} surviving", flush=True)


if __name__ == "__main__":
    main()
