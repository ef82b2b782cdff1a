"""``python cli.py ARGS`` behaves exactly like ``scalesearch ARGS``."""

from scalesearch.launch import main

if __name__ == "__main__":
    main()
