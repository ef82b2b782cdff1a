"""vit-vs-cnn.md, from vit_vs_cnn.json: plain ViTs against CNNs, and big_vision's choices undone."""

from __future__ import annotations

import json

from pages.common import bash, data_name, figure, load, machine, names, pm, points, source, table

PAGE = "vit-vs-cnn.md"


def _versus(value: float, digits: int = 1) -> str:
    """A difference in points in words: ``23.0 points behind``, ``1.4 points ahead of``."""
    return f"{abs(value):.{digits}f} points {'behind' if value < 0 else 'ahead of'}"


#: Each trained network in words (the ViTs' shapes come from the script's specs).
VIT_WORDS = {"vit-mnv2": "ViT at MobileNetV2's MACs", "b0-small": "B0-small (EfficientNet-B0 at width 0.5)",
             "mobilenet-v2": "MobileNetV2", "resnet18": "ResNet-18", "vit-token": "ViT, class token",
             "vit-learned": "ViT, learned position embeddings", "vit-no-aug": "ViT, no RandAugment / MixUp",
             "vit-no-zero-head": "ViT, head not zero-initialised"}


def _vit_shape(spec, patch: int) -> str:
    return f"width {spec.width}, depth {spec.depth}, {spec.heads} heads, MLP {spec.mlp_dim}, {patch} px patches"


def render() -> str:
    import vit_vs_cnn as script

    doc = load("vit_vs_cnn")
    s, rows = doc["settings"], doc["rows"]
    networks = script.networks()
    patch = s["recipes"]["vit"]["patch"]
    words = {**VIT_WORDS, "vit": "ViT (GAP, sin-cos position embeddings, zero head)"}

    def top1(name: str) -> float:
        return rows[name]["val_top1"] * 100

    def ms(name: str) -> float:
        return rows[name]["latency_ms"]["cpu-onnxruntime"]

    table_rows = [(words.get(n, n), f"`{s['recipes'][n]['name']}`", f"{r['macs'] / 1e6:.1f}",
                   f"{r['params'] / 1e6:.2f}", f"{ms(n):.2f}", pm(r["val_top1"], r["val_top1_std"]))
                  for n, r in rows.items() if r.get("val_top1") is not None]
    protocol = {json.dumps(r["latency_protocol"], sort_keys=True) for r in rows.values()}
    (protocol,) = [json.loads(p) for p in protocol]
    busy = [r["interference"]["other_processes_cores_busy"] for r in rows.values()]
    ablations = [n for n, r in rows.items() if r["family"] == "vit ablation"]
    verdicts, costly = [], []
    for n in ablations:
        diff = top1(n) - top1("vit")
        noise = max(rows[n]["val_top1_std"], rows["vit"]["val_top1_std"]) * 100
        verdicts.append(f"{words[n].removeprefix('ViT, ')} {points(diff)} "
                        f"({'inside' if abs(diff) <= noise else 'beyond'} one seed std, {noise:.1f})")
        if diff > noise:
            costly.append(words[n].removeprefix("ViT, "))
    gpu_only = [n for n in script.GPU_SIZED if n not in rows]
    lines = [
        "# Plain ViTs against CNNs",
        "",
        "A plain Vision Transformer as big_vision's \"Better plain ViT baselines for ImageNet-1k\" (Beyer, Zhai, "
        "Kolesnikov 2022) trains it, at the MACs of two small CNNs, beside those CNNs and ResNet-18: each network "
        "with its own recipe, at equal epochs, images and seeds. Then big_vision's four choices, one ablation "
        "each: a class token instead of global average pooling, learned instead of fixed sin-cos position "
        "embeddings, no RandAugment/MixUp, and a classifier that does not start at zero.",
        "",
        *bash("python benchmarks/vit_vs_cnn.py                 # CPU-sized defaults, hours",
              "python benchmarks/vit_vs_cnn.py --measure-only  # the latency column again, no training"),
        "",
        f"Setting: {data_name(s['data']['kind'], True)}, {s['data']['train_images']:,} training and "
        f"{s['data']['val_images']:,} validation images at {s['recipes']['vit']['resolution']} px, {s['epochs']} "
        f"epochs, {len(next(iter(rows.values()))['per_seed'])} seeds; the ViT has "
        f"{_vit_shape(networks['vit'][1], patch)} ({rows['vit']['macs'] / 1e6:.1f} M MACs against "
        f"B0-small's {rows['b0-small']['macs'] / 1e6:.1f} M), the one at MobileNetV2's MACs has "
        f"{_vit_shape(networks['vit-mnv2'][1], patch)}. The `bigvision-vit` recipe is big_vision's i1k S/16 "
        f"recipe at proxy scale (AdamW, lr {s['recipes']['vit']['lr']:g} at batch "
        f"{s['recipes']['vit']['batch_size']}, RandAugment at torchvision's magnitude "
        f"{s['recipes']['vit']['randaugment_magnitude']}, MixUp {s['recipes']['vit']['mixup_alpha']:g}, "
        f"gradient clipping at {s['recipes']['vit']['grad_clip_norm']:g}); the CNNs train with `standard`. "
        f"Validation top-1 %, mean ± std. CPU ms: batch-1 latency at {s['recipes']['vit']['resolution']} px, "
        f"onnxruntime, {protocol['threads']} thread{'s' if protocol['threads'] > 1 else ''}, `bench`'s "
        f"{protocol['protocol']} protocol with the networks taking turns, other processes keeping at most "
        f"{max(busy):.3f} cores busy. Machine: {machine(doc)}.",
        "",
        table(["network", "recipe", f"M MACs at {s['recipes']['vit']['resolution']} px", "params (M)", "CPU ms",
               "top-1 %"], table_rows, "llrrrr"),
        "",
        "## The small-data gap",
        "",
        f"At equal MACs the ViT is {_versus(top1('vit') - top1('b0-small'))} B0-small, and at MobileNetV2's MACs "
        f"{_versus(top1('vit-mnv2') - top1('mobilenet-v2'))} MobileNetV2. "
        f"{rows['vit-mnv2']['macs'] / rows['vit']['macs']:.1f}x the MACs bought the ViT "
        f"{points(top1('vit-mnv2') - top1('vit'))} points (seed std {rows['vit']['val_top1_std'] * 100:.1f} and "
        f"{rows['vit-mnv2']['val_top1_std'] * 100:.1f}). ResNet-18, at "
        f"{rows['resnet18']['macs'] / rows['vit']['macs']:.0f}x the small ViT's MACs and "
        f"{ms('resnet18') / ms('vit'):.0f}x its CPU time, is best at {top1('resnet18'):.1f}%.",
        "",
        f"Each of big_vision's choices undone, against the ViT as it ships (points): {names(verdicts)}. "
        + (f"So {len(costly)} of the {len(verdicts)} choices cost accuracy at this scale: the runs with "
           f"{names(costly)} are better. Those are choices "
           "for long schedules on ImageNet; a likely reading, not tested further: in so few steps on so few "
           "images regularisation only slows a network that has not yet fitted, and a zero head passes no "
           "gradient into the body until its weights have grown." if costly
           else "None of them costs accuracy beyond seed noise at this scale."),
        "",
        figure("vit_vs_cnn_figures/accuracy_vs_macs.png", "accuracy against MACs, ViTs and CNNs"),
        "",
        figure("vit_vs_cnn_figures/accuracy_vs_latency.png", "accuracy against CPU latency, ViTs and CNNs"),
        "",
        "## Caveats",
        "",
        "- Latency is taken at one thread: at two, this VM gave the same networks one of two speeds round by "
        "round, because its second vCPU comes and goes.",
        "- Crops: the rows did not all train with the same crop code. The ablations trained while the CPU crop went "
        "through `roi_align`; the ViT, B0-small and MobileNetV2 before that, with torchvision's per-image crop; "
        "ResNet-18 and the ViT at MobileNetV2's MACs after it, with torchvision's per-image resize again. The "
        "crops agree box for box and differ in resampling only.",
    ]
    if gpu_only:
        big = networks[gpu_only[0]][1]
        lines.append(f"- A ViT at ResNet-18's MACs (`{gpu_only[0]}`: {_vit_shape(big, patch)}) is GPU-sized and not "
                     "trained here; the GPU command includes it:")
        lines += ["", *bash("python benchmarks/vit_vs_cnn.py --device cuda --train-images 0 --epochs 100 \\",
                            "    --out benchmarks/results/vit_vs_cnn_gpu.json")]
    lines += ["", source("vit_vs_cnn"), ""]
    return "\n".join(lines)
