#!/usr/bin/env bash
# Several instances on one PostgreSQL: INSTANCES servers (3) on a fresh database behind a
# round-robin TCP balancer (in examples/soak.rs), the soak's mixed load through it for
# CLUSTER_SECONDS, KILLS kill -9s of one instance at a time under load (each restarted on the
# same database, the requests it left unanswered sent again), then a link paused through one
# instance while the others are clicked until they stop attributing it. Fails when anything
# acknowledged (click, order, refund) is lost or stored twice, on a 5xx, or when an instance
# still attributes the paused link after 60 s; prints how long that took.
#
#   bash bench/cluster/run.sh                          # CLUSTER_SECONDS=30 KILLS=1 INSTANCES=3
#   CLUSTER_SECONDS=8 SOAK_BIN=target/debug/examples/soak INFLUTRACK_BIN=target/debug/influtrack \
#     SKIP_BUILD=1 bash bench/cluster/run.sh          # CI: short, on the test build
#
# Needs a PostgreSQL server at $PG_ADMIN_URL (a superuser that may create a database).
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER_SECONDS=${CLUSTER_SECONDS:-30}
KILLS=${KILLS:-1}
INSTANCES=${INSTANCES:-3}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=influtrack_cluster
OUT=bench/out/cluster
mkdir -p "$OUT"

if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --quiet --bin influtrack --example soak
fi
BIN=${INFLUTRACK_BIN:-target/release/influtrack}
SOAK=${SOAK_BIN:-target/release/examples/soak}

psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
url=$(python3 -c "import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path='/'+sys.argv[2])))" "$PG_ADMIN_URL" "$DB")
: > "$OUT/cluster.log"
status=0
"$SOAK" --bin "$BIN" --database "$url" --seconds "$CLUSTER_SECONDS" --kills "$KILLS" \
    --instances "$INSTANCES" --log "$OUT/cluster.log" \
    --redirect-connections "${REDIRECT_CONNECTIONS:-32}" --order-connections "${ORDER_CONNECTIONS:-8}" || status=1
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
exit $status
