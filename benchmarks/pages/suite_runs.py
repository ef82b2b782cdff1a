"""README's sentence on the test suite's time (its ``suite`` block), from suite_runs.json."""

from __future__ import annotations

from pages.common import exists, load


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

