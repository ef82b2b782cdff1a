"""GPU training throughput: B0 at 64 px fed by the data pipeline vs one constant batch (pure compute).

Run:  python benchmarks/train_throughput_gpu.py [--data ../shared/data/cifar-10] [--steps 200]
Both arms run the same training step (bf16 autocast, channels_last, SGD) for --steps steps after
a warm-up; the pipeline arm draws batches from the uint8 CIFAR tensors on the GPU and augments
them there (RandomResizedCrop + flip per image, normalisation), as `train` does. Goal: the
pipeline reaches >= 90% of the constant-batch img/s. Needs CUDA; exits with a reason without it.
Writes benchmarks/results/train_throughput_gpu.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.nn import build_model  # noqa: E402
from scalesearch.train.augment import Normalize, TrainAugment  # noqa: E402
from scalesearch.train.data import load_data  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402


def run(model, step_input, steps: int) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    for i in range(steps + 20):
        if i == 20:
            torch.cuda.synchronize()
            started = time.perf_counter()
        images, labels = step_input()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = loss_fn(model(images.contiguous(memory_format=torch.channels_last)), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("train_throughput_gpu: no CUDA device on this machine; nothing measured")
    device = torch.device("cuda")
    recipe = load_recipe("proxy").override(resolution=64, batch_size=args.batch)
    data = load_data(f"cifar10:{args.data}")
    spec = recipe.network(resolve_spec("efficientnet-b0"), data.num_classes)
    images, labels = data.train.images.to(device), data.train.labels.to(device)
    normalize = Normalize.of(data.train)
    augment = TrainAugment(normalize, recipe, data.num_classes)
    generator = torch.Generator(device=device).manual_seed(0)

    def pipeline():
        index = torch.randint(0, len(labels), (args.batch,), device=device, generator=generator)
        return augment(images[index], labels[index])

    fixed = pipeline()
    results = {}
    for arm, step_input in (("constant_batch", lambda: fixed), ("pipeline", pipeline)):
        torch.manual_seed(0)
        model = build_model(spec).to(device).to(memory_format=torch.channels_last)
        seconds = run(model, step_input, args.steps)
        results[arm] = args.steps * args.batch / seconds
        print(f"{arm}: {results[arm]:.0f} img/s", flush=True)
    document = {"benchmark": "train_throughput_gpu", "machine": machine_info(), "model": "efficientnet-b0",
                "resolution": 64, "batch": args.batch, "steps": args.steps, "img_per_s": results,
                "pipeline_fraction": results["pipeline"] / results["constant_batch"], "goal": ">= 0.90"}
    out = ROOT / "benchmarks/results/train_throughput_gpu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps({"pipeline_fraction": document["pipeline_fraction"]}))


if __name__ == "__main__":
    main()
