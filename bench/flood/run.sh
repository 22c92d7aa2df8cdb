#!/usr/bin/env bash
# The slow-body flood (bench/flood/flood.py): FLOOD_CONNECTIONS=300 connections announce 2 MB
# Shopify webhook bodies and trickle them at 10 KiB/s for FLOOD_SECONDS=60, against a release
# server on SQLite with the default rate limits; every second a real redirect and a signed order
# are timed and the server's RSS sampled. Fails on a failed probe or RSS over FLOOD_MAX_RSS_MB=150.
#   bash bench/flood/run.sh        # FLOOD_TARGET=random (unknown brand ids) | real (the brand's path)
#   FLOOD_ADDRESSES=one bash bench/flood/run.sh   # one attacking address (default: many, a botnet)
# The server trusts X-Forwarded-For from 127.0.0.1, as behind a proxy: the flood and the store
# each come from addresses of their own.
#   INFLUTRACK_BIN=/path/to/influtrack SKIP_BUILD=1 bash bench/flood/run.sh   # another build (A/B)
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=bench/out/flood
mkdir -p "$OUT"

if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --quiet --bin influtrack
fi
BIN=${INFLUTRACK_BIN:-target/release/influtrack}

DIR=$(mktemp -d)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
# 40 random URL-safe characters: long and varied enough for the server's token check.
TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')

# The defaults of the rate limits are part of what is measured: none inherited from the caller.
env -u INFLUTRACK_RATE_LIMIT -u INFLUTRACK_RATE_LIMIT_BURST \
    -u INFLUTRACK_WEBHOOK_RATE_LIMIT -u INFLUTRACK_WEBHOOK_RATE_LIMIT_BURST \
    INFLUTRACK_DATABASE_URL="$DIR/flood.db" INFLUTRACK_BIND=127.0.0.1:$PORT \
    INFLUTRACK_ADMIN_TOKEN="$TOKEN" INFLUTRACK_LOG="${INFLUTRACK_LOG:-warn}" \
    INFLUTRACK_TRUSTED_PROXIES=127.0.0.1/32 \
    INFLUTRACK_METRICS_BIND="${INFLUTRACK_METRICS_BIND:-127.0.0.1:0}" \
    "$BIN" serve > "$OUT/server.log" 2>&1 &
PID=$!

stop_server() {
    if kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID"
        for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PID" 2>/dev/null || true
    fi
    wait "$PID" 2>/dev/null || true
    rm -rf "$DIR"
}
trap stop_server EXIT

for _ in $(seq 1 300); do
    curl -fs "$BASE/readyz" >/dev/null 2>&1 && break
    kill -0 "$PID" 2>/dev/null || { echo "the server exited; see $OUT/server.log" >&2; exit 1; }
    sleep 0.1
done
curl -fs "$BASE/readyz" >/dev/null || { echo "the server on $BASE did not get ready" >&2; exit 1; }

# A brand with its Shopify secret, a campaign, an influencer enrolled (a link and a code).
SETUP=$(python3 - "$BASE" "$TOKEN" "$SECRET" <<'PY'
import json, sys, urllib.request
base, operator, secret = sys.argv[1:]

def call(method, path, key, body):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"setup: {method} {path}: {e.code} {e.read().decode()}")

brand = call("POST", "/api/v1/brands", operator, {"name": "Flood Test"})
admin = brand["admin_key"]
call("PUT", "/api/v1/integrations/shopify", admin, {"webhook_secret": secret})
campaign = call("POST", "/api/v1/campaigns", admin, {
    "name": "Spring Sale", "destination_url": "https://shop.example/landing", "currency": "EUR"})
influencer = call("POST", "/api/v1/influencers", admin,
                  {"handle": "anna", "email": "anna@creators.example"})
enrolled = call("POST", f"/api/v1/campaigns/{campaign['id']}/influencers", admin,
                {"influencer_id": influencer["id"], "code": "ANNA15", "commission_rate": "0.1"})
print(brand["id"], enrolled["link"]["code"], enrolled["discount_code"]["code"])
PY
)
read -r BRAND_ID LINK_CODE DISCOUNT_CODE <<< "$SETUP"

echo "influtrack $BIN (pid $PID) on $BASE, SQLite, default rate limits; brand $BRAND_ID, link /r/$LINK_CODE"
status=0
python3 bench/flood/flood.py --pid "$PID" --base-url "$BASE" --brand-id "$BRAND_ID" \
    --secret "$SECRET" --link-code "$LINK_CODE" --discount-code "$DISCOUNT_CODE" || status=$?
exit $status
