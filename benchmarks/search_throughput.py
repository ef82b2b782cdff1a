"""Search throughput: evaluated proxy-training trials per hour of a find-base, by local worker count.

Run (a quiet machine):
    python benchmarks/search_throughput.py [--workers 1,2] [--n-trials 6] [--train-images 1000] [--epochs 2]
GPU-sized (a ready command; the issue's goal is 100 proxy trials at CIFAR scale in <= 1 GPU-hour):
    python benchmarks/search_throughput.py --device cuda --workers 1,2,4,8 --n-trials 32 --train-images 0
        --epochs 8 --out benchmarks/results/search_throughput_gpu.json
Each worker count runs its own fresh study: `find-base --flops 400M` on the CIFAR-10 subset with the
`proxy` recipe (--epochs, --train-images), no finalist stage, until --n-trials trials are evaluated;
the workers split the CPU's threads (or share the GPU). Trials per hour = evaluated trials / wall
time of the search (study creation included, finalists none). Writes --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.measure.environment import Interference, machine_info  # noqa: E402
from scalesearch.search.config import SearchConfig, validate  # noqa: E402
from scalesearch.search.driver import local_workers  # noqa: E402
from scalesearch.search.find_base import open_study, run_worker  # noqa: E402
from scalesearch.search.objective import Objective  # noqa: E402
from scalesearch.search.trial_states import evaluated  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--n-trials", type=int, default=6)
    parser.add_argument("--train-images", type=int, default=1000, help="0: all")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or ROOT / f"benchmarks/results/search_throughput_{args.device.split(':')[0]}.json"
    interference = Interference()
    rows = {}
    for workers in map(int, args.workers.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            config = SearchConfig(objective=Objective(400e6, "MACs"), run_dir=Path(tmp), study_name="throughput",
                                  n_trials=args.n_trials, data=f"cifar10:{args.data}",
                                  train_images=args.train_images or None, recipe_overrides={"epochs": args.epochs},
                                  workers=workers, device=args.device)
            validate(config)
            started = time.perf_counter()
            # find-base's search stage as `search` runs it, without the finalists it retrains after
            study = open_study(config)
            with local_workers(run_worker, [(config, worker) for worker in range(1, workers)]):
                run_worker(config, 0)
            seconds = time.perf_counter() - started
            done = len(evaluated(study.get_trials(deepcopy=False)))
        rows[str(workers)] = {"workers": workers, "evaluated_trials": done, "seconds": seconds,
                              "trials_per_hour": done / seconds * 3600}
        print(f"{workers} worker(s): {done} trials in {seconds:.0f} s = {done / seconds * 3600:.1f} trials/h",
              flush=True)
    document = {"benchmark": "search_throughput", "machine": machine_info(), "interference": interference.report(),
                "device": args.device, "recipe": "proxy", "epochs": args.epochs, "train_images": args.train_images,
                "n_trials": args.n_trials, "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
