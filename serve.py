"""The web service: `python serve.py` serves http://127.0.0.1:8000 with data under ./var.

`python serve.py worker` runs queue workers only; `python serve.py admin users|grant EMAIL N`
manages accounts. Options and environment variables: `python serve.py --help`, README "Web service".
The same as `fst-serve` (fst/cli/serve.py).
"""

import sys

from fst.cli.serve import main

if __name__ == "__main__":
    sys.exit(main())
