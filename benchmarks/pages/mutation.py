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
        "The estimate is the sample's first pass, with its 95% Wilson interval: the goal is met when the whole "
        f"interval lies at or above {script.GOAL:.0%}, not met when it lies below, and otherwise this sample cannot "
        "tell. Mutants run in a random order, so a sample stopped part way is itself a uniform sample of what it "
        "ran. Its survivors then get tests and run again (`--survivors`, after the map is made again): the last "
        "columns show where the sample stands after that, which says the survivors were dealt with but is no longer an "
        "independent estimate (those tests were written for exactly these mutants); a new estimate needs a new "
        "sample. A mutant whose "
        f"tests run past {mutation_tests.BUDGET_S} s is *undecided* (a long selection cannot be told from a hang) "
        "and left out.",
        "",
        "```bash",
        "python benchmarks/mutation_map.py                      # the coverage map of the last commit",
        "python benchmarks/mutation.py --sample 100 --workers 2  # resumable: the same command goes on",
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
    """What running every mutant of the areas would take, at the sample's pace."""
    if not sampled:
        return "No sample has run yet. "
    eligible = sum(row["eligible"] for row in sampled.values())
    done = sum(row["done"] for row in sampled.values())
    row = next(iter(sampled.values()))
    if not done or not row["wall_s"]:
        return f"The areas hold {eligible:,} mutants outside annotations. "
    pace = row["wall_s"] / done
    return (f"The areas hold {eligible:,} mutants outside annotations; at the sample's pace on this machine (one "
            f"mutant finished every {pace:.1f} s of wall time, {row['workers']} running at once) all of them would "
            f"take {eligible * pace / 3600:.0f} hours. ")


def headline() -> tuple[str, str, str]:
    rows = load("mutation")["rows"] if exists("mutation") else {}
    areas = {key.removeprefix("sample "): row.get("first_pass", row) for key, row in rows.items()
             if key.startswith("sample ") and row["score"] is not None}
    finished = {m: r for m, r in rows.items() if r["done"] == r["mutants"] and r["score"] is not None
                and not m.startswith("sample ")}
    figure = "not measured"
    if areas:
        area, worst = min(areas.items(), key=lambda item: item[1]["score"])
        verdicts = [script.verdict(r["interval"]) for r in areas.values()]
        figure = (f"sampled, {sum(r['done'] for r in areas.values())} mutants: {verdicts.count('**met**')} of "
                  f"{len(areas)} areas meet {script.GOAL:.0%}, {verdicts.count('**not met**')} do not, the rest "
                  f"cannot tell; lowest `{area}` {worst['score']:.0%} (95% {worst['interval'][0]:.0%}-"
                  f"{worst['interval'][1]:.0%})")
    elif finished:
        module, worst = min(finished.items(), key=lambda item: item[1]["score"])
        figure = (f"{sum(bool(r['meets_goal']) for r in finished.values())} of {len(finished)} finished modules "
                  f"meet {script.GOAL:.0%}; lowest {worst['score']:.0%} (`{module}`)")
    return "Planted bugs the tests catch (mutation score)", figure, PAGE
