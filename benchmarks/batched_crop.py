"""The batched crop and flip against torchvision's per-image transforms, on the CPU or CUDA.

Run (seconds; a quiet machine):
    python benchmarks/batched_crop.py [--device cpu|cuda] [--batch 128] [--size 32] [--rounds 20]
Per batch of uint8 images, milliseconds for the crop + flip as `TrainAugment` makes them (boxes drawn
for the batch as RandomResizedCrop draws them, then resampled by one roi_align call on CUDA or by
torchvision's resize per image elsewhere; a translated crop copied out of one padded batch; one flip
for the batch), for the crop by roi_align alone, and as torchvision makes them per image
(`v2.RandomResizedCrop(antialias=True)` or `v2.RandomCrop(padding)`, then `v2.RandomHorizontalFlip`,
one call per image), the two taking turns for --rounds rounds; the median of each. Also how far
roi_align's pixels are from torchvision's for the same boxes, on real images (--data, a CIFAR-10
folder: the first 1,000 training images at --size, or resized to --source first when that differs
from 32). The `proxy`
recipe's settings by default (32 px CIFAR-sized images, crop scale 0.35-1, batch 128); --size 224
--source 256 gives ImageNet-sized ones. Writes --out (default
benchmarks/results/batched_crop_<device>.json).
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
from torchvision.transforms import v2  # noqa: E402

from scalesearch.files import write_json  # noqa: E402
from scalesearch.measure.environment import Interference, machine_info  # noqa: E402
from scalesearch.train.augment import (  # noqa: E402
    Normalize,
    TrainAugment,
    resized_crop_boxes,
    resized_crops,
    roi_align_crops,
)
from scalesearch.train.data import load_data  # noqa: E402
from scalesearch.train.recipes import load_recipe  # noqa: E402


def _timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=32, help="training resolution (px)")
    parser.add_argument("--source", type=int, default=32, help="side of the stored images (px)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/cifar-10"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("batched_crop: --device cuda, but no CUDA device on this machine; nothing measured")
    device = torch.device(args.device)
    out = args.out or ROOT / f"benchmarks/results/batched_crop_{device.type}.json"
    images = torch.randint(0, 256, (args.batch, 3, args.source, args.source), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0)).to(device)
    interference = Interference()
    rows = {}
    for crop in ("resized", "translate"):
        recipe = load_recipe("proxy").override(resolution=args.size, crop=crop)
        batched = TrainAugment(Normalize(images.cpu()), recipe, 10)
        first = (v2.RandomResizedCrop(args.size, scale=(recipe.crop_scale_min, 1.0), antialias=True)
                 if crop == "resized" else
                 v2.Compose([v2.Resize([args.size, args.size], antialias=True),
                             v2.RandomCrop(args.size, padding=max(1, args.size // 8))]))
        per_image = v2.Compose([first, v2.RandomHorizontalFlip()])
        times: dict[str, list[float]] = {"batched_ms": [], "per_image_ms": []}
        if crop == "resized":
            times["roi_align_ms"] = []
        for _ in range(args.rounds + 2):  # the first two rounds warm up, and are dropped
            times["batched_ms"].append(_timed(lambda b=batched: b.geometric(images), device))
            times["per_image_ms"].append(_timed(lambda p=per_image: torch.stack([p(x) for x in images]), device))
            if crop == "resized":
                scale = (recipe.crop_scale_min, 1.0)
                times["roi_align_ms"].append(_timed(lambda s=scale: roi_align_crops(images, resized_crop_boxes(
                    len(images), args.source, args.source, s, device=device), args.size), device))
        row = {k: statistics.median(v[2:]) for k, v in times.items()}
        row["speedup"] = row["per_image_ms"] / row["batched_ms"]
        rows[crop] = row
        print(f"{crop}: TrainAugment {row['batched_ms']:.2f} ms, torchvision per image {row['per_image_ms']:.2f} ms"
              + (f", roi_align alone {row['roi_align_ms']:.2f} ms" if "roi_align_ms" in row else "")
              + f" per batch of {args.batch} ({row['speedup']:.1f}x)", flush=True)
    photos = load_data(f"cifar10:{args.data}").train.images[:1000]
    if args.source != photos.shape[-1]:
        photos = v2.functional.resize(photos, [args.source, args.source], antialias=True)
    boxes = resized_crop_boxes(len(photos), args.source, args.source, (load_recipe("proxy").crop_scale_min, 1.0),
                               generator=torch.Generator().manual_seed(0))
    apart = (roi_align_crops(photos, boxes, args.size).float() - resized_crops(photos, boxes, args.size).float()).abs()
    pixels = {"images": len(photos), "mean_grey_levels": float(apart.mean()),
              "p99_grey_levels": float(apart.flatten().quantile(0.99))}
    print(f"roi_align against torchvision on {len(photos)} CIFAR-10 images: {pixels['mean_grey_levels']:.2f} grey "
          f"levels on average, p99 {pixels['p99_grey_levels']:.0f}", flush=True)
    write_json(out, {"benchmark": "batched_crop", "machine": machine_info(), "interference": interference.report(),
                     "device": args.device, "batch": args.batch, "size_px": args.size, "source_px": args.source,
                     "rounds": args.rounds, "rows": rows,
                     "roi_align_vs_torchvision_pixels": pixels})


if __name__ == "__main__":
    main()
