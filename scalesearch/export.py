"""Export a spec's model to ONNX or TorchScript for deployment and latency measurement, or its
architecture as the arguments of timm's EfficientNet (:mod:`scalesearch.export_timm`)."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import torch

from scalesearch.arch.spec import Spec
from scalesearch.errors import ExportError, UsageError
from scalesearch.export_timm import export_timm, timm_arch
from scalesearch.files import check_destination
from scalesearch.measure.flops import check_resolution
from scalesearch.nn import build_model

FORMATS = ("onnx", "torchscript", "timm")
ONNX_OPSET = 17


def _failing_op(err: BaseException) -> str | None:
    found = re.search(r"(aten::\w+|operator\s+'?[\w:.]+'?)", str(err))
    return found.group(1) if found else None


def export_onnx(model: torch.nn.Module, example: torch.Tensor, out: Path) -> Path:
    """Write ``model`` as ONNX (opset 17, dynamic batch) with the TorchScript-based exporter,
    which needs no extra packages and takes about a second for B0."""
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example,), str(out), dynamo=False, opset_version=ONNX_OPSET,
                              input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    except Exception as err:  # the exporter raises many types; name the op when it tells us
        op = _failing_op(err)
        detail = f"unsupported operator {op}" if op else str(err).strip().splitlines()[0]
        raise ExportError(f"ONNX export failed: {detail}") from err
    return out


def export_torchscript(model: torch.nn.Module, example: torch.Tensor, out: Path) -> Path:
    """Write ``model`` traced to TorchScript."""
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.trace(model, example).save(str(out))
    except Exception as err:
        raise ExportError(f"TorchScript export failed: {str(err).strip().splitlines()[0]}") from err
    return out


def export_spec(spec: Spec, fmt: str, out: str | Path, resolution: int | None = None) -> Path:
    """Build ``spec`` (freshly initialised) and export it as ``fmt`` to ``out``; ``timm`` writes the
    architecture only, as JSON (``resolution`` is recorded as its input size)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"`out` {out} is a directory: give a file path")
    check_destination(out, "the exported model")
    check_resolution(resolution)
    if fmt == "timm":
        timm_arch(spec, resolution)  # what timm cannot express is refused before anything is written
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed over it: a failed export leaves the old file whole.
    partial = out.with_name(f".{out.name}.partial")
    try:
        if fmt == "timm":
            export_timm(spec, partial, resolution)
        else:
            size = resolution or spec.resolution
            example = torch.zeros(1, spec.in_channels, size, size)
            (export_onnx if fmt == "onnx" else export_torchscript)(build_model(spec), example, partial)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out
