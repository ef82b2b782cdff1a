"""``python -m scalesearch`` behaves like ``scalesearch``."""

from scalesearch.cli import main

main()
