"""Untrusted files, crashes at any moment, a full disk, odd numbers and odd environments: nothing a
user points the tool at executes, nothing finished is lost, nothing hangs, and every failure is one
line and an exit code (2 for bad input, 1 at run time, 130 for Ctrl-C, 143 for SIGTERM)."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pickle
import random
import resource
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import journal_study, journal_trials
from PIL import Image
from typer.testing import CliRunner

from scalesearch.arch.io import resolve_spec, save_spec, spec_to_dict
from scalesearch.cli import app
from scalesearch.errors import UsageError
from scalesearch.files import run_lock
from scalesearch.measure.latency import BenchConfig
from scalesearch.measure.predictor import LatencyTable
from scalesearch.train.data import load_data
from scalesearch.train.family import members_of, open_results
from scalesearch.train.recipes import load_recipe

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stderr


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) >= 1 and all(not line.startswith(("Traceback", "  File")) for line in lines), stderr
    return lines[-1]


# ------------------------------------------------------------------------------------- spec files

B0 = spec_to_dict(resolve_spec("efficientnet-b0"))


def with_changes(**changes) -> dict:
    spec = json.loads(json.dumps(B0))
    for path, value in changes.items():
        target = spec
        *parents, last = path.split("__")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[int(last) if isinstance(target, list) else last] = value
    return spec


SPEC_CASES = [
    # (file name, content (str: as is; dict/list: YAML), the line's start)
    ("binary.yaml", b"\x00\x01\xff\xfe" * 100, "error: {f}: not a text file"),
    ("empty.yaml", "", "error: {f}: must be a mapping, got None"),
    ("list.yaml", "- 1\n- 2\n", "error: {f}: must be a mapping, got [1, 2]"),
    ("scalar.json", "42", "error: {f}: must be a mapping, got 42"),
    ("nested.yaml", "a: " + "[" * 5000 + "]" * 5000, "error: {f}: not valid YAML"),
    ("nested.json", "{\"a\": " + "[" * 50000 + "]" * 50000 + "}", "error: {f}: not valid JSON"),
    ("bigint.yaml", "name: x\nresolution: " + "9" * 5000 + "\n", "error: {f}: not valid YAML"),
    ("bigint.json", "{\"name\": \"x\", \"resolution\": " + "9" * 5000 + "}", "error: {f}: not valid JSON"),
    ("bigint_field.json", json.dumps(with_changes(num_classes=10**100)), "error: {f}: num_classes: must be at most"),
    ("aliases.yaml", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
     "name: [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n", "error: {f}: a: unknown key"),
    ("alias_name.yaml", yaml.safe_dump(with_changes()).replace("name: efficientnet-b0", "name: &n [[1, 2], [3, 4]]"),
     "error: {f}: name: must be"),
    ("dup.yaml", "name: a\nname: b\n", "error: {f}: not valid YAML: the key 'name' appears twice"),
    ("dup.json", "{\"name\": \"a\", \"name\": \"b\"}", "error: {f}: not valid JSON: the key 'name' appears twice"),
    ("escape.yaml", with_changes(name="b0\x1b[2J\x1b[31m"), "error: {f}: name: must be printable"),
    ("longname.yaml", with_changes(name="x" * 500), "error: {f}: name: must be printable"),
    ("repeats.yaml", with_changes(stages__0__repeats=1_000_000_000),
     "error: {f}: stages[0].repeats: must be at most 256"),
    ("channels.yaml", with_changes(stages__1__out_channels=10**7),
     "error: {f}: stages[1].out_channels: must be at most"),
    ("stem.yaml", with_changes(stem__out_channels=10**6), "error: {f}: stem.out_channels: must be at most"),
    ("head.yaml", with_changes(head__out_channels=10**6), "error: {f}: head.out_channels: must be at most"),
    ("resolution.yaml", with_changes(resolution=100_000), "error: {f}: resolution: must be an integer in [16, 4096]"),
    ("classes.yaml", with_changes(num_classes=10**9), "error: {f}: num_classes: must be at most 100,000"),
    ("in_channels.yaml", with_changes(in_channels=0), "error: {f}: in_channels: must be a positive integer"),
    ("nan_dropout.yaml", with_changes(dropout=float("nan")), "error: {f}: dropout: must be in [0, 1)"),
    ("missing.yaml", "name: x\n", "error: {f}: resolution: missing required key"),
    ("kernel.yaml", with_changes(stages__2__kernel=4), "error: {f}: stages[2].kernel: must be an odd kernel size"),
    ("stride.yaml", with_changes(stages__2__stride=3), "error: {f}: stages[2].stride: must be one of"),
    ("expand.yaml", with_changes(stages__2__expand_ratio=1e9), "error: {f}: stages[2].expand_ratio: must be a number"),
    ("se.yaml", with_changes(stages__2__se_ratio=-1), "error: {f}: stages[2].se_ratio: must be in"),
    ("bool_int.yaml", with_changes(resolution=True), "error: {f}: resolution: must be an integer, got True"),
    ("str_int.yaml", with_changes(resolution="224"), "error: {f}: resolution: must be an integer, got '224'"),
    ("list_int.yaml", with_changes(resolution=[224]), "error: {f}: resolution: must be an integer, got [224]"),
    ("unknown.yaml", with_changes(colour="blue"), "error: {f}: colour: unknown key"),
    ("block.yaml", with_changes(stages__0__block="transformer"), "error: {f}: stages[0].block: unknown block kind"),
    ("activation.yaml", with_changes(activation="gelu\x07"), "error: {f}: activation: must be one of"),
    ("bn_eps.yaml", with_changes(bn_eps=float("inf")), "error: {f}: bn_eps: must be in (0, 1)"),
    ("nan_phi.yaml", with_changes(scaling={"base": "b0", "phi": float("nan"), "depth_mult": 1.0, "width_mult": 1.0,
                                           "resolution_mult": 1.0}), "error: {f}: scaling.phi: must be a number"),
    ("neg_mult.yaml", with_changes(scaling={"base": "b0", "phi": 1.0, "depth_mult": -2.0, "width_mult": 1.0,
                                            "resolution_mult": 1.0}), "error: {f}: scaling.depth_mult: must be"),
    ("inf_mult.yaml", with_changes(scaling={"base": "b0", "phi": 1.0, "depth_mult": 1.0, "width_mult": float("inf"),
                                            "resolution_mult": 1.0}), "error: {f}: scaling.width_mult: must be"),
    ("alpha.yaml", with_changes(scaling={"base": "b0", "phi": 1.0, "depth_mult": 1.0, "width_mult": 1.0,
                                         "resolution_mult": 1.0, "alpha": 100.0}),
     "error: {f}: scaling.alpha: must be"),
    ("suffix.txt", "name: x\n", "error: {f}: unsupported file type '.txt'"),
    ("neg_repeats.yaml", with_changes(stages__0__repeats=-1), "error: {f}: stages[0].repeats: must be a positive"),
    ("zero_channels.yaml", with_changes(stages__3__out_channels=0), "error: {f}: stages[3].out_channels: must be a"),
    ("float_repeats.yaml", with_changes(stages__0__repeats=1.5), "error: {f}: stages[0].repeats: must be an integer"),
    ("se_one.yaml", with_changes(stages__1__se_ratio=1.0), "error: {f}: stages[1].se_ratio: must be in [0, 1)"),
    ("dropout_one.yaml", with_changes(dropout=1.0), "error: {f}: dropout: must be in [0, 1)"),
    ("drop_path.yaml", with_changes(drop_path_rate=-0.1), "error: {f}: drop_path_rate: must be in [0, 1)"),
    ("bn_eps_zero.yaml", with_changes(bn_eps=0), "error: {f}: bn_eps: must be in (0, 1)"),
    ("stem_kernel.yaml", with_changes(stem__kernel=2), "error: {f}: stem.kernel: must be an odd kernel size"),
    ("stem_pool.yaml", with_changes(stem__pool="yes"), "error: {f}: stem.pool: must be true or false"),
    ("no_stages.yaml", with_changes(stages=[]), "error: {f}: stages: must be a non-empty list"),
    ("stage_scalar.yaml", with_changes(stages=[5]), "error: {f}: stages[0]: must be a mapping"),
    ("stages_map.yaml", with_changes(stages={"a": 1}), "error: {f}: stages: must be a list"),
    ("in_channels_big.yaml", with_changes(in_channels=10**6), "error: {f}: in_channels: must be at most 16,384"),
    ("name_number.yaml", with_changes(name=42), "error: {f}: name: must be a string, got 42"),
    ("name_blank.yaml", with_changes(name="   "), "error: {f}: name: must be a non-empty string"),
    ("resolution_zero.json", with_changes(resolution=0), "error: {f}: resolution: must be an integer in [16, 4096]"),
    ("expansion.yaml", yaml.safe_dump({**with_changes(), "stages": [{"block": "bottleneck", "out_channels": 30,
                                                                       "repeats": 1, "stride": 1, "expansion": 4}]}),
     "error: {f}: stages[0].out_channels: must be a multiple of expansion (4)"),
    ("tab.yaml", "name: x\n\tresolution: 3\n", "error: {f}: not valid YAML"),
    ("utf16.json", "\ufeff{}".encode("utf-16"), "error: {f}: not a text file"),
]


@pytest.mark.parametrize("name, content, expected", SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_a_hostile_spec_file_is_one_line_and_exit_2(name, content, expected, tmp_path):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    elif name.endswith(".json"):
        path.write_text(json.dumps(content))
    else:
        path.write_text(yaml.safe_dump(content))
    started = time.monotonic()
    code, stderr = run_cli("flops", str(path))
    assert time.monotonic() - started < 30  # nothing hangs
    assert code == 2, stderr
    line = one_line(stderr)
    assert line.startswith(expected.format(f=path)), line
    assert len(line) <= 1100 and "\x1b" not in line and "\x07" not in line


def test_a_spec_named_to_escape_its_folder_is_written_inside_it(tmp_path):
    for name in ("../../escaped", "/abs/escaped", "..", "a/../../b"):
        spec_path = save_spec(resolve_spec("mobilenet-v1").__class__(**{**resolve_spec("mobilenet-v1").__dict__,
                                                                          "name": name}), tmp_path / "in.yaml")
        out = tmp_path / "deep" / "out"
        code, stderr = run_cli("scale", "--base", str(spec_path), "--phi", "0-1", "--out", str(out))
        assert code == 0, stderr
        written = sorted(p for p in tmp_path.rglob("*.yaml") if p != spec_path)
        assert written and all(out in p.parents for p in written), written
        for p in written:
            p.unlink()
    assert not (tmp_path.parent / "escaped").exists() and not Path("/abs/escaped").exists()


# -------------------------------------------------------------------------------------- data files


class _Exploit:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def cifar_folder(tmp_path: Path, batch: object, raw: bytes | None = None) -> Path:
    folder = tmp_path / "cifar"
    folder.mkdir(exist_ok=True)
    (folder / "data_batch_1").write_bytes(raw if raw is not None else pickle.dumps(batch))
    return folder


def good_batch(n: int = 20, labels: list | None = None) -> dict:
    rng = np.random.default_rng(0)
    return {b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8),
            b"labels": labels if labels is not None else [int(x) for x in rng.integers(0, 10, n)]}


def test_a_crafted_cifar_pickle_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    folder = cifar_folder(tmp_path, {b"data": _Exploit(marker), b"labels": []})
    code, stderr = run_cli("train", "efficientnet-b0", "--data", f"cifar10:{folder}")
    assert code == 2 and not marker.exists()
    assert one_line(stderr) == (f"error: {folder / 'data_batch_1'}: not a CIFAR python batch (it asks for "
                                f"posix.system, which a data file never needs)")
    # Python's own pickle would have run it: the test's exploit is real.
    pickle.loads((folder / "data_batch_1").read_bytes())
    assert marker.exists()


DATA_CASES = [
    ("cifar-truncated", lambda: pickle.dumps(good_batch())[:500], "not a CIFAR python batch"),
    ("cifar-not-a-dict", lambda: pickle.dumps([1, 2, 3]), "not a CIFAR python batch (expected a dict, got list)"),
    ("cifar-no-labels", lambda: pickle.dumps({b"data": good_batch()[b"data"]}), "a CIFAR batch needs the keys"),
    ("cifar-wrong-shape", lambda: pickle.dumps({**good_batch(), b"data": np.zeros((20, 100), np.uint8)}),
     "'data' must be uint8 rows of 3072 pixels"),
    ("cifar-floats", lambda: pickle.dumps({**good_batch(), b"data": np.zeros((20, 3072), np.float32)}),
     "'data' must be uint8 rows of 3072 pixels"),
    ("cifar-count", lambda: pickle.dumps(good_batch(20, [1] * 19)), "20 images but 19 labels"),
    ("cifar-label-range", lambda: pickle.dumps(good_batch(20, [10] * 20)), "labels must be integers in [0, 10)"),
    ("cifar-negative-label", lambda: pickle.dumps(good_batch(20, [-1] * 20)), "labels must be integers in [0, 10)"),
    ("cifar-string-labels", lambda: pickle.dumps(good_batch(20, ["cat"] * 20)), "labels must be integers"),
    ("cifar-garbage", lambda: b"\x80\x04garbage" * 10, "not a CIFAR python batch"),
    ("cifar-empty", lambda: b"", "not a CIFAR python batch"),
    ("cifar-eval", lambda: b"cos\nsystem\n(S'true'\ntR.", "not a CIFAR python batch (it asks for os.system"),
]


@pytest.mark.parametrize("name, make, expected", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_a_broken_cifar_batch_is_one_line_naming_the_file(name, make, expected, tmp_path):
    folder = cifar_folder(tmp_path, None, raw=make())
    code, stderr = run_cli("train", "efficientnet-b0", "--data", f"cifar10:{folder}", "--epochs", "1")
    assert code == 2, stderr
    assert one_line(stderr).startswith(f"error: {folder / 'data_batch_1'}: {expected}"), stderr


def idx_bytes(shape: tuple[int, ...], data: bytes | None = None, dtype: int = 0x08) -> bytes:
    header = struct.pack(">HBB", 0, dtype, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    return header + (data if data is not None else bytes(int(np.prod(shape))))


def idx_folder(tmp_path: Path, images: bytes, labels: bytes, gz: bool = True) -> Path:
    folder = tmp_path / "idx"
    folder.mkdir(exist_ok=True)
    suffix = ".gz" if gz else ""
    for name, content in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        path = folder / f"{name}{suffix}"
        path.write_bytes(gzip.compress(content) if gz else content)
    return folder


IDX_CASES = [
    ("bad-magic", idx_bytes((20, 28, 28))[:2] + b"\x09\x03" + idx_bytes((20, 28, 28))[4:], idx_bytes((20,)),
     "train-images-idx3-ubyte.gz: not an IDX file of unsigned bytes"),
    ("truncated-images", idx_bytes((20, 28, 28))[:1000], idx_bytes((20,)),
     "train-images-idx3-ubyte.gz: the header says 20 x 28 x 28 bytes of data, but the file holds 984 (cut short"),
    ("padded-images", idx_bytes((20, 28, 28)) + b"extra", idx_bytes((20,)), "train-images-idx3-ubyte.gz: the header"),
    ("wrong-ndim", idx_bytes((20, 784)), idx_bytes((20,)),
     "train-images-idx3-ubyte.gz: expected 3 dimensions in the IDX header, got 2"),
    ("tiny-file", b"\x00\x00", idx_bytes((20,)), "train-images-idx3-ubyte.gz: not an IDX file (only 2 bytes)"),
    ("count-mismatch", idx_bytes((20, 28, 28)), idx_bytes((19,)), "holds 20 images but"),
    ("label-range", idx_bytes((20, 28, 28)), idx_bytes((20,), bytes([12] * 20)),
     "train-labels-idx1-ubyte.gz: labels must be in [0, 10), got 12"),
    ("huge-header", idx_bytes((20, 28, 28))[:4] + struct.pack(">3I", 2**31, 2**31, 2**31), idx_bytes((20,)),
     "train-images-idx3-ubyte.gz: the header says"),
]


@pytest.mark.parametrize("name, images, labels, expected", IDX_CASES, ids=[c[0] for c in IDX_CASES])
def test_a_broken_idx_file_is_one_line_naming_the_file(name, images, labels, expected, tmp_path):
    folder = idx_folder(tmp_path, images, labels)
    code, stderr = run_cli("train", "efficientnet-b0", "--data", f"fashion-mnist:{folder}", "--epochs", "1")
    assert code == 2, stderr
    assert one_line(stderr).startswith("error: ") and expected in stderr, stderr


def _truncate(stream: bytes) -> bytes:
    return stream[:30]


def _scramble(stream: bytes) -> bytes:  # the deflate data itself: zlib's own error, not gzip's OSError
    return stream[:20] + bytes(b ^ 0x55 for b in stream[20:-8]) + stream[-8:]


@pytest.mark.parametrize("damage", [_truncate, _scramble])
def test_a_corrupt_gzip_is_one_line(damage, tmp_path):
    pixels = (np.arange(20 * 28 * 28) % 251 // 7).astype(np.uint8).tobytes()  # compressible: a deflate stream
    folder = idx_folder(tmp_path, idx_bytes((20, 28, 28), pixels), idx_bytes((20,)))
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(damage(path.read_bytes()))
    code, stderr = run_cli("train", "efficientnet-b0", "--data", f"fashion-mnist:{folder}")
    assert code == 2 and one_line(stderr).startswith(f"error: {path}: cannot be read"), stderr


def image_folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / "img" / name).mkdir(parents=True, exist_ok=True)
        for i in range(4):
            pixels = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "img" / name / f"{i}.jpg")
    return tmp_path / "img"


def test_a_truncated_jpeg_names_the_file_not_the_dataloader(tmp_path, tiny_base):
    folder = image_folder(tmp_path)
    bad = folder / "a" / "0.jpg"
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) * 2 // 3])
    code, stderr = run_cli("train", str(tiny_base), "--data", f"imagefolder:{folder}", "--epochs", "1",
                           "--resolution", "16", "--batch", "4", "--run-dir", str(tmp_path / "run"))
    assert code == 2, stderr
    line = one_line(stderr)
    assert line.startswith(f"error: image file could not be decoded: {bad}: image file is truncated"), line
    assert "DataLoader" not in stderr


@pytest.mark.parametrize("size", [(9000, 9000), (20000, 20000)])
@pytest.mark.slow
def test_an_image_bomb_is_refused_before_it_is_decoded(size, tmp_path):
    folder = image_folder(tmp_path)
    Image.new("L", size).save(folder / "a" / "bomb.png", optimize=True)  # a few KB that claim 81M+ pixels
    started = time.monotonic()
    code, stderr = run_cli("train", "efficientnet-b0", "--data", f"imagefolder:{folder}")
    assert code == 2 and time.monotonic() - started < 60, stderr
    assert one_line(stderr).startswith(f"error: {folder / 'a' / 'bomb.png'}: "), stderr
    assert "over the limit of 67,108,864 pixels" in stderr


# ------------------------------------------------------------------------------- numbers and flags

FLAG_CASES = [
    (["scale", "--base", "efficientnet-b0", "--alpha", "1000", "--phi", "3"], 2,
     "error: alpha must be at most 4, got 1000.0 (EfficientNet's are 1.2, 1.1 and 1.15)"),
    (["scale", "--base", "efficientnet-b0", "--alpha", "nan", "--phi", "1"], 2, "error: alpha must be a number >= 1"),
    (["scale", "--base", "efficientnet-b0", "--beta", "inf", "--phi", "1"], 2, "error: beta must be a number >= 1"),
    (["scale", "--base", "efficientnet-b0", "--alpha", "4", "--phi", "16"], 2,
     "error: phi 16 gives efficientnet-b0 a depth multiplier of 4,294,967,296: at most 64"),
    (["scale", "--base", "efficientnet-b0", "--gamma", "4", "--phi", "3"], 2,
     "error: phi 3 scales efficientnet-b0's 224 px input to 14,336 px: at most 4096 px"),
    (["scale", "--base", "efficientnet-b0", "--phi", "nan"], 2, "error: invalid phi 'nan': must be a finite number"),
    (["scale", "--base", "efficientnet-b0", "--phi", "inf"], 2, "error: invalid phi 'inf': must be a finite number"),
    (["scale", "--base", "efficientnet-b0", "--phi", "1e400"], 2, "error: invalid phi '1e400'"),
    (["scale", "--base", "efficientnet-b0", "--phi", "0-99999999999"], 2, "error: phi 99999999999 is too large"),
    (["scale", "--base", "efficientnet-b0", "--phi", "1", "--alpha", "1.3", "--coefficients", "x.json"], 2,
     "error: give coefficients one way"),
    (["flops", "efficientnet-b0", "--resolution", "100000"], 2, "error: resolution must be at most 4096 px"),
    (["flops", "efficientnet-b0", "--resolution", "-5"], 2, "error: resolution must be at least 16 px"),
    (["flops", "efficientnet-b0", "--target", "1e400"], 2, "error: invalid MACs quantity"),
    (["flops", "efficientnet-b0", "--target", "-400M"], 2, "error: invalid MACs quantity"),
    (["export", "efficientnet-b0", "--format", "onnx", "--out", "x.onnx", "--resolution", "100000"], 2,
     "error: resolution must be at most 4096 px"),
    (["bench", "efficientnet-b0", "--threads", "10000"], 2, "error: --threads must be at most"),
    (["bench", "efficientnet-b0", "--batch", "1,,2"], 2, "error: invalid batch size ''"),
    (["bench", "efficientnet-b0", "--budget", "nan"], 2, "error: time budget must be positive"),
    (["compare-scaling", "--base", "efficientnet-b0", "--data", "synthetic", "--strategy", ",,"], 2,
     "error: --strategy names no strategy, got ',,'"),
    (["compare-scaling", "--base", "efficientnet-b0", "--data", "synthetic", "--flops-multiplier", "nan"], 2,
     "error: --flops-multiplier must be > 1, got nan"),
    (["find-base", "--flops", "1e400"], 2, "error: invalid MACs quantity"),
    (["find-base", "--latency", "0ms"], 2, "error: invalid latency '0ms'"),
    (["find-base", "--latency", "nanms"], 2, "error: invalid latency 'nanms'"),
    (["find-base", "--flops", "400M", "--reject-outside", "nan"], 2, "error: --reject-outside must be > 0"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--lr", "nan"], 2, "error: --lr: must be positive"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--lr", "inf"], 2, "error: --lr: must be positive"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--lr", "1e308"], 2, "error: --lr: must be at most 1e+30"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--resolution", "100000"], 2,
     "error: --resolution: must be an integer in [16, 4096] (pixels), got 100000"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--val-fraction", "nan"], 2, "error: --val-fraction"),
    (["grid", "--data", "synthetic", "--step", "nan"], 2, "error: --step must be in (0, 1], got nan"),
    (["grid", "--data", "synthetic", "--tolerance", "inf"], 2, "error: --tolerance must be in (0, 1)"),
    (["pipeline", "--flops", "400M", "--data", "synthetic", "--phi", "0-1", "--seeds", "0"], 2,
     "error: --seeds must be in [1, 1000], got 0"),
    (["pipeline", "--flops", "400M", "--data", "synthetic", "--phi", "0.5"], 2,
     "error: --phi must be whole numbers for a family"),
    (["self-train", "--data", "synthetic", "--labeled-fraction", "0.2", "--rounds", "100000"], 2,
     "error: --rounds 100000: must be in [1, 16]"),
    (["self-train", "--data", "synthetic", "--labeled-fraction", "0.2", "--rounds", "9", "--student-phi", "2"], 2,
     "error: the last round's student, at phi = --rounds 9 x --student-phi 2: phi 18 is too large: at most 16"),
    (["grid", "--data", "synthetic", "--step", "1e-9"], 2, "error: --step must be at least 0.01"),
    (["grid", "--data", "synthetic", "--workers", "99999999999999999999999"], 2,
     "error: --workers must be in [1, 256], got 99999999999999999999999"),
    (["find-base", "--flops", "400M", "--reject-outside", "inf"], 2,
     "error: --reject-outside must be > 0 and at most 10 (a fraction of the target), got inf"),
    (["latency-table", "build", "--seed", "-1"], 2, "error: --seed must be in [0, 2**32 - 1], got -1"),
    (["supernet", "train", "--data", "synthetic", "--seed", "99999999999999999999999"], 2,
     "error: --seed must be in [0, 2**32 - 1], got 99999999999999999999999"),
    (["grid", "--data", "synthetic", "--target-ratio", "1e9"], 2, "error: --target-ratio must be at most 16"),
    (["find-base", "--flops", "400M", "--n-trials", "-1"], 2, "error: --n-trials must be >= 1, got -1"),
    (["find-base", "--flops", "400M", "--final-epochs", "0"], 2, "error: --final-epochs must be >= 1, got 0"),
    (["find-base", "--flops", "400M400M"], 2, "error: invalid MACs quantity '400M400M'"),
    (["find-base", "--latency", "-5ms"], 2, "error: invalid latency '-5ms'"),
    (["find-base", "--flops", "400M", "--seed", "99999999999"], 2, "error: --seed must be in [0, 2**32 - 1]"),
    (["scale", "--base", "efficientnet-b0", "--phi", "1-"], 2, "error: invalid phi '1-'"),
    (["scale", "--base", "efficientnet-b0", "--phi", "--1"], 2, "error:"),
    (["scale", "--base", "efficientnet-b0", "--phi", "1", "--gamma", "0"], 2, "error: gamma must be a number >= 1"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--epochs", "-3"], 2,
     "error: --epochs: must be an integer in [1, 10,000]"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--seeds", "-1"], 2,
     "error: --seeds must be in [1, 1000], got -1"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--train-images", "-5"], 2,
     "error: --train-images must be >= 1, got -5"),
    (["train", "efficientnet-b0", "--data", ":"], 2, "error: unknown data kind ''"),
    (["train", "efficientnet-b0", "--data", "cifar10:"], 2, "error: --data cifar10 needs a folder"),
    (["bench", "efficientnet-b0", "--batch", "999999999999"], 2, "error: batch size must be at most 4096"),
    (["latency-table", "build", "--samples", "-1"], 2, "error: --samples must be in [1, 10,000]"),
    (["compare-scaling", "--base", "efficientnet-b0", "--data", "synthetic", "--flops-multiplier", "inf"], 2,
     "error: --flops-multiplier must be at most 256, got inf"),
    # Digits of other scripts: int() and float() take some ('٣') and break on others ('²').
    (["find-base", "--flops", "٣٠٠M"], 2, "error: invalid MACs quantity '٣٠٠M'"),
    (["bench", "efficientnet-b0", "--batch", "²"], 2, "error: invalid batch size '²'"),
    (["scale", "--base", "efficientnet-b0", "--phi", "٣"], 2, "error: invalid phi '٣'"),
    (["find-base", "--latency", "٣ms"], 2, "error: invalid latency '٣ms'"),
    # A batch of one image gives batch norm one value per channel (at a 1x1 map): refused, not a torch error.
    (["train", "efficientnet-b0", "--data", "synthetic", "--train-images", "1"], 2,
     "error: a training batch of 1 image per process leaves batch norm one value per channel"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--batch", "1"], 2,
     "error: a training batch of 1 image per process leaves batch norm one value per channel"),
    # Legal but absurd numbers that would make a run go on for ever are refused before any work.
    (["bench", "efficientnet-b0", "--budget", "inf"], 2, "error: time budget must be positive and at most 600 s"),
    (["bench", "efficientnet-b0", "--budget", "1e300"], 2, "error: time budget must be positive and at most 600 s"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--schedule", "1e308x"], 2,
     "error: --schedule must be at most 64x"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--epochs", "1000000000"], 2,
     "error: --epochs: must be an integer in [1, 10,000]"),
    (["latency-table", "build", "--samples", "1000000000"], 2, "error: --samples must be in [1, 10,000]"),
    (["latency-table", "build", "--samples", "1", "--calibrate", "1000000000"], 2,
     "error: --samples must be in [1, 10,000] and --calibrate in [0, 1,000]"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--first-seed", "99999999999999999999999"], 2,
     "error: --first-seed must be in [0, 2**32 - 1]"),
    (["train", "efficientnet-b0", "--data", "synthetic", "--seeds", "99999999999999999999999"], 2,
     "error: --seeds must be in [1, 1000]"),
]


@pytest.mark.parametrize("args, code, expected", FLAG_CASES, ids=[" ".join(c[0])[:60] for c in FLAG_CASES])
def test_numeric_edges_are_one_line(args, code, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got, stderr = run_cli(*args)
    assert got == code, stderr
    assert one_line(stderr).startswith(expected), stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("data", ["synthetic", "fashion-mnist"])
def test_a_one_channel_network_trains_and_scores_on_rgb_and_grayscale_data(data, tmp_path, tiny_base):
    if data == "fashion-mnist":
        from conftest import FASHION, require_fashion

        require_fashion()
        data = f"fashion-mnist:{FASHION}"
    spec = yaml.safe_load(tiny_base.read_text())
    spec["in_channels"] = 1
    path = tmp_path / "gray.yaml"
    path.write_text(yaml.safe_dump(spec))
    trained = runner.invoke(app, ["train", str(path), "--data", data, "--epochs", "1", "--resolution", "16",
                                  "--train-images", "128", "--run-dir", str(tmp_path / "run"), "--json"])
    assert trained.exit_code == 0, trained.output
    assert 0 <= json.loads(trained.stdout)["val_top1"] <= 1
    for metric in ("naswot", "zico", "zen", "synflow"):
        scored = runner.invoke(app, ["train", str(path), "--data", data, "--eval", "zero-cost", "--metric", metric,
                                     "--train-images", "128", "--json"])
        assert scored.exit_code == 0, scored.output


# ----------------------------------------------------------------------------------- study folders


def test_a_torn_journal_is_repaired_and_every_finished_trial_kept(tmp_path, tiny_space):
    run = tmp_path / "run"
    args = ["find-base", "--flops", "1.5M", "--reject-outside", "0.9", "--space", str(tiny_space), "--n-trials", "3",
            "--study", "t", "--run-dir", str(run), "--json"]
    assert runner.invoke(app, args).exit_code == 0
    before = [(t.number, t.state.name, t.value) for t in journal_study(run, "t").trials]
    path = run / "study.journal"
    path.write_bytes(path.read_bytes() + b'{"op_code": 4, "worker_id": "crashed", "study_')  # a crash mid-write
    more = runner.invoke(app, [*args[:8], "5", *args[9:]])
    assert more.exit_code == 0, more.output
    assert f"note: {path}: dropped a torn last record (46 bytes" in more.stderr
    after = journal_study(run, "t").trials
    assert [(t.number, t.state.name, t.value) for t in after[:len(before)]] == before
    assert json.loads(more.stdout)["n_trials"] == 5 and path.read_bytes().endswith(b"\n")


def test_a_corrupt_journal_line_is_named(tmp_path, tiny_space):
    run = tmp_path / "run"
    args = ["find-base", "--flops", "1.5M", "--reject-outside", "0.9", "--space", str(tiny_space), "--n-trials", "2",
            "--study", "c", "--run-dir", str(run)]
    assert runner.invoke(app, args).exit_code == 0
    path = run / "study.journal"
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"{not json"
    path.write_bytes(b"\n".join(lines))
    code, stderr = run_cli(*args)
    assert code == 2 and one_line(stderr).startswith(f"error: {path}: line 3 is not a journal record"), stderr


def test_grid_resumed_with_other_settings_is_refused(tmp_path, tiny_base):
    run = tmp_path / "grid"
    args = ["grid", "--base", str(tiny_base), "--data", "synthetic", "--step", "0.5", "--tolerance", "0.25",
            "--epochs", "1", "--resolution", "16", "--train-images", "128", "--run-dir", str(run), "--study", "g"]
    assert runner.invoke(app, args).exit_code == 0
    code, stderr = run_cli(*args[:-2], "--study", "g", "--seeds", "2")
    assert code == 2 and "was started with other settings (seeds)" in stderr


def test_train_into_a_folder_holding_another_run_is_refused(tmp_path, tiny_base):
    run = tmp_path / "run"
    args = ["train", str(tiny_base), "--data", "synthetic", "--epochs", "1", "--resolution", "16",
            "--train-images", "64", "--run-dir", str(run)]
    assert runner.invoke(app, args).exit_code == 0
    before = (run / "metrics.csv").read_text()
    code, stderr = run_cli("train", "mobilenet-v1", *args[2:])
    assert code == 2 and one_line(stderr) == (f"error: run folder {run} already holds a run of tiny-base with other "
                                               f"settings (network): use another run folder, or remove that one")
    assert (run / "metrics.csv").read_text() == before


@pytest.mark.parametrize("make, expected", [
    (lambda p: p.write_text("x"), "error: cannot use {p}/study.journal: Not a directory"),
    (lambda p: p.mkdir(mode=0o500), "error: cannot use {p}/study.journal: Permission denied"),
])
def test_a_run_folder_that_is_a_file_or_read_only_is_one_line(make, expected, tmp_path, tiny_space):
    if os.geteuid() == 0 and "Permission" in expected:
        pytest.skip("root ignores folder permissions")
    run = tmp_path / "run"
    make(run)
    code, stderr = run_cli("find-base", "--flops", "1.5M", "--reject-outside", "0.9", "--space", str(tiny_space),
                           "--n-trials", "1", "--run-dir", str(run))
    assert code == 1 and one_line(stderr).startswith(expected.format(p=run)[:40]), stderr


def test_a_run_folder_with_too_long_a_name_is_one_line(tmp_path, tiny_space):
    code, stderr = run_cli("find-base", "--flops", "1.5M", "--reject-outside", "0.9", "--space", str(tiny_space),
                           "--n-trials", "1", "--run-dir", str(tmp_path / ("x" * 300)))
    assert code == 1 and "File name too long" in one_line(stderr), stderr


@pytest.mark.parametrize("content", ["{not json", "[]", '{"settings": 3, "rows": []}', ""])
def test_a_broken_results_file_is_refused_not_overwritten(content, tmp_path, tiny_base):
    run = tmp_path / "cmp"
    run.mkdir()
    (run / "compare_scaling.json").write_text(content)
    code, stderr = run_cli("compare-scaling", "--base", str(tiny_base), "--data", "synthetic", "--run-dir", str(run))
    assert code == 2 and str(run / "compare_scaling.json") in one_line(stderr), stderr
    assert (run / "compare_scaling.json").read_text() == content


def _set_field(field, value):
    def edit(rows):
        rows["0/1"][field] = value
    return edit


def _drop_field(field):
    def edit(rows):
        del rows["0/1"][field]
    return edit


@pytest.mark.parametrize("edit, expected", [
    (_set_field("val_top1", "high"), "row '0/1': field 'val_top1' must be a number, got \"high\""),
    (_set_field("val_top1", None), "row '0/1': field 'val_top1' must be a number, got null"),
    (_set_field("round", True), "row '0/1': field 'round' must be an integer, got true"),
    (_drop_field("seed"), "row '0/1' has no field 'seed'"),
    (lambda rows: rows.update({"0/1": [0.5]}), "row '0/1' is not a mapping"),
], ids=["text-accuracy", "null-accuracy", "bool-round", "missing-seed", "list-row"])
def test_a_tampered_self_train_row_is_one_line_naming_file_row_and_field(edit, expected, tmp_path, tiny_base):
    run = tmp_path / "st"
    assert run_cli(*_self_train(tiny_base, run))[0] == 0
    path = run / "self_train.json"
    document = json.loads(path.read_text())
    edit(document["rows"])
    path.write_text(json.dumps(document))
    code, stderr = run_cli(*_self_train(tiny_base, run))
    assert code == 2 and one_line(stderr) == (f"error: {path}: {expected}; remove that row (it is made again) or "
                                              "the file, then run the same command"), stderr
    assert json.loads(path.read_text()) == document  # refused, not overwritten


def test_a_tampered_family_row_is_named_before_any_training(tmp_path):
    members = members_of([resolve_spec("efficientnet-b0")])
    data, recipe = load_data("synthetic", train_images=16), load_recipe("proxy")
    path = tmp_path / "family.json"
    open_results(path, members, data, recipe, [0])
    document = json.loads(path.read_text())
    document["rows"]["efficientnet-b0"]["per_seed"] = [0.5]
    path.write_text(json.dumps(document))
    with pytest.raises(UsageError, match=r"row 'efficientnet-b0': field 'per_seed' must be a mapping, got \[0.5\]"):
        open_results(path, members, data, recipe, [0])


@pytest.mark.parametrize("document, expected", [
    ({"alpha": float("nan"), "beta": 1.1, "gamma": 1.15}, "alpha must be a number >= 1"),
    ({"alpha": 1e300, "beta": 1.1, "gamma": 1.15}, "alpha must be at most 4"),
    ({"alpha": 0.5, "beta": 1.1, "gamma": 1.15}, "alpha must be a number >= 1"),
    ({"alpha": "1.2", "beta": 1.1, "gamma": 1.15}, "alpha must be a number >= 1"),
    ({"beta": 1.1, "gamma": 1.15}, "expected the keys alpha, beta and gamma"),
    ([1.2, 1.1, 1.15], "expected the keys alpha, beta and gamma"),
])
def test_a_tampered_coefficients_file_is_one_line(document, expected, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(document))
    code, stderr = run_cli("scale", "--base", "efficientnet-b0", "--phi", "1", "--coefficients", str(path))
    assert code == 2 and one_line(stderr).startswith(f"error: {path}: {expected}"), stderr


@pytest.mark.parametrize("content", ["{not json", '{"entries": {"x": "fast"}}', '{"entries": [1]}', "[]"])
@pytest.mark.slow
def test_a_corrupt_latency_cache_is_measured_afresh(content, tmp_path, tiny_space, monkeypatch):
    monkeypatch.setenv("SCALESEARCH_CACHE_DIR", str(tmp_path / "cache"))
    args = ["find-base", "--latency", "0.05ms", "--threads", "1", "--reject-outside", "0.99", "--space",
            str(tiny_space), "--n-trials", "1", "--run-dir", str(tmp_path / "run"), "--json"]
    assert runner.invoke(app, args).exit_code == 0
    (table,) = (tmp_path / "cache/latency").glob("*.json")
    table.write_text(content)
    result = runner.invoke(app, [*args[:-2], str(tmp_path / "run2"), "--json"])
    assert result.exit_code == 0, result.output
    assert f"note: latency table {table} is unreadable" in result.stderr
    assert json.loads(table.read_text())["entries"]  # measured again and saved


# ------------------------------------------------------------------------------ full disk and output


@pytest.mark.slow
def test_a_full_disk_leaves_the_previous_file_whole(tmp_path):
    out = tmp_path / "family"
    assert runner.invoke(app, ["scale", "--base", "efficientnet-b0", "--phi", "1", "--out", str(out)]).exit_code == 0
    (spec,) = out.glob("*.yaml")
    before = spec.read_text()

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write (EFBIG) instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    proc = subprocess.run([sys.executable, "-m", "scalesearch", "scale", "--base", "efficientnet-b0", "--phi", "1",
                           "--out", str(out)], capture_output=True, text=True, preexec_fn=small_disk, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr
    assert one_line(proc.stderr).startswith("error: cannot write ") and "File too large" in proc.stderr
    assert spec.read_text() == before and sorted(p.name for p in out.iterdir()) == [spec.name]


@pytest.mark.slow
def test_a_full_stdout_is_one_line(tmp_path):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "scalesearch", "bases", "--json"], stdout=full,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.returncode == 1
    assert proc.stderr == "error: cannot write the output: No space left on device (files written before are intact)\n"


@pytest.mark.slow
def test_a_closed_stdout_ends_quietly(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "scalesearch", "scale", "--base", "efficientnet-b0", "--phi",
                             "0-7", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()  # the reader went away (`| head -0`): exit 1 and no traceback, as Unix tools do
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "Traceback" not in stderr.decode() and "Exception" not in stderr.decode()


def test_a_command_started_with_stdout_closed_is_refused_before_any_work(tmp_path):
    # `scalesearch ... >&-`: Python starts with sys.stdout None; every result printed would be lost
    proc = subprocess.run(["sh", "-c", f"'{sys.executable}' -m scalesearch scale --phi 1 --out '{tmp_path}/out' >&-"],
                          stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("error: standard output is closed: redirect it")
    assert len(proc.stderr.splitlines()) == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("env", [{"HOME": "/nonexistent"}, {"TERM": "dumb"}, {"LANG": "C", "LC_ALL": "C"},
                                 {"COLUMNS": "20"}, {"SCALESEARCH_CACHE_DIR": "/dev/null/x"}])
@pytest.mark.slow
def test_odd_environments_still_work(env, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "scalesearch", "flops", "efficientnet-b0", "--json"],
                          capture_output=True, text=True, cwd=tmp_path, env={**os.environ, **env})
    assert proc.returncode == 0 and json.loads(proc.stdout)["macs"] == 385814752, proc.stderr


def test_json_output_is_strict():
    result = runner.invoke(app, ["scale", "--base", "efficientnet-b0", "--phi", "0-2", "--json"])
    json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


# ----------------------------------------------------------------------------------------- signals


def _wait_for(predicate, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("the command did not get going")


def _signal_while_held(process: subprocess.Popen, sig: int, unfinished) -> None:
    """Send ``sig`` while ``process`` is held (SIGSTOP), once ``unfinished()`` has shown that its
    run is not over: the signal lands mid-run however slow or busy the machine."""
    process.send_signal(signal.SIGSTOP)
    try:
        assert process.poll() is None and unfinished(), "the run ended before the chosen moment"
        process.send_signal(sig)
    finally:
        process.send_signal(signal.SIGCONT)


@pytest.mark.parametrize("sig, code, line", [(signal.SIGINT, 130, "error: interrupted"),
                                             (signal.SIGTERM, 143, "error: terminated (SIGTERM)")])
@pytest.mark.slow
def test_find_base_stopped_at_a_random_moment_resumes_with_exact_counts(sig, code, line, tmp_path, tiny_search):
    run = tmp_path / "run"
    args = tiny_search(6, "--train-images", "768", "--pruner", "none", "--sampler", "random", "--study", "s",
                       "--run-dir", str(run), "--json", epochs=3)
    process = subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    rng = random.Random(int(sig))
    after = rng.randint(1, 3)  # a random moment of the search: after 1 to 3 of its 6 evaluations, plus up to 0.5 s

    def scored() -> int:
        return sum(t.state.name == "COMPLETE" and "slot" in t.user_attrs for t in journal_trials(run, "s"))
    _wait_for(lambda: scored() >= after)
    time.sleep(rng.uniform(0.0, 0.5))
    _signal_while_held(process, sig, lambda: scored() < 6)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code and stderr.strip().splitlines()[-1] == line
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    trials = journal_study(run, "s").trials
    evaluated = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED", "FAIL") and "rejected" not in t.user_attrs
                 and "surplus" not in t.user_attrs and "slot" in t.user_attrs
                 and t.number not in {r.user_attrs["retry_of"] for r in trials if "retry_of" in r.user_attrs}]
    assert summary["n_trials"] == len(evaluated) == 6
    # A failure that counts failed on its own account, with its reason; one the signal cut short was retried.
    assert all("fail_reason" in t.user_attrs for t in evaluated if t.state.name == "FAIL")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.slow
def test_grid_stopped_at_a_random_moment_resumes_with_exact_counts(sig, code, tmp_path, tiny_base):
    run = tmp_path / "grid"
    args = ["grid", "--base", str(tiny_base), "--data", "synthetic", "--step", "0.5", "--tolerance", "0.25",
            "--epochs", "3", "--resolution", "16", "--train-images", "768", "--run-dir", str(run), "--study", "g",
            "--json"]
    process = subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    def trained() -> int:
        return sum(t.state.name == "COMPLETE" for t in journal_trials(run, "g"))
    _wait_for(lambda: trained() >= 1)
    time.sleep(random.Random(int(sig)).uniform(0.0, 0.3))  # a random moment of the grid, after its first point
    _signal_while_held(process, sig, lambda: trained() < 5)  # 5 feasible points
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads((run / "coefficients.json").read_text())
    # Every feasible point trained exactly once, none left failed by the interruption.
    assert len(document["points"]) == document["n_feasible"] == 5
    assert all(p["val_top1"] is not None for p in document["points"])
    assert len({(p["alpha"], p["beta"], p["gamma"]) for p in document["points"]}) == document["n_feasible"]


def _running_in(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_sigint_to_the_main_process_alone_reaches_its_workers_and_the_search_resumes(tmp_path, tiny_search):
    """`kill -INT PID` of the main process only (not the terminal's Ctrl-C, which reaches every process
    of the group): the worker process abandons its trial as the main process does, nothing waits for
    ever, no lock is left, and the same command goes on."""
    run = tmp_path / "run"
    # 12 evaluations (of the ~16 networks in the window) of 5 epochs: the main process alone would take
    # longer than the worker's start (seconds of imports).
    args = tiny_search(12, "--train-images", "768", "--pruner", "none", "--sampler", "random", "--workers", "2",
                       "--study", "w", "--run-dir", str(run), "--json", epochs=5)
    process = subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    main = f"{socket.gethostname()}:{process.pid}"

    def evaluating_worker() -> int | None:
        # A trial with its result recorded may be in Optuna's own tell, where Ctrl-C is not the trial's
        # to handle (resume fails it as died mid-trial): only a trial still evaluating is held.
        busy = [t for t in journal_trials(run, "w") if t.state.name == "RUNNING" and "slot" in t.user_attrs
                and "val_top1" not in t.user_attrs and t.user_attrs.get("worker", main) != main]
        return int(busy[0].user_attrs["worker"].rpartition(":")[2]) if busy else None

    try:
        while True:
            _wait_for(lambda: evaluating_worker() is not None)
            worker = evaluating_worker()
            os.kill(worker, signal.SIGSTOP)  # held mid-evaluation until the main process has passed the signal on
            if evaluating_worker() == worker:
                break
            os.kill(worker, signal.SIGCONT)
        process.send_signal(signal.SIGINT)
        time.sleep(2.0)
        os.kill(worker, signal.SIGCONT)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130 and stderr.strip().splitlines()[-1] == "error: interrupted", stderr
    assert not _running_in(worker) and not Path(f"{run / 'study.journal'}.lock").exists()
    trials = journal_study(run, "w").trials
    # Only a bare trial may be left running: Ctrl-C inside Optuna's own `ask`, before any code of ours
    # runs, leaves one (no params, no worker); it never counts, and the resumed workers pass it over
    # (test_find_base's undeclared-trial test). The held worker recorded its trial rather than being killed.
    running = [t for t in trials if t.state.name == "RUNNING"]
    assert all(not t.params and not t.user_attrs for t in running), running
    held = [(t.number, t.state.name, t.user_attrs) for t in trials
            if t.user_attrs.get("worker", "").endswith(f":{worker}")]
    assert any(attrs.get("fail_reason") == "interrupted (Ctrl-C)" for _, _, attrs in held), held
    assert all(state != "RUNNING" for _, state, _ in held), held
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_trials"] == 12


# Writes never replace what is not a regular file, and every destination is checked before any work.
DESTINATION_CASES = [
    ("bench-report-fifo", lambda p: os.mkfifo(p / "report.md"),
     ["bench", "efficientnet-b0", "--budget", "70", "--report", "{p}/report.md"], 2,
     "error: {p}/report.md is a FIFO, not a regular file: the latency report is written only to a regular file"),
    ("bench-plot-is-a-folder", lambda p: (p / "r_latency_vs_macs.png").mkdir(),
     ["bench", "efficientnet-b0", "--budget", "70", "--report", "{p}/r.md"], 2,
     "error: {p}/r_latency_vs_macs.png is a folder, not a regular file"),
    ("export-out-fifo", lambda p: os.mkfifo(p / "b0.onnx"),
     ["export", "efficientnet-b0", "--format", "onnx", "--out", "{p}/b0.onnx"], 2,
     "error: {p}/b0.onnx is a FIFO, not a regular file: the exported model"),
    ("latency-cache-under-a-file", lambda p: (p / "cache").write_text("mine"),
     ["latency-table", "build", "--samples", "1000", "--calibrate", "0", "--cache-dir", "{p}/cache"], 2,
     "error: {p}/cache/latency/"),
    ("scale-out-is-a-file", lambda p: (p / "family").write_text("mine"),
     ["scale", "--base", "efficientnet-b0", "--phi", "1", "--out", "{p}/family"], 2,
     "error: {p}/family is a file, not a folder: give a folder for the scaled specs"),
]


@pytest.mark.parametrize("name, make, args, code, expected", DESTINATION_CASES, ids=[c[0] for c in DESTINATION_CASES])
def test_a_destination_that_cannot_take_the_output_is_refused_before_any_work(name, make, args, code, expected,
                                                                               tmp_path):
    make(tmp_path)
    before = {p.name: p.lstat().st_mode for p in tmp_path.iterdir()}
    started = time.monotonic()
    got, stderr = run_cli(*(a.format(p=tmp_path) for a in args))
    assert time.monotonic() - started < 60  # refused up front: the budgets above would take minutes
    assert got == code and one_line(stderr).startswith(expected.format(p=tmp_path)), stderr
    assert {p.name: p.lstat().st_mode for p in tmp_path.iterdir()} == before  # nothing replaced, nothing added


def test_a_run_folder_holding_a_device_node_is_refused(tmp_path):
    """Every kind of special entry but a folder is refused in a run folder, a device node included."""
    from scalesearch.files import refuse_special_entries

    (tmp_path / "inner").mkdir()
    refuse_special_entries(tmp_path)  # a folder is fine
    try:
        os.mknod(tmp_path / "metrics.csv", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # what /dev/null is
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD (root)")
    with pytest.raises(UsageError, match="metrics.csv is a character device, not a regular file: a run folder"):
        refuse_special_entries(tmp_path)


def test_an_atomic_write_never_replaces_a_device_or_a_fifo(tmp_path):
    from scalesearch.files import write_atomic

    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UsageError, match="is a FIFO, not a regular file"):
        write_atomic(tmp_path / "pipe", "x")
    assert (tmp_path / "pipe").is_fifo() and [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temp file left
    if os.access("/dev/null", os.W_OK):
        with pytest.raises(UsageError, match="/dev/null is a character device"):
            write_atomic(Path("/dev/null"), "x")
        assert Path("/dev/null").is_char_device()
    (tmp_path / "kept").write_text("old")
    write_atomic(tmp_path / "kept", "new")  # a regular file is still replaced, atomically
    assert (tmp_path / "kept").read_text() == "new"


def test_a_latency_table_whose_cache_cannot_be_written_measures_nothing(tmp_path):
    from scalesearch.measure.latency import BenchConfig
    from scalesearch.measure.predictor import LatencyTable

    (tmp_path / "cache").write_text("mine")
    table = LatencyTable(BenchConfig(threads=1, budget_s=0.05), tmp_path / "cache")
    with pytest.raises(UsageError, match="cache is a file, not a folder"):
        table.fill([resolve_spec("mobilenet-v2")])
    assert table.entries == {}  # refused before the first measurement, not after a chunk of them


def _journal_search(run: Path, tiny_space: Path, n_trials: int, study: str) -> list[str]:
    return ["find-base", "--flops", "1.5M", "--reject-outside", "0.9", "--space", str(tiny_space), "--n-trials",
            str(n_trials), "--study", study, "--run-dir", str(run), "--json"]


@pytest.mark.slow
def test_a_complete_last_journal_record_without_its_line_end_is_kept(tmp_path, tiny_space):
    run = tmp_path / "run"
    assert runner.invoke(app, _journal_search(run, tiny_space, 3, "n")).exit_code == 0
    path = run / "study.journal"
    data = path.read_bytes()
    before = [(t.number, t.state.name, t.value) for t in journal_study(run, "n").trials]
    path.write_bytes(data[:-1])  # the last record whole, its newline lost (the last trial's completion)
    # In a process with a deadline: dropping that record left its trial running forever, and the resume hung.
    more = subprocess.run([sys.executable, "-m", "scalesearch", *_journal_search(run, tiny_space, 3, "n")],
                          capture_output=True, text=True, timeout=300)
    assert more.returncode == 0, more.stderr[-2000:]
    assert "its last record was complete but lacked its line end; added it" in more.stderr
    assert path.read_bytes().startswith(data)  # nothing dropped
    assert [(t.number, t.state.name, t.value) for t in journal_study(run, "n").trials][:len(before)] == before


def test_a_journal_that_is_a_link_out_of_the_run_folder_is_refused_and_its_target_untouched(tmp_path, tiny_space):
    elsewhere = tmp_path / "precious.txt"
    elsewhere.write_text("not a journal\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "study.journal").symlink_to(elsewhere)
    code, stderr = run_cli(*_journal_search(run, tiny_space, 1, "l"))
    assert code == 2 and one_line(stderr).startswith(f"error: {run / 'study.journal'} is a symbolic link (to "
                                                     f"{elsewhere}): a study journal is a file of its run folder")
    assert elsewhere.read_text() == "not a journal\n"


@pytest.mark.slow
def test_a_stale_journal_lock_that_leads_nowhere_is_broken_and_the_study_resumes(tmp_path, tiny_space, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = Path("runs/s")  # relative, as users give it: older versions made the lock's link relative too
    assert runner.invoke(app, _journal_search(run, tiny_space, 2, "s")).exit_code == 0
    lock = run / "study.journal.lock"
    lock.symlink_to(run / "study.journal")  # resolved from inside the run folder: runs/s/runs/s/... (nothing)
    os.utime(lock, (time.time() - 120, time.time() - 120), follow_symlinks=False)  # its writer died 2 min ago
    done = subprocess.run([sys.executable, "-m", "scalesearch", *_journal_search(run, tiny_space, 3, "s")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "removed a lock left by a writer that is gone" in done.stderr and not os.path.lexists(lock)
    assert json.loads(done.stdout)["n_trials"] == 3


@pytest.mark.slow
def test_a_second_run_on_a_live_run_folder_is_refused_naming_the_first(tmp_path, tiny_base):
    run = tmp_path / "run"
    args = ["train", str(tiny_base), "--data", "synthetic", "--train-images", "512", "--epochs", "6", "--resolution",
            "16", "--run-dir", str(run), "--json"]
    first = subprocess.Popen([sys.executable, "-m", "scalesearch", *args], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    lock = run / ".lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and f"pid {first.pid}" in lock.read_text()):
        assert time.monotonic() < deadline and first.poll() is None, "the first run never took its run folder"
        time.sleep(0.05)
    first.send_signal(signal.SIGSTOP)  # held mid-run, whatever the machine's speed
    try:
        code, stderr = run_cli(*args)  # the same command again, while the first trains
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert code == 2 and one_line(stderr).startswith(
        f"error: run folder {run} is in use by scalesearch pid {first.pid} on "), stderr
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 6  # each epoch written once
    again = run_cli(*args)  # the lock went with its process: the finished run is found again, not refused
    assert again[0] == 0, again[1]


def _self_train(tiny_base: Path, run: Path) -> list[str]:
    return ["self-train", "--data", "synthetic", "--labeled-fraction", "0.2", "--teacher-spec", str(tiny_base),
            "--train-images", "64", "--epochs", "1", "--student-phi", "0", "--threshold", "0", "--run-dir", str(run)]


def _pipeline(tiny_base: Path, run: Path) -> list[str]:
    return ["pipeline", "--flops", "400M", "--data", "synthetic", "--phi", "0-1", "--train-images", "64",
            "--run-dir", str(run)]


def _compare_scaling(tiny_base: Path, run: Path) -> list[str]:
    return ["compare-scaling", "--base", str(tiny_base), "--data", "synthetic", "--train-images", "64", "--run-dir",
            str(run)]


@pytest.mark.parametrize("command", [_self_train, _pipeline, _compare_scaling],
                         ids=["self-train", "pipeline", "compare-scaling"])
def test_a_run_folder_in_use_is_refused_naming_the_process_that_holds_it(command, tmp_path, tiny_base):
    run = tmp_path / "run"
    run.mkdir()
    with run_lock(run):  # another open of the lock file: flock refuses it in this process too
        code, stderr = run_cli(*command(tiny_base, run))
    assert code == 2 and one_line(stderr) == (f"error: run folder {run} is in use by scalesearch pid {os.getpid()} "
                                              f"on {socket.gethostname()}: wait for it to end, or use another run "
                                              "folder"), stderr
    assert sorted(p.name for p in run.iterdir()) == [".lock"]


@pytest.mark.parametrize("command, link", [(_self_train, "round-0"), (_pipeline, "find-base")],
                         ids=["self-train-round", "pipeline-stage"])
def test_a_folder_of_a_run_folder_that_is_a_link_is_refused_and_its_target_untouched(command, link, tmp_path,
                                                                                     tiny_base):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "seed-0/teacher").mkdir(parents=True)
    (elsewhere / "seed-0/teacher/keep.txt").write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / link).symlink_to(elsewhere)
    code, stderr = run_cli(*command(tiny_base, run))
    assert code == 2 and one_line(stderr).startswith(f"error: {run / link} is a symbolic link (to {elsewhere}): a "
                                                     "folder of the run folder"), stderr
    assert [str(p.relative_to(elsewhere)) for p in sorted(elsewhere.rglob("*"))] == [
        "seed-0", "seed-0/teacher", "seed-0/teacher/keep.txt"]
    assert (elsewhere / "seed-0/teacher/keep.txt").read_text() == "precious"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_base) -> tuple[Path, list[str]]:
    """A finished one-epoch `train` run folder, and the command that made it (less --run-dir)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    args = ["train", str(tiny_base), "--data", "synthetic", "--train-images", "64", "--epochs", "1",
            "--resolution", "16"]
    code, stderr = run_cli(*args, "--run-dir", str(run))
    assert code == 0, stderr
    return run, args


@contextlib.contextmanager
def _deadline(seconds: int):
    """Fail, rather than hang the suite, when a regression reads a FIFO (SIGALRM interrupts the read)."""
    def expire(_signum, _frame):
        raise AssertionError(f"still running after {seconds} s: a FIFO was read")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _fifo(name):
    def make(run: Path) -> None:
        (run / name).unlink(missing_ok=True)
        os.mkfifo(run / name)
    return make


def _write(name, content: bytes):
    def make(run: Path) -> None:
        (run / name).write_bytes(content)
    return make


@pytest.mark.parametrize("damage, expected", [
    (_fifo("recipe.json"), "recipe.json is a FIFO, not a regular file: a run folder holds only its own files"),
    (_fifo("metrics.csv"), "metrics.csv is a FIFO, not a regular file"),
    (_fifo(".lock"), ".lock is a FIFO, not a regular file"),
    (_write("metrics.csv", b"seed,epoch\n\xff\n"), "metrics.csv: not a metrics file this run can go on from "
                                                     "('utf-8' codec can't decode"),
    (_write("metrics.csv", b"seed,epoch,train_loss,val_top1,img_per_s,lr\n0,abc,1,1,1,1\n"),
     "metrics.csv: not a metrics file this run can go on from (invalid literal for int()"),
    (_write("metrics.csv", b"a,b\n1,2\n"), "metrics.csv: not a metrics file this run can go on from (its columns "
                                             "are a, b)"),
    (_write("recipe.json", b"[" * 100000), "already holds a run of tiny-base with other settings (recipe)"),
], ids=["fifo-recipe", "fifo-metrics", "fifo-lock", "metrics-bytes", "metrics-text", "metrics-columns",
        "deep-recipe"])
def test_a_run_folder_read_back_is_checked_like_input_and_never_blocks(damage, expected, finished_run, tmp_path):
    source, args = finished_run
    run = tmp_path / "run"
    shutil.copytree(source, run)
    damage(run)
    with _deadline(120):
        code, stderr = run_cli(*args, "--run-dir", str(run))
    assert code == 2 and expected in one_line(stderr), stderr


def test_an_init_folder_holding_a_fifo_is_refused_not_read(finished_run, tmp_path, tiny_base):
    source, args = finished_run
    init = tmp_path / "init"
    shutil.copytree(source, init)
    _fifo("seed0_last.pt")(init)
    with _deadline(120):
        code, stderr = run_cli(*args, "--init", str(init), "--run-dir", str(tmp_path / "new"))
    assert code == 2 and one_line(stderr).startswith(f"error: {init / 'seed0_last.pt'} is a FIFO"), stderr


def test_a_latency_table_that_is_a_fifo_is_refused_not_read(tmp_path):
    config = BenchConfig(threads=1)
    path = LatencyTable(config, tmp_path).path
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    with _deadline(60), pytest.raises(UsageError, match="is not a regular file: remove it \\(it is measured again\\)"):
        LatencyTable(config, tmp_path)  # reading the FIFO would have blocked for ever


def test_a_last_batch_of_one_image_is_left_out_of_batch_norm_re_estimation(tmp_path):
    """9 training images in batches of 8: the re-estimation's last batch would hold one image, which
    at B0's 1x1 last feature maps gives batch norm one value per channel (a torch error before)."""
    code, stderr = run_cli("train", "efficientnet-b0", "--data", "synthetic", "--train-images", "9", "--batch", "8",
                           "--epochs", "1", "--resolution", "16", "--run-dir", str(tmp_path / "run"), "--json")
    assert code == 0, stderr


def test_a_checkpoint_of_another_norm_names_the_norm_and_a_fifo_is_not_read(tmp_path, tiny_base):
    common = ["--data", "synthetic", "--train-images", "16", "--batch", "8", "--epochs", "1", "--resolution", "16"]
    for norm in ("group", "batch"):
        code, stderr = run_cli("train", str(tiny_base), *common, "--norm", norm, "--norm-groups", "8",
                               "--run-dir", str(tmp_path / norm))
        assert code == 0, stderr
    code, stderr = run_cli("train", str(tiny_base), *common, "--init", str(tmp_path / "group"),
                           "--run-dir", str(tmp_path / "a"))
    assert code == 2 and one_line(stderr).endswith(
        "its norms keep no running statistics: it was trained with --norm group, so pass the same --norm (group) "
        "with it"), stderr
    code, stderr = run_cli("train", str(tiny_base), *common, "--norm", "group", "--norm-groups", "8", "--init",
                           str(tmp_path / "batch"), "--run-dir", str(tmp_path / "b"))
    assert code == 2 and one_line(stderr).endswith(
        "its norms keep running statistics: it was trained with batch norm, so pass --norm batch with it"), stderr
    os.mkfifo(tmp_path / "weights.pt")
    code, stderr = run_cli("train", str(tiny_base), *common, "--init", str(tmp_path / "weights.pt"))
    assert code == 2 and one_line(stderr) == f"error: --init {tmp_path / 'weights.pt'}: not a regular file; a " \
                                             "checkpoint is a file", stderr


def test_a_teacher_of_other_classes_is_refused_before_anything_is_written(tmp_path, tiny_base):
    for split in ("train", "val"):
        for label in ("a", "b", "c"):
            (tmp_path / "images" / split / label).mkdir(parents=True)
            for i in range(4):
                pixels = np.random.default_rng(i).integers(0, 255, (16, 16, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / "images" / split / label / f"{i}.png")
    code, stderr = run_cli("train", str(tiny_base), "--data", "synthetic", "--train-images", "16", "--batch", "8",
                           "--epochs", "1", "--run-dir", str(tmp_path / "teacher"))
    assert code == 0, stderr
    code, stderr = run_cli("self-train", "--data", f"imagefolder:{tmp_path / 'images'}", "--labeled-fraction", "0.5",
                           "--teacher", str(tmp_path / "teacher"), "--epochs", "1", "--batch", "4", "--student-phi",
                           "0", "--run-dir", str(tmp_path / "st"))
    assert code == 2 and one_line(stderr) == (f"error: --teacher {tmp_path / 'teacher'} predicts 10 classes and the "
                                              "data has 3: give a teacher trained on this data's classes"), stderr
    assert not (tmp_path / "st").exists()


@pytest.mark.slow
def test_sigterm_to_the_process_group_while_dataloader_workers_read_images_exits_143_and_resumes(tmp_path, tiny_base):
    """Slurm and systemd signal the whole process group: the DataLoader's workers too. Only the
    main process handles it (exit 143, one line); the same command then finishes the run."""
    for split, count in (("train", 64), ("val", 8)):
        for label in ("a", "b"):
            (tmp_path / "images" / split / label).mkdir(parents=True)
            for i in range(count):
                pixels = np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / "images" / split / label / f"{i}.png")
    run = tmp_path / "run"
    args = [sys.executable, "-m", "scalesearch", "train", str(tiny_base), "--data",
            f"imagefolder:{tmp_path / 'images'}", "--epochs", "12", "--batch", "16", "--run-dir", str(run), "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                           start_new_session=True)
    children = Path(f"/proc/{job.pid}/task/{job.pid}/children")
    deadline = time.monotonic() + 120
    # After the first epoch, at a moment the main process has DataLoader workers alive to be signalled too.
    while not ((run / "metrics.csv").exists() and len((run / "metrics.csv").read_text().splitlines()) >= 2
               and children.read_text().split()):
        assert time.monotonic() < deadline and job.poll() is None, job.stderr.read() if job.poll() else "slow"
        time.sleep(0.01)
    os.killpg(job.pid, signal.SIGTERM)
    _, err = job.communicate(timeout=120)
    # Python may print what the interrupted thread start left behind (a daemon thread's KeyError) after it.
    assert job.returncode == 143 and "error: terminated (SIGTERM)" in err.splitlines(), err[-2000:]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    epochs = [line.split(",")[1] for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert epochs == [str(e) for e in range(1, 13)]  # every epoch once: what finished before SIGTERM was kept


def test_only_an_old_journal_lock_that_leads_nowhere_is_broken(tmp_path):
    from scalesearch.search.storage import STALE_LOCK_S, break_dangling_lock

    journal = tmp_path / "study.journal"
    lock = Path(f"{journal}.lock")  # Optuna's lock: a link named after the journal
    old = time.time() - STALE_LOCK_S - 60
    assert not break_dangling_lock(journal)  # no lock
    lock.symlink_to(tmp_path / "gone")
    assert not break_dangling_lock(journal) and lock.is_symlink()  # leads nowhere, but fresh: kept
    os.utime(lock, (old, old), follow_symlinks=False)
    assert break_dangling_lock(journal) and not lock.is_symlink()  # leads nowhere and old: broken
    (tmp_path / "there").write_text("")
    lock.symlink_to(tmp_path / "there")
    os.utime(lock, (old, old), follow_symlinks=False)
    assert not break_dangling_lock(journal) and lock.is_symlink()  # leads somewhere: a writer holds it
    lock.unlink()
    lock.write_text("")
    os.utime(lock, (old, old))
    assert not break_dangling_lock(journal) and lock.exists()  # not a link: not Optuna's lock
