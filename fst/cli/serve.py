"""The web service: `fst-serve [--port N] [worker | admin ...]` (or `python serve.py`); `--help` lists the options."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    try:
        from fst.web.cli import main as serve
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] == "fst":
            raise  # a bug in fst, not a missing extra
        # The web stack is an optional extra: say how to get it rather than print a traceback.
        print(
            f"error: the web service needs fst[web] ({error.name} is missing): pip install 'fst[web]'", file=sys.stderr
        )
        return 2
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
