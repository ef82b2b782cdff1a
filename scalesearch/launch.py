"""The ``scalesearch`` entry point. Loading torch and the other libraries takes seconds; Ctrl-C
during that time ends like Ctrl-C at any other time: one line on stderr and exit code 130."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from scalesearch.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    run()
