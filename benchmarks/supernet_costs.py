"""What a supernet costs: scoring one sub-network (copy-out, BatchNorm re-estimation, validation) and
training throughput against the largest network's own forward+backward.

Run:  python benchmarks/supernet_costs.py [--run-dir runs/supernet-nas-bench-macro]
          [--data ../shared/data/cifar-10] [--train-images 4500] [--networks 20] [--threads 1]
1. Scoring: --networks random candidates of the run's space (seeded), each scored as
   `find-base --evaluator supernet:RUN_DIR` scores it (SupernetRun.score: extract, re-estimate
   BatchNorm statistics on 256 training images, validate on the data's validation split); the copy-out
   and the validation timed apart, the calibration being the rest. Goal: <= 1 s per network.
2. Training: images per second, on the same 10 batches of the `proxy` recipe, of (a) the largest
   network alone (build_model, forward+backward), (b) the largest network through the supernet's
   sliced forward (what weight sharing itself costs), and a whole sandwich step of `train_supernet`
   with (c) 2 random sub-networks (the default: 4 networks a step) and (d) none (2 networks a step).
   Goal: (c) >= 0.8 of (a).
Timing figures: take them on a quiet machine; the JSON records what else ran (`interference`).
Writes benchmarks/results/supernet_costs.json.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.files import write_json  # noqa: E402
from scalesearch.measure.environment import Interference, machine_info  # noqa: E402
from scalesearch.measure.flops import analytic_count  # noqa: E402
from scalesearch.nn import build_model  # noqa: E402
from scalesearch.search.space import load_space  # noqa: E402
from scalesearch.train.augment import TrainAugment  # noqa: E402
from scalesearch.train.data import dataset_record, load_data  # noqa: E402
from scalesearch.train.loop import SplitBatches, evaluate  # noqa: E402
from scalesearch.train.supernet import load_supernet, train_supernet  # noqa: E402

STEPS = 10
CALIBRATION = 256


def scoring(run, space, networks: int) -> dict:
    rng = random.Random(0)
    rows = []
    for _ in range(networks):
        spec = space.sample(rng)[1]
        started = time.perf_counter()
        net = run.supernet.extract(spec).to(run.device, memory_format=torch.channels_last)
        extract_s = time.perf_counter() - started
        started = time.perf_counter()
        evaluate(net.eval(), run.val_split, run.normalize, run.recipe.resolution)
        validate_s = time.perf_counter() - started
        started = time.perf_counter()
        run.score(spec, calibration_images=CALIBRATION)
        total_s = time.perf_counter() - started
        rows.append({"macs": analytic_count(run.supernet.check(spec)).macs, "extract_s": extract_s,
                     "validate_s": validate_s, "total_s": total_s})
    median = {k: statistics.median(r[k] for r in rows) for k in ("extract_s", "validate_s", "total_s")}
    return {"networks": networks, "calibration_images": CALIBRATION, "val_images": len(run.val_split),
            "median_s": median, "max_total_s": max(r["total_s"] for r in rows),
            "calibration_median_s": statistics.median(r["total_s"] - r["extract_s"] - r["validate_s"]
                                                      for r in rows), "rows": rows}


def forward_backward(run, forward) -> float:
    """Images per second of ``forward`` (images -> logits) with a backward pass, over STEPS batches
    after one of warm-up."""
    source = SplitBatches(run.train_split, run.recipe, run.data.num_classes)
    augment = TrainAugment(run.normalize, run.recipe, run.data.num_classes)
    seen, elapsed = 0, 0.0
    for step, (images, labels) in enumerate(source.epoch(torch.Generator().manual_seed(0))):
        if step > STEPS:
            break
        images, targets = augment(images, labels)
        started = time.perf_counter()
        source.loss(forward(images.contiguous(memory_format=torch.channels_last)), targets).backward()
        if step:
            elapsed, seen = elapsed + time.perf_counter() - started, seen + len(labels)
    return seen / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs/supernet-nas-bench-macro")
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--train-images", type=int, default=4500)
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/supernet_costs.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_data(f"cifar10:{args.data}", train_images=args.train_images or None)
    run = load_supernet(args.run_dir, data)
    space = load_space(run.supernet.space_name)
    interference = Interference()
    score = scoring(run, space, args.networks)
    print("scoring", score["median_s"], flush=True)
    macs = lambda s: analytic_count(run.supernet.adapt(s)).macs  # noqa: E731
    largest = run.supernet.check(space.extreme(macs, largest=True)[1])
    alone = build_model(largest).to(run.device, memory_format=torch.channels_last).train()
    run.supernet.train()
    throughput = {"largest_alone": forward_backward(run, alone),
                  "largest_through_supernet": forward_backward(run, lambda x: run.supernet(x, largest))}
    steps = load_data(f"cifar10:{args.data}", train_images=run.recipe.batch_size * (STEPS + 1))
    for subnets in (2, 0):
        with tempfile.TemporaryDirectory() as folder:
            trained = train_supernet(space.name, steps, run.recipe.override(epochs=1), Path(folder),
                                     random_subnets=subnets)
            throughput[f"sandwich_{subnets}_random"] = trained.epochs[0].img_per_s
    print("throughput", throughput, flush=True)
    write_json(args.out, {
        "benchmark": "supernet_costs", "space": space.name, "data": dataset_record(data),
        "recipe": run.recipe.name, "resolution": run.recipe.resolution, "batch": run.recipe.batch_size,
        "torch_threads": args.threads, "machine": machine_info(), "interference": interference.report(),
        "scoring": score, "throughput_img_per_s": throughput,
        "ratios": {k: v / throughput["largest_alone"] for k, v in throughput.items()},
        "goals": {"score_s": 1.0, "sandwich_ratio": 0.8}})


if __name__ == "__main__":
    main()
