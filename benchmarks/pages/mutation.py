"""mutation.md, from mutation.json: how many planted bugs the tests catch, module by module."""

from __future__ import annotations

import mutation as script  # benchmarks/mutation.py, whose results this page shows

from pages.common import exists, load, source

PAGE = "mutation.md"


def render() -> str:
    document = load("mutation") if exists("mutation") else {"rows": {}, "settings": {"goal": script.GOAL}}
    rows = document["rows"]
    finished = [m for m, r in rows.items() if r["done"] == r["mutants"] and r["score"] is not None]
    met = [m for m in finished if rows[m]["meets_goal"]]
    survivors = [(module, s) for module, row in rows.items() for s in row.get("surviving", [])]
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
    ]
    if survivors:
        lines += ["## Surviving mutants", "", "Each is a bug the tests would let through, until a test kills it:", ""]
        lines += [f"- `{module}` line {s['line']}: `{s['operator']}` (occurrence {s['occurrence']})"
                  for module, s in survivors]
        lines.append("")
    lines += [source("mutation"), ""]
    return "\n".join(lines)


def headline() -> tuple[str, str, str]:
    rows = load("mutation")["rows"] if exists("mutation") else {}
    finished = {m: r for m, r in rows.items() if r["done"] == r["mutants"] and r["score"] is not None}
    figure = "not measured"
    if finished:
        module, worst = min(finished.items(), key=lambda item: item[1]["score"])
        figure = (f"{sum(bool(r['meets_goal']) for r in finished.values())} of {len(finished)} finished modules "
                  f"meet {script.GOAL:.0%}; lowest {worst['score']:.0%} (`{module}`)")
    return "Planted bugs the tests catch (mutation score)", figure, PAGE
