#!/usr/bin/env bash
# The order-ingestion benchmark (examples/bench_orders.rs) on SQLite and on PostgreSQL: orders/s
# recorded and attributed through POST /api/v1/orders with one request in ten a resend, beside
# authenticated code lookups on the same server as the baseline, then a check that every
# order is stored exactly once.
#
#   bash bench/orders/run.sh            # ORDERS=20000 CONNECTIONS=32
#   BENCH_WEBHOOK=1 bash bench/orders/run.sh   # with an endpoint subscribed to order.attributed
#   BENCH_BIN=/path/to/bench_orders SKIP_BUILD=1 bash bench/orders/run.sh   # another build (A/B)
#
# Needs, for PostgreSQL, a server at $PG_ADMIN_URL (a superuser that may create a database).
set -euo pipefail
cd "$(dirname "$0")/../.."

ORDERS=${ORDERS:-20000}
CONNECTIONS=${CONNECTIONS:-32}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=influtrack_bench_orders

if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --quiet --example bench_orders
fi
BIN=${BENCH_BIN:-target/release/examples/bench_orders}

echo "== SQLite (a fresh temporary file)"
"$BIN" - "$ORDERS" "$CONNECTIONS"

echo "== PostgreSQL (a fresh database $DB)"
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
"$BIN" "${PG_ADMIN_URL%/*}/$DB" "$ORDERS" "$CONNECTIONS"
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB"
