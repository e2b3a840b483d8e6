# Sourced by .ci/run: installs and starts what the web tests need on a fresh Debian machine
# (headless Chromium for the browser test, a PostgreSQL server for the database tests, Redis for
# the at-scale queue) and exports FST_TEST_DATABASE_URL and FST_TEST_REDIS_URL. Idempotent and
# quiet: a second run only checks.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
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
redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --port 6379 --daemonize yes --save "" --appendonly no >/dev/null
export FST_TEST_REDIS_URL="redis://127.0.0.1:6379/15"
