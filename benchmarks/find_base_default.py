"""`scalesearch find-base --flops 400M` with no other arguments: wall time and the base it finds.

Run:  python benchmarks/find_base_default.py
Runs the command exactly as a user would (in a fresh temporary directory, so the study starts
from scratch), times it, and checks the goals: the default number of trials finishes in under
10 minutes on a 2-core CPU with no GPU, and best_base.yaml is within +-10% of 400M MACs.
Writes benchmarks/results/find_base_default.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scalesearch.measure.environment import machine_info  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "scalesearch", "find-base", "--flops", "400M", "--json"],
                              cwd=work, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
    summary = json.loads(done.stdout)
    best = summary["best"]
    document = {"benchmark": "find_base_default", "machine": machine_info(), "command": "find-base --flops 400M",
                "wall_s": round(wall, 1), "n_trials": summary["n_trials"], "n_rejected": summary["n_rejected"],
                "evaluator": summary["evaluator"], "best_macs": best["macs"], "best_params": best["params"],
                "best_zero_cost": best["zero_cost"], "macs_to_target": best["macs"] / 400e6,
                "goal": "wall < 600 s and best within +-10% of 400M MACs",
                "goal_met": wall < 600 and abs(best["macs"] / 400e6 - 1) <= 0.1}
    out = ROOT / "benchmarks/results/find_base_default.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
