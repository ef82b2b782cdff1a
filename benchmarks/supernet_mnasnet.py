"""The supernet on the user's own kind of space: MnasNet's, CPU-sized, searched, and its find judged
against B0 trained stand-alone.

Run:  python benchmarks/supernet_mnasnet.py [--data ../shared/data/cifar-10] [--train-images 4500]
          [--epochs 8] [--space mnasnet-cpu] [--flops 400M] [--n-trials 200] [--finalists 2]
          [--final-seeds 3] [--device cpu] [--run-dir runs/supernet-mnasnet]
1. `scalesearch supernet train --space mnasnet-cpu` on the CIFAR-10 subset at 32 px (`proxy` recipe,
   --epochs, --train-images): the space's supernet (MBConv, expansion, kernel, squeeze-excite,
   width and depth elastic), in --run-dir/supernet (resumable).
2. `scalesearch find-base --evaluator supernet:RUN_DIR` at --flops (find-base counts a candidate's MACs
   at the space's own resolution, 224 px, as the mission's 400M does: B0 has 385.8M), --n-trials
   candidates scored with inherited weights; its --finalists best
   and the space's base (EfficientNet-B0) then trained stand-alone, --final-seeds seeds each, with the
   same recipe: the found base beside B0 (resumable: the same command goes on).
Each step is the command a user runs (one torch thread each); the JSON records both commands and
their --json output, and the found base's margin over B0 with the seeds' spread.
GPU-sized (the full `mnasnet` space: fused MBConv, kernel 7, 1.25x width; its supernet holds ~190M
parameters): --space mnasnet --device cuda --train-images 0 --epochs 50 --n-trials 1000
Writes benchmarks/results/supernet_mnasnet.json after each step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.train.data import dataset_record, load_data  # noqa: E402


def portable(value):
    """``value`` with this machine's paths replaced by what they stand for (committed results name no
    machine's paths)."""
    if isinstance(value, str):
        return value.replace(str(ROOT.parent / "shared/data/cifar-10"), "CIFAR10_DIR").replace(str(ROOT) + "/", "")
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v) for v in value]
    return value


def run(args: list[str]) -> dict:
    """A scalesearch command with --json, on one torch thread; its JSON document (paths made portable)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "scalesearch", *args, "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: scalesearch {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return {"output": portable(json.loads(done.stdout)), "wall_s": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--train-images", type=int, default=4500, help="0: the whole training split")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--space", default="mnasnet-cpu")
    parser.add_argument("--flops", default="400M")
    parser.add_argument("--n-trials", type=int, default=200)
    parser.add_argument("--finalists", type=int, default=2)
    parser.add_argument("--final-seeds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs/supernet-mnasnet")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/supernet_mnasnet.json")
    args = parser.parse_args()
    images = ["--train-images", str(args.train_images)] if args.train_images else []
    data = load_data(f"cifar10:{args.data}", train_images=args.train_images or None)
    settings = {"space": args.space, "data": dataset_record(data), "recipe": "proxy", "epochs": args.epochs,
                "flops": args.flops, "n_trials": args.n_trials, "finalists": args.finalists,
                "final_seeds": args.final_seeds, "device": args.device}
    results = ResultsFile(args.out, settings, header={"benchmark": "supernet_mnasnet"})
    results.update(machine=machine_info(), torch_threads=1)
    common = ["--data", f"cifar10:{args.data}", *images, "--space", args.space, "--device", args.device]
    supernet_dir = args.run_dir / "supernet"
    train = ["supernet", "train", *common, "--recipe", "proxy", "--epochs", str(args.epochs),
             "--run-dir", str(supernet_dir)]
    if "training" not in results.document:
        results.update(training={"command": _shown(train), **run(train)})
    search = ["find-base", "--flops", args.flops, *common, "--evaluator", f"supernet:{supernet_dir}",
              "--n-trials", str(args.n_trials), "--finalists", str(args.finalists),
              "--final-seeds", str(args.final_seeds), "--run-dir", str(args.run_dir / "search")]
    if "search" not in results.document:
        results.update(search={"command": _shown(search), **run(search)})
    results.update(summary=summary(results.document["search"]["output"]))
    print(json.dumps(results.document["summary"], indent=1))


def _shown(args: list[str]) -> str:
    """The command as README gives it: paths of this machine replaced by what they stand for."""
    return portable(" ".join(["scalesearch", *args]))


def summary(found: dict) -> dict:
    """Each finalist's and the base's stand-alone top-1 over the seeds (percent), the winner, and the
    best found network's margin over B0 beside the seeds' spread."""
    final = found.get("finalists") or {}
    rows = [{"name": r["name"], "is_base": r["is_base"], "macs": r["macs"], "params": r["params"],
             "inherited_top1": 100 * r["search_value"] if r.get("search_value") is not None else None,
             "per_seed": [100 * v for v in r["per_seed"]],
             "mean": 100 * r["mean"] if r["mean"] is not None else None,
             "std": 100 * r["std"] if r["std"] is not None else None} for r in final.get("rows", [])]
    base = next((r for r in rows if r["is_base"]), None)
    found_rows = [r for r in rows if not r["is_base"] and r["mean"] is not None]
    best = max(found_rows, key=lambda r: r["mean"], default=None)
    return {"complete": final.get("complete", False), "seeds": len(final.get("seeds", [])),
            "epochs": final.get("epochs"), "evaluated": found.get("n_trials"), "rows": rows, "base": base,
            "best_found": best, "winner": final.get("winner"), "winner_is_base": final.get("winner_is_base"),
            "best_found_minus_base": best["mean"] - base["mean"] if best and base and base["mean"] is not None
            else None}


if __name__ == "__main__":
    main()
