"""The documentation's bad-input table (docs/faults.md), row by row: exit code and the exact one line on stderr."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from scalesearch.cli import app

FAULTS = (Path(__file__).resolve().parents[1] / "docs" / "faults.md").read_text()
SECTION = FAULTS.split("## Bad input", 1)[1].split("\n## ", 1)[0]
ROWS = [(cmd, int(code), message.replace("\\|", "|"))
        for cmd, code, message in re.findall(r"^\| `scalesearch (.+?)` \| (\d) \| `(.+)` \|$", SECTION, re.M)]


def test_the_table_has_at_least_30_rows():
    assert len(ROWS) >= 30


@pytest.mark.parametrize("command, code, message", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_row(command, code, message, tmp_path, monkeypatch):
    if ("cuda" in command or "--devices" in command) and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if "postgresql://" in command:
        pytest.importorskip("psycopg", reason="the row's message comes from the driver (the 'test' extra installs it)")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, shlex.split(command), prog_name="scalesearch")
    assert (result.exit_code, result.stderr) == (code, message + "\n")
    assert list(tmp_path.iterdir()) == []  # nothing written: no run folder, no study


@pytest.mark.slow
def test_a_missing_database_driver_says_which_extra_to_install(tmp_path):
    """Without psycopg (the 'postgres' extra), a PostgreSQL URL is one line naming what to install."""
    entry = "import sys; sys.modules['psycopg'] = None; from scalesearch.launch import main; main()"
    url = "postgresql://scalesearch:secret@127.0.0.1:1/none"
    proc = subprocess.run([sys.executable, "-c", entry, "find-base", "--flops", "400M", "--storage", url],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    message = ("error: cannot open storage postgresql://scalesearch:***@127.0.0.1:1/none: its database driver is not "
               "installed; pip install 'scalesearch[postgres]'\n")
    assert (proc.returncode, proc.stderr) == (2, message)
    assert list(tmp_path.iterdir()) == []
