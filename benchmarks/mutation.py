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

The whole package is judged by sample (every mutant of it would take days here):

      python benchmarks/mutation_map.py                       # which tests run each line
      python benchmarks/mutation.py --sample 100 --workers 2  # N mutants from each area of AREAS

draws a seeded sample of N mutants (annotations left out) from each area, spread over its modules in
proportion to their mutants, into one session (`--work`/sample-N.sqlite; `--seed S` draws another
sample, in `--work`/sample-N-seed-S.sqlite) whose mutants run in a random order; each runs the tests the
coverage map says run its line (benchmarks/mutation_tests.py: a run past 3x their unmutated time and a
minute hangs, a kill; one past the longest budget is undecided, and `--undecided` runs those again).
Rows "sample AREA" give each sample's estimate and its 95% Wilson interval, and the goal is judged on
every sample's first pass pooled (`pooled`); `--by-coverage` runs a module of AREAS exhaustively the
same way, and `--workers` runs mutants at once (cosmic-ray http workers, each in its own copy of the
commit). The map must be of the last commit: make it again after a change.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import math
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mutation_tests import CAP_S, COLLECTION_ERROR, ERROR, HANG, UNDECIDED, digest, usage_error  # noqa: E402

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
    ("scalesearch/search/find_base.py", "core/ReplaceFalseWithTrue", 5):
        "search's finalist check reads the trials with deepcopy=True: copies of the same trials, scored the same",
    **{("scalesearch/quantities.py", f"core/ReplaceBinaryOperator_BitOr_{op}", occurrence):
       "re.IGNORECASE | re.ASCII: two distinct bits, so + and ^ give the same flags"
       for op in ("Add", "BitXor") for occurrence in (0, 1)},
    **{("scalesearch/quantities.py", "core/ReplaceBinaryOperator_BitOr_Sub", occurrence):
       "re.IGNORECASE - re.ASCII is -254: the same two bits set, and only bits re ignores besides"
       for occurrence in (0, 1)},
    ("scalesearch/quantities.py", "core/ReplaceComparisonOperator_LtE_Eq", 0):
        "parse_latency: `value <= 0` as `value == 0`: its pattern admits no sign, so no value is below 0",
    ("scalesearch/files.py", "core/NumberReplacer", 4):
        "run_lock reads back the line it wrote, 'scalesearch pid N on HOST', under 200 bytes (a host name is at "
        "most 64): reading 201 reads the same",
    **{("scalesearch/files.py", f"core/ReplaceBinaryOperator_BitOr_{op}", 3):
       "check_destination's W_OK | X_OK as W_OK - X_OK, >> X_OK (X_OK alone), // X_OK (W_OK alone) or << X_OK "
       "(R_OK): unseen as root, where os.access grants every write, and CI and this machine run as root (a "
       "permission test would have to run as another user)"
       for op in ("Sub", "RShift", "FloorDiv", "LShift")},
    ("scalesearch/files.py", "core/ReplaceBinaryOperator_BitOr_Add", 1):
        "run_lock's O_RDWR | O_CREAT | O_NOFOLLOW as O_CREAT + O_NOFOLLOW: distinct bits, so the sum is the same flags",
    ("scalesearch/pipeline.py", "core/NumberReplacer", 25):
        "PipelineConfig's phi message: phis[0] as phis[-1] on its branch of exactly one phi, the same element",
    **{("scalesearch/search/driver.py", f"core/ReplaceBinaryOperator_Sub_{op}", 0):
       "check_devices' message on a machine with GPUs: unseen without CUDA (CI and this machine have none)"
       for op in ("Add", "Mul", "Div", "FloorDiv", "Mod", "Pow", "RShift", "LShift", "BitOr", "BitAnd", "BitXor")},
    **{("scalesearch/signals.py", f"core/ReplaceBinaryOperator_Add_{op}", 0):
       "interrupted: 128 + SIGTERM (15) as 128 ^ 15 or 128 | 15: no bit in common, so all three are 143"
       for op in ("BitXor", "BitOr")},
    ("scalesearch/signals.py", "core/ReplaceComparisonOperator_Eq_GtE", 0):
        "_exception: only SIGINT (2) and SIGTERM (15) are ever handled, and >= 15 tells them apart as == does",
    ("scalesearch/files.py", "core/ReplaceBinaryOperator_Add_LShift", 0):
        "read_regular reads max_bytes << 1 bytes, not max_bytes + 1: a file past the limit is still refused and "
        "one within it read whole; only the read's memory bound changes",
    ("scalesearch/search/objective.py", "core/ReplaceComparisonOperator_Eq_GtE", 0):
        "exponent: the constraint is 'soft' or 'hard' (validated), and 'hard' >= 'soft' is False",
    ("scalesearch/search/objective.py", "core/ReplaceComparisonOperator_LtE_Lt", 1):
        "exponent: the two differ only at value == target, where the ratio is 1.0 and any power of it 1.0",
    ("scalesearch/search/objective.py", "core/ReplaceComparisonOperator_Eq_LtE", 1):
        "window: the constraint is 'soft' or 'hard' (validated), and 'soft' <= 'hard' is False",
    ("scalesearch/search/objective.py", "core/ReplaceComparisonOperator_Eq_Is", 2):
        "target_objective: both sides are bools, which are singletons: `is` is `==`",
    ("scalesearch/search/objective.py", "core/ReplaceComparisonOperator_Eq_LtE", 3):
        "_fmt: the unit is 'MACs' or 'ms' (validated), and 'ms' <= 'MACs' is False",
    ("scalesearch/train/checkpoints.py", "core/NumberReplacer", 26):
        "InitialWeights' classifier message: keys[1] is the classifier's bias, whose length is its weight's first "
        "dimension (every classifier here is an nn.Linear with a bias), so both name the same number of classes",
    ("scalesearch/nn/vit.py", "core/ReplaceUnaryOperator_USub_UAdd", 1):
        "Attention: k is (batch, heads, tokens, head width), four dimensions, so k.transpose(+2, -1) swaps the same "
        "two as k.transpose(-2, -1)",
    ("scalesearch/search/trial.py", "core/ReplaceComparisonOperator_GtE_Eq", 0):
        "prescreen: the pool starts at 1 and grows by one, and runs only for prescreen > 1, so `len(pool) >= "
        "prescreen` first holds exactly where `==` does",
    ("scalesearch/files.py", "core/ReplaceAndWithOr", 1):
        "check_destination: a file path that is a folder is refused before (_refuse_special); only a link to a "
        "folder reaches `folder or path.is_dir()`, where os.access then checks the link's folder for its parent: "
        "unseen as root, where os.access grants every write",
    ("scalesearch/measure/latency.py", "core/ReplaceComparisonOperator_Eq_GtE", 4):
        "_torch_cuda_run's CUDA-graph branch: unseen without CUDA (CI and this machine have none; the GPU tests "
        "that run it skip here)",
    ("scalesearch/files.py", "core/ReplaceComparisonOperator_NotEq_IsNot", 0):
        "check_destination walks up to a folder that exists, and every walk ends at one: '/' or '.' (which stat "
        "finds even after the working folder is removed), so `is not` (always true) never runs past it",
    ("scalesearch/train/imagefolder.py", "core/ReplaceTrueWithFalse", 2):
        "ImageFolderSplit.batches: non_blocking=False only stops a pinned copy to a GPU overlapping the CPU; what "
        "arrives is the same (and on the CPU nothing changes)",
    ("scalesearch/search/artifacts.py", "core/NumberReplacer", 3):
        "attach: latency.json indented by 1 space, not 2: the same JSON document, read back by json",
    ("scalesearch/files.py", "core/NumberReplacer", 16):
        "read_regular reads max_bytes + 2 bytes, not + 1: a file past the limit is still refused and one within it "
        "read whole (as its `<< 1` twin above)",
    ("scalesearch/measure/environment.py", "core/NumberReplacer", 32):
        "Interference.report's cores-busy figure to 4 places, not 3: the same figure to one more place, which no "
        "reader depends on",
    ("scalesearch/pipeline.py", "core/NumberReplacer", 34):
        "the report's title divides by 1000001, not 1e6: one part in a million, below its 0.1M MACs unless the "
        "target passes 50G MACs, past the largest network of every space here (mnasnet's is 23G)",
    ("scalesearch/files.py", "core/ReplaceBinaryOperator_BitOr_BitXor", 5):
        "read_regular opens with O_RDONLY ^ O_NONBLOCK: O_RDONLY is 0, so ^ and | give the same flags",
    ("scalesearch/search/grid.py", "core/NumberReplacer", 5):
        "CLAIM_WAIT_S 29 s, not 30: how long a worker waits for an earlier trial to declare its point; any bound "
        "above a declaration's few milliseconds gives the same claims",
    ("scalesearch/nn/norms.py", "core/ReplaceComparisonOperator_Eq_LtE", 0):
        "group_count: channels % g is never negative for positive ints, so `<= 0` is `== 0`",
    ("scalesearch/nn/supernet.py", "core/NumberReplacer", 18):
        "Supernet: the Identity made to ask projects() with repeats=2, not 1: projects() reads only the width and "
        "the stride",
    ("scalesearch/files.py", "core/ReplaceComparisonOperator_NotEq_Gt", 0):
        "check_destination's walk up: a path compares above its parent (more parts, the same leading ones) and "
        "the root equal to its own, so `>` stops where `!=` does",
    ("scalesearch/measure/environment.py", "core/NumberReplacer", 7):
        "machine_info's GPU name of device -1, not 0: unseen without CUDA (CI and this machine have none)",
    ("scalesearch/nn/vit.py", "core/ReplaceBinaryOperator_Mul_BitAnd", 7):
        "ViT._position: a table already of the grid's size resampled to that size is the same table (bilinear "
        "interpolation to its own size is exact), so skipping the resample or not gives the same embeddings",
    ("scalesearch/files.py", "core/NumberReplacer", 24):
        "read_json's message keeps 121 characters of json's error line, not 120: json's first lines ('Expecting "
        "value: line L column C (char N)') are far shorter",
    ("scalesearch/nn/supernet.py", "core/ReplaceUnaryOperator_USub_Invert", 6):
        "the supernet's sliced conv pads by weight.shape[~1] // 2 (shape[-2]) for shape[-1] // 2: every kernel "
        "here is square",
    ("scalesearch/train/supernet.py", "core/ReplaceComparisonOperator_Gt_NotEq", 0):
        "train_supernet: a process's rank is never negative, so `rank != 0` is `rank > 0`",
}

#: The parts of the package the goal is judged in, as the issue lists them (a folder: its modules).
AREAS = ["scalesearch/arch/", "scalesearch/nn/", "scalesearch/measure/", "scalesearch/search/",
         "scalesearch/train/", "scalesearch/resumable.py", "scalesearch/files.py", "scalesearch/signals.py",
         "scalesearch/pipeline.py"]

GOAL = 0.85
#: The tool, from the environment this script runs in (`pip install -e '.[mutation]'`).
COSMIC_RAY = str(Path(sys.executable).parent / "cosmic-ray")
#: `cosmic-ray exec`, with aiohttp's 5-minute limit on a request lifted: the http distributor asks each worker
#: for a mutant's result in one request, and a mutant's tests may run longer (mutation_tests.CAP_S).
COSMIC_RAY_EXEC = [sys.executable, "-c", "import sys, aiohttp.client as c; c.DEFAULT_TIMEOUT = c.ClientTimeout("
                   "total=None, sock_connect=30); from cosmic_ray.cli import main; sys.exit(main())", "exec"]


def copy_tree(tree: Path) -> None:
    """A fresh copy of the last commit (HEAD: never an edit in progress) at ``tree``."""
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)


def _baseline(module: str, tree: Path, args) -> None:
    """The module's tests must pass unmutated: otherwise every mutant would count as caught. (The
    coverage map's run of the whole suite is the baseline of ``--by-coverage``.)"""
    if args.by_coverage:
        _check_map(args.work, tree, [module])
        return
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               *(part.strip("'") for part in MODULES[module])]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: {module}: its tests fail before any mutation (exit {done.returncode}):\n"
                 f"{done.stdout[-3000:]}")


def area_modules(area: str) -> list[str]:
    """The modules of ``area`` (a folder's, without its ``__init__``), relative to the root."""
    if not area.endswith("/"):
        return [area]
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / area).glob("*.py") if p.name != "__init__.py")


def _config(module_paths: list[str], command: str, timeout: float, urls: list[str]) -> str:
    distributor = ('[cosmic-ray.distributor]\nname = "http"\n\n[cosmic-ray.distributor.http]\n'
                   f"worker-urls = {json.dumps(urls)}\n" if urls else '[cosmic-ray.distributor]\nname = "local"\n')
    return (f"[cosmic-ray]\nmodule-path = {json.dumps(module_paths)}\ntimeout = {timeout}\n"
            f'excluded-modules = []\ntest-command = "{command}"\n\n{distributor}')


def _module_command(module: str) -> str:
    """An exhaustive session's test command: the module's selection of MODULES. (`python -m pytest`
    from the copy: its `scalesearch` comes before the editable install's.)"""
    return f"{sys.executable} -m pytest -x -q -p no:cacheprovider {' '.join(MODULES[module])}"


def _sample_command(work: Path) -> str:
    """A sampled session's test command: the tests the coverage map says run the mutant's line."""
    return f"{sys.executable} {ROOT / 'benchmarks/mutation_tests.py'} {work / 'map.json'}"


@contextlib.contextmanager
def _workers(count: int, work: Path, log: Path):
    """``count`` cosmic-ray http workers, each in its own copy of the last commit (a mutant changes
    its copy's files): their URLs (none for one worker: the local distributor runs in ``work``/tree)."""
    if count <= 1:
        yield []
        return
    processes, urls = [], []
    try:
        for i in range(count):
            tree = work / ("tree" if i == 0 else f"tree-{i}")
            if i:
                copy_tree(tree)
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            with log.open("a") as sink:
                processes.append(subprocess.Popen([COSMIC_RAY, "http-worker", "--port", str(port)], cwd=tree,
                                                  stdout=sink, stderr=sink))
            urls.append(f"http://127.0.0.1:{port}")
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()


#: Seconds cosmic-ray waits for a coverage-picked test run beyond mutation_tests.py's own longest budget.
OUTER_MARGIN_S = 120.0


def outcome_of(worker: str | None, test: str | None, output: str | None) -> str | None:
    """A mutant's outcome from cosmic-ray's record of it: None while pending, "skipped" (left out
    of a sample), "error" (the test command could not pick or find the tests), "undecided" (its tests
    ran past their budget), else cosmic-ray's ("killed", "survived", "incompetent"). A test module
    the mutant kept from importing is a kill, whatever the test command said (the earlier
    mutation_tests.py counted it an error)."""
    output = output or ""
    if worker == "skipped":
        return "skipped"
    if test == "KILLED" and not output.strip():  # every test command says something: this one was killed
        return "error"
    if ERROR in output:
        return "killed" if COLLECTION_ERROR in output else "error"
    if UNDECIDED in output:
        return "undecided"
    return (test or "").lower() or None


def _outcomes(session: Path, tree: Path) -> list[dict]:
    """Every mutant of a session: module, operator, occurrence, line, outcome (:func:`outcome_of`),
    and whether it only changes an annotation."""
    with sqlite3.connect(session) as db:
        rows = db.execute(
            "SELECT m.module_path, m.operator_name, m.occurrence, m.start_pos_row, m.start_pos_col, "
            "r.worker_outcome, r.test_outcome, r.output "
            "FROM mutation_specs m LEFT JOIN work_results r ON m.job_id = r.job_id").fetchall()
    spans = {module: _annotations(_source(session, tree, module)) for module in {row[0] for row in rows}}
    outcomes = []
    for module, op, occ, line, col, worker, test, output in rows:
        outcomes.append({"module": module, "operator": op, "occurrence": occ, "line": line,
                         "outcome": outcome_of(worker, test, output),
                         "timeout": output == "timeout" or HANG in (output or ""),
                         "annotation": any(start <= (line, col) < end for start, end in spans[module])})
    return outcomes


def _stamp(session: Path) -> Path:
    """The file naming the commit a session's mutants were made from (written when it began)."""
    return session.with_suffix(".commit")


def _head() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def _source(session: Path, tree: Path, module: str) -> str:
    """``module``'s text as the session's mutants were made from it: at the commit its stamp names
    (the tree may hold a later one by now), or, for a session begun without a stamp, in ``tree``."""
    stamp = _stamp(session)
    if not stamp.exists():
        return (tree / module).read_text()
    return subprocess.run(["git", "show", f"{stamp.read_text().strip()}:{module}"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout


def _annotations(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (line, column) spans of every annotation in a module's ``source``. Every listed module has
    ``from __future__ import annotations``, so annotations are never evaluated: a mutant inside one is
    equivalent."""
    spans = []
    for node in ast.walk(ast.parse(source)):
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


def _judged(killed: int, survived: int, finished: bool) -> dict:
    """A row's score, caught / (caught + surviving), and whether it meets GOAL (None while unfinished)."""
    counted = killed + survived
    score = killed / counted if counted else None
    return {"score": None if score is None else round(score, 4),
            "meets_goal": None if score is None or not finished else score >= GOAL}


def _tally(outcomes: list[dict]) -> dict:
    """Caught: killed, or timed out (a hang the timeout caught). Incompetent mutants (code that does
    not import), equivalent, skipped and undecided ones (tests past their budget) and errors do not count."""
    run = [o for o in outcomes if o["outcome"] != "skipped"]
    done = [o for o in run if o["outcome"] is not None]
    killed = [o for o in done if o["outcome"] == "killed"]
    survived = [o for o in done if o["outcome"] == "survived"]
    equivalent = [o for o in survived if o["annotation"] or (o["module"], o["operator"], o["occurrence"]) in EQUIVALENT]
    real = [o for o in survived if o not in equivalent]
    return {"mutants": len(run), "done": len(done), "killed": len(killed),
            "timeouts": sum(o["timeout"] for o in killed), "survived": len(real), "equivalent": len(equivalent),
            "incompetent": sum(o["outcome"] == "incompetent" for o in done),
            "errors": sum(o["outcome"] == "error" for o in done),
            "undecided": sum(o["outcome"] == "undecided" for o in done),
            **_judged(len(killed), len(real), len(done) == len(run)),
            "surviving": [{"module": o["module"], "line": o["line"], "operator": o["operator"],
                           "occurrence": o["occurrence"]}
                          for o in sorted(real, key=lambda o: (o["module"], o["line"]))]}


def _score(outcomes: list[dict], tests: str) -> dict:
    """An exhaustive session's row: every mutant of its module, which ran ``tests``."""
    row = _tally(outcomes)
    for survivor in row["surviving"]:
        del survivor["module"]
    return {**row, "tests": tests}


def _reclassified(module: str, row: dict) -> dict:
    """A stored row with the surviving mutants EQUIVALENT now explains moved to equivalent (nothing
    is run: a survivor a new test kills stays until the module runs again)."""
    explained = [s for s in row["surviving"] if (module, s["operator"], s["occurrence"]) in EQUIVALENT]
    if not explained:
        return row
    surviving = [s for s in row["surviving"] if s not in explained]
    return {**row, "survived": len(surviving), "equivalent": row["equivalent"] + len(explained),
            "surviving": surviving, **_judged(row["killed"], len(surviving), row["done"] == row["mutants"])}


def wilson(caught: int, counted: int, z: float = 1.96) -> list[float] | None:
    """The 95% Wilson score interval of a proportion ``caught`` / ``counted`` (None for no trials)."""
    if not counted:
        return None
    p = caught / counted
    centre = (p + z * z / (2 * counted)) / (1 + z * z / counted)
    half = z * math.sqrt(p * (1 - p) / counted + z * z / (4 * counted * counted)) / (1 + z * z / counted)
    return [round(centre - half, 4), round(centre + half, 4)]


def verdict(interval: list[float] | None) -> str:
    """The goal, judged on a sample: met when its 95% interval lies at or above GOAL, not met when
    below it, and otherwise the sample cannot tell. (Exec order is random, so an unfinished sample is
    itself a uniform sample of the mutants it ran.)"""
    if interval is None:
        return "not sampled yet"
    return ("**met**" if interval[0] >= GOAL else "**not met**" if interval[1] < GOAL
            else "cannot tell at this sample size")


def sample_key(area: str, seed: int) -> str:
    """The results row of ``area`` in the sample drawn with ``seed``."""
    return f"sample {area}" if not seed else f"sample {area} seed {seed}"


def draw_sample(mutants: list[tuple], per_area: int, seed: int = 0) -> set[tuple]:
    """A seeded sample of ``per_area`` mutants from each area of AREAS, spread over its modules in
    proportion to their mutants (largest remainders): every mutant of an area is equally likely.
    ``mutants``: (module, line, operator, occurrence) of every mutant outside annotations; each
    ``seed`` draws its own sample (seed 0, the first, seeds each module's draw by its name alone)."""
    chosen: set[tuple] = set()
    for area in AREAS:
        by_module: dict[str, list[tuple]] = {}
        members = set(area_modules(area))
        for mutant in sorted(mutants):
            if mutant[0] in members:
                by_module.setdefault(mutant[0], []).append(mutant)
        total = sum(map(len, by_module.values()))
        size = min(per_area, total)
        shares = {m: size * len(ms) / total for m, ms in by_module.items()}
        counts = {m: math.floor(share) for m, share in shares.items()}
        for m in sorted(shares, key=lambda m: counts[m] - shares[m])[:size - sum(counts.values())]:
            counts[m] += 1
        for module, its_mutants in by_module.items():
            rng = random.Random(module if not seed else f"{module} seed {seed}")
            chosen.update(rng.sample(its_mutants, counts[module]))
    return chosen


def _score_sample(outcomes: list[dict], per_area: int, seed: int) -> dict[str, dict]:
    """A sampled session's rows, one per area of AREAS: the sample's tally, its 95% interval, and
    each module's share."""
    rows = {}
    for area in AREAS:
        members = set(area_modules(area))
        mine = [o for o in outcomes if o["module"] in members]
        row = _tally(mine)
        row["eligible"] = sum(not o["annotation"] for o in mine)
        row["sample_size"], row["seed"], row["area"] = per_area, seed, area
        row["interval"] = wilson(row["killed"], row["killed"] + row["survived"])
        row["modules"] = {m: {k: v for k, v in _tally([o for o in mine if o["module"] == m]).items()
                              if k in ("mutants", "done", "killed", "survived", "equivalent")}
                          for m in sorted({o["module"] for o in mine})}
        rows[sample_key(area, seed)] = row
    return rows


def render(document: dict | None = None) -> str:
    """The score table, from benchmarks/results/mutation.json (modules not yet run: not measured);
    docs/results/mutation.md shows it (benchmarks/pages/mutation.py)."""
    if document is None:
        path = ROOT / "benchmarks/results/mutation.json"
        document = json.loads(path.read_text()) if path.exists() else {"rows": {}}
    lines = ["| module | mutants | caught | survived | equivalent | score | goal >= 85% |",
             "|---|---|---|---|---|---|---|"]
    others = sorted(key for key in document["rows"] if key not in MODULES and not key.startswith("sample "))
    for module in [*MODULES, *others]:
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


def pooled(rows: dict[str, dict]) -> dict[str, dict]:
    """Per area of AREAS, the first passes of every sample among ``rows`` (a results file's rows; only
    a sample's carry its area) pooled: what the goal is judged on.
    Tests are only ever added between samples, so an earlier sample's first pass is a lower estimate of
    the suite as it stands, and the pooled one too. ``conservative`` counts the undecided mutants
    (tests past their budget) as survivors."""
    judged = {}
    for area in AREAS:
        firsts = [first_pass(row) for row in rows.values() if row.get("area") == area]
        killed = sum(first["killed"] for first in firsts)
        counted = killed + sum(first["survived"] for first in firsts)
        undecided = sum(first["undecided"] for first in firsts)
        judged[area] = {"samples": len(firsts), "killed": killed, "counted": counted, "undecided": undecided,
                        "score": round(killed / counted, 4) if counted else None,
                        "interval": wilson(killed, counted),
                        "conservative": wilson(killed, counted + undecided)}
    return judged


def render_sample(document: dict) -> str:
    """The sampled tables: per sample and area of AREAS, the first pass (an independent estimate, with
    its 95% interval) and where it stands once its survivors ran again against the tests written for
    them (no longer an independent estimate); then the first passes pooled, on which the goal is judged."""
    samples = sorted({row["seed"] for row in document["rows"].values() if "seed" in row})
    lines = []
    for seed in samples:
        lines += [f"**Sample with seed {seed}**", "",
                  "| area | sampled of eligible | run | undecided | first pass: caught | estimate | 95% interval "
                  "| after the survivors' tests: caught | survived | equivalent |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for area in AREAS:
            row = document["rows"].get(sample_key(area, seed))
            if row is None:
                lines.append(f"| `{area}` | - | - | - | - | - | - | not sampled | - | - |")
                continue
            first = first_pass(row)
            after = f"{row['killed']} of {row['killed'] + row['survived']}" if "first_pass" in row else "not run again"
            lines.append(f"| `{area}` | {row['mutants']} of {row['eligible']} | {row['done']} | {row['undecided']} "
                         f"| {first['killed']} of {first['killed'] + first['survived']} | {_percent(first['score'])} "
                         f"| {_span(first['interval'])} | {after} | {row['survived']} | {row['equivalent']} |")
        lines.append("")
    lines += ["**The goal, judged on every sample's first pass pooled**", "",
              f"| area | caught | estimate | 95% interval | goal >= {GOAL:.0%} | undecided | 95% interval, undecided "
              "counted as survived | goal, so counted |", "|---|---|---|---|---|---|---|---|"]
    for area, row in pooled(document["rows"]).items():
        lines.append(f"| `{area}` | {row['killed']} of {row['counted']} | {_percent(row['score'])} "
                     f"| {_span(row['interval'])} | {verdict(row['interval'])} | {row['undecided']} "
                     f"| {_span(row['conservative'])} | {verdict(row['conservative'])} |")
    return "\n".join(lines)


def _percent(score: float | None) -> str:
    return "-" if score is None else f"{score:.0%}"


def _span(interval: list[float] | None) -> str:
    return "-" if interval is None else f"{interval[0]:.0%}-{interval[1]:.0%}"
def _wait_s(command: str, args) -> float:
    """How long cosmic-ray waits for a mutant's test command: ``--timeout``, or for a coverage-picked
    run (which sets its own budget, up to mutation_tests.CAP_S) at least that budget and a margin."""
    return args.timeout if command != _sample_command(args.work) else max(args.timeout, CAP_S + OUTER_MARGIN_S)


def _exec(config: Path, session: Path, tree: Path, command: str, module_paths: list[str], args,
          rescore) -> None:
    """Run a session's pending mutants (``args.workers`` at a time), rescoring every few minutes with
    the seconds run so far."""
    started = time.perf_counter()
    with _workers(args.workers, args.work, args.work / "workers.log") as urls:
        exec_config = config.with_suffix(".exec.toml")
        exec_config.write_text(_config(module_paths, command, _wait_s(command, args), urls))
        job = subprocess.Popen([*COSMIC_RAY_EXEC, str(exec_config), str(session)], cwd=tree)
        try:
            while job.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    job.wait(timeout=300)
                rescore(time.perf_counter() - started)
        finally:
            if job.poll() is None:
                job.terminate()
                job.wait()
    if job.returncode:
        sys.exit(f"error: cosmic-ray exec ended with exit {job.returncode}; run the same command to go on")


def _check_map(work: Path, tree: Path, modules: list[str]) -> None:
    """The coverage map must exist and be of the commit in ``tree``."""
    map_path = work / "map.json"
    if not map_path.exists():
        sys.exit(f"error: no coverage map at {map_path}: run benchmarks/mutation_map.py first")
    digests = json.loads(map_path.read_text())["modules"]
    stale = [m for m in modules if digests.get(m, {}).get("digest") != digest(tree / m)]
    if stale:
        sys.exit(f"error: the coverage map is of another commit ({len(stale)} modules changed, e.g. {stale[0]}): "
                 "run benchmarks/mutation_map.py again")


def _run_module(module: str, args, results: ResultsFile) -> None:
    """An exhaustive session: every mutant of ``module``, its tests the selection of MODULES (or, with
    ``--by-coverage``, the tests the coverage map says run the mutant's line)."""
    slug = module.replace("/", ".").removesuffix(".py")
    command = _sample_command(args.work) if args.by_coverage else _module_command(module)
    tree, session, config = args.work / "tree", args.work / f"{slug}.sqlite", args.work / f"{slug}.toml"
    if args.no_run and not session.exists():
        if module in results.rows:  # a session gone: its stored survivors judged again against EQUIVALENT
            results.add(module, _reclassified(module, results.rows[module]))
        return
    if args.survivors and session.exists():  # its killed mutants stand: tests were only added since
        copy_tree(tree)
        _baseline(module, tree, args)
        with sqlite3.connect(session) as db:
            db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
    elif args.fresh or not config.exists():  # a session is only ever resumed with the config it began with
        session.unlink(missing_ok=True)
    if not session.exists():
        copy_tree(tree)
        _baseline(module, tree, args)
        config.write_text(_config([module], command, args.timeout, []))
        subprocess.run([COSMIC_RAY, "init", str(config), str(session)], cwd=tree, check=True)
        _stamp(session).write_text(_head())
    elif not tree.exists():
        copy_tree(tree)
    earlier = results.rows.get(module, {}).get("wall_s")  # None: a session's time not recorded (it was stopped)

    def rescore(seconds: float | None) -> None:
        row = _score(_outcomes(session, tree), "the tests that run the mutant's line (coverage map)"
                     if args.by_coverage else " ".join(MODULES[module]))
        row["wall_s"] = earlier if seconds is None else round(seconds + (earlier or 0), 1)
        results.add(module, row)

    if not args.no_run:
        _exec(config, session, tree, command, [module], args, rescore)
    rescore(None if args.no_run else 0.0)
    row = results.rows[module]
    print(f"{module}: {row['killed']}/{row['killed'] + row['survived']} caught "
          f"(score {row['score']}), {row['survived']} surviving", flush=True)


#: The mutants a pass runs again: its name, and the cosmic-ray results that pick them.
RERUNS = {"survivors": "test_outcome = 'SURVIVED'", "undecided": f"output LIKE '%{UNDECIDED}%'"}


def same_mutation(first_diff: str | None, new_diff: str | None) -> bool:
    """Whether two runs of a mutant changed the same code: the lines their diffs take out and put in
    (cosmic-ray finds a mutant by its operator's occurrence in the module as it is now, so after an
    edit above it the same mutant may change other code). A first run with no diff stored is taken as
    the same."""
    def changed(diff: str) -> list[str]:
        return [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    return not first_diff or changed(first_diff) == changed(new_diff or "")


def _rerun(config: Path, session: Path, tree: Path, command: str, module_paths: list[str], args, kind: str,
           rescore) -> None:
    """Run a sample's mutants of ``kind`` (:data:`RERUNS`) again, and only them (its mutants not yet
    run stay pending), in a copy of the session holding just those (``SESSION-KIND.sqlite``, kept
    until the pass ends: a stopped pass goes on with the same command). A new result replaces the first
    every few minutes and at the end (each time followed by ``rescore()``) where it is of the same
    mutation (:func:`same_mutation`) and an outcome (not the worker's or the test command's failure); else
    the first stands."""
    side = session.with_name(f"{session.stem}-{kind}.sqlite")
    columns = "job_id, worker_outcome, output, test_outcome, diff"
    if not side.exists():
        shutil.copy(session, side)
        with sqlite3.connect(side) as db:
            others = [(job,) for (job,) in db.execute("SELECT job_id FROM work_items WHERE job_id NOT IN "
                                                       "(SELECT job_id FROM work_results)")]
            db.execute(f"CREATE TABLE first_results AS SELECT {columns} FROM work_results WHERE {RERUNS[kind]}")
            db.execute(f"DELETE FROM work_results WHERE {RERUNS[kind]}")
            db.executemany("DELETE FROM mutation_specs WHERE job_id = ?", others)
            db.executemany("DELETE FROM work_items WHERE job_id = ?", others)

    def merge(_seconds: float | None = None) -> tuple[int, int]:
        with sqlite3.connect(side) as db:
            first = {row[0]: row for row in db.execute(f"SELECT {columns} FROM first_results")}
            new = [row for row in db.execute(f"SELECT {columns} FROM work_results") if row[0] in first]
        taken = [row for row in new if outcome_of(row[1], row[3], row[2]) not in (None, "error")  # a failure to run
                 and same_mutation(first[row[0]][4], row[4])]
        with sqlite3.connect(session) as db:
            db.executemany(f"REPLACE INTO work_results ({columns}) VALUES (?, ?, ?, ?, ?)", taken)
        rescore()
        return len(new), len(taken)
    _exec(config, side, tree, command, module_paths, args, merge)
    ran, taken = merge()
    side.unlink()
    print(f"{ran} {kind} run again ({ran - taken} results not taken: another mutation after an edit of its "
          f"module, or no answer from the worker)")


def first_pass(row: dict) -> dict:
    """A sample's first pass: its row, or once its survivors ran again the snapshot taken before, with
    the undecided mutants that a later, longer-budgeted pass decided (``decided``) taken in as it found
    them: a decision the first pass could not make, not a second chance (the survivors' reruns are that)."""
    first = row.get("first_pass", row)
    decided = first.get("decided")
    if not decided:
        return first
    killed, survived = first["killed"] + decided["killed"], first["survived"] + decided["survived"]
    moved = decided["killed"] + decided["survived"] + decided["equivalent"]
    return {**first, "killed": killed, "survived": survived, "equivalent": first["equivalent"] + decided["equivalent"],
            "undecided": first["undecided"] - moved, "decided_later": moved,
            "score": round(killed / (killed + survived), 4) if killed + survived else None,
            "interval": wilson(killed, killed + survived)}


def _key(outcome: dict) -> tuple:
    """A mutant of a session, as its outcome names it."""
    return outcome["module"], outcome["line"], outcome["operator"], outcome["occurrence"]


def _first_pass_snapshot(row: dict) -> dict:
    """A sample row's figures as its first pass left them, kept before its survivors run again."""
    return {k: row[k] for k in ("done", "killed", "survived", "equivalent", "undecided", "score", "interval")}


def after_stored_survivors(snapshot: dict[str, dict], outcomes: list[dict],
                           moved: dict[tuple, tuple] | None = None) -> dict[str, dict]:
    """A sample's rows (``snapshot``, as stored before the rerun) once its stored survivors ran again
    (``outcomes``; ``moved``: a survivor's key as it was, to the key of the same mutant at the last
    commit, where its line moved): each one killed moves from survived to caught, in its area and its
    module; the rest, and any the last commit no longer has, stay."""
    killed = {_key(o) for o in outcomes if o["outcome"] == "killed"}
    moved = moved or {}
    rows = {}
    for key, row in snapshot.items():
        surviving = [s for s in row["surviving"] if moved.get(_key(s), _key(s)) not in killed]
        gone = [s for s in row["surviving"] if s not in surviving]
        modules = {m: dict(tally) for m, tally in row["modules"].items()}
        for s in gone:
            modules[s["module"]]["killed"] += 1
            modules[s["module"]]["survived"] -= 1
        caught, survived = row["killed"] + len(gone), row["survived"] - len(gone)
        rows[key] = {**row, "killed": caught, "survived": survived, "surviving": surviving, "modules": modules,
                     "interval": wilson(caught, caught + survived),
                     **_judged(caught, survived, row["done"] == row["mutants"])}
    return rows


def stored_at(stored: set[tuple], now: set[tuple]) -> dict[tuple, tuple]:
    """Where each stored mutant (module, line, operator, occurrence) is among the mutants of the last
    commit (``now``): the same key, or where only its line moved (code added or taken out above it),
    the mutant of the same module, operator and occurrence. One whose occurrence is gone is left out."""
    by_occurrence = {(m, op, occ): (m, line, op, occ) for m, line, op, occ in now}
    found = {}
    for key in stored:
        module, _, operator, occurrence = key
        match = key if key in now else by_occurrence.get((module, operator, occurrence))
        if match is not None:
            found[key] = match
    return found


def _rerun_stored_survivors(args, results: ResultsFile, session: Path, module_paths: list[str]) -> None:
    """``--survivors`` for a sample whose session is gone (another checkout): a session of its stored
    survivors alone, made from the last commit (``SESSION-stored-survivors.sqlite``, with the rows as
    they stood in a ``.json`` beside it: a stopped pass goes on with the same command), run against the
    last commit's tests; the rows then stand as :func:`after_stored_survivors` says. A survivor is
    found where :func:`stored_at` says (a moved one is named with the line it now runs); one not found
    stays a survivor, and is named."""
    tree = args.work / "tree"
    side = session.with_name(f"{session.stem}-stored-survivors.sqlite")
    config, before = side.with_suffix(".toml"), side.with_suffix(".json")
    copy_tree(tree)
    _check_map(args.work, tree, module_paths)
    command = _sample_command(args.work)
    if not side.exists() or not before.exists():
        snapshot = json.loads(json.dumps({key: row for key, row in results.rows.items()
                                          if row.get("seed") == args.seed and "area" in row}))
        for row in snapshot.values():
            row.setdefault("first_pass", _first_pass_snapshot(row))
        stored = {_key(s) for row in snapshot.values() for s in row["surviving"]}
        side.unlink(missing_ok=True)
        config.write_text(_config(module_paths, command, args.timeout, []))
        subprocess.run([COSMIC_RAY, "init", str(config), str(side)], cwd=tree, check=True)
        _stamp(side).write_text(_head())
        with sqlite3.connect(side) as db:
            specs = db.execute("SELECT job_id, module_path, start_pos_row, operator_name, occurrence "
                               "FROM mutation_specs").fetchall()
            now = {tuple(key) for _, *key in specs}
            moved = stored_at(stored, now)
            wanted = set(moved.values())
            db.executemany("INSERT INTO work_results (job_id, worker_outcome, output) VALUES (?, 'skipped', ?)",
                           [(job, "not a stored survivor") for job, *key in specs if tuple(key) not in wanted])
        for key in sorted(stored):
            if key not in moved:
                print(f"not at this commit (stays a survivor): {key}", flush=True)
            elif moved[key] != key:
                line = (tree / key[0]).read_text().splitlines()[moved[key][1] - 1].strip()
                print(f"moved to line {moved[key][1]} ({line}): {key}", flush=True)
        before.write_text(json.dumps({"rows": snapshot, "moved": [[list(a), list(b)] for a, b in moved.items()]}))
    saved = json.loads(before.read_text())
    snapshot, moved = saved["rows"], {tuple(a): tuple(b) for a, b in saved["moved"]}

    def rescore(_seconds: float | None = None) -> None:
        for key, row in after_stored_survivors(snapshot, _outcomes(side, tree), moved).items():
            results.add(key, row)

    _exec(config, side, tree, command, module_paths, args, rescore)
    rescore()
    for key, row in results.rows.items():
        if row.get("seed") == args.seed and "area" in row:
            print(f"{row['area']}: {row['killed']}/{row['killed'] + row['survived']} caught after the survivors' "
                  f"tests ({len(snapshot[key]['surviving']) - row['survived']} of "
                  f"{len(snapshot[key]['surviving'])} survivors killed)", flush=True)


def _run_sample(args, results: ResultsFile) -> None:
    """A sampled session: ``args.sample`` mutants per area of AREAS, each running the tests that run
    its line (benchmarks/mutation_map.py's map, which must be of the last commit)."""
    name = f"sample-{args.sample}" + (f"-seed-{args.seed}" if args.seed else "")
    tree, session = args.work / "tree", args.work / f"{name}.sqlite"
    config = session.with_suffix(".toml")
    module_paths = [m for area in AREAS for m in area_modules(area)]
    if not session.exists() and args.survivors and sample_key(AREAS[0], args.seed) in results.rows:
        _rerun_stored_survivors(args, results, session, module_paths)
        return
    if not session.exists() and (args.no_run or args.undecided):
        # A session gone (another checkout): its stored rows stand, and a new one would draw another sample.
        print(f"{session.name}: no session here; the stored rows of seed {args.seed} stand", flush=True)
        return
    if not args.no_run:
        copy_tree(tree)
        _check_map(args.work, tree, module_paths)
    command = _sample_command(args.work)
    if not session.exists():
        config.write_text(_config(module_paths, command, args.timeout, []))
        subprocess.run([COSMIC_RAY, "init", str(config), str(session)], cwd=tree, check=True)
        _stamp(session).write_text(_head())
        eligible = [(o["module"], o["line"], o["operator"], o["occurrence"])
                    for o in _outcomes(session, tree) if not o["annotation"]]
        chosen = draw_sample(eligible, args.sample, args.seed)
        with sqlite3.connect(session) as db:
            specs = db.execute("SELECT job_id, module_path, start_pos_row, operator_name, occurrence "
                               "FROM mutation_specs").fetchall()
            db.executemany("INSERT INTO work_results (job_id, worker_outcome, output) VALUES (?, 'skipped', ?)",
                           [(job, "not in the sample") for job, *key in specs if tuple(key) not in chosen])
    earlier = results.rows.get(sample_key(AREAS[0], args.seed), {})

    def rescore(seconds: float | None = None) -> None:  # None: nothing ran (the time and workers stand)
        outcomes = _outcomes(session, tree)
        for key, row in _score_sample(outcomes, args.sample, args.seed).items():
            ran = earlier.get("wall_s")
            row["wall_s"] = ran if seconds is None else round(seconds + (ran or 0), 1)
            row["workers"] = earlier.get("workers") if seconds is None else args.workers
            if "first_pass" in results.rows.get(key, {}):
                row["first_pass"] = first = results.rows[key]["first_pass"]
                if "undecided_mutants" in first:  # as a later pass decided them
                    late = _tally([o for o in outcomes if list(_key(o)) in first["undecided_mutants"]])
                    first["decided"] = {k: late[k] for k in ("killed", "survived", "equivalent")}
            results.add(key, row)

    if args.survivors:  # after tests were added and the map made again with them
        for key in [sample_key(area, args.seed) for area in AREAS]:  # the first pass: its independent estimate
            if key in results.rows and "first_pass" not in results.rows[key]:
                results.change(key, lambda saved: saved.update(first_pass=_first_pass_snapshot(saved)))
        _rerun(config, session, tree, command, module_paths, args, "survivors", rescore)
    elif args.undecided:  # a first pass kept apart from its survivors' reruns takes in what this pass decides
        undecided = [o for o in _outcomes(session, tree) if o["outcome"] == "undecided"]
        for area in AREAS:
            key, members = sample_key(area, args.seed), set(area_modules(area))
            if "first_pass" in results.rows.get(key, {}) and "undecided_mutants" not in results.rows[key]["first_pass"]:
                mine = [list(_key(o)) for o in undecided if o["module"] in members]
                results.change(key, lambda saved, mine=mine: saved["first_pass"].update(undecided_mutants=mine))
        _rerun(config, session, tree, command, module_paths, args, "undecided", rescore)
    elif not args.no_run:
        _exec(config, session, tree, command, module_paths, args, rescore)
    rescore(None if args.no_run else 0.0)  # survivors run again: no time added to the sample's
    for area in AREAS:
        row = results.rows[sample_key(area, args.seed)]
        print(f"{area}: {row['killed']}/{row['killed'] + row['survived']} caught of {row['done']} run "
              f"(score {row['score']}, 95% {row['interval']})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.error = usage_error  # one line, exit 2
    parser.add_argument("modules", nargs="*", help="modules of MODULES (default: all)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs/mutation")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds per mutant's test run (a coverage-picked run sets its own budget from its tests' "
                             "unmutated time: see benchmarks/mutation_tests.py)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/mutation.json")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--no-run", action="store_true", help="only score the sessions so far (none is run)")
    parser.add_argument("--fresh", action="store_true", help="start the modules' sessions again (tests changed)")
    parser.add_argument("--survivors", action="store_true",
                        help="run a session's surviving mutants again, against the last commit's tests (after tests "
                             "were added, and with --sample the map made again; killed mutants are not run again)")
    parser.add_argument("--undecided", action="store_true",
                        help="with --sample: run the sample's undecided mutants again (tests past the budget of "
                             "the mutation_tests.py that ran them), against the last commit's tests (the map made "
                             "again); they then count in the first pass as decided")
    parser.add_argument("--sample", type=int, default=0, metavar="N",
                        help="instead of MODULES: N mutants drawn from each area of AREAS, their tests picked by "
                             "the coverage map (benchmarks/mutation_map.py)")
    parser.add_argument("--seed", type=int, default=0,
                        help="with --sample: which sample (each seed draws its own; its own session and rows)")
    parser.add_argument("--by-coverage", action="store_true",
                        help="a module's mutants run the tests the coverage map says run their line, not its "
                             "selection of MODULES")
    parser.add_argument("--workers", type=int, default=1, help="mutants run at once (cosmic-ray http workers)")
    args = parser.parse_args()
    args.work = args.work.resolve()  # cosmic-ray runs in the tree: a relative path would point inside it
    if args.list:
        print("\n".join(MODULES))
        return
    every = [m for area in AREAS for m in area_modules(area)]
    unknown = [m for m in args.modules if m not in MODULES and not (args.by_coverage and m in every)]
    problem = (f"not in MODULES: {', '.join(unknown)} (see --list; --by-coverage takes any module of AREAS)"
               if unknown else
               f"--workers must be in [1, 64], got {args.workers}" if not 1 <= args.workers <= 64 else
               f"--sample must be >= 0 (0: no sample), got {args.sample}" if args.sample < 0 else
               f"--seed must be >= 0, got {args.seed}" if args.seed < 0 else
               "--seed picks a sample: give --sample N too" if args.seed and not args.sample else
               f"--timeout must be positive, got {args.timeout:g}" if not args.timeout > 0 else
               "--sample draws from every area: give no MODULE" if args.sample and args.modules else
               "--no-run scores what ran: it runs no survivors again" if args.no_run and args.survivors else
               "--undecided runs a sample's undecided mutants: give --sample N too"
               if args.undecided and not args.sample else
               "--undecided and --survivors are separate passes: give one" if args.undecided and args.survivors else
               "--no-run scores what ran: it runs no undecided mutants again" if args.no_run and args.undecided
               else None)
    if problem:
        usage_error(problem)
    results = ResultsFile(args.out, {"tool": "cosmic-ray 8", "goal": GOAL},
                          header={"benchmark": "mutation"})
    results.update(machine=machine_info())
    args.work.mkdir(parents=True, exist_ok=True)
    if args.sample:
        _run_sample(args, results)
        return
    for module in args.modules or list(MODULES):
        _run_module(module, args, results)


if __name__ == "__main__":
    main()
