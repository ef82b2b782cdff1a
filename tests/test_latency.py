"""Latency measurement, statistics, the per-component predictor and `scalesearch bench`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from scalesearch.arch.io import resolve_spec, save_spec
from scalesearch.arch.spec import Head, MBConv, NetworkSpec, Stem
from scalesearch.cli import app
from scalesearch.errors import ExportError, UsageError
from scalesearch.export import export_onnx
from scalesearch.measure.environment import Interference, cpu_seconds
from scalesearch.measure.latency import (
    WINDOWS,
    BenchConfig,
    measure,
    onnxruntime_session,
    openvino_model,
    seeded_model,
    time_module,
)
from scalesearch.measure.predictor import LatencyTable, components, table_key
from scalesearch.measure.timing import TimingStats, lowest_window_median, repeat_until_stable

runner = CliRunner()
CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device on this machine (CI has none)")
FAST_CPU = BenchConfig(device="cpu", backend="onnxruntime", threads=1, budget_s=0.2)


def tiny_spec(name: str = "tiny", resolution: int = 32) -> NetworkSpec:
    return NetworkSpec(
        name=name, resolution=resolution, stem=Stem(out_channels=16),
        stages=(MBConv(out_channels=16, repeats=2, stride=1, kernel=3, expand_ratio=1, se_ratio=0.25),
                MBConv(out_channels=24, repeats=2, stride=2, kernel=5, expand_ratio=4)),
        head=Head(out_channels=64), num_classes=10,
    )


def test_timing_stats_from_known_samples():
    stats = TimingStats.from_samples([float(x) for x in range(1, 12)])  # 1..11 ms
    assert (stats.median_ms, stats.min_ms, stats.runs) == (6.0, 1.0, 11)
    assert (stats.p10_ms, stats.p90_ms, stats.iqr_ms) == pytest.approx((2.0, 10.0, 5.0))
    assert stats.cv == pytest.approx(3.3166 / 6.0, rel=1e-3)


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads /proc/stat (Linux)")
def test_interference_counts_cpu_time_of_other_processes():
    interference = Interference()
    busy = subprocess.Popen([sys.executable, "-c", "import time\nt = time.process_time()\n"
                             "while time.process_time() - t < 1.0: pass"])
    os.waitid(os.P_PID, busy.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped: not ours yet
    report = interference.report()
    busy.wait()
    assert report["other_processes_cpu_s"] >= 0.8 and report["wall_s"] >= 1.0 and report["steal_s"] >= 0
    # seconds of CPU, not clock ticks: no more than every core busy for the whole wall time
    assert report["other_processes_cpu_s"] <= report["wall_s"] * os.cpu_count() + 0.5


def test_busy_cpu_time_is_user_nice_system_and_interrupts_never_idle_iowait_or_steal():
    # /proc/stat's first line: user nice system idle iowait irq softirq steal guest guest_nice, in ticks
    assert cpu_seconds("cpu  100 20 30 1000 5 6 7 8 0 0", ticks=100) == pytest.approx((1.63, 0.08))
    assert cpu_seconds("cpu  0 0 0 5000 70 0 0 0 0 0", ticks=250) == (0.0, 0.0)


def test_timing_stats_summarise_their_samples_and_stay_as_measured():
    import dataclasses

    stats = TimingStats.from_samples([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (stats.median_ms, stats.min_ms, stats.runs, stats.windows) == (3.0, 1.0, 5, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.median_ms = 0.0  # a measurement is never edited after the fact


def test_warm_up_makes_at_least_its_calls_and_lasts_at_least_its_seconds():
    import time

    from scalesearch.measure.timing import _warm

    calls = []
    _warm(lambda: calls.append(1) or 0.0, seconds=0.0, calls=3)
    assert len(calls) == 3
    start = time.perf_counter()
    _warm(lambda: calls.append(1) or 0.0, seconds=0.05, calls=1)
    assert time.perf_counter() - start >= 0.05 and len(calls) > 4  # a lower bound: load only lengthens it


def test_repeat_until_stable_stops_early_on_a_steady_signal_and_at_max_runs():
    calls = []
    steady = repeat_until_stable(lambda: calls.append(1) or 2.0, budget_s=10, warmup_s=0, max_runs=1000,
                                 min_time_fraction=0)
    assert steady.runs == 30 and steady.median_ms == 2.0 and steady.cv == 0  # 3 chunks of 10, then stable
    values = iter(range(1, 10**6))
    drifting = repeat_until_stable(lambda: float(next(values)), budget_s=10, warmup_s=0, max_runs=100,
                                   min_time_fraction=0)
    assert drifting.runs == 100  # its median moves by more than 1% each chunk: never stable



def test_windows_take_turns_and_each_run_keeps_its_lowest_window_median():
    """Two runs taking turns; the first has a slow spell (3x) during its first window, as a busy
    neighbour would cause: its figure is the fast windows' median. With no time budget each run
    gets exactly 3 warm-up calls, then per window one untimed call and ``min_calls`` timed ones."""
    order: list[str] = []

    def run(name: str, ms: float, slow_until: int = 0):
        count = [0]

        def run_once() -> float:
            order.append(name)
            count[0] += 1
            return ms * (3 if count[0] <= slow_until else 1)
        return run_once

    a, b = lowest_window_median([run("a", 2.0, slow_until=8), run("b", 5.0)], [0.0, 0.0], windows=3, min_calls=4)
    assert (a.median_ms, b.median_ms, a.windows, b.windows) == (2.0, 5.0, 3, 3)
    turns = [name for i, name in enumerate(order) if i == 0 or order[i - 1] != name]
    assert turns == ["a", "b"] * 4 and len(order) == 2 * (3 + 3 * 5)  # warm-ups, then 3 turns each
    assert TimingStats.lowest_window([[3.0, 3.0, 9.0], [1.0, 8.0, 8.0], [4.0, 4.0, 4.0]]).median_ms == 3.0
    calls = []  # by default, 3 timed calls a window (after 3 warm-up calls, and one untimed call a window)
    (alone,) = lowest_window_median([lambda: calls.append(1) or 1.0], [0.0], windows=2)
    assert len(calls) == 3 + 2 * (1 + 3) and alone.windows == 2

@pytest.mark.parametrize("kwargs, words", [
    (dict(batch=0), "batch size must be a positive integer"),
    (dict(threads=0), "`threads` must be a positive integer"),
    (dict(precision="fp16"), "precision fp16 is not supported on cpu with onnxruntime"),
    (dict(precision="int4"), "unknown precision"),
    (dict(device="tpu"), "unknown device"),
    (dict(device="cuda", backend="onnxruntime"), "does not run on cuda"),
    (dict(mode="graph"), "needs `device` cuda"),
    (dict(budget_s=0), "time budget must be positive"),
])
def test_bench_config_rejects(kwargs: dict, words: str):
    with pytest.raises(UsageError, match=words):
        BenchConfig(**kwargs)


@pytest.mark.parametrize("backend, precision", [("onnxruntime", "fp32"), ("torch", "fp32"), ("torch", "bf16"),
                                               ("openvino", "fp32")])
def test_measure_on_cpu(backend: str, precision: str):
    if backend == "openvino":
        pytest.importorskip("openvino", reason="the 'openvino' extra is not installed (CI's 'test' extra has it)")
    config = BenchConfig(device="cpu", backend=backend, threads=1, precision=precision, batch=2, budget_s=0.2)
    result = measure(tiny_spec(), config)
    record = result.as_record()
    # At least min_calls (3) timed calls per window, however loaded the machine: a count of timed
    # runs above that floor depends on load, not on the code.
    assert record["runs"] >= 3 and record["windows"] == WINDOWS
    assert 0 < record["min_ms"] <= record["median_ms"] <= record["p90_ms"]
    assert (record["batch"], record["threads"], record["precision"]) == (2, 1, precision)
    assert record["macs"] > 0 and record["params"] > 0


def test_openvino_computes_what_onnxruntime_computes_on_b0(tmp_path):
    pytest.importorskip("openvino", reason="the 'openvino' extra is not installed (CI's 'test' extra has it)")
    spec = resolve_spec("efficientnet-b0")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0)).numpy()
    path = export_onnx(seeded_model(spec), torch.zeros(1, 3, 224, 224), tmp_path / "b0.onnx")
    (expected,) = onnxruntime_session(path, 2).run(None, {"input": x})
    got = openvino_model(path, x.shape, 2)(x)[0]
    assert expected.shape == got.shape == (2, 1000)
    # A freshly initialised B0's logits are tiny (~1e-14): compare relative to their scale.
    scale = float(np.abs(expected).max())
    assert scale > 0 and np.abs(expected - expected.mean()).max() > 0
    np.testing.assert_allclose(got / scale, expected / scale, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_openvino_missing_is_one_line_naming_the_extra(tmp_path):
    entry = "import sys; sys.modules['openvino'] = None; from scalesearch.launch import main; main()"
    proc = subprocess.run([sys.executable, "-c", entry, "bench", "efficientnet-b0", "--backend", "openvino"],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stderr) == (2, "error: --backend openvino needs OpenVINO Runtime, which is not "
                                                 "installed: pip install 'scalesearch[openvino]'\n")


class _FFT(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.fft2(x).abs()


def test_onnx_export_failure_names_the_operator():
    with pytest.raises(ExportError, match="fft"):
        time_module(_FFT(), (1, 3, 8, 8), FAST_CPU)


def test_components_cover_the_network_in_order():
    spec = tiny_spec()
    parts = components(spec)
    assert len(parts) == 1 + spec.num_blocks + 1
    assert parts[0].key.startswith("stem|") and parts[-1].key.startswith("head|")
    assert parts[1].key == parts[2].key  # identical repeated blocks share one table entry
    assert parts[3].input_shape == (16, 16, 16) and parts[4].input_shape == (24, 8, 8)


@pytest.mark.slow
def test_latency_table_fills_caches_predicts_and_calibrates(tmp_path: Path):
    table = LatencyTable(FAST_CPU, tmp_path)
    spec, other = tiny_spec(), tiny_spec("tiny-64", resolution=64)
    distinct = len({c.key for c in components(spec)})
    assert table.fill([spec]) == distinct
    predicted = table.predict(spec)
    assert predicted > 0
    reloaded = LatencyTable(FAST_CPU, tmp_path)  # from disk: nothing left to measure
    assert reloaded.missing([spec]) == [] and reloaded.predict(spec) == pytest.approx(predicted)
    assert reloaded.missing([other])  # another resolution means other components
    # raw: the components' sum, less the per-call overhead each standalone run paid but the whole
    # network pays once.
    parts = components(spec)
    overhead = reloaded.entries["overhead"] if "overhead" in reloaded.entries else None
    raw = sum(reloaded.entries[c.key] for c in parts) - (len(parts) - 1) * (overhead or 0.0)
    assert overhead is not None and reloaded.raw(spec) == pytest.approx(raw)
    fit = reloaded.calibrate([(spec, 1.0), (other, 3.0)])
    assert fit["networks"] == 2 and LatencyTable(FAST_CPU, tmp_path).calibration == fit
    # Relative least squares: argmin_s sum((s * raw / measured - 1)^2) = sum(q) / sum(q^2), q = raw / measured.
    q = [reloaded.raw(spec) / 1.0, reloaded.raw(other) / 3.0]
    assert fit["scale"] == pytest.approx(sum(q) / sum(v * v for v in q))
    assert reloaded.predict(other) == pytest.approx(fit["scale"] * reloaded.raw(other))
    assert "onnxruntime" in table.key and "-t1-" in table.key and "fp32" in table.key and "bs1-windows" in table.key
    assert table_key(BenchConfig(threads=2)) != table_key(FAST_CPU)
    assert table_key(BenchConfig(threads=1, protocol="settle")) != table_key(BenchConfig(threads=1))


@pytest.mark.slow
def test_the_per_call_overhead_is_measured_with_the_first_chunk(tmp_path: Path):
    table = LatencyTable(FAST_CPU, tmp_path)
    held = []  # whether the table held the overhead after each chunk
    table.fill([tiny_spec()], on_progress=lambda done, total: held.append("overhead" in table.entries), save_every=2)
    # under the load the first components were timed under, and saved for a fill stopped after one chunk
    assert len(held) >= 3 and all(held)


def test_bench_cli_json_and_report(tmp_path: Path):
    family = tmp_path / "family"
    result = runner.invoke(app, ["scale", "--base", str(save_spec(tiny_spec(), tmp_path / "t.yaml")), "--phi", "0-2",
                                 "--out", str(family)])
    assert result.exit_code == 0, result.output
    report = tmp_path / "report.md"
    result = runner.invoke(app, ["bench", str(family), "--threads", "1", "--batch", "1,2", "--budget", "0.1",
                                 "--report", str(report), "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert len(records) == 6 and [r["phi"] for r in records[::2]] == [0, 1, 2]
    assert all(r["protocol"] == "windows" and r["windows"] == 3 for r in records)
    keys = {"model", "device", "backend", "batch", "precision", "median_ms", "p90_ms", "cv", "runs", "macs", "params"}
    assert keys <= set(records[0]) and records[0]["environment"]["cpu"]
    text = report.read_text()
    assert "| tiny-phi2 | 2 |" in text and "report_latency_vs_phi.png" in text
    assert (tmp_path / "report_latency_vs_macs.png").stat().st_size > 1000
    assert (tmp_path / "report_latency_vs_phi.png").stat().st_size > 1000


@pytest.mark.parametrize("args, words", [
    (["bench", "nope"], "unknown base 'nope'"),
    (["bench", "efficientnet-b0", "--batch", "0"], "invalid batch size '0'"),
    (["bench", "efficientnet-b0", "--batch", "1,x"], "invalid batch size 'x'"),
    (["bench", "efficientnet-b0", "--threads", "0"], "threads must be a positive integer"),
    (["bench", "efficientnet-b0", "--precision", "fp16"], "precision fp16 is not supported on cpu with onnxruntime"),
    (["bench", "efficientnet-b0", "--mode", "graph"], "needs --device cuda"),
    (["latency-table", "build", "--samples", "0"], "--samples must be in [1, 10,000]"),
    (["latency-table", "build", "--space", "nope.yaml"], "search space not found"),
])
def test_bench_bad_input(args: list[str], words: str):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert words in line


@pytest.mark.skipif(CUDA, reason="checks the no-CUDA error; this machine has CUDA")
def test_cuda_without_a_gpu_is_one_clear_line():
    result = runner.invoke(app, ["bench", "efficientnet-b0", "--device", "cuda"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --device cuda: no CUDA device is available here " \
                                    "(torch.cuda.is_available() is False)"


@pytest.mark.slow
def test_latency_table_build_for_a_space_file(tmp_path: Path):
    base = save_spec(tiny_spec(), tmp_path / "base.yaml")
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"name": "tinyspace", "base": str(base), "choices": {
        "expand_ratio": [1, 3], "kernel": [3, 5], "se_ratio": [0.0], "width_mult": [1.0], "repeats_delta": [0]}}))
    result = runner.invoke(app, ["latency-table", "build", "--space", str(space), "--samples", "3", "--calibrate", "2",
                                 "--threads", "1", "--cache-dir", str(tmp_path / "cache"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["measured"] > 0 and summary["calibration"]["networks"] == 2
    stored = json.loads(Path(summary["table"]).read_text())
    assert len(stored["entries"]) == summary["entries"]
    again = runner.invoke(app, ["latency-table", "build", "--space", str(space), "--samples", "3", "--calibrate", "0",
                                "--threads", "1", "--cache-dir", str(tmp_path / "cache"), "--json"])
    assert json.loads(again.stdout)["measured"] == 0  # cached: nothing measured twice


@needs_cuda
@pytest.mark.parametrize("mode", ["eager", "graph"])
@pytest.mark.parametrize("precision", ["fp16", "bf16", "fp32"])
def test_cuda_latency(mode: str, precision: str):
    spec = tiny_spec(resolution=64)
    result = measure(spec, BenchConfig(device="cuda", backend="torch", precision=precision, mode=mode, batch=4,
                                       budget_s=0.2))
    assert result.stats.runs >= 20 and 0 < result.stats.median_ms < 1000


@needs_cuda
def test_cuda_bench_cli():
    result = runner.invoke(app, ["bench", "efficientnet-b0", "--device", "cuda", "--precision", "fp16", "--mode",
                                 "graph", "--budget", "0.3", "--json"])
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["device"] == "cuda" and record["environment"]["gpu"]


def test_settled_jobs_count_their_progress_one_by_one():
    from scalesearch.measure.latency import BenchConfig, time_modules

    config = BenchConfig(backend="torch", budget_s=0.05, protocol="settle", threads=1)
    jobs = [(torch.nn.Conv2d(3, 4, 3), (1, 3, 8, 8), config), (torch.nn.Identity(), (1, 3, 8, 8), config)]
    seen: list[tuple[int, int]] = []
    stats = time_modules(jobs, on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)] and all(s.runs >= 1 for s in stats)


def test_the_cache_defaults_to_the_users_cache_folder(monkeypatch, tmp_path):
    from scalesearch.measure.predictor import default_cache_dir

    monkeypatch.delenv("SCALESEARCH_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "scalesearch"
    monkeypatch.setenv("SCALESEARCH_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"


def test_a_timed_network_has_seed_0s_weights_and_leaves_the_callers_random_state_alone():
    from scalesearch.nn import build_model

    spec = resolve_spec("nas-bench-macro")
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    timed = seeded_model(spec).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(0)
    expected = build_model(spec).state_dict()
    assert all(torch.equal(timed[k], expected[k]) for k in expected)
