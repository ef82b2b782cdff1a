"""The ``scalesearch`` command line: parse, call the library, render. No logic lives here.

Every error reaches the user as one line on stderr: exit code 2 for bad input (usage), 1 for a
runtime failure, 130 for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from scalesearch import errors, report, signals
from scalesearch.arch.io import (
    builtin_bases,
    load_spec,
    resolve_spec,
    resolve_specs,
    save_spec,
    spec_file_name,
)
from scalesearch.arch.scaling import PRESETS, SCALE_STRATEGIES, SOVIT_EXPONENTS
from scalesearch.errors import ScalesearchError, UsageError, is_out_of_memory
from scalesearch.export import FORMATS, export_spec
from scalesearch.files import check_destination
from scalesearch.measure.environment import machine_info
from scalesearch.measure.flops import COUNTERS, analytic_count, count
from scalesearch.measure.latency import (
    BACKENDS,
    DEVICES,
    MODES,
    PRECISIONS,
    PROTOCOLS,
    BenchConfig,
    default_backend,
    measure_all,
)
from scalesearch.measure.predictor import LatencyTable, build_table, check_table_size
from scalesearch.nn.builder import with_norm
from scalesearch.pipeline import STAGES as PIPELINE_STAGES
from scalesearch.pipeline import PipelineConfig
from scalesearch.pipeline import default_run_dir as default_pipeline_dir
from scalesearch.pipeline import run as run_pipeline
from scalesearch.pipeline import validate as validate_pipeline
from scalesearch.quantities import parse_batches, parse_devices, parse_macs, parse_multipliers, parse_phis
from scalesearch.runs import given_coefficients, resolve_start, scaled_family, study_dir
from scalesearch.search.analysis import baselines as known_baselines
from scalesearch.search.analysis import best_trial, check_baselines
from scalesearch.search.artifacts import dashboard_command
from scalesearch.search.compare import default_run_dir as default_compare_dir
from scalesearch.search.compare import parse_strategies, run_comparison
from scalesearch.search.compare import plan as plan_scaling
from scalesearch.search.config import (
    CONSTRAINT_HANDLING,
    PRUNERS,
    SAMPLERS,
    SearchConfig,
    default_study_name,
    validate,
)
from scalesearch.search.find_base import open_study, search
from scalesearch.search.grid import GridConfig, run_grid, save_coefficients
from scalesearch.search.grid import default_study_name as default_grid_study
from scalesearch.search.grid import validate as validate_grid
from scalesearch.search.objective import CONSTRAINTS, target_objective
from scalesearch.search.results import summarise, trial_rows
from scalesearch.search.space import load_space
from scalesearch.search.storage import HEARTBEAT_S
from scalesearch.search.trial_states import evaluated
from scalesearch.seeds import seed_list
from scalesearch.train.checkpoints import InitialWeights
from scalesearch.train.data import load_data
from scalesearch.train.device import resolve_device
from scalesearch.train.distributed import processes
from scalesearch.train.family import (
    bench_members,
    latency_configs,
    open_results,
    parse_baselines,
    plan_training,
    train_members,
)
from scalesearch.train.family import default_run_dir as default_family_dir
from scalesearch.train.loop import train
from scalesearch.train.metrics_file import EpochMetrics
from scalesearch.train.recipes import load_recipe, parse_schedule
from scalesearch.train.run_folder import default_run_dir as default_train_dir
from scalesearch.train.self_train import LABELS, SelfTrainConfig
from scalesearch.train.self_train import run as run_self_train
from scalesearch.train.supernet import SupernetEpoch, default_supernet_dir, train_supernet
from scalesearch.train.zero_cost import (
    DEFAULT_METRIC,
    METRICS,
    data_batch,
    zero_cost_score,
)

#: Library parameters whose command-line flag is not ``--`` and the name with dashes.
FLAGS = {"batch_size": "--batch", "heartbeat_s": "--heartbeat", "zero_cost_metric": "--metric", "source": "--from",
         "latency_budget_s": "--latency-budget", "target_macs": "--flops", "train_device": "--train-device"}


def as_flags(message: str) -> str:
    """A library message as the command line says it: each parameter it names in backticks
    (```batch_size``` must be ...) becomes the flag that sets it (``--batch must be ...``)."""
    return re.sub(r"`([a-z_]+)`", lambda m: FLAGS.get(m[1], "--" + m[1].replace("_", "-")), message)


errors.listeners.append(lambda message: report.log(f"note: {as_flags(message)}"))


class OneLineErrors(TyperGroup):
    """Turns every error into one line on stderr and an exit code, with no traceback."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            result = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                  standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
            if code == 130:  # typer turns Ctrl-C (KeyboardInterrupt) into exit code 130, silently
                line, code = signals.interrupted()
                report.error_line(line)
        except typer.TyperException as err:  # typer's usage and parameter errors
            ctx = getattr(err, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if err.exit_code == 2 and ctx is not None else ""
            if err.format_message():  # empty when no arguments printed the help
                report.error_line(f"{err.format_message()}{hint}")
            code = err.exit_code
        except ScalesearchError as err:
            report.error_line(as_flags(str(err)))
            code = err.exit_code
        except (typer.Abort, KeyboardInterrupt):
            line, code = signals.interrupted()
            report.error_line(line)
        except Exception as err:  # a bug, or a library failure nobody anticipated: still one line
            if os.environ.get("SCALESEARCH_DEBUG"):
                raise
            code = 1
            if signals.received():  # the signal's consequence (a worker process it ended), not a fault
                line, code = signals.interrupted()
                report.error_line(line)
            elif is_out_of_memory(err):
                report.error_line(f"out of memory: {_first_line(err)} (try a smaller network, resolution or batch)")
            elif isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                where = err.filename or "the output"
                report.error_line(f"cannot write {where}: {err.strerror} (files written before are intact)")
            elif isinstance(err, OSError) and err.strerror:  # a folder that is a file, read-only, too long a name
                report.error_line(f"cannot use {err.filename or 'a file'}: {err.strerror}")
            else:
                report.error_line(f"internal error: {type(err).__name__}: {_first_line(err)} "
                                  f"(run with SCALESEARCH_DEBUG=1 for the traceback, and please report it)")
        if standalone_mode:
            sys.exit(code)
        return code


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


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
DownloadOpt = Annotated[bool, typer.Option("--download", help="Fetch cifar10, cifar100, fashion-mnist or mnist into "
                                                              "the --data folder first, unless its files are there "
                                                              "(nothing is downloaded without this flag).")]


def _fetch(data: str | None, download: bool) -> None:
    """``--download``: fetch the --data set into its folder once, before anything reads it."""
    if not download:
        return
    if data is None:
        raise UsageError("--download needs --data KIND:DIR (cifar10, cifar100, fashion-mnist or mnist)")
    from scalesearch.train.download import download as fetch

    if fetch(data):
        report.log(f"downloaded {data}")


def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A command-line choice whose values are the library's own tuple (one list per choice)."""
    return Enum(name, {v: v for v in values}, type=str)


Counter = _choices("Counter", COUNTERS)
Preset = _choices("Preset", PRESETS)
Strategy = _choices("Strategy", SCALE_STRATEGIES)
ExportFormat = _choices("ExportFormat", FORMATS)
Device = _choices("Device", DEVICES)
Backend = _choices("Backend", BACKENDS)
Precision = _choices("Precision", PRECISIONS)
Mode = _choices("Mode", MODES)
Protocol = _choices("Protocol", PROTOCOLS)
Constraint = _choices("Constraint", CONSTRAINTS)


DeviceOpt = Annotated[Device, typer.Option(help="cpu or cuda.")]
#: A recipe's fields a command overrides.
EpochsOpt = Annotated[Optional[int], typer.Option(help="Override the recipe's epochs.", show_default=False)]
ResolutionOpt = Annotated[Optional[int], typer.Option(help="Override the recipe's input size (px).",
                                                      show_default=False)]
BatchOpt = Annotated[Optional[int], typer.Option(help="Override the recipe's batch size.", show_default=False)]
LrOpt = Annotated[Optional[float], typer.Option(help="Override the recipe's peak learning rate.", show_default=False)]
BackendOpt = Annotated[Optional[Backend], typer.Option(
    help="onnxruntime or openvino (CPU; openvino needs the 'openvino' extra), or torch. Default: onnxruntime on "
         "cpu, torch on cuda.", show_default=False)]
ThreadsOpt = Annotated[Optional[int], typer.Option(help="CPU intra-op threads (default: the physical cores).",
                                                   show_default=False)]
PrecisionOpt = Annotated[Precision, typer.Option(help="fp32; fp16/bf16 via autocast where supported.")]
ProtocolOpt = Annotated[Protocol, typer.Option(
    help="windows: the networks take turns, 3 short windows each, and each keeps its lowest window median (steadier "
         "on a shared machine); settle: one network after another, calls until its median settles.")]


def _configs(device: Device, backend: Optional[Backend], batches: list[int], threads: Optional[int],
             precision: Precision, mode: Mode = Mode.eager, budget_s: float = 3.0,
             parameter: str = "device", protocol: Protocol = Protocol.windows) -> list[BenchConfig]:
    chosen = backend.value if backend else default_backend(device.value)
    configs = [BenchConfig(device.value, chosen, b, threads, precision.value, mode.value, budget_s, protocol.value)
               for b in batches]
    configs[0].check_available(parameter)
    return configs


@app.command()
def bases(json_out: JsonOpt = False) -> None:
    """List the built-in base networks with their params and MACs."""
    specs = {name: load_spec(path) for name, path in builtin_bases().items()}
    rows = [(name, spec, analytic_count(spec)) for name, spec in specs.items()]
    if json_out:
        report.print_json([report.count_record(name, c) for name, _, c in rows])
    else:
        report.print_bases(rows)


@app.command()
def flops(
    model: ModelArg,
    resolution: Annotated[Optional[int], typer.Option(help="Input side in pixels (default: the spec's).")] = None,
    counter: Annotated[Counter, typer.Option(help="analytic: from the spec; fvcore: trace the built model.")]
    = Counter.analytic,
    target: Annotated[Optional[str], typer.Option(help="A MACs budget such as 400M or 1.8G: adds the ratio to it.")]
    = None,
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


FromOpt = Annotated[Optional[Path], typer.Option(
    "--from", help="A find-base run folder (its best_base.yaml) or a grid run folder (its base and "
                   "coefficients.json). Default: the newest find-base run under ./runs and its grid run; "
                   "else efficientnet-b0 with alpha=1.2, beta=1.1, gamma=1.15.", show_default=False)]


@app.command("scale")
def scale_cmd(
    phi: Annotated[str, typer.Option(help="Compound coefficient: a number (3, -1, 0.5) or an integer range (1-7).",
                                     show_default=False)],
    base: Annotated[Optional[str], typer.Option(help="A built-in base or a spec file. Default: see --from.",
                                                show_default=False)] = None,
    source: FromOpt = None,
    alpha: Annotated[Optional[float], typer.Option(help="Depth coefficient (d = alpha^phi); default 1.2.",
                                                   show_default=False)] = None,
    beta: Annotated[Optional[float], typer.Option(help="Width coefficient (w = beta^phi); default 1.1.",
                                                  show_default=False)] = None,
    gamma: Annotated[Optional[float], typer.Option(help="Resolution coefficient (r = gamma^phi); default 1.15.",
                                                   show_default=False)] = None,
    preset: Annotated[Optional[Preset], typer.Option(help="official: the published B0..B7 table instead of the "
                                                          "formula.")] = None,
    coefficients_file: Annotated[Optional[Path], typer.Option("--coefficients", help="alpha, beta, gamma from a "
                                                              "file 'grid' wrote (coefficients.json).",
                                                              show_default=False)] = None,
    strategy: Annotated[Strategy, typer.Option(
        help="compound: alpha, beta, gamma; sovit (ViT bases): phi doubles the compute, spent on depth, width "
             "and MLP as 'Getting ViT in Shape' found (t^0.45, t^0.22, t^0.6).")] = Strategy("compound"),
    out: Annotated[Optional[Path], typer.Option(help="Write one spec per phi into this folder.")] = None,
    bench_device: Annotated[Optional[Device], typer.Option(
        "--bench", help="Also measure each network's batch-1 fp32 latency on cpu (onnxruntime) or cuda (torch); "
                        "with --out, a latency report and plots go there too.", show_default=False)] = None,
    bench_backend: Annotated[Optional[Backend], typer.Option(
        help="With --bench cpu: onnxruntime (default), openvino or torch.", show_default=False)] = None,
    json_out: JsonOpt = False,
) -> None:
    """Scale a base by compound coefficient phi: depth alpha^phi, width beta^phi, resolution gamma^phi."""
    phis = parse_phis(phi)
    if out is not None:
        check_destination(out, "the scaled specs", folder=True)
    bench_config = None
    if bench_device is not None:
        (bench_config,) = _configs(bench_device, bench_backend, [1], None, Precision.fp32, parameter="bench")
    elif bench_backend is not None:
        raise UsageError("--bench-backend chooses the runtime of --bench: give --bench cpu too")
    given, how_given = given_coefficients(alpha, beta, gamma, coefficients_file)
    start = resolve_start(base, given, source, coefficients_source=how_given)
    preset_name = preset.value if preset else None
    sovit = strategy.value == "sovit"
    specs = scaled_family(start, phis, given, preset_name, strategy.value)  # all validated before any write
    e = SOVIT_EXPONENTS
    how = ("official B0..B7 table" if preset_name else
           f"sovit: depth t^{e['depth']:g}, width t^{e['width']:g}, MLP t^{e['mlp']:g}, compute t = 2^phi" if sovit
           else None)
    report.log(f"scaling {start.describe()}" if how is None else f"scaling base {start.base.name} "
               f"({start.base_source}) by the {how}")
    records = []
    for spec in specs:
        path = save_spec(spec, out / spec_file_name(spec)) if out is not None else None
        records.append(report.scale_record(spec, analytic_count(spec), path))
    if out is not None:
        report.log(f"wrote {len(specs)} spec file(s) to {out}")
    if bench_config is not None:
        with report.progress(("measuring latency", len(specs)), enabled=not json_out) as (update,):
            latencies = [r.as_record() for r in measure_all([(spec, bench_config) for spec in specs],
                                                             on_progress=lambda done, total: update(done, total=total))]
        for record, latency in zip(records, latencies):
            record.update(latency_ms=latency["median_ms"], latency_device=latency["device"],
                          latency_backend=latency["backend"])
        if out is not None:
            written = report.write_bench_report(out / "latency_report.md", latencies, machine_info())
            report.log(f"wrote {', '.join(str(p) for p in written)}")
    if json_out:
        report.print_json({**start.record(), "preset": preset_name, "strategy": strategy.value,
                           **({"coefficients": None, "sovit_exponents": e} if sovit else {}), "networks": records})
    else:
        c = start.coefficients
        how = how or (f"alpha={c.alpha:g}, beta={c.beta:g}, gamma={c.gamma:g}; "
                      f"alpha*beta^2*gamma^2 = {c.macs_ratio:.3f}")
        report.print_scale(records, title=f"{start.base.name} scaled ({how})")


@app.command()
def export(
    model: ModelArg,
    format: Annotated[ExportFormat, typer.Option("--format", help="onnx, torchscript, or timm (the architecture as "
                                                                "JSON arguments of timm's EfficientNet).")],
    out: Annotated[Path, typer.Option(help="Output file.", show_default=False)],
    resolution: Annotated[Optional[int], typer.Option(help="Example input side in pixels (default: the spec's); "
                                                           "timm records it as the input size.")]
    = None,
) -> None:
    """Export a freshly initialised model to ONNX or TorchScript, or its architecture for timm."""
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
    protocol: ProtocolOpt = Protocol.windows,
    report_path: Annotated[Optional[Path], typer.Option("--report", help="Write Markdown (+ PNG plots) here.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure latency (ms per batch): median, p10, p90, min, IQR, CV over repeated calls."""
    configs = _configs(device, backend, parse_batches(batch), threads, precision, mode, budget, protocol=protocol)
    specs = resolve_specs(models)
    if report_path is not None:
        report.check_bench_report(report_path)
    with report.progress(("measuring latency", len(specs) * len(configs)), enabled=not json_out) as (update,):
        results = measure_all([(spec, config) for spec in specs for config in configs],
                              on_progress=lambda done, total: update(done, total=total))
    records = [r.as_record() for r in results]
    environment = machine_info()
    if report_path is not None:
        written = report.write_bench_report(report_path, records, environment)
        report.log(f"wrote {', '.join(str(p) for p in written)}")
    if json_out:
        report.print_json([{**r, "environment": environment} for r in records])
    else:
        report.print_bench(records)


class Evaluation(str, Enum):
    train = "train"
    zero_cost = "zero-cost"


ZeroCostMetric = _choices("ZeroCostMetric", METRICS)


def _recipe_overrides(**flags: Any) -> dict[str, Any]:
    """The recipe fields the user set on the command line (a study records exactly these)."""
    return {k: v for k, v in flags.items() if v is not None}


@app.command("train")
def train_cmd(
    models: Annotated[list[str], typer.Argument(
        help="A built-in base or a spec file; several, or a folder of specs (e.g. what 'scale --out' wrote), "
             "train a family alike and write its report.", show_default=False)],
    data: Annotated[str, typer.Option(help="KIND:PATH with KIND cifar10, cifar100, fashion-mnist, mnist or "
                                           "imagefolder; or 'synthetic' (generated, for smoke runs).",
                                      show_default=False)],
    recipe: Annotated[str, typer.Option(help="standard, proxy, rsb-a3, rsb-a2, or a recipe .yaml file.")] = "standard",
    epochs: EpochsOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = None,
    lr: LrOpt = None,
    eval_every: Annotated[Optional[int], typer.Option(help="Evaluate every N epochs (and after the last); "
                                                           "default: the recipe's (1).", show_default=False)] = None,
    precision: Annotated[Optional[str], typer.Option(help="auto (bf16 autocast on CUDA, fp32 on the CPU), fp32, bf16 "
                                                          "or fp16 (autocast with loss scaling).",
                                                     show_default=False)] = None,
    schedule: Annotated[Optional[str], typer.Option(help="1x, 2x, 3x, 6x, ...: a multiplier on the recipe's epochs "
                                                         "and warm-up.", show_default=False)] = None,
    norm: Annotated[Optional[str], typer.Option(help="Override the spec's norm: batch, group, sync_batch (CUDA) or "
                                                     "frozen_batch.", show_default=False)] = None,
    norm_groups: Annotated[Optional[int], typer.Option(help="With --norm group: the most groups a layer gets "
                                                            "(default 32).", show_default=False)] = None,
    weight_standardization: Annotated[Optional[bool], typer.Option(
        "--weight-standardization/--no-weight-standardization", help="Standardise convolution filters (BiT).",
        show_default=False)] = None,
    init: Annotated[Optional[Path], typer.Option(help="Start from a trained network of the same architecture: a "
                                                      "train run folder or a checkpoint file.", show_default=False)]
    = None,
    reset_head: Annotated[bool, typer.Option("--reset-head", help="With --init: start the classifier fresh even "
                                                                  "where it fits (a new task).")] = False,
    seeds: Annotated[int, typer.Option(help="Train this many seeds; report mean and standard deviation.")] = 1,
    first_seed: Annotated[int, typer.Option(help="The first seed; the others follow it.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
    test: Annotated[bool, typer.Option("--test", help="Also evaluate on the test split (never used by search).")]
    = False,
    evaluation: Annotated[Evaluation, typer.Option("--eval", help="train, or zero-cost: a training-free score at "
                                                                  "initialisation.")] = Evaluation.train,
    metric: Annotated[ZeroCostMetric, typer.Option(help="Zero-cost metric.")] = ZeroCostMetric[DEFAULT_METRIC],
    val_fraction: Annotated[float, typer.Option(help="Share of the training set held out for validation.")] = 0.1,
    train_images: Annotated[Optional[int], typer.Option(help="Train on this many (seeded) training images only.",
                                                        show_default=False)] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="Where metrics.csv, checkpoints, spec and recipe go. "
                                                         "Default: runs/train/<model>-<recipe>-<digest of the "
                                                         "settings>, or for a family runs/family-<digest>; the same "
                                                         "command resumes either.", show_default=False)] = None,
    baselines: Annotated[Optional[str], typer.Option(
        help="Also train reference families alike: efficientnet (B0..Bk, official table, up to the largest MACs "
             "given), resnet (18/34/50), mobilenet-v2 (width 0.5/0.75/1.0/1.4); comma-separated.",
        show_default=False)] = None,
    latency_budget: Annotated[float, typer.Option(help="For a family: seconds of timed calls per network for its "
                                                       "batch-1 latency (CPU onnxruntime; CUDA too where present); "
                                                       "0 measures none.")] = 3.0,
    download: DownloadOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Train a network, or a family of them alike (or score one without training); report validation top-1.

    Under torchrun (`torchrun --nproc-per-node N -m scalesearch train ...`) the processes train one
    network together with DistributedDataParallel; rank 0 alone writes and prints."""
    specs = [with_norm(spec, norm, norm_groups, weight_standardization) for spec in resolve_specs(models)]
    chosen = load_recipe(recipe).override(epochs=epochs, resolution=resolution, batch_size=batch, lr=lr,
                                          eval_every=eval_every, precision=precision)
    if schedule is not None:
        chosen = chosen.scheduled(parse_schedule(schedule))
    seeds_trained = seed_list(seeds, first_seed)
    resolve_device(device)
    procs = processes()
    members = plan_training(models, specs, parse_baselines(baselines), zero_cost=evaluation is Evaluation.zero_cost,
                            init=init, reset_head=reset_head, world=procs.world)
    latency = latency_configs(latency_budget)
    _fetch(data, download)
    dataset = load_data(data, val_fraction=val_fraction, train_images=train_images)
    if dataset.skipped_files:
        report.log(f"skipped {dataset.skipped_files} files that are not readable images")
    if members is not None:
        _train_family(members, dataset, chosen, seeds_trained, device, run_dir, latency, json_out)
        return
    spec = specs[0]
    if evaluation is Evaluation.zero_cost:
        images, labels = data_batch(dataset, chosen.resolution, channels=spec.in_channels)
        score = zero_cost_score(chosen.network(spec, dataset.num_classes), metric.value, images, labels)
        report.emit({"model": spec.name, "eval": "zero-cost", "metric": metric.value, "score": score,
                     "data": dataset.name, "synthetic_data": dataset.synthetic, "resolution": chosen.resolution},
                    json_out)
        return
    start = InitialWeights.read(init, chosen.network(spec, dataset.num_classes), reset_head) if init else None
    if start is not None and procs.writer:
        report.log(f"starting from {start.checkpoint}; classifier {start.record['head']}")
    run_dir = run_dir or default_train_dir(spec, dataset, chosen, seeds_trained, start)
    steps = len(seeds_trained) * chosen.epochs
    with report.progress((f"training {spec.name}", steps), enabled=not json_out and procs.writer) as (update,):
        done = 0

        def on_epoch(m: EpochMetrics) -> None:
            nonlocal done
            done += 1
            val = "-" if m.val_top1 is None else f"{m.val_top1:.1%}"
            update(done, f"seed {m.seed} epoch {m.epoch}/{chosen.epochs} loss {m.train_loss:.3f} "
                         f"val {val} {m.img_per_s:.0f} img/s")
        result = train(spec, dataset, chosen, seeds_trained, device, run_dir, test, on_epoch, init=start)
    record = {"model": spec.name, **result.as_record(chosen, dataset), "norm": report.norm_words(spec),
              "processes": procs.world, "init": start.record if start else None, "run_dir": str(run_dir)}
    if procs.writer:
        report.emit(record, json_out)


def _train_family(members: list[Any], dataset: Any, recipe: Any, seeds: list[int], device: str,
                  run_dir: Optional[Path], latency: list[BenchConfig], json_out: bool) -> None:
    """``train`` with several networks: each trained alike, then timed, then the family report."""
    run_dir = run_dir or default_family_dir(members, dataset, recipe, seeds)
    results = open_results(run_dir / "family.json", members, dataset, recipe, seeds)
    report.log(f"training {len(members)} networks x {len(seeds)} seeds in {run_dir} (the same command resumes)")
    tasks = [("training", len(members) * len(seeds))] + ([("latency", len(members) * len(latency))] if latency else [])
    with report.progress(*tasks, enabled=not json_out) as updates:
        train_members(members, dataset, recipe, seeds, results, device, run_dir,
                      on_done=lambda done, total: updates[0](done, f"training ({done}/{total} runs)"))
        if latency:
            bench_members(members, results, latency, on_done=lambda done, total: updates[1](done))
    written = report.write_family_report(run_dir, results.document)
    report.log(f"wrote {', '.join(str(p) for p in [results.path, *written])}")
    if json_out:
        report.print_json({"run_dir": str(run_dir), **results.document,
                           "rows": list(results.document["rows"].values())})
    else:
        report.print_family(results.document)


HeartbeatOpt = Annotated[int, typer.Option(
    help="With --storage: seconds between a worker's heartbeats; a trial silent for three is failed and its "
         "candidate retried by another worker.")]


Pruner = _choices("Pruner", PRUNERS)
Sampler = _choices("Sampler", SAMPLERS)
ConstraintHandling = _choices("ConstraintHandling", CONSTRAINT_HANDLING)


@app.command("find-base")
def find_base(
    flops: Annotated[Optional[str], typer.Option(help="MACs target, e.g. 400M (FLOPs here are multiply-adds).",
                                                 show_default=False)] = None,
    latency: Annotated[Optional[str], typer.Option(help="Latency target instead, e.g. 15ms, predicted on --device.",
                                                   show_default=False)] = None,
    device: DeviceOpt = Device.cpu,
    backend: BackendOpt = None,
    threads: ThreadsOpt = None,
    constraint: Annotated[Constraint, typer.Option(help="soft: ACC x (T(m)/T)^-0.07 (EfficientNet); hard: the target "
                                                        "is a limit, no candidate above it is evaluated.")]
    = Constraint.soft,
    constraint_handling: Annotated[ConstraintHandling, typer.Option(
        help="How the sampler learns the MACs or latency window: penalty (a rejected candidate scores below every "
             "evaluated one, graded by its distance) or sampler (also Optuna's Trial.set_constraint).")]
    = ConstraintHandling["penalty"],
    reject_outside: Annotated[float, typer.Option(help="Reject untrained any candidate beyond target x (1 +- this).")]
    = 0.1,
    space: Annotated[str, typer.Option(help="Search space: built-in name or .yaml file.")] = "mnasnet",
    data: Annotated[Optional[str], typer.Option(help="KIND:PATH to train candidates on (see 'train'); without it "
                                                     "(and without --evaluator), candidates get a zero-cost score.",
                                                show_default=False)] = None,
    evaluator: Annotated[Optional[str], typer.Option(
        help="Accuracy without training each candidate: table:FILE (NAS-Bench-Macro's nas-bench-macro_cifar10.json, "
             "with --space nas-bench-macro) or surrogate:NAME_OR_FILE (accel-nasbench, with --space accel-nasbench), "
             "to judge search strategies on ground truth; or supernet:RUN_DIR (what 'supernet train' wrote, with "
             "the --space and --data it was trained on; finalists train stand-alone).", show_default=False)] = None,
    seed_base: Annotated[bool, typer.Option(help="Seed the study with the space's base network and compare the "
                                                 "finalists with it; --no-seed-base when the base may be the answer "
                                                 "(e.g. B0 in accel-nasbench).")] = True,
    train_images: Annotated[Optional[int], typer.Option(help="Train candidates on this many (seeded) training "
                                                             "images only.", show_default=False)] = None,
    recipe: Annotated[str, typer.Option(help="Training recipe for candidates.")] = "proxy",
    epochs: EpochsOpt = None,
    resolution: ResolutionOpt = None,
    metric: Annotated[ZeroCostMetric, typer.Option(help="Zero-cost metric when there is no --data (and for "
                                                        "--prescreen).")] = ZeroCostMetric[DEFAULT_METRIC],
    n_trials: Annotated[int, typer.Option(help="Evaluated trials in total (all workers, all resumes); rejected "
                                               "candidates do not count.")] = 50,
    workers: Annotated[int, typer.Option(help="Local worker processes sharing the study.")] = 1,
    storage: Annotated[Optional[str], typer.Option(help="RDB URL (postgresql://... for many machines). Default: a "
                                                        "journal file in the run directory.", show_default=False)]
    = None,
    heartbeat: HeartbeatOpt = HEARTBEAT_S,
    study: Annotated[Optional[str], typer.Option(help="Study name. Default: derived from the target and evaluator.",
                                                 show_default=False)] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="Default: runs/<study>.", show_default=False)] = None,
    multi_objective: Annotated[bool, typer.Option("--multi-objective", help="NSGA-II on (accuracy, cost); report "
                                                                            "the Pareto front.")] = False,
    sampler: Annotated[Optional[Sampler], typer.Option(
        help="Optuna sampler: tpe, random (the baseline a search must beat), nsga2 (with --multi-objective) or gp. "
             "Default: tpe, or nsga2 with --multi-objective.", show_default=False)] = None,
    pruner: Annotated[Pruner, typer.Option(help="Prune trials on per-epoch validation accuracy (single "
                                                "objective only).")] = Pruner["median"],
    finalists: Annotated[Optional[int], typer.Option(
        help="Re-evaluate this many of the best candidates, and the seeded base network, with --final-seeds "
             "fresh seeds; the best mean wins. Default: 3 with --data, none without.", show_default=False)] = None,
    final_seeds: Annotated[int, typer.Option(help="Seeds per finalist.")] = 3,
    final_epochs: Annotated[Optional[int], typer.Option(help="Epochs per finalist run (default: the recipe's).",
                                                        show_default=False)] = None,
    prescreen: Annotated[int, typer.Option(help="With --data: score this many in-window candidates per trial with "
                                                "the zero-cost metric and train only the best.")] = 1,
    train_device: Annotated[str, typer.Option(help="Device that trains candidates: cpu, cuda or cuda:N.")] = "cpu",
    devices: Annotated[Optional[str], typer.Option(help="GPUs the local workers train on, in turn: 0,1,2,3 puts "
                                                        "worker k on GPU k mod 4 (overrides --train-device).",
                                                   show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Sampler and training seed.")] = 0,
    include_baselines: Annotated[bool, typer.Option("--include-baselines", help="Also evaluate EfficientNet-B0, "
                                                    "MobileNetV2 and MnasNet-A1 the same way, for the report.")]
    = False,
    download: DownloadOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Search a space for the best base network at a MACs (or latency) target; resumable."""
    objective = target_objective(flops, latency, constraint.value, reject_outside)
    bench_config = _configs(device, backend, [1], threads, Precision.fp32)[0] if latency is not None else None
    name = study or default_study_name(flops, latency, device.value, evaluator, data, metric.value)
    overrides = _recipe_overrides(epochs=epochs, resolution=resolution)
    config = SearchConfig(objective=objective, run_dir=run_dir or study_dir(name), study_name=name,
                          n_trials=n_trials, space=space, data=data, train_images=train_images, recipe=recipe,
                          recipe_overrides=overrides, zero_cost_metric=metric.value, storage=storage,
                          workers=workers, seed=seed, multi_objective=multi_objective,
                          sampler=sampler.value if sampler else None, pruner=pruner.value, device=train_device,
                          prescreen=prescreen, finalists=finalists, final_seeds=final_seeds,
                          final_epochs=final_epochs, latency=bench_config, heartbeat_s=heartbeat,
                          devices=parse_devices(devices) if devices is not None else (), evaluator=evaluator,
                          seed_with_base=seed_base, constraint_handling=constraint_handling.value)
    _fetch(data, download)
    validate(config)
    if include_baselines:
        check_baselines(config)
    if config.evaluator_kind == "zero-cost":
        report.log(f"no --data: candidates are ranked by a zero-cost score ({metric.value}) computed at "
                   f"initialisation, not by trained accuracy")
    planned_finals = (config.n_finalists + 1) * config.final_seeds
    tasks = [(f"find-base {name}", n_trials)] + ([("finalists", planned_finals)] if config.n_finalists else [])
    with report.progress(*tasks, enabled=not json_out) as updates:
        def on_trial(s: Any) -> None:
            trials = s.get_trials(deepcopy=False)
            best = best_trial(s)
            shown = f"best score {best.user_attrs.get('score', 0):.4g}" if best and not multi_objective else ""
            updates[0](min(n_trials, len(evaluated(trials))), f"find-base {name} {shown}")

        def on_finalist(done: int, total: int) -> None:
            updates[1](done, "finalists", total=total)
        try:
            found = search(config, on_trial, on_finalist)
        except BaseException:
            # Interrupted or crashed: what finished is summarised (best effort: the original error is
            # what the user must see), and the same command resumes.
            with contextlib.suppress(Exception):
                _summarise_search(config)
            raise
    if include_baselines:
        known_baselines(config)
    summary = _summarise_search(config, found)
    report.log(f"the trials, each with its network: {dashboard_command(config.run_dir, storage)}")
    if json_out:
        report.print_json(summary)
    else:
        report.print_search(summary)


def _summarise_search(config: SearchConfig, study: Any = None) -> dict[str, Any]:
    study = study or open_study(config)
    summary = summarise(study, config)
    report.write_search_report(config.run_dir, summary, trial_rows(study, config))
    return summary


@app.command("grid")
def grid_cmd(
    data: Annotated[str, typer.Option(help="KIND:PATH to train on (see 'train').", show_default=False)],
    base: Annotated[Optional[str], typer.Option(help="A built-in base or a spec file (e.g. runs/<study>/"
                                                     "best_base.yaml). Default: see --from.",
                                                show_default=False)] = None,
    source: FromOpt = None,
    step: Annotated[float, typer.Option(help="Grid step for alpha, beta, gamma.")] = 0.05,
    target_ratio: Annotated[float, typer.Option(help="alpha * beta^2 * gamma^2 to aim for (EfficientNet: 2).")] = 2.0,
    tolerance: Annotated[float, typer.Option(help="Allowed relative deviation of that product and of the measured "
                                                  "MACs ratio.")] = 0.1,
    recipe: Annotated[str, typer.Option(help="Training recipe.")] = "proxy",
    epochs: EpochsOpt = None,
    resolution: Annotated[Optional[int], typer.Option(help="The base's training size (px); each point trains at "
                                                           "this times gamma.", show_default=False)] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per point.")] = 1,
    train_images: Annotated[Optional[int], typer.Option(help="Train on this many (seeded) training images only.",
                                                        show_default=False)] = None,
    workers: Annotated[int, typer.Option(help="Local worker processes sharing the study.")] = 1,
    storage: Annotated[Optional[str], typer.Option(help="RDB URL; default: a journal file in the run directory.",
                                                   show_default=False)] = None,
    heartbeat: HeartbeatOpt = HEARTBEAT_S,
    study: Annotated[Optional[str], typer.Option(help="Study name. Default: grid-<base>.", show_default=False)] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="Default: runs/<study>.", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="Training device: cpu, cuda or cuda:N.")] = "cpu",
    download: DownloadOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Grid-search alpha, beta, gamma at phi = 1 under alpha * beta^2 * gamma^2 ~= 2; resumable."""
    start = resolve_start(base, source=source)
    base_spec = start.base
    name = study or default_grid_study(base_spec)
    overrides = _recipe_overrides(epochs=epochs, resolution=resolution)
    config = GridConfig(base=base_spec, data=data, run_dir=run_dir or study_dir(name), study_name=name,
                        step=step, target_ratio=target_ratio, tolerance=tolerance, recipe=recipe,
                        recipe_overrides=overrides, seeds=seeds, train_images=train_images, storage=storage,
                        device=device, workers=workers,
                        heartbeat_s=heartbeat)
    _fetch(data, download)
    points = validate_grid(config)
    report.log(f"grid: {len(points)} feasible points for base {base_spec.name} ({start.base_source})")
    with report.progress((f"grid {name}", len(points)), enabled=not json_out) as (update,):
        finished = run_grid(config, on_trial=lambda done, _total: update(done))
    document = save_coefficients(finished, config)
    report.log(f"the points, each with its network: {dashboard_command(config.run_dir, storage)}")
    heatmap = report.write_grid_heatmap(config.run_dir / "grid_heatmap.png", document)
    record = {k: document[k] for k in ("alpha", "beta", "gamma", "val_top1", "macs_ratio", "n_feasible")}
    record.update(points_trained=len(document["points"]), coefficients_file=str(config.run_dir / "coefficients.json"),
                  heatmap=str(heatmap), base=base_spec.name, base_source=start.base_source)
    report.emit(record, json_out)


@app.command("compare-scaling")
def compare_scaling(
    base: Annotated[str, typer.Option(help="A built-in base or a spec file.", show_default=False)],
    data: Annotated[str, typer.Option(help="KIND:PATH to train on (see 'train').", show_default=False)],
    flops_multiplier: Annotated[str, typer.Option(help="MACs multipliers to match, comma-separated: 2,4,8.")] = "2",
    strategy: Annotated[str, typer.Option(help="Comma-separated subset of depth,width,resolution,compound,"
                                               "revisiting,sovit (ViT bases).")] = "depth,width,resolution,compound",
    recipe: Annotated[str, typer.Option(help="Training recipe (the same for every variant).")] = "proxy",
    epochs: EpochsOpt = None,
    resolution: Annotated[Optional[int], typer.Option(help="The base's training size (px); variants train at this "
                                                           "times their resolution multiplier.",
                                                      show_default=False)] = None,
    train_images: Annotated[Optional[int], typer.Option(help="Train on this many (seeded) training images only.",
                                                        show_default=False)] = None,
    seeds: Annotated[int, typer.Option(help="Seeds per variant.")] = 3,
    device: Annotated[str, typer.Option(help="Training device: cpu, cuda or cuda:N.")] = "cpu",
    run_dir: Annotated[Optional[Path], typer.Option(help="Default: runs/compare-<base>.", show_default=False)] = None,
    download: DownloadOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Depth-, width-, resolution-only and compound scaling of a base at matched MACs, trained alike."""
    multipliers = parse_multipliers(flops_multiplier)
    strategies = parse_strategies(strategy)
    base_spec = resolve_spec(base)
    chosen = load_recipe(recipe).override(epochs=epochs, resolution=resolution)
    planned = plan_scaling(base_spec, multipliers, strategies, chosen.epochs)  # all checked before training
    seeds_trained = seed_list(seeds, 0)
    resolve_device(device)
    _fetch(data, download)
    dataset = load_data(data, train_images=train_images)
    run_dir = run_dir or default_compare_dir(base_spec)
    with report.progress((f"compare-scaling {base_spec.name}", 1 + len(planned)), enabled=not json_out) as (update,):
        document = run_comparison(base_spec, dataset, chosen, planned, seeds_trained, run_dir, device, on_done=update)
    written = report.write_compare_report(run_dir, document)
    report.log(f"wrote {', '.join(str(p) for p in [run_dir / 'compare_scaling.json', *written])}")
    if json_out:
        report.print_json(document)
    else:
        report.print_compare(document["rows"])


@app.command("pipeline")
def pipeline_cmd(
    flops: Annotated[str, typer.Option(help="MACs target of the base, e.g. 400M (FLOPs here are multiply-adds).",
                                       show_default=False)],
    data: Annotated[str, typer.Option(help="KIND:PATH to train on (see 'train').", show_default=False)],
    phi: Annotated[str, typer.Option(help="The family: an integer range from the found base, e.g. 0-3.")] = "0-3",
    baselines: Annotated[Optional[str], typer.Option(
        help="Reference families trained alike: efficientnet, resnet, mobilenet-v2 (comma-separated).")]
    = "efficientnet,resnet,mobilenet-v2",
    space: Annotated[str, typer.Option(help="find-base: search space, built-in name or .yaml file.")] = "mnasnet",
    n_trials: Annotated[int, typer.Option(help="find-base: evaluated trials.")] = 50,
    finalists: Annotated[Optional[int], typer.Option(help="find-base: finalists besides the base network (default "
                                                          "3).", show_default=False)] = None,
    final_seeds: Annotated[int, typer.Option(help="find-base: seeds per finalist.")] = 3,
    step: Annotated[float, typer.Option(help="grid: the step of alpha, beta, gamma.")] = 0.05,
    tolerance: Annotated[float, typer.Option(help="grid: allowed relative deviation from alpha * beta^2 * gamma^2 "
                                                  "= 2.")] = 0.1,
    seeds: Annotated[int, typer.Option(help="Seeds per network of the family and the references.")] = 3,
    recipe: Annotated[str, typer.Option(help="Training recipe of every stage.")] = "proxy",
    epochs: EpochsOpt = None,
    train_images: Annotated[Optional[int], typer.Option(help="Train on this many (seeded) training images only.",
                                                        show_default=False)] = None,
    device: Annotated[str, typer.Option(help="Training device: cpu, cuda or cuda:N.")] = "cpu",
    workers: Annotated[int, typer.Option(help="Local worker processes for find-base and grid.")] = 1,
    storage: Annotated[Optional[str], typer.Option(help="RDB URL for the find-base and grid studies; default: "
                                                        "journal files in the run folder.", show_default=False)] = None,
    latency_budget: Annotated[float, typer.Option(help="Seconds of timed calls per network's batch-1 latency; "
                                                       "0 measures none.")] = 3.0,
    seed: Annotated[int, typer.Option(help="Sampler and training seed of the search.")] = 0,
    run_dir: Annotated[Optional[Path], typer.Option(help="Default: runs/pipeline-<flops>.", show_default=False)]
    = None,
    download: DownloadOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """The whole method: find-base, grid, scale, train the family and reference families alike, bench, report."""
    target = parse_macs(flops)
    config = PipelineConfig(target_macs=float(target), data=data, phis=parse_phis(phi),
                            run_dir=run_dir or default_pipeline_dir(flops),
                            baselines=parse_baselines(baselines), space=space, n_trials=n_trials,
                            finalists=finalists, final_seeds=final_seeds, step=step, tolerance=tolerance,
                            seeds=seeds,
                            recipe=recipe, epochs=epochs, train_images=train_images, device=device, workers=workers,
                            storage=storage, latency_budget_s=latency_budget, seed=seed)
    _fetch(data, download)
    validate_pipeline(config)
    with report.progress(("pipeline", len(PIPELINE_STAGES)), ("stage", 1), enabled=not json_out) as (outer, inner):
        def on_stage(name: str) -> None:
            outer(PIPELINE_STAGES.index(name), f"pipeline: {name}")
            inner(0, name, total=1)

        summary = run_pipeline(config, on_stage, lambda name, done, total: inner(done, name, total=total))
    if json_out:
        report.print_json(summary)
    else:
        report.log(f"wrote {summary['report']}")
        report.print_pipeline(summary)


Labels = _choices("Labels", LABELS)


@app.command("self-train")
def self_train_cmd(
    data: Annotated[str, typer.Option(help="KIND:PATH of the labelled data (see 'train').", show_default=False)],
    unlabeled: Annotated[Optional[str], typer.Option(
        help="KIND:PATH of unlabelled images: a data set (its labels are not read) or imagefolder:DIR (every "
             "image below it).", show_default=False)] = None,
    labeled_fraction: Annotated[Optional[float], typer.Option(
        help="Instead of --unlabeled: keep a seeded fraction of the training split labelled and hide the rest's "
             "labels (read only to report pseudo-label accuracy).", show_default=False)] = None,
    teacher: Annotated[Optional[Path], typer.Option(
        help="A trained teacher: a 'train' run folder, or a checkpoint file with --teacher-spec. Default: round 0 "
             "trains one on the labelled images.", show_default=False)] = None,
    teacher_spec: Annotated[Optional[str], typer.Option(
        help="The teacher's network (a base or spec file). Default: the newest found base under ./runs, else "
             "efficientnet-b0.", show_default=False)] = None,
    student: Annotated[Optional[str], typer.Option(help="The student's network. Default: the teacher's scaled by "
                                                        "--student-phi per round.", show_default=False)] = None,
    student_phi: Annotated[float, typer.Option(help="Phi steps per round from the teacher's network (0: equal "
                                                    "size).")] = 1.0,
    rounds: Annotated[int, typer.Option(help="Students in a row; each round's student teaches the next.")] = 1,
    labels: Annotated[Labels, typer.Option(help="soft (teacher's softmax) or hard (one-hot, smoothed).")]
    = Labels["soft"],
    temperature: Annotated[float, typer.Option(help="Softmax temperature of soft labels.")] = 1.0,
    threshold: Annotated[float, typer.Option(help="Drop unlabelled images whose top probability is below this.")]
    = 0.3,
    per_class: Annotated[Optional[int], typer.Option(
        help="Keep at most this many images per class, the most confident first; 0: no cap. Default: labelled "
             "images per class x --unlabeled-ratio.", show_default=False)] = None,
    balance: Annotated[bool, typer.Option("--balance/--no-balance", help="Repeat the images of classes with fewer "
                                                                          "than the cap up to it.")] = True,
    unlabeled_ratio: Annotated[float, typer.Option(help="Pseudo-labelled images per labelled image in a batch.")]
    = 3.0,
    noise: Annotated[bool, typer.Option("--noise/--no-noise", help="Noise the student: RandAugment, dropout, "
                                                                    "stochastic depth.")] = True,
    randaugment_magnitude: Annotated[Optional[int], typer.Option(
        help="The student's RandAugment magnitude (0-30). Default: by the student's size, 15 at phi 0 to 30.",
        show_default=False)] = None,
    dropout: Annotated[Optional[float], typer.Option(help="The student's dropout. Default: EfficientNet's by size.",
                                                     show_default=False)] = None,
    recipe: Annotated[str, typer.Option(help="standard, proxy, rsb-a3, rsb-a2, or a recipe .yaml file.")] = "standard",
    epochs: EpochsOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = None,
    seeds: Annotated[int, typer.Option(help="Independent chains (teacher and students), each its own seed.")] = 1,
    first_seed: Annotated[int, typer.Option(help="The first seed; the others follow it.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
    train_images: Annotated[Optional[int], typer.Option(help="Use this many (seeded) training images only.",
                                                        show_default=False)] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="Default: runs/self-train-<digest of the settings>, which "
                                                         "the same command resumes.", show_default=False)] = None,
    download: DownloadOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Noisy Student: a teacher labels unlabelled images; a noised, equal-or-larger student learns from both."""
    chosen = load_recipe(recipe).override(epochs=epochs, resolution=resolution, batch_size=batch)
    config = SelfTrainConfig(data=data, recipe=chosen, seeds=seed_list(seeds, first_seed), run_dir=run_dir,
                             teacher=teacher, teacher_spec=teacher_spec, student=student, student_phi=student_phi,
                             labeled_fraction=labeled_fraction, unlabeled=unlabeled, threshold=threshold,
                             per_class=per_class, balance=balance, labels=labels.value, temperature=temperature,
                             unlabeled_ratio=unlabeled_ratio, rounds=rounds, noise=noise,
                             randaugment_magnitude=randaugment_magnitude, dropout=dropout, device=device,
                             train_images=train_images)
    _fetch(data, download)
    with report.progress(("self-training", len(config.seeds) * (rounds + 1)), enabled=not json_out) as (update,):
        document = run_self_train(config, on_done=lambda done, total, what: update(done, f"self-training: {what}"))
    if json_out:
        report.print_json({"run_dir": document["run_dir"], "report": document["report"],
                           "rounds": document["summary"], "runs": list(document["rows"].values())})
    else:
        report.print_self_train(document)


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
    protocol: ProtocolOpt = Protocol.windows,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Default: $SCALESEARCH_CACHE_DIR or "
                                                           "~/.cache/scalesearch.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure every distinct component of sampled candidates once and cache the table on disk."""
    check_table_size(samples, calibrate)
    (config,) = _configs(device, backend, [batch], threads, precision, protocol=protocol)
    specs = load_space(space).draw(samples + calibrate, seed)
    started = time.perf_counter()
    todo = len(LatencyTable(config, cache_dir).missing(specs))
    with report.progress(("measuring components", todo), ("calibrating on whole networks", calibrate),
                         enabled=not json_out) as (components_done, networks_done):
        table, measured = build_table(config, specs[:samples], specs[samples:], cache_dir,
                                      on_component=lambda done, _n: components_done(done),
                                      on_network=lambda done, n: networks_done(done, total=n))
    summary = {"table": str(table.path), "key": table.key, "entries": len(table.entries), "measured": measured,
               "calibration": table.calibration, "wall_s": round(time.perf_counter() - started, 1)}
    if json_out:
        report.print_json(summary)
    else:
        report.log(f"latency table {table.path}: {len(table.entries)} entries ({measured} measured now) in "
                   f"{summary['wall_s']} s; calibration {table.calibration}")


supernet_cmd = typer.Typer(no_args_is_help=True, help="Weight-sharing supernets: train once, score many networks.")
app.add_typer(supernet_cmd, name="supernet")


@supernet_cmd.command("train")
def supernet_train(
    data: Annotated[str, typer.Option(help="KIND:PATH (see 'train'), or 'synthetic'.", show_default=False)],
    space: Annotated[str, typer.Option(help="Search space: built-in name or .yaml file (its candidates must share "
                                            "widths: nas-bench-macro, accel-nasbench).")] = "nas-bench-macro",
    recipe: Annotated[str, typer.Option(help="Training recipe (epochs, schedule, optimiser, augmentation).")]
    = "proxy",
    epochs: EpochsOpt = None,
    resolution: ResolutionOpt = None,
    batch: BatchOpt = None,
    lr: LrOpt = None,
    random_subnets: Annotated[int, typer.Option(help="Random sub-networks per step, besides the largest and the "
                                                     "smallest (the sandwich rule).")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the weights, batches and sampled sub-networks.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
    train_images: Annotated[Optional[int], typer.Option(help="Train on this many (seeded) training images only.",
                                                        show_default=False)] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="Where supernet.json, metrics.csv and the checkpoint go. "
                                                         "Default: runs/supernet/<space>-<recipe>-<digest of the "
                                                         "settings>; the same command resumes it.",
                                                    show_default=False)] = None,
    download: DownloadOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Train the weight-sharing supernet of a search space (BigNAS's sandwich rule with in-place
    distillation); 'find-base --evaluator supernet:RUN_DIR' then scores candidates with its weights."""
    chosen = load_recipe(recipe).override(epochs=epochs, resolution=resolution, batch_size=batch, lr=lr)
    resolve_device(device)
    load_space(space)
    _fetch(data, download)
    dataset = load_data(data, train_images=train_images)
    run_dir = run_dir or default_supernet_dir(space, dataset, chosen, random_subnets, seed)
    writer = processes().writer  # under torchrun, rank 0 alone reports
    with report.progress((f"training the supernet of {space}", chosen.epochs), enabled=not json_out and writer) \
            as (update,):
        def on_epoch(e: SupernetEpoch) -> None:
            update(e.epoch, f"supernet epoch {e.epoch}/{chosen.epochs} loss {e.loss:.3f} distill {e.distill_loss:.3f} "
                            f"{e.img_per_s:.0f} img/s")
        run = train_supernet(space, dataset, chosen, run_dir, random_subnets, seed, device, on_epoch)
    if not writer:
        return
    report.emit({"space": space, "run_dir": str(run_dir), "epochs": len(run.epochs), "recipe": chosen.name,
                 "random_subnets": random_subnets, "data": dataset.name, "synthetic_data": dataset.synthetic,
                 "loss": run.epochs[-1].loss, "distill_loss": run.epochs[-1].distill_loss,
                 "img_per_s": run.epochs[-1].img_per_s, "wall_s": round(sum(e.wall_s for e in run.epochs), 1),
                 "evaluator": f"supernet:{run_dir}"}, json_out)


def main() -> None:
    """Console-script entry point."""
    app()
