"""Search throughput with 1, 2 and 4 workers, on the journal file and on PostgreSQL.

Run:  python benchmarks/parallel_scaling.py [--workers 1,2,4] [--n-trials 24]
          [--storages journal,postgresql] [--postgres URL] [--workload zero-cost|proxy]
Each configuration runs `scalesearch find-base --flops 400M --workers W [--storage URL]` from
scratch as a user would (a fresh study), with a fixed workload: `zero-cost` (the default search:
naswot at 224 px, no data; trials of about a second, so storage overhead shows) or `proxy`
(proxy training on 1,024 synthetic images, 1 epoch at 32 px; trials of several seconds). Reports
evaluated trials per minute over the command's wall time and over the span from the first
trial's start to the last trial's end, the speed-up over one worker, and checks that every run
ended with exactly --n-trials evaluated trials. PostgreSQL: SCALESEARCH_TEST_POSTGRES or the
server `.ci/run` starts. Writes benchmarks/results/parallel_scaling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402

from scalesearch.measure.environment import machine_info, physical_cores  # noqa: E402
from scalesearch.search.storage import open_storage  # noqa: E402
from scalesearch.search.trial_states import evaluated  # noqa: E402

WORKLOADS = {
    "zero-cost": [],
    "proxy": ["--data", "synthetic", "--train-images", "1024", "--epochs", "1", "--resolution", "32",
              "--pruner", "none"],
}
POSTGRES = os.environ.get("SCALESEARCH_TEST_POSTGRES",
                          "postgresql://scalesearch:scalesearch@127.0.0.1:5432/scalesearch_test")


def run(storage: str, workers: int, n_trials: int, workload: str, work: Path) -> dict:
    name = f"scaling-{storage}-{workers}-{uuid.uuid4().hex[:6]}"
    run_dir = work / name
    url = POSTGRES if storage == "postgresql" else None
    command = ["find-base", "--flops", "400M", "--n-trials", str(n_trials), "--workers", str(workers),
               "--study", name, "--run-dir", str(run_dir), "--json", *WORKLOADS[workload]]
    if url:
        command += ["--storage", url]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "scalesearch", *command], cwd=work, check=True, capture_output=True)
    wall = time.perf_counter() - started
    trials = optuna.load_study(study_name=name, storage=open_storage(run_dir, url)).trials
    counted = evaluated(trials)
    span = (max(t.datetime_complete for t in trials if t.datetime_complete)
            - min(t.datetime_start for t in trials if t.datetime_start)).total_seconds()
    row = {"storage": storage, "workers": workers, "n_evaluated": len(counted), "exact": len(counted) == n_trials,
           "n_rejected": sum("rejected" in t.user_attrs for t in trials),
           "n_surplus": sum("surplus" in t.user_attrs for t in trials), "wall_s": round(wall, 1),
           "trial_span_s": round(span, 1), "trials_per_min_wall": round(60 * len(counted) / wall, 2),
           "trials_per_min_span": round(60 * len(counted) / span, 2)}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--n-trials", type=int, default=24)
    parser.add_argument("--storages", default="journal,postgresql")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="zero-cost")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/parallel_scaling.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for storage in args.storages.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                rows.append(run(storage, workers, args.n_trials, args.workload, Path(work)))
    for row in rows:
        one = next(r for r in rows if r["storage"] == row["storage"] and r["workers"] == 1)
        row["speedup_wall"] = round(row["trials_per_min_wall"] / one["trials_per_min_wall"], 2)
    document = {"benchmark": "parallel_scaling", "machine": machine_info(), "physical_cores": physical_cores(),
                "workload": args.workload, "workload_args": WORKLOADS[args.workload], "n_trials": args.n_trials,
                "rows": rows, "every_run_exact": all(r["exact"] for r in rows)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
