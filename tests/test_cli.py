"""The command line, end to end: JSON contracts, one-line errors with exit code 2, export."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torchvision
import yaml
from typer.testing import CliRunner

from scalesearch.arch.io import load_spec, resolve_spec, save_spec, spec_to_dict
from scalesearch.cli import app
from scalesearch.errors import UsageError
from scalesearch.nn import build_model

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_flops_json_keys_and_values():
    result = invoke("flops", "efficientnet-b0", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert {"macs", "params", "resolution", "counter"} <= set(record)
    assert (record["params"], record["resolution"], record["counter"]) == (5_288_548, 224, "analytic")
    assert record["macs"] == pytest.approx(0.386e9, rel=0.001)


def test_flops_fvcore_counter_resolution_and_target():
    result = invoke("flops", "mobilenet-v2", "--counter", "fvcore", "--resolution", "96", "--target", "400M", "--json")
    record = json.loads(result.stdout)
    assert (record["counter"], record["resolution"], record["target_macs"]) == ("fvcore", 96, 400_000_000)
    assert record["macs_to_target"] == pytest.approx(record["macs"] / 4e8)


def test_flops_table_names_units():
    result = invoke("flops", "resnet18")
    assert result.exit_code == 0
    assert "multiply-adds (MACs)" in result.stdout and "1,814,073,344" in result.stdout


@pytest.mark.parametrize("phi", range(8))
def test_scale_official_json_matches_torchvision(phi: int):
    result = invoke("scale", "--base", "efficientnet-b0", "--phi", str(phi), "--preset", "official", "--json")
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)["networks"]
    reference = getattr(torchvision.models, f"efficientnet_b{phi}")()
    assert record["params"] == sum(p.numel() for p in reference.parameters())
    assert record["resolution"] == [224, 240, 260, 300, 380, 456, 528, 600][phi]
    assert {"phi", "depth_mult", "width_mult", "resolution", "params", "macs", "spec_path"} <= set(record)


def test_scale_range_writes_specs_that_load(tmp_path: Path):
    result = invoke("scale", "--base", "efficientnet-b0", "--phi", "1-7", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)["networks"]
    assert [r["phi"] for r in records] == [1, 2, 3, 4, 5, 6, 7]
    for r in records:
        spec = load_spec(r["spec_path"])
        assert spec.scaling.phi == r["phi"] and spec.resolution == r["resolution"]
    macs = [r["macs"] for r in records]
    assert all(1.5 < b / a < 2.5 for a, b in zip(macs, macs[1:]))


def test_scale_accepts_a_spec_file_and_custom_coefficients(tmp_path: Path):
    path = save_spec(resolve_spec("mobilenet-v1"), tmp_path / "v1.json")
    result = invoke("scale", "--base", str(path), "--phi", "2", "--alpha", "1.1", "--beta", "1.2", "--gamma", "1.1",
                    "--json")
    document = json.loads(result.stdout)
    (record,) = document["networks"]
    assert document["coefficients"] == {"alpha": 1.1, "beta": 1.2, "gamma": 1.1}
    assert document["source"] == {"base": "given", "coefficients": "given"}
    assert record["depth_mult"] == pytest.approx(1.21) and record["width_mult"] == pytest.approx(1.44)
    assert record["spec_path"] is None


@pytest.mark.slow
def test_scale_bench_adds_measured_latency_and_writes_a_report(tmp_path: Path):
    result = invoke("scale", "--base", "mobilenet-v1", "--phi", "-4-0", "--bench", "cpu", "--out", str(tmp_path),
                    "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)["networks"]
    assert [r["phi"] for r in records] == [-4, -3, -2, -1, 0]
    assert all(r["latency_ms"] > 0 and (r["latency_device"], r["latency_backend"]) == ("cpu", "onnxruntime")
               for r in records)
    # Five networks spanning 12x in MACs: the largest is measurably slower than the smallest.
    assert records[-1]["macs"] > 10 * records[0]["macs"] and records[-1]["latency_ms"] > 2 * records[0]["latency_ms"]
    text = (tmp_path / "latency_report.md").read_text()
    assert all(f"| {r['name']} | 1 | fp32 |" in text for r in records)
    assert (tmp_path / "latency_report_latency_vs_phi.png").stat().st_size > 0
    table = invoke("scale", "--base", "mobilenet-v1", "--phi", "-4", "--bench", "cpu")
    assert table.exit_code == 0 and "latency ms" in table.stdout and "cpu/onnxruntime" in table.stdout


def _write_bad_spec(tmp_path: Path, **stage0) -> str:
    data = spec_to_dict(resolve_spec("efficientnet-b0"))
    data["stages"][0].update(stage0)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


BAD_INPUTS = [
    (["flops", "efficientnet-b9"], "unknown base 'efficientnet-b9': known bases are efficientnet-b0"),
    (["scale", "--base", "nope", "--phi", "1"], "unknown base 'nope'"),
    (["scale", "--base", "efficientnet-b0", "--phi", "-30"], "below the 32 px minimum"),
    (["scale", "--base", "efficientnet-b0", "--phi", "99"], "phi 99 is too large"),
    (["scale", "--base", "efficientnet-b0", "--phi", "7-1"], "descending"),
    (["scale", "--base", "efficientnet-b0", "--phi", "abc"], "invalid phi 'abc'"),
    (["scale", "--base", "efficientnet-b0", "--phi", "8", "--preset", "official"], "phi 0..7"),
    (["scale", "--base", "efficientnet-b0", "--phi", "1", "--gamma", "0.9"], "gamma must be a number >= 1"),
    (["scale", "--base", "efficientnet-b0", "--phi", "1", "--preset", "unofficial"], "Invalid value for '--preset'"),
    (["scale", "--base", "efficientnet-b0"], "Missing option '--phi'"),
    (["flops", "efficientnet-b0", "--target", "400X"], "invalid MACs quantity '400X'"),
    (["flops", "efficientnet-b0", "--target", "-5M"], "must be positive"),
    (["flops", "efficientnet-b0", "--target", "0"], "must be positive"),
    (["flops", "efficientnet-b0", "--resolution", "4"], "at least 16 px"),
    (["flops", "efficientnet-b0", "--resolution", "big"], "Invalid value for '--resolution'"),
    (["export", "efficientnet-b0", "--format", "tflite", "--out", "x"], "Invalid value for '--format'"),
    (["bogus-command"], "No such command"),
]


@pytest.mark.parametrize("args, words", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(args: list[str], words: str):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stage0, words", [
    ({"kernel": 4}, "stages[0].kernel: must be an odd kernel size"),
    ({"stride": 3}, "stages[0].stride: must be one of (1, 2), got 3"),
    ({"out_channels": -8}, "stages[0].out_channels: must be a positive integer, got -8"),
    ({"block": "transformer"}, "stages[0].block: unknown block kind 'transformer'"),
])
def test_bad_spec_file_names_file_and_field(tmp_path: Path, stage0: dict, words: str):
    path = _write_bad_spec(tmp_path, **stage0)
    result = invoke("flops", path)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}: {words}"), line


def test_missing_key_in_spec_file(tmp_path: Path):
    data = spec_to_dict(resolve_spec("efficientnet-b0"))
    del data["stem"]
    path = tmp_path / "nostem.json"
    path.write_text(json.dumps(data))
    result = invoke("scale", "--base", str(path), "--phi", "1")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {path}: stem: missing required key"


def _eager(spec_name: str, x: torch.Tensor) -> torch.Tensor:
    """What the exported model must compute: the same spec built from the same seed, in eval mode."""
    torch.manual_seed(0)
    with torch.inference_mode():
        return build_model(resolve_spec(spec_name)).eval()(x)


def test_export_onnx_computes_what_eager_does(tmp_path: Path):
    out = tmp_path / "v2.onnx"
    torch.manual_seed(0)  # export builds a fresh network: this seed makes its weights reproducible here
    result = invoke("export", "mobilenet-v2", "--format", "onnx", "--out", str(out), "--resolution", "64")
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((3, 3, 64, 64), dtype=np.float32)  # dynamic batch
    (logits,) = session.run(None, {"input": x})
    assert logits.shape == (3, 1000)
    np.testing.assert_allclose(logits, _eager("mobilenet-v2", torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-4)


def test_export_torchscript_computes_what_eager_does(tmp_path: Path):
    out = tmp_path / "r18.pt"
    torch.manual_seed(0)
    result = invoke("export", "resnet18", "--format", "torchscript", "--out", str(out), "--resolution", "32")
    assert result.exit_code == 0, result.output
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        exported = torch.jit.load(str(out))(x)
    torch.testing.assert_close(exported, _eager("resnet18", x), rtol=1e-5, atol=1e-5)


def test_export_to_a_directory_is_a_usage_error(tmp_path: Path):
    result = invoke("export", "resnet18", "--format", "onnx", "--out", str(tmp_path))
    assert result.exit_code == 2 and "is a directory" in result.stderr


def test_bases_lists_every_builtin():
    records = json.loads(invoke("bases", "--json").stdout)
    assert {r["model"] for r in records} >= {"efficientnet-b0", "resnet152", "mobilenet-v1"}


@pytest.mark.slow
def test_top_level_cli_py_behaves_like_the_app():
    args = ["flops", "resnet50", "--json"]
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(invoke(*args).stdout)
    bad = subprocess.run([sys.executable, str(ROOT / "cli.py"), "flops", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stdout == ""


@pytest.mark.slow
def test_console_script_is_installed():
    script = Path(sys.executable).parent / "scalesearch"
    if not script.exists():
        pytest.skip("scalesearch is not pip-installed in this interpreter's environment")
    proc = subprocess.run([str(script), "scale", "--base", "efficientnet-b0", "--phi", "1", "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["networks"][0]["resolution"] == 258


def test_an_unexpected_failure_is_one_line_unless_debugging(monkeypatch):
    import scalesearch.cli as cli

    def broken(name):  # stands for a bug in our own code, not a library mock
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli, "resolve_spec", broken)
    result = runner.invoke(app, ["flops", "efficientnet-b0"])
    assert result.exit_code == 1
    assert result.stderr == ("error: internal error: RuntimeError: boom (run with SCALESEARCH_DEBUG=1 for the "
                             "traceback, and please report it)\n")
    monkeypatch.setenv("SCALESEARCH_DEBUG", "1")
    debug = runner.invoke(app, ["flops", "efficientnet-b0"])
    assert isinstance(debug.exception, RuntimeError)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="watches /proc/PID/maps (Linux)")
def test_ctrl_c_while_the_libraries_load_is_one_line_and_exit_130():
    process = subprocess.Popen([sys.executable, "-m", "scalesearch", "bases"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    maps, deadline = Path(f"/proc/{process.pid}/maps"), time.time() + 60
    while "libtorch" not in maps.read_text() and time.time() < deadline:  # torch is loading
        time.sleep(0.005)
    process.send_signal(signal.SIGSTOP)  # however long this process waits for a core, the loading is not over
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr) == (130, "error: interrupted\n")


@pytest.mark.slow
def test_the_package_imports_without_torch_and_loads_each_name_on_use():
    code = ("import sys, scalesearch\n"
            "assert 'torch' not in sys.modules\n"
            "assert callable(scalesearch.build_model) and 'torch' in sys.modules\n"
            "assert set(scalesearch.__all__) <= set(dir(scalesearch))\n"
            "assert all(getattr(scalesearch, name) is not None for name in scalesearch.__all__)\n"
            "try:\n    scalesearch.no_such_name\nexcept AttributeError as err:\n    print(err)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "module 'scalesearch' has no attribute 'no_such_name'\n"


def test_the_library_names_parameters_and_the_command_line_names_flags(tmp_path: Path):
    from scalesearch.search.config import SearchConfig
    from scalesearch.search.objective import Objective
    from scalesearch.train.recipes import load_recipe

    with pytest.raises(UsageError, match=r"^`n_trials` must be >= 1, got 0$"):
        SearchConfig(objective=Objective(400e6, "MACs"), run_dir=tmp_path, study_name="s", n_trials=0)
    with pytest.raises(UsageError, match=r"^`batch_size`: must be a positive integer, got 0$"):
        load_recipe("proxy").override(batch_size=0)
    # One table at the border turns each parameter into its flag.
    assert invoke("find-base", "--flops", "400M", "--n-trials", "0").stderr == "error: --n-trials must be >= 1, got 0\n"
    assert invoke("train", "efficientnet-b0", "--data", "synthetic", "--batch", "0").stderr == (
        "error: --batch: must be a positive integer, got 0\n")
    assert invoke("train", "efficientnet-b0", "--data", "cifar10").stderr == (
        "error: --data cifar10 needs a folder: --data cifar10:DIR\n")
