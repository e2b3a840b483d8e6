"""Gatys/Luan optimisation: `python optimize.py run.content=PATH [key=value ...]`, the same as `fst-optimize`."""

from fst.cli.optimize import main

if __name__ == "__main__":
    main()
