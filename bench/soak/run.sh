#!/usr/bin/env bash
# The soak run (examples/soak.rs) on SQLite and on PostgreSQL: the release binary started as
# a child process on a fresh database, seeded through the API, then a mixed load for
# SOAK_SECONDS per database (redirects, orders with codes and click ids and resends, refunds
# and resends, report reads); afterwards every acknowledged click, order and refund is looked
# up in the database: present exactly once, or the run fails. Prints requests served, req/s,
# p50 and p99 per kind, rows verified, lost and duplicated.
#
#   bash bench/soak/run.sh            # SOAK_SECONDS=60
#   KILLS=3 bash bench/soak/run.sh    # the crash run (bench/soak/crash.sh)
#   INFLUTRACK_BIN=/path/to/influtrack SKIP_BUILD=1 bash bench/soak/run.sh   # another build (A/B)
#
# Needs, for PostgreSQL, a server at $PG_ADMIN_URL (a superuser that may create a database).
# The servers' logs go to bench/out/soak/.
set -euo pipefail
cd "$(dirname "$0")/../.."

SOAK_SECONDS=${SOAK_SECONDS:-60}
KILLS=${KILLS:-0}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=influtrack_soak
OUT=bench/out/soak
MODE=soak
if [ "$KILLS" -gt 0 ]; then MODE=crash; fi
mkdir -p "$OUT"

if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --quiet --bin influtrack --example soak
fi
BIN=${INFLUTRACK_BIN:-target/release/influtrack}
run() { # label database-url
    : > "$OUT/$MODE-$1.log"
    target/release/examples/soak --bin "$BIN" --database "$2" \
        --seconds "$SOAK_SECONDS" --kills "$KILLS" --log "$OUT/$MODE-$1.log"
}

status=0
echo "== SQLite (a fresh temporary file)"
run sqlite - || status=1

echo "== PostgreSQL (a fresh database $DB)"
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
run postgres "${PG_ADMIN_URL%/*}/$DB" || status=1
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
exit $status
