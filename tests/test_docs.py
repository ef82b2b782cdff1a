"""README stays true: its commands are the ones CI runs, and its API example runs as written."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from conftest import readme_section_and_render

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", README, re.S)


def test_readme_gives_two_setup_commands_and_ci_runs_the_test_command_verbatim():
    install, tests = _bash_blocks()[:2]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pytest" in tests and tests in ci.splitlines()
    pip_part = install.split(" && .venv/bin/scalesearch")[0].split(" && ", 1)[1]
    assert pip_part.replace(".venv/bin/pip install", "") in ci


def test_readme_api_example_prints_what_it_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (code,) = re.findall(r"```python\n(.*?)\n```", README, re.S)
    expected = re.search(r"print\(.*\)\s+# (.+)", code).group(1).strip()
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue().strip() == expected
    assert (tmp_path / "b3.yaml").exists()


def test_readme_mutation_table_is_rendered_from_its_json():
    section, rendered = readme_section_and_render("mutation.py")
    assert section == rendered, "run: python benchmarks/mutation.py --write-readme"
