"""Measured latency: onnxruntime, OpenVINO or torch on the CPU, torch on CUDA (eager or CUDA graph).

Every backend times one call at a time after a warm-up, within a time budget, under one of two
protocols (:data:`PROTOCOLS`): the networks measured together take turns in short windows and each
keeps its lowest window median (:func:`~scalesearch.measure.timing.lowest_window_median`), or each
network is called until its median settles (:func:`~scalesearch.measure.timing.repeat_until_stable`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from scalesearch.arch.spec import NetworkSpec
from scalesearch.errors import UsageError
from scalesearch.export import export_onnx
from scalesearch.measure.environment import physical_cores
from scalesearch.measure.flops import analytic_count
from scalesearch.measure.timing import TimingStats, lowest_window_median, repeat_until_stable
from scalesearch.nn import build_model

DEVICES = ("cpu", "cuda")
BACKENDS = ("onnxruntime", "torch", "openvino")
PRECISIONS = ("fp32", "fp16", "bf16")
MODES = ("eager", "graph")
#: How a latency is summarised. windows: every network gets WINDOWS windows of budget / WINDOWS
#: seconds, the networks measured together taking turns, and its figure is the lowest window
#: median (README, "A steadier protocol?"); settle: calls until the median settles, one network
#: after another.
PROTOCOLS = ("windows", "settle")
WINDOWS = 3
#: What each (device, backend) pair can run. onnxruntime's CPU provider has no fast fp16/bf16
#: convolution kernels, and this project ships no GPU build of onnxruntime. OpenVINO is timed at
#: fp32 (its CPU plugin would otherwise pick bf16 by itself on CPUs with AMX).
SUPPORTED_PRECISIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("cpu", "onnxruntime"): ("fp32",),
    ("cpu", "openvino"): ("fp32",),
    ("cpu", "torch"): ("fp32", "bf16"),
    ("cuda", "torch"): ("fp32", "fp16", "bf16"),
}
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def default_backend(device: str) -> str:
    """The runtime a device is timed with unless one is chosen: torch on CUDA, onnxruntime on the CPU."""
    return "torch" if device == "cuda" else "onnxruntime"


def _supported_text() -> str:
    return "; ".join(f"{d}/{b}: {', '.join(p)}" for (d, b), p in SUPPORTED_PRECISIONS.items())


#: The largest batch a latency measurement takes (deployment batches are far smaller).
MAX_BATCH = 4096
#: The longest a network and batch may be timed (the default is 3 s; minutes already repeat to 1%).
MAX_BUDGET_S = 600.0


def max_threads() -> int:
    """The most intra-op threads a measurement may ask for: 4 per logical CPU (more only queue up,
    and thousands of them take the machine down before timing starts)."""
    return 4 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class BenchConfig:
    """Where and how to time: device, backend, batch, threads, precision, eager or graph mode, and
    the protocol that summarises the calls."""

    device: str = "cpu"
    backend: str = "onnxruntime"
    batch: int = 1
    threads: int | None = None  # CPU intra-op threads; None: the physical cores
    precision: str = "fp32"
    mode: str = "eager"
    budget_s: float = 3.0
    protocol: str = "windows"

    def __post_init__(self) -> None:
        for field, value, known in (("device", self.device, DEVICES), ("backend", self.backend, BACKENDS),
                                    ("precision", self.precision, PRECISIONS), ("mode", self.mode, MODES),
                                    ("protocol", self.protocol, PROTOCOLS)):
            if value not in known:
                raise UsageError(f"unknown {field} {value!r} (known: {', '.join(known)})")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise UsageError(f"batch size must be a positive integer, got {self.batch!r}")
        if self.batch > MAX_BATCH:
            raise UsageError(f"batch size must be at most {MAX_BATCH}, got {self.batch}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise UsageError(f"`threads` must be a positive integer, got {self.threads!r}")
        if self.threads is not None and self.threads > max_threads():
            raise UsageError(f"`threads` must be at most {max_threads()} (4 per logical CPU here), got {self.threads}")
        if not 0 < self.budget_s <= MAX_BUDGET_S:
            raise UsageError(f"time budget must be positive and at most {MAX_BUDGET_S:g} s per network and batch, "
                             f"got {self.budget_s!r} s")
        pair = (self.device, self.backend)
        if pair not in SUPPORTED_PRECISIONS:
            raise UsageError(f"backend {self.backend} does not run on {self.device} (supported: {_supported_text()})")
        if self.precision not in SUPPORTED_PRECISIONS[pair]:
            raise UsageError(f"precision {self.precision} is not supported on {self.device} with {self.backend} "
                             f"(supported: {_supported_text()})")
        if self.mode == "graph" and self.device != "cuda":
            raise UsageError("`mode` graph captures a CUDA graph: it needs `device` cuda")

    @property
    def cpu_threads(self) -> int:
        """Intra-op threads actually used on the CPU."""
        return self.threads or physical_cores()

    def check_available(self, parameter: str = "device") -> None:
        """Fail with one line when the device is missing (CUDA asked for, none here), naming the
        ``parameter`` that asked for it."""
        if self.device == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"`{parameter}` cuda: no CUDA device is available here "
                             f"(torch.cuda.is_available() is False)")


@dataclass(frozen=True)
class LatencyResult:
    """One model's measured latency with what it was measured on."""

    model: str
    config: BenchConfig
    resolution: int
    stats: TimingStats
    macs: int
    params: int
    phi: float | None = None

    def as_record(self) -> dict[str, Any]:
        """The JSON object ``bench --json`` prints per (model, batch)."""
        c = self.config
        return {"model": self.model, "device": c.device, "backend": c.backend, "batch": c.batch,
                "precision": c.precision, "mode": c.mode, "protocol": c.protocol,
                "threads": c.cpu_threads if c.device == "cpu" else None,
                "resolution": self.resolution, **self.stats.as_dict(), "macs": self.macs, "params": self.params,
                "phi": self.phi}


def onnxruntime_session(path: Path, threads: int) -> Any:
    """An onnxruntime CPU session for the ONNX file at ``path``: ``threads`` intra-op threads, one
    inter-op thread, sequential execution, every graph optimisation."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise UsageError("`backend` openvino needs OpenVINO Runtime, which is not installed: "
                         "pip install 'scalesearch[openvino]'") from None
    return openvino


def openvino_model(path: Path, shape: tuple[int, ...], threads: int) -> Any:
    """The ONNX file at ``path`` compiled once by OpenVINO Runtime for the CPU at the input
    ``shape``, for latency: its LATENCY hint, one stream, ``threads`` inference threads, fp32."""
    ov = _openvino()
    core = ov.Core()
    model = core.read_model(str(path))
    model.reshape(list(shape))  # a static shape, as deployment compiles it
    return core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1",
                                             "INFERENCE_NUM_THREADS": str(threads), "INFERENCE_PRECISION_HINT": "f32"})


Run = Callable[[], float]  # one timed call: its latency in ms


def _openvino_run(module: torch.nn.Module, shape: tuple[int, ...], config: BenchConfig) -> Run:
    ov = _openvino()
    with tempfile.TemporaryDirectory() as tmp:
        compiled = openvino_model(export_onnx(module, torch.zeros(shape), Path(tmp) / "model.onnx"), shape,
                                  config.cpu_threads)
    request = compiled.create_infer_request()
    request.set_input_tensor(0, ov.Tensor(np.random.default_rng(0).standard_normal(shape, dtype=np.float32)))

    def run_once() -> float:
        start = time.perf_counter()
        request.infer()
        return (time.perf_counter() - start) * 1e3

    return run_once


def _onnxruntime_run(module: torch.nn.Module, shape: tuple[int, ...], config: BenchConfig) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        session = onnxruntime_session(export_onnx(module, torch.zeros(shape), Path(tmp) / "model.onnx"),
                                      config.cpu_threads)
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    binding = session.io_binding()  # bind once: time the graph, not numpy <-> OrtValue copies
    binding.bind_cpu_input(session.get_inputs()[0].name, x)
    binding.bind_output(session.get_outputs()[0].name)

    def run_once() -> float:
        start = time.perf_counter()
        session.run_with_iobinding(binding)
        return (time.perf_counter() - start) * 1e3

    return run_once


def _autocast(device: str, precision: str) -> contextlib.AbstractContextManager:
    return torch.autocast(device, dtype=_DTYPES[precision]) if precision != "fp32" else contextlib.nullcontext()


def _torch_cpu_run(module: torch.nn.Module, shape: tuple[int, ...], config: BenchConfig) -> Run:
    module.eval()
    x = torch.randn(shape)

    def run_once() -> float:
        # Each call sets its own threads and modes (untimed): runs of other settings may take turns with it.
        torch.set_num_threads(config.cpu_threads)
        with torch.inference_mode(), _autocast("cpu", config.precision):
            start = time.perf_counter()
            module(x)
            return (time.perf_counter() - start) * 1e3

    return run_once


def cuda_graph(module: torch.nn.Module, x: torch.Tensor) -> Callable[[], Any]:
    """``module(x)`` captured in a CUDA graph (after three calls on a side stream, which autotune and
    allocate outside the capture); returns the graph's replay. Call under the autocast and
    inference mode the replays should have."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            module(x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        module(x)
    return graph.replay


def cuda_run(call: Callable[[], Any], context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
             ) -> Run:
    """One timed ``call`` on the current CUDA stream (CUDA events), inside a fresh ``context()``."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def run_once() -> float:
        with context():
            start.record()
            call()
            end.record()
        end.synchronize()
        return start.elapsed_time(end)

    return run_once


def _torch_cuda_run(module: torch.nn.Module, shape: tuple[int, ...], config: BenchConfig) -> Run:
    module = module.eval().cuda().to(memory_format=torch.channels_last)
    x = torch.randn(shape, device="cuda").to(memory_format=torch.channels_last)

    def modes() -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        stack.enter_context(_autocast("cuda", config.precision))
        return stack

    if config.mode == "graph":
        with modes():
            return cuda_run(cuda_graph(module, x))
    return cuda_run(lambda: module(x), modes)


def _run(module: torch.nn.Module, shape: tuple[int, ...], config: BenchConfig) -> Run:
    if config.device == "cuda":
        return _torch_cuda_run(module, shape, config)
    if config.backend == "onnxruntime":
        return _onnxruntime_run(module, shape, config)
    if config.backend == "openvino":
        return _openvino_run(module, shape, config)
    return _torch_cpu_run(module, shape, config)


@contextlib.contextmanager
def _timing_state() -> Iterator[None]:
    """cudnn autotuning on (convolution algorithms are tuned during the warm-up calls) and the
    caller's torch threads, both restored after."""
    threads, autotune = torch.get_num_threads(), torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.cudnn.benchmark = autotune


def time_modules(jobs: Sequence[tuple[torch.nn.Module, tuple[int, ...], BenchConfig]],
                 on_progress: Callable[[int, int], None] | None = None) -> list[TimingStats]:
    """Latency of one forward call of each job's module on a batch of its input shape (batch
    included). Jobs under the ``windows`` protocol take turns (see
    :func:`~scalesearch.measure.timing.lowest_window_median`); ``settle`` jobs are timed one after
    another until their medians settle. ``on_progress(done, total)`` counts timed turns."""
    for _, _, config in jobs:
        config.check_available()
    settle = [i for i, (_, _, c) in enumerate(jobs) if c.protocol == "settle"]
    turns = [i for i, (_, _, c) in enumerate(jobs) if c.protocol == "windows"]
    total, done = len(settle) + WINDOWS * len(turns), 0
    stats: list[TimingStats | None] = [None] * len(jobs)
    with _timing_state():
        runs = [_run(*job) for job in jobs]
        for i in settle:
            stats[i] = repeat_until_stable(runs[i], budget_s=jobs[i][2].budget_s)
            done += 1
            if on_progress:
                on_progress(done, total)
        if turns:
            windowed = lowest_window_median([runs[i] for i in turns], [jobs[i][2].budget_s for i in turns], WINDOWS,
                                            on_turn=None if on_progress is None
                                            else lambda n: on_progress(len(settle) + n, total))
            for i, s in zip(turns, windowed):
                stats[i] = s
    return stats


def time_module(module: torch.nn.Module, input_shape: tuple[int, ...], config: BenchConfig) -> TimingStats:
    """Latency of one forward call of ``module`` on a batch of ``input_shape`` (batch included)."""
    return time_modules([(module, input_shape, config)])[0]


def seeded_model(spec: NetworkSpec) -> torch.nn.Module:
    """``spec`` built with seed 0 (the same weights every time), leaving the caller's random state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build_model(spec)


def measure_all(jobs: Sequence[tuple[NetworkSpec, BenchConfig]], resolution: int | None = None,
                on_progress: Callable[[int, int], None] | None = None) -> list[LatencyResult]:
    """Build each job's network and measure its latency under its config, the ``windows`` jobs
    taking turns (:func:`time_modules`)."""
    sizes = [resolution or spec.resolution for spec, _ in jobs]
    stats = time_modules([(seeded_model(spec), (config.batch, spec.in_channels, size, size), config)
                          for (spec, config), size in zip(jobs, sizes)], on_progress)
    results = []
    for (spec, config), size, timing in zip(jobs, sizes, stats):
        c = analytic_count(spec, size)
        results.append(LatencyResult(model=spec.name, config=config, resolution=size, stats=timing, macs=c.macs,
                                     params=c.params, phi=spec.scaling.phi if spec.scaling else None))
    return results


def measure(spec: NetworkSpec, config: BenchConfig, resolution: int | None = None) -> LatencyResult:
    """Build ``spec`` and measure its latency under ``config``."""
    return measure_all([(spec, config)], resolution)[0]
