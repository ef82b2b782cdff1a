"""Figures the documentation shows that the library computes rather than a benchmark measures:
B0's MACs, the built-in bases' counts, compound scaling's B0..B7 and the official table's counts.
Rendered into the pages' marked blocks like every other figure, so none is typed."""

from __future__ import annotations

from pages.common import table
from scalesearch.arch.io import builtin_bases, resolve_spec
from scalesearch.arch.scaling import Coefficients, scale
from scalesearch.measure.flops import analytic_count


def units() -> str:
    """The units paragraph of README, the home page and the MACs page."""
    macs = analytic_count(resolve_spec("efficientnet-b0")).macs
    return (f"**Units.** \"FLOPs\" in scalesearch means multiply-adds (MACs), as EfficientNet counts them: one fused "
            f"multiply-add counts once. EfficientNet-B0 is {macs / 1e9:.3f} G MACs "
            f"({macs / 1e6:,.1f} M), the paper's \"0.39B FLOPs\". Every output names its unit.")


def bases() -> str:
    """Every built-in base's parameters and MACs (nas-bench-macro, a 32 px skeleton, apart)."""
    rows = []
    for name in builtin_bases():
        if name == "nas-bench-macro":
            continue
        count = analytic_count(resolve_spec(name))
        rows.append((name, f"{count.params:,}", f"{count.macs / 1e6:,.1f} M"))
    return table(["base", "params", "MACs"], rows, "lrr")


def formula() -> str:
    """EfficientNet-B0 scaled by the formula with the default coefficients, phi 0..7, and what it shows."""
    b0, c = resolve_spec("efficientnet-b0"), Coefficients()
    family = [scale(b0, phi, c) for phi in range(8)]
    counts = [analytic_count(s) for s in family]
    rows = []
    for phi, (spec, count) in enumerate(zip(family, counts)):
        step = "" if phi == 0 else f"{count.macs / counts[phi - 1].macs:.2f}"
        d, w = (1.0, 1.0) if spec.scaling is None else (spec.scaling.depth_mult, spec.scaling.width_mult)
        rows.append((phi, f"{d:.3f}", f"{w:.3f}", spec.resolution, f"{count.params / 1e6:.2f} M",
                     f"{count.macs / 1e6:,.1f} M", step))
    growth = counts[-1].macs / counts[0].macs
    official = scale(b0, 1, preset="official").scaling
    blocks = [sum(stage.repeats for stage in s.stages) for s in family[:2]]
    return "\n".join([
        table(["phi", "d", "w", "px", "params", "MACs", "x previous"], rows, "rrrrrrr"),
        "",
        f"alpha x beta^2 x gamma^2 = {c.macs_ratio:.2f}, and the MACs grow {growth ** (1 / 7):.2f}x per step on "
        f"average ({growth:.1f}x over 7 steps). The first step is {counts[1].macs / counts[0].macs:.2f}x because "
        f"rounding repeats up turns B0's {blocks[0]} blocks into {blocks[1]} ({blocks[1] / blocks[0]:.2f}x, not "
        f"{c.alpha:g}x); the official B1 avoids this with depth {official.depth_mult:g} and width "
        f"{official.width_mult:g}.",
    ])


def official_params() -> str:
    """How the official table differs from the formula, and its B0..B7 parameter counts."""
    b0, c = resolve_spec("efficientnet-b0"), Coefficients()
    family = [scale(b0, phi, preset="official") for phi in range(8)]
    b7 = family[-1].scaling
    params = "; ".join(f"{analytic_count(s).params:,}" for s in family)
    return (f"The released models are **not** alpha^phi, beta^phi, gamma^phi with ({c.alpha:g}, {c.beta:g}, "
            f"{c.gamma:g}): {c.alpha:g}^7 = {c.alpha ** 7:.2f} while B7 uses depth {b7.depth_mult:g}, and "
            f"{c.beta:g}^7 = {c.beta ** 7:.2f} while B7 uses width {b7.width_mult:g}. With the preset, B0..B7 have "
            f"exactly torchvision's parameter counts ({params}) and the paper's resolutions "
            f"({', '.join(str(s.resolution) for s in family)}).")


def vit_compound() -> str:
    """What compound scaling makes of ViT-S/16 at phi 1."""
    base = resolve_spec("vit-s16")
    v = scale(base, 1)
    tokens = (v.resolution // v.patch) ** 2
    return (f"`scale --base vit-s16 --phi 1` gives depth {v.depth}, width {v.width}, {v.heads} heads, MLP "
            f"{v.mlp_dim:,}, {v.resolution} px ({tokens} tokens against {(base.resolution // base.patch) ** 2}), "
            f"{analytic_count(v).macs / 1e9:.1f} G MACs.")


def vit_sovit() -> str:
    """What the sovit rule makes of ViT-S/16 at phi 0, 1 and 2."""
    family = [scale(resolve_spec("vit-s16"), phi, strategy="sovit") for phi in range(3)]
    macs = [analytic_count(v).macs for v in family]
    shapes = [f"{v.depth}/{v.width}/{v.heads}/{v.mlp_dim:,}" for v in family]
    return (f"`scale --base vit-s16 --strategy sovit --phi 0-2` doubles t per phi step at a fixed resolution: "
            f"{shapes[0]} (depth/width/heads/MLP), then {shapes[1]} ({macs[1] / 1e9:.1f} G MACs, "
            f"{macs[1] / macs[0]:.2f}x), then {shapes[2]} ({macs[2] / 1e9:.1f} G).")


#: The marked blocks of documentation pages outside docs/results/: file (from the repository
#: root) -> block name -> what renders it.
BLOCKS = {
    "README.md": {"units": units},
    "docs/index.md": {"units": units},
    "docs/concepts/macs.md": {"units": units},
    "docs/concepts/spaces.md": {"bases": bases},
    "docs/concepts/scaling.md": {"formula": formula, "official-params": official_params, "vit-compound": vit_compound,
                                 "vit-sovit": vit_sovit},
}
