"""Results about the project itself: how many planted bugs its tests catch."""

from __future__ import annotations

import mutation

from pages.common import exists, load, source


def mutation_page() -> str:
    document = load("mutation") if exists("mutation") else {"rows": {}, "settings": {"goal": mutation.GOAL}}
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
        f"{len(mutation.MODULES)} listed modules, {len(met)} of them meeting the goal.",
        "",
        mutation.render(document),
        "",
    ]
    if survivors:
        lines += ["## Surviving mutants", "", "Each is a bug the tests would let through, until a test kills it:", ""]
        lines += [f"- `{module}` line {s['line']}: `{s['operator']}` (occurrence {s['occurrence']})"
                  for module, s in survivors]
        lines.append("")
    lines += [source("mutation"), ""]
    return "\n".join(lines)


def _headline() -> tuple[str, str, str]:
    rows = load("mutation")["rows"] if exists("mutation") else {}
    finished = {m: r for m, r in rows.items() if r["done"] == r["mutants"] and r["score"] is not None}
    figure = "not measured"
    if finished:
        module, worst = min(finished.items(), key=lambda item: item[1]["score"])
        figure = (f"{sum(bool(r['meets_goal']) for r in finished.values())} of {len(finished)} finished modules "
                  f"meet {mutation.GOAL:.0%}; lowest {worst['score']:.0%} (`{module}`)")
    return "Planted bugs the tests catch (mutation score)", figure, "mutation.md"


def suite_time() -> str:
    """How long README's test command takes, and whether it passed run after run (suite_runs.json)."""
    document = load("suite_runs") if exists("suite_runs") else {"rows": {}}
    rows = list(document["rows"].values())
    if not rows:
        return "The suite's time is not measured yet (`python benchmarks/suite_runs.py`)."
    cores = document["machine"].get("usable_cores")
    busy = [r["interference"]["other_processes_cores_busy"] for r in rows if r.get("interference")]
    passed = sum(r["exit_code"] == 0 for r in rows)
    minutes = sorted(r["wall_s"] / 60 for r in rows)
    spread = (f"{minutes[0]:.0f}" if round(minutes[0]) == round(minutes[-1])
              else f"{minutes[0]:.0f} to {minutes[-1]:.0f}")
    load_words = f", while other jobs kept {min(busy):.1f} to {max(busy):.1f} cores busy" if busy else ""
    return (f"The whole suite took {spread} minutes per run on {cores} CPU cores{load_words}; "
            f"{passed} of {len(rows)} runs in a row passed ({rows[-1]['passed']} tests passed, "
            f"{rows[-1]['skipped']} skipped in the last; [`suite_runs.json`](benchmarks/results/suite_runs.json)).")


PAGES = {"mutation.md": mutation_page}
HEADLINES = [_headline]
