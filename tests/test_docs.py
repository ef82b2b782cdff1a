"""README and the documentation stay true: README's commands are the ones CI runs, its API example
runs as written, and every results page (and README's headline table) is what its JSON renders."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
from pathlib import Path

import pytest

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




def _render_pages():
    spec = importlib.util.spec_from_file_location("render_pages", ROOT / "benchmarks/render_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_results_page_is_what_its_json_renders():
    stale = _render_pages().differing()
    assert not stale, f"run: python benchmarks/render_pages.py ({', '.join(stale)})"


def test_a_page_edited_by_hand_is_caught(tmp_path, monkeypatch):
    render_pages = _render_pages()
    page, text = next((p, t) for p, t in render_pages.rendered().items() if p.parent == render_pages.DOCS)
    monkeypatch.setattr(render_pages, "DOCS", tmp_path)
    monkeypatch.setattr(render_pages, "README", tmp_path / "README.md")
    monkeypatch.setattr(render_pages.library_facts, "BLOCKS", {})
    (tmp_path / "README.md").write_text("<!-- headlines:begin -->\n<!-- headlines:end -->\n<!-- suite:begin -->\n"
                                        "<!-- suite:end -->\n")
    for path, rendered in render_pages.rendered().items():
        path.write_text(rendered)
    assert render_pages.differing() == []
    (tmp_path / page.name).write_text(text.replace("%", " percent", 1) if "%" in text else text + "typed\n")
    assert [Path(p).name for p in render_pages.differing()] == [page.name]
