#!/usr/bin/env bash
# The report benchmark (examples/bench_reports.rs) on SQLite and on PostgreSQL: 1,000
# enrollments, 10 million clicks, 200,000 orders; leaderboard and report latency through the
# API beside the same figures computed naively from the raw tables, checked equal.
#
#   bash bench/reports/run.sh            # CLICKS=10000000 ORDERS=200000 ENROLLMENTS=1000
#   BENCH_BIN=/path/to/bench_reports SKIP_BUILD=1 bash bench/reports/run.sh   # another build (A/B)
#
# Needs, for PostgreSQL, a server at $PG_ADMIN_URL (a superuser that may create a database).
# Takes about 10 minutes per backend on a 2-core machine, most of it loading the data.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLICKS=${CLICKS:-10000000}
ORDERS=${ORDERS:-200000}
ENROLLMENTS=${ENROLLMENTS:-1000}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=influtrack_bench_reports

if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --quiet --example bench_reports
fi
BIN=${BENCH_BIN:-target/release/examples/bench_reports}

echo "== SQLite (a fresh temporary file)"
"$BIN" - "$CLICKS" "$ORDERS" "$ENROLLMENTS"

echo "== PostgreSQL (a fresh database $DB)"
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"$BIN" "${PG_ADMIN_URL%/*}/$DB" "$CLICKS" "$ORDERS" "$ENROLLMENTS"
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB"
