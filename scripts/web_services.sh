# Sourced by .ci/run: installs and starts what the web tests need on a fresh Debian machine
# (headless Chromium for the browser test, a PostgreSQL server for the database tests) and exports
# FST_TEST_DATABASE_URL. Idempotent and quiet: a second run only checks.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[ci] installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
pg_lsclusters -h 2>/dev/null | grep -q "^$pg_version main .* online" || as_root pg_ctlcluster "$pg_version" main start
pg() { as_root su postgres -c "psql -qtAc \"$1\""; }
[ "$(pg "SELECT 1 FROM pg_roles WHERE rolname = 'fst_ci'")" = 1 ] || pg "CREATE ROLE fst_ci LOGIN PASSWORD 'fst_ci'"
[ "$(pg "SELECT 1 FROM pg_database WHERE datname = 'fst_ci'")" = 1 ] || pg "CREATE DATABASE fst_ci OWNER fst_ci"
# A throwaway local test database, not a secret.
export FST_TEST_DATABASE_URL="postgresql+psycopg://fst_ci:fst_ci@127.0.0.1:5432/fst_ci"
