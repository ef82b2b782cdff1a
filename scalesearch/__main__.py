"""``python -m scalesearch`` behaves like ``scalesearch``."""

from scalesearch.launch import main

main()
