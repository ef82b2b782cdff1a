"""--download: fetches only when the files are missing, reads torchvision's layout, fails in one line
(the bad-input rows are in README's table, run by test_bad_input.py).

Every run goes through a proxy on a closed local port, so a download attempt fails at once and
deterministically, whatever network the machine has: these tests never download anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FASHION, needs_fashion

NO_NETWORK = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": ""}


def scalesearch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k.lower() not in NO_NETWORK} | NO_NETWORK
    return subprocess.run([sys.executable, "-m", "scalesearch", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@needs_fashion
@pytest.mark.slow
def test_download_reads_files_already_there_in_torchvisions_layout(tmp_path):
    raw = tmp_path / "data/FashionMNIST/raw"  # where torchvision's FashionMNIST(root=data) puts them
    raw.mkdir(parents=True)
    for f in FASHION.iterdir():
        (raw / f.name).symlink_to(f)
    result = scalesearch("train", "mobilenet-v2", "--data", f"fashion-mnist:{tmp_path / 'data'}", "--download",
                         "--train-images", "128", "--epochs", "1", "--resolution", "16", "--run-dir", "run", "--json",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)  # stdout holds the one JSON document, nothing else
    assert record["data"] == f"fashion-mnist:{tmp_path / 'data'}" and 0 <= record["val_top1"] <= 1
    assert sorted(p.name for p in raw.iterdir()) == sorted(p.name for p in FASHION.iterdir())  # nothing fetched


@pytest.mark.slow
def test_a_failed_download_is_one_line_and_exit_code_1(tmp_path):
    result = scalesearch("train", "mobilenet-v2", "--data", "mnist:new/mnist", "--download", "--json", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "error: could not download mnist into new/mnist: <urlopen error [Errno 111] Connection refused> "
        "(copy the files there yourself and run without --download)")
    assert (tmp_path / "new/mnist").is_dir()  # the folder is made, so the next try needs no mkdir
