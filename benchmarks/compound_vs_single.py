"""Compound vs single-dimension scaling at 2x MACs, on the CIFAR-10 subset (EfficientNet Fig. 3).

Run:  python benchmarks/compound_vs_single.py [--data ../shared/data/cifar-10] [--bases b0-small,resnet18,
          mobilenet-v2] [--multiplier 2] [--epochs 8] [--train-images 0] [--seeds 3] [--eval-every 0]
          [--threads N] [--device cpu]
For each base: the base itself and its depth-only, width-only, resolution-only and compound
variants at --multiplier x its MACs (matched within 5% after rounding), each trained with the
`proxy` recipe (variants at its resolution times their resolution multiplier) and --seeds seeds.
`b0-small` is EfficientNet-B0 at width 0.5 (CPU-sized). On a 2-core CPU use --train-images and
--epochs to keep it to a few hours; on a GPU machine use the defaults or larger.
Writes benchmarks/results/compound_vs_single.json (a scalesearch.resumable results file: settings,
one row per base with its variants' mean, std and per-seed accuracy and its wall time so far)
after each trained variant; bases measured earlier with the same settings are kept, so bases can be
run one at a time and an interrupted run goes on where it stopped. Each base records the full
recipe its variants were trained with (`recipe_settings`); a base run again with another recipe
is trained again from scratch. compound_vs_single_gpu.json was measured with one process per base
(--bases B --out FILE each) side by side on one H100, the three files then merged.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scalesearch.arch.io import resolve_spec  # noqa: E402
from scalesearch.arch.scaling import with_multipliers  # noqa: E402
from scalesearch.errors import UsageError  # noqa: E402
from scalesearch.measure.environment import machine_info  # noqa: E402
from scalesearch.resumable import ResultsFile  # noqa: E402
from scalesearch.search.compare import compare, plan  # noqa: E402
from scalesearch.train.data import load_data  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402


def base_network(name: str):
    if name == "b0-small":
        return with_multipliers(resolve_spec("efficientnet-b0"), width=0.5, name="b0-small")
    return resolve_spec(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--bases", default="b0-small,resnet18,mobilenet-v2")
    parser.add_argument("--multiplier", type=float, default=2.0)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-images", type=int, default=0, help="0: all 9,000")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--eval-every", type=int, default=0, help="0: only after the last epoch (what is reported)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/compound_vs_single.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_data(f"cifar10:{args.data}", train_images=args.train_images or None)
    recipe = load_recipe("proxy").override(epochs=args.epochs, eval_every=args.eval_every or args.epochs)
    names = args.bases.split(",")
    # What the accuracies depend on; eval_every only changes how often a run is evaluated on the way.
    trained_with = {k: v for k, v in dataclasses.asdict(recipe).items() if k != "eval_every"}
    settings = {"device": args.device, "recipe": {"name": recipe.name, "epochs": recipe.epochs,
                                                  "resolution": recipe.resolution},
                "train_images": len(data.train), "multiplier": args.multiplier, "seeds": args.seeds}
    try:
        results = ResultsFile(args.out, settings, header={"benchmark": "compound_vs_single"})
    except UsageError as err:  # results made with other settings are never overwritten
        sys.exit(f"error: {err}")
    results.update(machine=machine_info())
    for name in names:
        started = time.perf_counter()
        base = base_network(name)
        planned = plan(base, [args.multiplier], ["depth", "width", "resolution", "compound"], recipe.epochs)
        earlier = results.rows.get(name, {})
        resumes = earlier.get("recipe_settings") == trained_with
        # Training time up to the last saved row, summed over the processes that trained this base.
        spent = (earlier.get("wall_s") or 0) if resumes else 0
        entry = {"recipe_settings": trained_with, "torch_threads": args.threads, "eval_every": recipe.eval_every,
                 "wall_s": spent, "variants": []}

        def save(row: dict, name: str = name, entry: dict = entry, spent: float = spent,
                 started: float = started) -> None:
            print(name, json.dumps(row), flush=True)
            entry["variants"].append(row)
            entry["wall_s"] = round(spent + time.perf_counter() - started, 1)
            results.add(name, entry)

        compare(base, data, recipe, planned, list(range(args.seeds)), args.device,
                earlier.get("variants", []) if resumes else [], save)


if __name__ == "__main__":
    main()
