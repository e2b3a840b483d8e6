"""The commands: each module's `main()` is a console script, a `python -m fst` command and a root script.

| command | module | root script |
| --- | --- | --- |
| `fst-stylize` | `fst.cli.stylize` | `stylize.py` |
| `fst-train` | `fst.cli.train` (Hydra) | `train.py` |
| `fst-optimize` | `fst.cli.optimize` (Hydra) | `optimize.py` |
| `fst-serve` | `fst.cli.serve` (needs `fst[web]`) | `serve.py` |
"""
