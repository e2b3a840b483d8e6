"""`python -m fst stylize|train|optimize|serve [ARGS ...]`: the console scripts, by command name."""

from __future__ import annotations

import runpy
import sys

COMMANDS = {
    "stylize": "fst.cli.stylize",
    "train": "fst.cli.train",
    "optimize": "fst.cli.optimize",
    "serve": "fst.cli.serve",
}
USAGE = f"usage: python -m fst {{{','.join(COMMANDS)}}} [ARGS ...]  (`python -m fst COMMAND --help` for each)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        asked_for_help = bool(argv) and argv[0] in ("-h", "--help")
        print(USAGE, file=sys.stdout if asked_for_help else sys.stderr)
        return 0 if asked_for_help else 2
    command, *rest = argv
    sys.argv = [sys.argv[0], *rest]
    # Run the command's module as __main__ (as `python -m fst.cli.train` would): Lightning's DDP
    # launcher restarts the script from `__main__.__spec__`, which then names the command's module.
    runpy.run_module(COMMANDS[command], run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
