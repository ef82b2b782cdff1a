"""benchmarks/mutation.py's sample and score, and mutation_tests.py's choice of a mutant's tests:
the arithmetic a mutation figure stands on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks")]

import mutation  # noqa: E402
import mutation_tests  # noqa: E402


def test_wilson_interval_matches_the_formula_and_brackets_the_estimate():
    low, high = mutation.wilson(9, 10)
    assert (low, high) == (pytest.approx(0.5958, abs=1e-4), pytest.approx(0.9821, abs=1e-4))
    assert mutation.wilson(50, 50)[1] == pytest.approx(1.0) and mutation.wilson(50, 50)[0] > 0.92
    assert mutation.wilson(0, 0) is None
    # more trials at the same rate: a narrower interval
    assert mutation.wilson(90, 100)[1] - mutation.wilson(90, 100)[0] < high - low


def test_goal_is_judged_on_the_whole_interval():
    assert mutation.verdict([0.86, 0.97]) == "**met**"
    assert mutation.verdict([0.70, 0.84]) == "**not met**"
    assert mutation.verdict([0.80, 0.95]) == "cannot tell at this sample size"
    assert mutation.verdict([0.85, 0.90]) == "**met**"  # at the goal is enough
    assert mutation.verdict(None) == "not sampled yet"


def _mutants(module: str, count: int) -> list[tuple]:
    return [(module, line, "core/NumberReplacer", 0) for line in range(count)]


def test_sample_spreads_each_area_over_its_modules_in_proportion_and_is_seeded():
    mutants = (_mutants("scalesearch/arch/spec.py", 30) + _mutants("scalesearch/arch/io.py", 10)
               + _mutants("scalesearch/files.py", 3) + _mutants("scalesearch/cli.py", 50))
    chosen = mutation.draw_sample(mutants, 8)
    by_module = {m: sum(c[0] == m for c in chosen) for m in {c[0] for c in mutants}}
    assert by_module == {"scalesearch/arch/spec.py": 6, "scalesearch/arch/io.py": 2,
                         "scalesearch/files.py": 3,  # fewer than 8 in the area: all of them
                         "scalesearch/cli.py": 0}  # in no area
    assert mutation.draw_sample(list(reversed(mutants)), 8) == chosen
    other = mutation.draw_sample(mutants, 8, seed=1)  # another seed: another sample, the same spread
    assert other != chosen and other == mutation.draw_sample(mutants, 8, seed=1)
    assert sorted(c[0] for c in other) == sorted(c[0] for c in chosen)


def test_the_goal_is_judged_on_every_sample_first_pass_pooled():
    def row(area, seed, killed, survived, undecided, after=None):
        first = {"killed": killed, "survived": survived, "undecided": undecided}
        return {"area": area, "seed": seed, **(after or first), **({"first_pass": first} if after else {})}

    rows = {"a": row("scalesearch/files.py", 0, 20, 5, 4, after={"killed": 25, "survived": 0, "undecided": 4}),
            "b": row("scalesearch/files.py", 1, 30, 1, 2), "c": row("scalesearch/nn/", 1, 3, 0, 0)}
    judged = mutation.pooled(rows)
    files = judged["scalesearch/files.py"]  # the first pass of seed 0, not its after-survivors 25 of 25
    assert (files["samples"], files["killed"], files["counted"], files["undecided"]) == (2, 50, 56, 6)
    assert files["interval"] == mutation.wilson(50, 56)
    assert files["conservative"] == mutation.wilson(50, 62)  # the undecided counted as survivors
    assert judged["scalesearch/nn/"]["killed"] == 3 and judged["scalesearch/arch/"]["interval"] is None


def test_sample_gives_the_largest_remainders_the_spare_mutants():
    mutants = _mutants("scalesearch/nn/blocks.py", 5) + _mutants("scalesearch/nn/vit.py", 4) + \
        _mutants("scalesearch/nn/norms.py", 1)
    chosen = mutation.draw_sample(mutants, 5)  # shares 2.5, 2.0, 0.5: the spare goes to a half
    counts = sorted(sum(c[0] == m for c in chosen) for m in ("scalesearch/nn/blocks.py", "scalesearch/nn/vit.py",
                                                              "scalesearch/nn/norms.py"))
    assert len(chosen) == 5 and counts in ([1, 2, 2], [0, 2, 3])


def _outcome(outcome, module="scalesearch/files.py", operator="core/AddNot", occurrence=0, annotation=False,
             timeout=False):
    return {"module": module, "operator": operator, "occurrence": occurrence, "line": 1, "outcome": outcome,
            "timeout": timeout, "annotation": annotation}


def test_tally_leaves_out_skipped_equivalent_and_errors(monkeypatch):
    monkeypatch.setitem(mutation.EQUIVALENT, ("scalesearch/files.py", "core/AddNot", 7), "a reason")
    outcomes = [_outcome("killed"), _outcome("killed", timeout=True), _outcome("survived"),
                _outcome("survived", annotation=True), _outcome("survived", occurrence=7),
                _outcome("skipped"), _outcome("error"), _outcome(None)]
    row = mutation._tally(outcomes)
    assert (row["mutants"], row["done"], row["killed"], row["timeouts"]) == (7, 6, 2, 1)
    assert (row["survived"], row["equivalent"], row["errors"]) == (1, 2, 1)
    assert row["score"] == pytest.approx(2 / 3, abs=1e-4)
    assert row["meets_goal"] is None  # one still pending
    assert [s["occurrence"] for s in row["surviving"]] == [0]


SOURCE = '''import functools

LIMIT = 3


@functools.cache
def f(x):
    y = (x +
         1)
    if x > LIMIT:
        return y
    return 0


class Box:
    size = 2

    def area(self):
        return self.size ** 2
'''


def test_a_mutant_maps_to_the_first_line_of_its_statement_and_knows_import_time():
    mutated = SOURCE.replace("         1)", "         2)")
    lines = mutation_tests.changed_lines(SOURCE.splitlines(), mutated.splitlines())
    assert lines == {9}
    statements = mutation_tests.Statements(SOURCE)
    statement, on_import = statements.innermost(9)
    assert (statement.lineno, on_import) == (8, False)
    assert statements.innermost(3)[1] and statements.innermost(16)[1]  # a constant, a class body
    assert statements.innermost(6) is None  # a decorator: outside every statement
    assert statements.names(None, 6) == {"f"}
    assert statements.names(statements.innermost(16)[0], 16) == {"size", "Box"}
    assert statements.reach({"LIMIT"}) == ({"LIMIT"}, {10})
    assert statements.reach({"size"}) == ({"size"}, {19})


BASES = '''from dataclasses import dataclass


@dataclass
class Base:
    x: int


class Child(Base):
    pass


def make(n: Base = None):
    return Child(1)
'''


def test_an_import_time_name_read_only_at_import_reaches_the_readers_of_what_it_builds():
    statements = mutation_tests.Statements(BASES)
    assert statements.innermost(4) is None and statements.names(None, 4) == {"Base"}  # @dataclass on Base
    # make() builds a Child, a subclass (the annotation is never read)
    assert statements.reach({"Base"}) == ({"Base", "Child"}, {14})
    assert statements.reach({"dataclass"}) == ({"dataclass", "Base", "Child"}, {14})
    coverage_map = {"tests": ["tests/test_a.py::a", "tests/test_b.py::b"], "seconds": [1.0, 2.0],
                    "modules": {"m.py": {"lines": {"14": [0]}}}}
    texts = {"tests/test_b.py": "m.Child(2)"}  # named by its subclass only
    assert mutation_tests.selection(coverage_map, "m.py", BASES, {4}, texts) == ["tests/test_a.py::a",
                                                                                 "tests/test_b.py::b"]


MAP = {"tests": ["tests/test_a.py::slow", "tests/test_a.py::quick", "tests/test_b.py::other", "tests/test_c.py::c"],
       "seconds": [9.0, 0.5, 1.0, 0.1],
       "modules": {"m.py": {"lines": {"3": [0, 1, 2, 3], "8": [0, 1], "10": [2], "11": [], "19": [3]}}}}


def test_selection_runs_a_lines_tests_quickest_first():
    assert mutation_tests.selection(MAP, "m.py", SOURCE, {9}) == ["tests/test_a.py::quick", "tests/test_a.py::slow"]
    assert mutation_tests.selection(MAP, "m.py", SOURCE, {12}) == []  # a line no test runs
    # line 11 ran only while tests were collected: the tests that name its function, f
    assert mutation_tests.selection(MAP, "m.py", SOURCE, {11}, {"tests/test_b.py": "m.f(3)"}) == [
        "tests/test_b.py::other"]


def test_selection_of_an_import_time_line_runs_its_readers_and_the_tests_that_name_it():
    # LIMIT: read on line 10 (test_b), named by test_c's file; not every test that imported the module
    texts = {"tests/test_c.py": "assert m.LIMIT == 3", "tests/test_a.py": "UNLIMITED"}
    assert mutation_tests.selection(MAP, "m.py", SOURCE, {3}, texts) == ["tests/test_c.py::c",
                                                                         "tests/test_b.py::other"]
    assert mutation_tests.selection(MAP, "m.py", SOURCE, {16}) == ["tests/test_c.py::c"]  # Box.size: area()


def test_a_stored_row_moves_the_survivors_equivalent_now_explains(monkeypatch):
    monkeypatch.setitem(mutation.EQUIVALENT, ("m.py", "core/AddNot", 1), "a reason")
    row = {"mutants": 10, "done": 10, "killed": 6, "survived": 2, "equivalent": 2, "score": 0.75, "meets_goal": False,
           "surviving": [{"line": 3, "operator": "core/AddNot", "occurrence": 1},
                         {"line": 4, "operator": "core/AddNot", "occurrence": 2}]}
    again = mutation._reclassified("m.py", row)
    assert (again["survived"], again["equivalent"], again["score"]) == (1, 3, pytest.approx(6 / 7, abs=1e-4))
    assert again["surviving"] == [{"line": 4, "operator": "core/AddNot", "occurrence": 2}]
    assert again["meets_goal"] is True  # 6 of 7: the goal, once the explained one is left out
    assert mutation._reclassified("m.py", again) == again  # once explained, never counted twice


def _wrapper_run(tmp_path: Path, test_body: str | None, on_import: str = "") -> tuple[int, str]:
    """mutation_tests.py on a one-line mutant of a one-module project, whose test is ``test_body``
    (None: the map names a test that is not there), its module running ``on_import`` first."""
    import subprocess

    work, tree = tmp_path / "work", tmp_path / "tree"
    (work / "map-tree").mkdir(parents=True)
    (tree / "tests").mkdir(parents=True)
    (work / "map-tree" / "pkg.py").write_text("LIMIT = 1\n\n\ndef limit():\n    return LIMIT\n")
    (tree / "pkg.py").write_text("LIMIT = 2\n\n\ndef limit():\n    return LIMIT\n")  # the mutant
    if test_body is not None:
        test = f"import pkg\n{on_import}\n\n\ndef test_limit():\n    {test_body}\n"
        (tree / "tests" / "test_pkg.py").write_text(test)
    coverage_map = {"tests": ["tests/test_pkg.py::test_limit"], "seconds": [0.1],
                    "modules": {"pkg.py": {"digest": mutation_tests.digest(work / "map-tree" / "pkg.py"),
                                           "lines": {"1": [], "4": [], "5": [0]}}}}
    (work / "map.json").write_text(json.dumps(coverage_map))
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks/mutation_tests.py"), str(work / "map.json")],
                          cwd=tree, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout


def test_the_wrapper_kills_on_a_failing_or_unimportable_test_and_never_on_a_test_it_cannot_find(tmp_path):
    assert _wrapper_run(tmp_path / "a", "assert pkg.limit() == 1")[0] == 1  # caught
    code, out = _wrapper_run(tmp_path / "b", "assert pkg.limit() > 0")
    assert code == 0, out  # survived: the test passes on the mutant
    code, out = _wrapper_run(tmp_path / "c", None)
    assert code == 1 and "mutation_tests error: pytest could not run the map's tests (exit 4)" in out
    code, out = _wrapper_run(tmp_path / "d", "assert True", on_import="assert pkg.LIMIT == 1")
    assert code != 0 and "mutation_tests error" not in out, out  # its test module cannot import: caught


def test_a_mutants_tests_get_three_times_their_unmutated_time_stretched_by_load_and_a_minute_within_floor_and_cap():
    coverage_map = {"tests": ["quick", "slow", "slower"], "seconds": [1.0, 200.0, 700.0]}
    assert mutation_tests.budget(coverage_map, ["quick"]) == (mutation_tests.BUDGET_S, True)  # past 240 s: a hang
    assert mutation_tests.budget(coverage_map, ["quick", "slow"]) == (3 * 201.0 + 60, True)
    assert mutation_tests.budget(coverage_map, ["quick", "slow"], stretch=1.5) == (3 * 201.0 * 1.5 + 60, True)
    assert mutation_tests.load() >= 1.0  # an idle machine stretches nothing
    # 2,760 s wanted, over the cap: past the cap the mutant is undecided, not hung
    assert mutation_tests.budget(coverage_map, ["slow", "slower"]) == (mutation_tests.CAP_S, False)


def test_a_first_pass_takes_in_its_undecided_mutants_as_a_later_pass_decided_them():
    first = {"done": 30, "killed": 20, "survived": 4, "equivalent": 1, "undecided": 5, "score": 0.8333,
             "interval": mutation.wilson(20, 24)}
    row = {"killed": 30, "survived": 0, "equivalent": 1, "undecided": 5, "first_pass": first}  # after the survivors
    assert mutation.first_pass(row) == first and mutation.first_pass(first) == first
    first["decided"] = {"killed": 2, "survived": 1, "equivalent": 1}  # 4 of the 5 decided later
    later = mutation.first_pass(row)
    assert (later["killed"], later["survived"], later["equivalent"], later["undecided"]) == (22, 5, 2, 1)
    assert later["decided_later"] == 4 and later["done"] == 30
    assert later["score"] == round(22 / 27, 4) and later["interval"] == mutation.wilson(22, 27)
    assert mutation.first_pass(row) == later  # the snapshot itself is left as it was: the same every time
    pooled = mutation.pooled({"s": {**row, "area": "scalesearch/files.py"}})["scalesearch/files.py"]
    assert (pooled["killed"], pooled["counted"], pooled["undecided"]) == (22, 27, 1)


def test_a_rerun_stands_only_for_the_mutation_its_first_run_made():
    first = "--- mutation diff ---\n--- aa/m.py\n+++ bb/m.py\n@@ -10,3 +10,3 @@\n x = 1\n-if a < b:\n+if a <= b:\n"
    moved = first.replace("@@ -10,3 +10,3 @@", "@@ -14,3 +14,3 @@")  # lines added above it: the same mutation
    assert mutation.same_mutation(first, moved)
    other = first.replace("a < b", "c < d").replace("a <= b", "c <= d")  # an edit above it: another occurrence
    assert not mutation.same_mutation(first, other) and not mutation.same_mutation(first, None)
    assert mutation.same_mutation(None, other) and mutation.same_mutation("", other)  # no first diff stored


def test_a_row_at_exactly_the_goal_meets_it_and_an_unfinished_one_is_not_judged():
    assert mutation._judged(17, 3, finished=True) == {"score": 0.85, "meets_goal": True}
    assert mutation._judged(16, 4, finished=True)["meets_goal"] is False
    assert mutation._judged(20, 0, finished=False)["meets_goal"] is None
    assert mutation._judged(0, 0, finished=True) == {"score": None, "meets_goal": None}


def test_an_outcome_is_cosmic_rays_unless_the_test_command_said_otherwise():
    assert mutation.outcome_of(None, None, None) is None  # pending
    assert mutation.outcome_of("skipped", None, "not in the sample") == "skipped"
    assert mutation.outcome_of("normal", "KILLED", "1 failed") == "killed"
    assert mutation.outcome_of("normal", "SURVIVED", "3 passed") == "survived"
    assert mutation.outcome_of("normal", "KILLED", "mutation_tests undecided: 9 tests did not finish") == "undecided"
    assert mutation.outcome_of("normal", "KILLED", "mutation_tests hang: 9 tests did not finish in 300 s") == "killed"
    assert mutation.outcome_of("normal", "KILLED", "") == "error"  # the test command was killed from outside, silent
    not_found = "ERROR: found no collectors for tests/test_a.py::t\nmutation_tests error: pytest could not run"
    assert mutation.outcome_of("normal", "KILLED", not_found) == "error"
    assert mutation.outcome_of("normal", "KILLED", "ERROR collecting tests/test_a.py\n" + not_found) == "killed"


@pytest.mark.parametrize("args, message", [
    (["--sample", "5", "--seed", "-1"], "--seed must be >= 0, got -1"),
    (["--seed", "2"], "--seed picks a sample: give --sample N too"),
    (["--workers", "0"], "--workers must be in [1, 64], got 0"),
    (["--undecided"], "--undecided runs a sample's undecided mutants: give --sample N too"),
    (["--sample", "5", "--undecided", "--survivors"], "--undecided and --survivors are separate passes: give one"),
    (["--sample", "5", "--undecided", "--no-run"], "--no-run scores what ran: it runs no undecided mutants again"),
])
def test_a_bad_option_is_one_line_and_exit_2_before_any_work(args, message, tmp_path):
    import subprocess

    done = subprocess.run([sys.executable, str(ROOT / "benchmarks/mutation.py"), *args, "--work", str(tmp_path / "w"),
                           "--out", str(tmp_path / "m.json")], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr, done.stdout) == (2, f"error: {message}\n", "")
    assert not (tmp_path / "w").exists() and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("mode", ["--no-run", "--undecided"])
def test_a_sample_whose_session_is_gone_keeps_its_stored_rows(mode, tmp_path):
    """A new checkout has the results but not the sessions (they live in the ignored run folder):
    scoring or rerunning then must not draw, and score, a new sample over the stored one."""
    import subprocess

    stored = {"benchmark": "mutation", "settings": {"tool": "cosmic-ray 8", "goal": mutation.GOAL},
              "rows": {mutation.sample_key(mutation.AREAS[0], 3): {"seed": 3, "killed": 7, "survived": 1}}}
    out = tmp_path / "m.json"
    out.write_text(json.dumps(stored))
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks/mutation.py"), "--sample", "5", "--seed", "3", mode,
                           "--work", str(tmp_path / "w"), "--out", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "no session here" in done.stdout
    assert json.loads(out.read_text())["rows"] == stored["rows"]
    assert not (tmp_path / "w" / "sample-5-seed-3.sqlite").exists()


def test_stored_survivors_a_rerun_killed_move_to_caught_in_their_area_and_module():
    a, b, c = ({"module": "scalesearch/pipeline.py", "line": n, "operator": "core/NumberReplacer", "occurrence": n}
               for n in (1, 2, 3))
    row = {"mutants": 10, "done": 10, "killed": 7, "survived": 3, "surviving": [a, b, c], "undecided": 0,
           "equivalent": 0, "score": 0.7, "interval": mutation.wilson(7, 10),
           "modules": {"scalesearch/pipeline.py": {"mutants": 10, "done": 10, "killed": 7, "survived": 3,
                                                   "equivalent": 0}}}
    outcomes = [{**a, "outcome": "killed"}, {**b, "outcome": "survived"},  # c: not at this commit
                {**c, "line": 4, "outcome": "killed"}]  # another mutant, not c: c stays
    after = mutation.after_stored_survivors({"k": row}, outcomes)["k"]
    assert (after["killed"], after["survived"], after["surviving"]) == (8, 2, [b, c])
    assert after["modules"]["scalesearch/pipeline.py"]["killed"] == 8
    assert after["modules"]["scalesearch/pipeline.py"]["survived"] == 2
    assert after["interval"] == mutation.wilson(8, 10) and after["score"] == 0.8 and after["meets_goal"] is False
    assert row["killed"] == 7 and len(row["surviving"]) == 3  # the snapshot itself is left as it was


def test_a_stored_mutant_is_found_again_where_only_its_line_moved_and_counts_there():
    m, op = "scalesearch/signals.py", "core/ReplaceUnaryOperator_USub_UAdd"
    now = {(m, 68, op, 0), (m, 80, op, 1), (m, 48, "core/NumberReplacer", 0)}
    stored = {(m, 48, op, 0), (m, 80, op, 1), (m, 90, op, 2)}
    moved = mutation.stored_at(stored, now)
    assert moved == {(m, 48, op, 0): (m, 68, op, 0), (m, 80, op, 1): (m, 80, op, 1)}  # occurrence 2 is gone
    survivor = {"module": m, "line": 48, "operator": op, "occurrence": 0}
    row = {"mutants": 4, "done": 4, "killed": 3, "survived": 1, "surviving": [survivor], "undecided": 0,
           "equivalent": 0, "modules": {m: {"mutants": 4, "done": 4, "killed": 3, "survived": 1, "equivalent": 0}}}
    killed_there = [{"module": m, "line": 68, "operator": op, "occurrence": 0, "outcome": "killed"}]
    assert mutation.after_stored_survivors({"k": row}, killed_there, moved)["k"]["surviving"] == []
    assert mutation.after_stored_survivors({"k": row}, killed_there)["k"]["surviving"] == [survivor]
