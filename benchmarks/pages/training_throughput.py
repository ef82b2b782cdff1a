"""training-throughput.md, from train_throughput_*.json and batched_crop_cpu*.json."""

from __future__ import annotations

from pages.common import bash, exists, goal, load, measured_on, network_name, pct, source, span, table, threshold

PAGE = "training-throughput.md"


def _pct_span(fractions: list[float]) -> str:
    """The range of some shares, ``68-72%``."""
    low, high = f"{min(fractions):.0%}", f"{max(fractions):.0%}"
    return low if low == high else f"{low.removesuffix('%')}-{high}"


def _short(schedule: str) -> str:
    """``search trial, median pruner (evaluated from ...)`` -> ``median pruner``: a column's header."""
    return schedule.split(" (")[0].removeprefix("search trial, ")


def render() -> str:
    cpu = load("train_throughput_cpu")
    gpu = load("train_throughput_gpu")
    crops = {"32": load("batched_crop_cpu"), "224": load("batched_crop_cpu_224px")}
    rows = cpu["rows"]
    label = {"b0-small": "`b0-small` (B0 at width 0.5)"}
    schedules = list(cpu["schedules_projected"])
    now, before = sorted(next(iter(rows.values()))["evaluate_s_by_batch"], key=int)  # today's batch is the smaller
    cpu_rows = [[label.get(n, network_name(n)), f"{r['limit_img_per_s']:,.0f}", pct(r["fraction"], 0),
                 _pct_span([round_["fraction"] for round_ in r["rounds"]]),
                 *(pct(r["projected_fraction"][schedule], 0) for schedule in schedules),
                 f"{r['evaluation_s'] / r['epoch_s']:.2f}",
                 f"{r['evaluate_s_by_batch'][now]:.2f} / {r['evaluate_s_by_batch'][before]:.2f} s",
                 goal(cpu["goal_met"][n])]
                for n, r in rows.items()]
    met = [n for n, ok in cpu["goal_met"].items() if ok]
    missed = [n for n, ok in cpu["goal_met"].items() if not ok]
    slower = [r["evaluate_s_by_batch"][before] / r["evaluate_s_by_batch"][now] for r in rows.values()]
    negative = [n for n, r in rows.items() if any(round_["evaluation_s"] < 0 for round_ in r["rounds"])]
    crop_rows = []
    for doc in crops.values():
        for kind, r in doc["rows"].items():
            crop_rows.append([f"{doc['size_px']} px (from {doc['source_px']} px), batch {doc['batch']}", kind,
                              f"{r['batched_ms']:.1f}", f"{r['per_image_ms']:.1f}",
                              f"{r['roi_align_ms']:.1f}" if "roi_align_ms" in r else "-", f"{r['speedup']:.2f}x"])
    small, large = crops["32"], crops["224"]
    pixels = [[f"{d['size_px']} px (from {d['source_px']} px)", f"{d['roi_align_vs_torchvision_pixels']['images']:,}",
               f"{d['roi_align_vs_torchvision_pixels']['mean_grey_levels']:.2f}",
               f"{d['roi_align_vs_torchvision_pixels']['p99_grey_levels']:g}"] for d in crops.values()]
    roi_224 = large["rows"]["resized"]
    lines = [
        "# Training throughput: the data pipeline against the model's limit",
        "",
        "A search trains many small networks briefly, so the time `train` spends outside the model's own "
        "forward and backward passes (loading, augmenting, re-estimating BatchNorm, evaluating) decides how many "
        "candidates an hour buys. These benchmarks compare the images per second `train` delivers with the "
        "*limit*: the same network, optimiser and batch size stepping on one constant, already augmented batch.",
        "",
        "## On the CPU",
        "",
        *bash("python benchmarks/train_throughput.py --rounds 2"),
        "",
        f"The `{cpu['recipe']}` recipe ({cpu['resolution']} px, batch {cpu['batch']}), {cpu['epochs']} epochs on "
        f"{cpu['train_images']:,} CIFAR-10 training images. Per network, the limit and two pipelines are measured "
        f"one after another, once per round: `train` evaluating after every epoch, as `scalesearch train` runs, "
        f"and evaluating once after the last epoch. From the two come the cost of one evaluation (precise "
        f"BatchNorm plus validation) and of one epoch, and so the rate of the search's own trial under its "
        f"default median pruner and without a pruner: a projection from measured parts. Each figure is the "
        f"median over rounds of that round's ratio; *evaluation / epoch* is what one evaluation costs in epochs.",
        "",
        "The projected columns: " + "; ".join(f"*{_short(schedule)}* is the {schedule}" for schedule in schedules)
        + ".",
        "",
        measured_on(cpu),
        "",
        table(["network", "limit img/s", "`train`, evaluating every epoch", "the same, by round",
               *(_short(schedule) for schedule in schedules), "evaluation / epoch",
               f"validation, batch {now} / {before}", "goal"],
              cpu_rows, "lrrr" + "r" * len(schedules) + "rrl"),
        "",
        f"Goal ({cpu['goal']}): met for {', '.join(network_name(n) for n in met) or 'none'}; not for "
        f"{', '.join(label.get(n, network_name(n)) for n in missed) or 'none'}. Validating in batches of {before} took "
        f"{span(slower)}x as long as in batches of {now} (the *validation* column: the same `evaluate()` on the "
        f"validation images, taking turns), which is why validation now runs in batches of {now}.",
        "",
        "Read the table with its rounds beside it: this VM's second vCPU comes and goes for minutes at a time "
        "(see [latency protocols](latency-protocols.md)), and a limit measured in a slow spell makes the share "
        "look better than it is"
        + (f"; for {', '.join(label.get(n, network_name(n)) for n in negative)} the cost of an evaluation came out "
           f"negative in a round (a limit or a pipeline fell in a slow spell), so its projected shares are not "
           f"to be trusted" if negative else "")
        + ". Precise BatchNorm plus validation costs a fixed amount per evaluation; it does not grow with the "
        "training set, so on the full data its share is smaller. What would change the rest: re-estimating "
        "BatchNorm over fewer images (which changes what the proxy measures, and so needs "
        "`benchmarks/proxy_fidelity.py` first), and a machine whose cores stay put.",
        "",
        "## The batched crop and flip",
        "",
        *bash("python benchmarks/batched_crop.py [--batch 64 --size 224 --source 256]"),
        "",
        "`train` crops and flips a whole batch at once, each image with its own parameters: the crop boxes are "
        "drawn for the batch exactly as torchvision's `RandomResizedCrop` draws them, and resampled by "
        "torchvision's resize image by image on the CPU (by one `roi_align` call on CUDA); CIFAR's translate crop "
        "is copied out of one padded batch. Against torchvision's per-image transforms, milliseconds per batch "
        "(medians over rounds, the two taking turns):",
        "",
        measured_on(small, f"{small['size_px']} px run; in the {large['size_px']} px run other processes kept "
                            f"{large['interference']['other_processes_cores_busy']:.3f} cores busy"),
        "",
        table(["images", "crop", "batched ms", "torchvision per image ms", "roi_align ms", "speed-up"], crop_rows,
              "llrrrr"),
        "",
        f"At {small['size_px']} px the batched crop is {small['rows']['resized']['speedup']:.1f}x faster "
        f"(translate: {small['rows']['translate']['speedup']:.1f}x); at {large['size_px']} px the two are about "
        f"level ({large['rows']['resized']['speedup']:.2f}x and {large['rows']['translate']['speedup']:.2f}x). "
        f"On the CPU the boxes go through torchvision's resize because "
        f"`roi_align` there is {roi_224['roi_align_ms'] / roi_224['per_image_ms']:.1f}x slower than it at "
        f"{large['size_px']} px ({roi_224['roi_align_ms']:.0f} against {roi_224['per_image_ms']:.0f} ms per batch "
        f"of {large['batch']}).",
        "",
        "How far `roi_align`'s pixels (bilinear, averaging several samples per pixel when shrinking) are from "
        "torchvision's antialiased resize for the same boxes, on real CIFAR-10 images, in grey levels of 255:",
        "",
        table(["images", "count", "mean difference", "99th percentile"], pixels, "lrrr"),
        "",
        "## On a GPU",
        "",
        *bash("python benchmarks/train_throughput_gpu.py"),
        "",
        measured_on(gpu),
        "",
        f"{network_name(gpu['model'])} at {gpu['resolution']} px, batch {gpu['batch']}, bf16, {gpu['steps']} steps: "
        f"{gpu['img_per_s']['pipeline']:,.0f} img/s fed by the data pipeline against "
        f"{gpu['img_per_s']['constant_batch']:,.0f} img/s on one constant batch, {gpu['pipeline_fraction']:.0%}. "
        f"Goal ({gpu['goal']}): {goal(gpu['pipeline_fraction'] >= threshold(gpu['goal']))}. This run cropped "
        "image by image (a sequence of small kernels per image), before the crop was batched"
        + ("." if exists("batched_crop_cuda") else
           "; the batched crop has not yet been measured on a GPU (`benchmarks/gpu_pending.sh` runs "
           "`batched_crop.py --device cuda`, then this benchmark)."),
        "",
        source("train_throughput_cpu", "train_throughput_gpu", "batched_crop_cpu", "batched_crop_cpu_224px"),
        "",
    ]
    return "\n".join(lines)
