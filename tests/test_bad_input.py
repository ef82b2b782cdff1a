"""The README's bad-input table, row by row: exit code and the exact one line on stderr."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from scalesearch.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README.split("## Bad input", 1)[1].split("\n## ", 1)[0]
ROWS = [(cmd, int(code), message.replace("\\|", "|"))
        for cmd, code, message in re.findall(r"^\| `scalesearch (.+?)` \| (\d) \| `(.+)` \|$", SECTION, re.M)]


def test_the_table_has_at_least_30_rows():
    assert len(ROWS) >= 30


@pytest.mark.parametrize("command, code, message", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_row(command, code, message, tmp_path, monkeypatch):
    if "cuda" in command and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, shlex.split(command), prog_name="scalesearch")
    assert (result.exit_code, result.stderr) == (code, message + "\n")
    assert list(tmp_path.iterdir()) == []  # nothing written: no run folder, no study
