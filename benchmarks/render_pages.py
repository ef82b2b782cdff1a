"""Render the documentation's figures, so that none is typed by hand: the results pages from their
JSON, and the marked blocks of other pages (README's headline table and suite time, and the figures
the library computes: benchmarks/pages/library_facts.py).

Run:  python benchmarks/render_pages.py            (write every rendered page and block)
      python benchmarks/render_pages.py --check    (exit 1, naming each page that differs; writes nothing)

Every page comes from one module of benchmarks/pages/ (see its docstring). tests/test_docs.py runs
the same comparison as --check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

import pages  # noqa: E402
from pages import library_facts  # noqa: E402
from pages.common import table  # noqa: E402

DOCS = ROOT / "docs/results"
README = ROOT / "README.md"


def headline_table(link_prefix: str) -> str:
    """The headline results, one row each, linking to their pages (``link_prefix`` + page file)."""
    rows = [(result, figure, f"[{page.removesuffix('.md')}]({link_prefix}{page})")
            for result, figure, page in pages.headlines()]
    return table(["result", "figure", "details"], rows)


def index_page() -> str:
    """docs/results/index.md: the headline table, then every page."""
    listing = "\n".join(f"- [{name.removesuffix('.md')}]({name})" for name in sorted(pages.pages()))
    return (f"# Results\n\nEvery figure on these pages is rendered from a JSON file under `benchmarks/results/`, "
            f"written by the benchmark script the page names; the page says on which machine.\n\n"
            f"{headline_table('')}\n\n## Every results page\n\n{listing}\n")


def blocks() -> dict[Path, dict[str, Callable[[], str]]]:
    """The rendered blocks of pages outside docs/results/, each between ``<!-- NAME:begin -->`` and
    ``<!-- NAME:end -->``: README's headline table and suite time, and the library's own figures."""
    found: dict[Path, dict[str, Callable[[], str]]] = {
        README: {"headlines": lambda: headline_table("docs/results/"), "suite": pages.suite_time}}
    for file, named in library_facts.BLOCKS.items():
        found.setdefault(ROOT / file, {}).update(named)
    return found


def _with_blocks(text: str, named: dict[str, Callable[[], str]]) -> str:
    for name, render in named.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if begin not in text or end not in text:
            raise SystemExit(f"error: no {begin} ... {end} markers to render into")
        head, rest = text.split(begin, 1)
        text = f"{head}{begin}\n{render()}\n{end}{rest.split(end, 1)[1]}"
    return text


def rendered() -> dict[Path, str]:
    """Every rendered file and its text (a page with blocks whole, its blocks replaced)."""
    files = {DOCS / name: render() for name, render in pages.pages().items()}
    files[DOCS / "index.md"] = index_page()
    for path, named in blocks().items():
        files[path] = _with_blocks(path.read_text(), named)
    return files


def differing() -> list[str]:
    """The files whose committed text is not what their JSON renders now."""
    return [_shown(path) for path, text in rendered().items() if not path.exists() or path.read_text() != text]


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only name the pages that differ (exit 1 if any)")
    args = parser.parse_args()
    if args.check:
        stale = differing()
        if stale:
            sys.exit("not what their JSON renders (run python benchmarks/render_pages.py): " + ", ".join(stale))
        return
    DOCS.mkdir(parents=True, exist_ok=True)
    for path, text in rendered().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {_shown(path)}")


if __name__ == "__main__":
    main()
