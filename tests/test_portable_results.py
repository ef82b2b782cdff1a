"""Committed results are portable: no file under benchmarks/results/ or docs/ names a path of the machine
that made it. A data set is recorded by kind, image counts and digest
(scalesearch.train.data.dataset_record), a run folder or file of the repository relative to its root."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks/results"
TEXT = {".json", ".md", ".csv", ".txt"}  # figures (.png) are not read
# an absolute path under a machine's own folders; "shared/data/..." or "./tmp/..." are relative
ABSOLUTE = re.compile(r"(?<![\w.])/(?:work|tmp|root|home|Users|mnt|scratch|usr|opt|var|srv|data|private)/"
                      r"""[^\s"'`,;)\]]*""")


def offenders(folder: Path) -> list[str]:
    """``file:line: path`` for every absolute path in the text files under ``folder``."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix not in TEXT or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += [f"{path.relative_to(folder)}:{number}: {m.group(0)[:120]}" for m in ABSOLUTE.finditer(line)]
    return found


def test_no_documentation_page_names_a_path_of_the_machine_that_built_it():
    bad = [o for o in offenders(ROOT / "docs") if not o.startswith("data/")]  # docs/data: benchmarks/results
    assert not bad, "absolute paths in the documentation:\n" + "\n".join(bad)


def test_no_result_names_a_path_of_the_machine_that_made_it():
    bad = offenders(RESULTS)
    assert not bad, ("absolute paths in committed results (record a data set with dataset_record(), a repository "
                     "path relative to the repository root):\n" + "\n".join(bad))


def test_a_machine_path_fails_the_check_naming_file_and_text(tmp_path, monkeypatch):
    (tmp_path / "good.json").write_text('{"run_dir": "runs/pipeline-cifar", "data": {"kind": "cifar10"},\n'
                                        ' "note": "../shared/data/cifar-10 and ./tmp/x, 1/2 MACs / params"}\n')
    (tmp_path / "figure.png").write_bytes(b"\x89PNG /work/main/ignored")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/bad.json").write_text('{\n  "data": "cifar10:/work/shared/data/cifar-10"\n}\n')
    (tmp_path / "notes.md").write_text("made with `python x.py --out /home/me/out.json`\n")
    monkeypatch.setitem(globals(), "RESULTS", tmp_path)
    with pytest.raises(AssertionError) as failure:
        test_no_result_names_a_path_of_the_machine_that_made_it()
    message = str(failure.value)
    assert "sub/bad.json:2: /work/shared/data/cifar-10" in message
    assert "notes.md:1: /home/me/out.json" in message
    assert "good.json" not in message and "figure.png" not in message
