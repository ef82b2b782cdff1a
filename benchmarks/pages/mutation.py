"""mutation.md, from mutation.json: how many planted bugs the tests catch, module by module."""

from __future__ import annotations

import mutation as script  # benchmarks/mutation.py, whose results this page shows
import mutation_tests  # benchmarks/mutation_tests.py: a sampled mutant's tests and their budget

from pages.common import exists, load, source

PAGE = "mutation.md"


def render() -> str:
    document = load("mutation") if exists("mutation") else {"rows": {}, "settings": {"goal": script.GOAL}}
    rows = {key: row for key, row in document["rows"].items() if not key.startswith("sample ")}
    sampled = {key: row for key, row in document["rows"].items() if key.startswith("sample ")}
    finished = [m for m, r in rows.items() if r["done"] == r["mutants"] and r["score"] is not None]
    met = [m for m in finished if rows[m]["meets_goal"]]
    survivors = [(module, s) for module, row in rows.items() for s in row.get("surviving", [])]
    survivors += [(s["module"], s) for row in sampled.values() for s in row["surviving"]]
    lines = [
        "# Mutation testing",
        "",
        "How many small planted bugs the tests catch, module by module. "
        "[cosmic-ray](https://github.com/sixty-north/cosmic-ray) plants one mutation at a time (a changed "
        "operator, comparison or constant, a dropped `not`, a removed decorator) in a copy of the last commit and "
        "runs that module's tests; a mutant no test fails on *survived*. Each survivor gets a test that kills it, "
        "or a one-line reason in the script's `EQUIVALENT` table why no test can see it (mutants of annotations "
        "are equivalent by rule: every listed module has `from __future__ import annotations`).",
        "",
        "```bash",
        "pip install -e '.[mutation]'",
        "python benchmarks/mutation.py [MODULE ...]   # resumable; --fresh after a module's tests change",
        "```",
        "",
        f"Score = caught / (caught + survived), equivalent mutants left out; the goal is "
        f"{document['settings']['goal']:.0%} in every module. Finished so far: {len(finished)} of "
        f"{len(script.MODULES)} listed modules, {len(met)} of them meeting the goal.",
        "",
        script.render(document),
        "",
        "## The whole package, by sample",
        "",
        _pace(sampled) + "So each area is also judged on a seeded random sample of its mutants (annotations left "
        "out), spread over its modules in proportion to their mutants. Each sampled mutant runs only the tests "
        "that run its line, from a coverage map of the whole suite (`benchmarks/mutation_map.py`, each test its "
        "own coverage context, child processes included); a mutant on a line no test runs survives without a run. "
        "A sample's estimate is its first pass, with its 95% Wilson interval. Mutants run in a random order, so a "
        "sample stopped part way is itself a uniform sample of what it ran. Its survivors then get tests and run "
        "again (`--survivors`, after the map is made again): the sample's last columns show where it stands after "
        "that, which says the survivors were dealt with but is no longer an independent estimate (those tests were "
        "written for exactly these mutants); a new estimate needs a new sample (`--seed`). The goal is judged on "
        "the first passes of every sample pooled: tests are only added between samples, so an earlier first pass "
        "underestimates the suite as it stands, and so does the pool. It is met when the pool's whole interval lies "
        f"at or above {script.GOAL:.0%}, not met when it lies below, and otherwise the samples cannot tell. A mutant "
        f"whose tests run past {mutation_tests.HANG_FACTOR:g} x their unmutated time (under coverage), stretched by "
        f"the machine's load (runnable processes per core), plus {mutation_tests.HANG_SLACK_S:.0f} s (at least "
        f"{mutation_tests.BUDGET_S} s) hangs, and is caught. One whose tests ran past a fixed budget "
        f"({mutation_tests.BUDGET_S} s, before this rule; {mutation_tests.CAP_S:.0f} s since) is *undecided* "
        "(a long selection cannot be told from a hang) and left out of the estimate; `--undecided` runs them "
        "again under this rule, against the last commit's tests, and the first pass then counts each as decided "
        "(`first_pass.decided` in the JSON: a decision the first pass could not make, not a second chance). The last "
        "columns judge the goal again with every mutant still undecided counted as a survivor. Sessions live in "
        "the ignored run folder: a checkout without them keeps the stored rows, and `--survivors` then runs the "
        "survivors the rows list again, from the last commit: a survivor whose line moved is found by its module, "
        "operator and occurrence, and the pass prints the line it found, for a reader to check that it is the same "
        "code (one it no longer finds stays a survivor).",
        "",
        "```bash",
        "python benchmarks/mutation_map.py                      # the coverage map of the last commit",
        "python benchmarks/mutation.py --sample 100 --workers 2  # resumable: the same command goes on",
        "python benchmarks/mutation.py --sample 60 --seed 1 --workers 2  # another sample, drawn afresh",
        "python benchmarks/mutation.py --sample 60 --seed 1 --undecided --workers 2  # its undecided mutants again",
        "python benchmarks/mutation.py --sample 60 --seed 1 --survivors --workers 2  # its survivors, after tests",
        "```",
        "",
        script.render_sample(document),
        "",
    ]
    if survivors:
        lines += ["## Surviving mutants", "", "Each is a bug the tests would let through, until a test kills it:", ""]
        lines += [f"- `{module}` line {s['line']}: `{s['operator']}` (occurrence {s['occurrence']})"
                  for module, s in survivors]
        lines.append("")
    lines += [source("mutation"), ""]
    return "\n".join(lines)


def _pace(sampled: dict) -> str:
    """What running every mutant of the areas would take, at the samples' pace (each sample's time is on
    every row of its own)."""
    if not sampled:
        return "No sample has run yet. "
    by_seed: dict[int, list[dict]] = {}
    for row in sampled.values():
        by_seed.setdefault(row["seed"], []).append(row)
    eligible = sum(row["eligible"] for row in next(iter(by_seed.values())))
    timed = [rows for rows in by_seed.values() if rows[0]["wall_s"]]
    done = sum(row["done"] for rows in timed for row in rows)
    if not done:
        return f"The areas hold {eligible:,} mutants outside annotations. "
    pace = sum(rows[0]["wall_s"] for rows in timed) / done
    workers = sorted({rows[0]["workers"] for rows in timed})
    return (f"The areas hold {eligible:,} mutants outside annotations; at the samples' pace on this machine (one "
            f"mutant finished every {pace:.1f} s of wall time, {' or '.join(map(str, workers))} running at once) all "
            f"of them would take {eligible * pace / 3600:.0f} hours. ")


def headline() -> tuple[str, str, str]:
    rows = load("mutation")["rows"] if exists("mutation") else {}
    areas = {area: row for area, row in script.pooled(rows).items()
             if row["score"] is not None}
    finished = {m: r for m, r in rows.items() if r["done"] == r["mutants"] and r["score"] is not None
                and not m.startswith("sample ")}
    figure = "not measured"
    if areas:
        area, worst = min(areas.items(), key=lambda item: item[1]["score"])
        verdicts = [script.verdict(r["interval"]) for r in areas.values()]
        figure = (f"sampled, {sum(r['counted'] for r in areas.values())} mutants: {verdicts.count('**met**')} of "
                  f"{len(areas)} areas meet {script.GOAL:.0%}, {verdicts.count('**not met**')} do not, the rest "
                  f"cannot tell; lowest `{area}` {worst['score']:.0%} (95% {worst['interval'][0]:.0%}-"
                  f"{worst['interval'][1]:.0%})")
    elif finished:
        module, worst = min(finished.items(), key=lambda item: item[1]["score"])
        figure = (f"{sum(bool(r['meets_goal']) for r in finished.values())} of {len(finished)} finished modules "
                  f"meet {script.GOAL:.0%}; lowest {worst['score']:.0%} (`{module}`)")
    return "Planted bugs the tests catch (mutation score)", figure, PAGE
