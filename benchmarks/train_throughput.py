"""Training throughput: what `train` delivers against what the model alone allows, on the CPU or CUDA.

Run (a quiet machine; about 10 minutes on a 2-vCPU VM):
    python benchmarks/train_throughput.py [--device cpu|cuda] [--data ../shared/data/cifar-10]
        [--train-images 2000] [--epochs 2] [--networks b0,b0-small,mobilenet-v2,resnet18] [--profile]
For each network at the `proxy` recipe's settings (32 px, batch 128, SGD; bf16 autocast on CUDA):
- pipeline, evaluating every epoch: `train()` as `scalesearch train` runs it, images trained per
  second of its wall time over --epochs epochs, augmentation, precise BatchNorm and evaluation paid
  as a run pays them;
- pipeline, evaluating once: `train()` as a search trial without pruning runs it (one precise-BN
  pass and evaluation, after the last epoch);
- from the two, the cost of one evaluation (precise BN + validation) and of one training epoch,
  and so the rate of the proxy's own schedules as find-base runs them: 8 epochs, evaluated after
  each of epochs 5-8 (the default median pruner) or after the last only (no pruner): a projection
  from measured parts, marked as such;
- limit: the same network, optimiser and batch size stepping on one constant, already augmented
  batch as many times (model compute alone);
- on the CPU, `evaluate()` over the validation split at batch 128 (today's) against 500 (its batch
  until 2026-12-05).
The limit and the two pipelines are measured one after another, --rounds times per network, and each
figure is the median over rounds of that round's ratio (this VM's speed shifts for minutes at a
time: measured apart, a limit and a pipeline can come from different speeds).
Goal (the issue's): pipeline >= 90% of the limit, judged on the search's default trial (8 epochs,
median pruner). With --profile, one epoch of `train()` per network under torch.profiler: the
operators that take the most time, for what to fix next.
Writes --out (default benchmarks/results/train_throughput_<device>.json).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.arch.scaling import with_multipliers  # noqa: E402
from scalesearch.files import write_json  # noqa: E402
from scalesearch.measure.environment import Interference, machine_info  # noqa: E402
from scalesearch.nn import build_model  # noqa: E402
from scalesearch.train.augment import Normalize, TrainAugment  # noqa: E402
from scalesearch.train.data import load_data  # noqa: E402
from scalesearch.train.loop import evaluate, train  # noqa: E402
from scalesearch.train.optim import autocast_dtype  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402


def networks() -> dict:
    b0 = resolve_spec("efficientnet-b0")
    return {"b0": b0, "b0-small": with_multipliers(b0, width=0.5, name="efficientnet-b0-w0.5"),
            "mobilenet-v2": resolve_spec("mobilenet-v2"), "resnet18": resolve_spec("resnet18")}


def limit(spec, data, recipe, steps: int, device: torch.device) -> float:
    """Images per second of training steps on one constant, augmented batch."""
    torch.manual_seed(0)
    model = build_model(recipe.network(spec, data.num_classes)).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    augment = TrainAugment(Normalize.of(data.train), recipe, data.num_classes)
    images, labels = augment(data.train.images[:recipe.batch_size], data.train.labels[:recipe.batch_size])
    images, labels = images.to(device).contiguous(memory_format=torch.channels_last), labels.to(device)
    dtype = autocast_dtype(recipe.precision, device)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for step in range(steps + 3):
        if step == 3:  # after a warm-up
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = loss_fn(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * recipe.batch_size / (time.perf_counter() - started)


def evaluation_batches(spec, data, recipe, device: torch.device, rounds: int = 3) -> dict[str, float]:
    """Seconds for `evaluate()` over the validation split at batch 128 (today's) and 500 (before),
    taking turns."""
    model = build_model(recipe.network(spec, data.num_classes)).to(device, memory_format=torch.channels_last)
    normalize, split = Normalize.of(data.train), data.val
    seconds: dict[str, list[float]] = {"128": [], "500": []}
    for _ in range(rounds):
        for batch in seconds:
            started = time.perf_counter()
            evaluate(model, split, normalize, recipe.resolution, batch_size=int(batch))
            seconds[batch].append(time.perf_counter() - started)
    return {batch: statistics.median(s) for batch, s in seconds.items()}


def profile(spec, data, recipe, device: str) -> list[dict]:
    """One epoch of ``train`` under torch.profiler: the 12 operators with the most self time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with torch_profile(activities=activities) as prof:
        train(spec, data, recipe.override(epochs=1), [0], device=device)
    key = "self_cuda_time_total" if device == "cuda" else "self_cpu_time_total"
    events = sorted(prof.key_averages(), key=lambda e: getattr(e, key), reverse=True)[:12]
    total = sum(getattr(e, key) for e in prof.key_averages())
    return [{"op": e.key, "self_ms": getattr(e, key) / 1e3, "share": getattr(e, key) / total, "calls": e.count}
            for e in events]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--networks", default=",".join(networks()))
    parser.add_argument("--rounds", type=int, default=3, help="limit and pipelines measured side by side, "
                                                               "this many times (the median is reported)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("train_throughput: --device cuda, but no CUDA device on this machine; nothing measured")
    out = args.out or ROOT / f"benchmarks/results/train_throughput_{args.device.split(':')[0]}.json"
    table = networks()
    recipe = load_recipe("proxy").override(epochs=args.epochs)
    data = load_data(f"cifar10:{args.data}", train_images=args.train_images or None)
    interference = Interference()
    rows = {}
    if args.epochs < 2:
        sys.exit("train_throughput: --epochs must be at least 2 (the evaluation's cost is the difference)")
    proxy_epochs = load_recipe("proxy").epochs
    schedules = {"search trial, median pruner (evaluated from epoch 5 of 8)": proxy_epochs - proxy_epochs // 2,
                 "search trial, no pruner (evaluated after epoch 8)": 1}
    for name in args.networks.split(","):
        spec = table[name]
        steps = args.epochs * (len(data.train) // recipe.batch_size)
        images = len(data.train) // recipe.batch_size * recipe.batch_size
        per_round = []
        for _ in range(args.rounds):  # the three measurements side by side: a slow spell hits a round, not one of them
            ceiling = limit(spec, data, recipe, steps, torch.device(args.device))
            seconds = {}
            for how, eval_from in (("every epoch", 1), ("once", args.epochs)):
                started = time.perf_counter()
                train(spec, data, recipe, [0], device=args.device, eval_from=eval_from)
                seconds[how] = time.perf_counter() - started
            evaluation_s = (seconds["every epoch"] - seconds["once"]) / (args.epochs - 1)
            epoch_s = (seconds["once"] - evaluation_s) / args.epochs
            per_round.append({
                "limit_img_per_s": ceiling, "pipeline_img_per_s": steps * recipe.batch_size / seconds["every epoch"],
                "fraction": steps * recipe.batch_size / seconds["every epoch"] / ceiling,
                "fraction_evaluated_once": steps * recipe.batch_size / seconds["once"] / ceiling,
                "train_seconds": seconds, "evaluation_s": evaluation_s, "epoch_s": epoch_s,
                "projected_fraction": {what: proxy_epochs * images / (proxy_epochs * epoch_s + evals * evaluation_s)
                                       / ceiling for what, evals in schedules.items()}})
        rows[name] = {key: statistics.median(r[key] for r in per_round)
                      for key in ("limit_img_per_s", "pipeline_img_per_s", "fraction", "fraction_evaluated_once",
                                  "evaluation_s", "epoch_s")}
        rows[name].update(steps=steps, rounds=per_round,
                          projected_fraction={what: statistics.median(r["projected_fraction"][what] for r in per_round)
                                              for what in schedules})
        pipeline, ceiling, projected = (rows[name]["pipeline_img_per_s"], rows[name]["limit_img_per_s"],
                                        rows[name]["projected_fraction"])
        if args.device == "cpu":
            rows[name]["evaluate_s_by_batch"] = evaluation_batches(spec, data, recipe, torch.device(args.device))
        if args.profile:
            rows[name]["profile"] = profile(spec, data, recipe, args.device)
        print(f"{name}: pipeline {pipeline:.0f} img/s, limit {ceiling:.0f} img/s ({rows[name]['fraction']:.0%}; "
              f"evaluated once {rows[name]['fraction_evaluated_once']:.0%}; search trial "
              f"{list(projected.values())[0]:.0%} projected)", flush=True)
        document = {"benchmark": "train_throughput", "machine": machine_info(),
                    "interference": interference.report(), "device": args.device, "recipe": "proxy",
                    "epochs": args.epochs, "train_images": len(data.train), "batch": recipe.batch_size,
                    "resolution": recipe.resolution, "rows": rows, "schedules_projected": schedules,
                    "goal": "pipeline >= 0.90 of the limit on the search's default trial (8 epochs, median "
                            "pruner: projected from the measured epoch and evaluation costs)",
                    "goal_met": {n: next(iter(r["projected_fraction"].values())) >= 0.9 for n, r in rows.items()}}
        write_json(out, document)  # after every network: an interrupted run keeps what it measured

if __name__ == "__main__":
    main()
