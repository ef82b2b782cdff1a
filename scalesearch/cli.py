"""The ``scalesearch`` command line: parse, call the library, render. No logic lives here.

Every error reaches the user as one line on stderr: exit code 2 for bad input (usage), 1 for a
runtime failure, 130 for Ctrl-C.
"""

from __future__ import annotations

import random
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from scalesearch import report
from scalesearch.arch.io import builtin_bases, load_spec, resolve_spec, resolve_specs, save_spec
from scalesearch.arch.scaling import Coefficients, scale
from scalesearch.errors import ScalesearchError, UsageError
from scalesearch.export import export_spec
from scalesearch.measure.environment import machine_info
from scalesearch.measure.flops import analytic_count, count
from scalesearch.measure.latency import BenchConfig, measure
from scalesearch.measure.predictor import LatencyTable, build_table
from scalesearch.quantities import parse_batches, parse_macs, parse_phis
from scalesearch.search.space import load_space


class OneLineErrors(TyperGroup):
    """Turns every error into one line on stderr and an exit code, with no traceback."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            result = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                  standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except typer.TyperException as err:  # typer's usage and parameter errors
            ctx = getattr(err, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if err.exit_code == 2 and ctx is not None else ""
            if err.format_message():  # empty when no arguments printed the help
                report.error_line(f"{err.format_message()}{hint}")
            code = err.exit_code
        except ScalesearchError as err:
            report.error_line(str(err))
            code = err.exit_code
        except (typer.Abort, KeyboardInterrupt):
            report.error_line("interrupted")
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Compound-scaling neural architecture search. FLOPs here are multiply-adds (MACs).",
)

ModelArg = Annotated[str, typer.Argument(help="A built-in base (see 'scalesearch bases') or a .yaml/.json spec file.",
                                         show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of a table.")]


class Counter(str, Enum):
    analytic = "analytic"
    fvcore = "fvcore"


class Preset(str, Enum):
    official = "official"


class ExportFormat(str, Enum):
    onnx = "onnx"
    torchscript = "torchscript"


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


class Backend(str, Enum):
    onnxruntime = "onnxruntime"
    torch = "torch"


class Precision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"


class Mode(str, Enum):
    eager = "eager"
    graph = "graph"


DeviceOpt = Annotated[Device, typer.Option(help="cpu or cuda.")]
BackendOpt = Annotated[Optional[Backend], typer.Option(
    help="onnxruntime (CPU) or torch. Default: onnxruntime on cpu, torch on cuda.", show_default=False)]
ThreadsOpt = Annotated[Optional[int], typer.Option(help="CPU intra-op threads (default: the physical cores).",
                                                   show_default=False)]
PrecisionOpt = Annotated[Precision, typer.Option(help="fp32; fp16/bf16 via autocast where supported.")]


def _configs(device: Device, backend: Optional[Backend], batches: list[int], threads: Optional[int],
             precision: Precision, mode: Mode = Mode.eager, budget_s: float = 3.0) -> list[BenchConfig]:
    chosen = backend.value if backend else ("torch" if device is Device.cuda else "onnxruntime")
    configs = [BenchConfig(device.value, chosen, b, threads, precision.value, mode.value, budget_s) for b in batches]
    configs[0].check_available()
    return configs


@app.command()
def bases(json_out: JsonOpt = False) -> None:
    """List the built-in base networks with their params and MACs."""
    rows = [(name, spec, analytic_count(spec)) for name, spec in ((n, load_spec(p)) for n, p in builtin_bases().items())]
    if json_out:
        report.print_json([report.count_record(name, c) for name, _, c in rows])
    else:
        report.print_bases(rows)


@app.command()
def flops(
    model: ModelArg,
    resolution: Annotated[Optional[int], typer.Option(help="Input side in pixels (default: the spec's).")] = None,
    counter: Annotated[Counter, typer.Option(help="analytic: from the spec; fvcore: trace the built model.")] = Counter.analytic,
    target: Annotated[Optional[str], typer.Option(help="A MACs budget such as 400M or 1.8G: adds the ratio to it.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Count multiply-adds (MACs) and parameters of a network."""
    target_macs = parse_macs(target) if target is not None else None
    spec = resolve_spec(model)
    record = report.count_record(spec.name, count(spec, resolution, counter.value), target_macs)
    if json_out:
        report.print_json(record)
    else:
        report.print_count(record)


@app.command("scale")
def scale_cmd(
    base: Annotated[str, typer.Option(help="A built-in base or a spec file.", show_default=False)],
    phi: Annotated[str, typer.Option(help="Compound coefficient: a number (3, -1, 0.5) or an integer range (1-7).",
                                     show_default=False)],
    alpha: Annotated[float, typer.Option(help="Depth coefficient (d = alpha^phi).")] = 1.2,
    beta: Annotated[float, typer.Option(help="Width coefficient (w = beta^phi).")] = 1.1,
    gamma: Annotated[float, typer.Option(help="Resolution coefficient (r = gamma^phi).")] = 1.15,
    preset: Annotated[Optional[Preset], typer.Option(help="official: the published B0..B7 table instead of the formula.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write one spec per phi into this folder.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Scale a base by compound coefficient phi: depth alpha^phi, width beta^phi, resolution gamma^phi."""
    phis = parse_phis(phi)
    coefficients = Coefficients(alpha, beta, gamma)
    base_spec = resolve_spec(base)
    preset_name = preset.value if preset else None
    specs = [scale(base_spec, p, coefficients, preset_name) for p in phis]  # all validated before any write
    records = []
    for spec in specs:
        path = save_spec(spec, out / f"{spec.name}.yaml") if out is not None else None
        records.append(report.scale_record(spec, analytic_count(spec), path))
    if out is not None:
        report.log(f"wrote {len(specs)} spec file(s) to {out}")
    if json_out:
        report.print_json(records)
    else:
        how = "official B0..B7 table" if preset_name else (
            f"alpha={alpha:g}, beta={beta:g}, gamma={gamma:g}; alpha*beta^2*gamma^2 = {coefficients.macs_ratio:.3f}")
        report.print_scale(records, title=f"{base_spec.name} scaled ({how})")


@app.command()
def export(
    model: ModelArg,
    format: Annotated[ExportFormat, typer.Option("--format", help="onnx or torchscript.")],
    out: Annotated[Path, typer.Option(help="Output file.", show_default=False)],
    resolution: Annotated[Optional[int], typer.Option(help="Example input side in pixels (default: the spec's).")] = None,
) -> None:
    """Export a freshly initialised model to ONNX or TorchScript."""
    spec = resolve_spec(model)
    path = export_spec(spec, format.value, out, resolution)
    report.log(f"wrote {path} ({format.value}, {spec.name})")


@app.command()
def bench(
    models: Annotated[list[str], typer.Argument(help="Built-in bases, spec files, or folders of specs (e.g. what "
                                                     "'scale --out' wrote).", show_default=False)],
    device: DeviceOpt = Device.cpu,
    backend: BackendOpt = None,
    batch: Annotated[str, typer.Option(help="Batch sizes, comma-separated: 1,8,64.")] = "1",
    threads: ThreadsOpt = None,
    precision: PrecisionOpt = Precision.fp32,
    mode: Annotated[Mode, typer.Option(help="eager, or graph (capture a CUDA graph; cuda only).")] = Mode.eager,
    budget: Annotated[float, typer.Option(help="Seconds of timed calls per model and batch, at most.")] = 3.0,
    report_path: Annotated[Optional[Path], typer.Option("--report", help="Write Markdown (+ PNG plots) here.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure latency (ms per batch): median, p10, p90, min, IQR, CV over repeated calls."""
    configs = _configs(device, backend, parse_batches(batch), threads, precision, mode, budget)
    specs = resolve_specs(models)
    records = []
    jobs = [(spec, config) for spec in specs for config in configs]
    with report.progress(("measuring latency", len(jobs)), enabled=not json_out) as (update,):
        for done, (spec, config) in enumerate(jobs, 1):
            records.append(measure(spec, config).as_record())
            update(done)
    environment = machine_info()
    if report_path is not None:
        written = report.write_bench_report(report_path, records, environment)
        report.log(f"wrote {', '.join(str(p) for p in written)}")
    if json_out:
        report.print_json([{**r, "environment": environment} for r in records])
    else:
        report.print_bench(records)


latency_table = typer.Typer(no_args_is_help=True, help="Per-device latency lookup tables for the search loop.")
app.add_typer(latency_table, name="latency-table")


@latency_table.command("build")
def latency_table_build(
    device: DeviceOpt = Device.cpu,
    backend: BackendOpt = None,
    space: Annotated[str, typer.Option(help="Search space: built-in name or .yaml file.")] = "mnasnet",
    samples: Annotated[int, typer.Option(help="Random candidates whose components to measure.")] = 100,
    calibrate: Annotated[int, typer.Option(help="Whole networks to measure for calibration (0: none).")] = 5,
    seed: Annotated[int, typer.Option(help="Seed for sampling candidates.")] = 0,
    batch: Annotated[int, typer.Option(help="Batch size.")] = 1,
    threads: ThreadsOpt = None,
    precision: PrecisionOpt = Precision.fp32,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Default: $SCALESEARCH_CACHE_DIR or ~/.cache/scalesearch.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure every distinct component of sampled candidates once and cache the table on disk."""
    if samples < 1 or calibrate < 0:
        raise UsageError(f"--samples must be >= 1 and --calibrate >= 0, got {samples} and {calibrate}")
    (config,) = _configs(device, backend, [batch], threads, precision)
    search_space = load_space(space)
    rng = random.Random(seed)
    specs = [search_space.sample(rng)[1] for _ in range(samples + calibrate)]
    started = time.perf_counter()
    todo = len(LatencyTable(config, cache_dir).missing(specs))
    with report.progress(("measuring components", todo), ("calibrating on whole networks", calibrate),
                         enabled=not json_out) as (components_done, networks_done):
        table, measured = build_table(config, specs[:samples], specs[samples:], cache_dir,
                                      on_component=lambda done, _n: components_done(done),
                                      on_network=lambda done, _n: networks_done(done))
    summary = {"table": str(table.path), "key": table.key, "entries": len(table.entries), "measured": measured,
               "calibration": table.calibration, "wall_s": round(time.perf_counter() - started, 1)}
    if json_out:
        report.print_json(summary)
    else:
        report.log(f"latency table {table.path}: {len(table.entries)} entries ({measured} measured now) in "
                   f"{summary['wall_s']} s; calibration {table.calibration}")


def main() -> None:
    """Console-script entry point."""
    app()
