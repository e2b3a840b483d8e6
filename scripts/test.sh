#!/usr/bin/env bash
# The test command: set up .venv if needed, then run the whole suite (slow end-to-end tests
# included; `scripts/test.sh -m "not slow"` is the fast loop). Shared assets are found at
# ../shared/assets or $FST_ASSETS; tests that need them skip with a reason when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export FST_ASSETS="${FST_ASSETS:-$(cd .. && pwd)/shared/assets}"
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
