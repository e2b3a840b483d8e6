"""Stylize images: `python stylize.py [INPUTS] [-c CKPT ...] [-o OUT]`, the same as `fst-stylize`."""

import sys

from fst.cli.stylize import main

if __name__ == "__main__":
    sys.exit(main())
