#!/usr/bin/env bash
# Every benchmark once, with small sizes (about 10 minutes on a 2-core machine, for a
# reviewer), then one table: each figure beside its target. The full-size runs and their
# current figures are in docs/PERFORMANCE.md.
#
#   bash bench/run.sh
#   BACKENDS=sqlite bash bench/run.sh        # the redirect runs on SQLite only (the others
#                                            # always run both databases)
#
# Needs wrk (apt-get install -y wrk) and, for PostgreSQL, a server at $PG_ADMIN_URL.
# Each benchmark's own output goes to bench/out/all/.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out/all
mkdir -p "$OUT"
export PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BACKENDS=${BACKENDS:-sqlite postgres}

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --quiet --bin influtrack --example soak --example bare_redirect \
    --example seed_links --example bench_orders --example bench_reports || exit 1
export SKIP_BUILD=1

status=0
step() { # name command...: runs one benchmark, its output kept
    local name=$1
    shift
    echo "== $name ($(date +%H:%M:%S))"
    if ! "$@" > "$OUT/$name.txt" 2>&1; then
        echo "   $name FAILED: see $OUT/$name.txt"
        status=1
    fi
}

rm -f bench/out/redirect/results.txt
step soak env SOAK_SECONDS="${SOAK_SECONDS:-20}" bash bench/soak/run.sh
step redirect env DURATION=10s PREFILL=0 ROUNDS=2 PAUSE=10 BACKENDS="$BACKENDS" bash bench/redirect/run.sh
cp bench/out/redirect/results.txt "$OUT/redirect-results.txt" 2>/dev/null || true
step orders env ORDERS=5000 bash bench/orders/run.sh
step reports env CLICKS=300000 ORDERS=10000 ENROLLMENTS=200 bash bench/reports/run.sh

python3 - "$OUT" <<'PY'
import re, sys, statistics
out = sys.argv[1]

def results(name):
    rows = []
    try:
        text = open(f"{out}/{name}").read()
    except FileNotFoundError:
        return rows
    for line in text.splitlines():
        if line.startswith("RESULT "):
            rows.append(dict(kv.split("=", 1) for kv in line[7:].split() if "=" in kv))
    return rows

table = []
def row(what, backend, figure, target, ok):
    table.append((what, backend, figure, target, "yes" if ok else "NO"))

for r in results("soak.txt"):
    b = r["backend"]
    reads = ["leaderboard", "report", "timeseries", "funnel", "dashboard"]
    worst = max(float(r.get(f"{k}_p99_ms", 0)) for k in reads)
    row("reports under the soak mix, worst p99", b, f"{worst:.0f} ms", "<= 100 ms", worst <= 100)
    p99 = float(r["redirect_p99_ms"])
    row("redirect under the soak mix, p99", b, f"{p99:.1f} ms", "<= 20 ms", p99 <= 20)
    rss = float(r.get("rss_max_mb", 0))
    row("server RSS in the soak (50 links)", b, f"{rss:.0f} MB", "<= 150 MB", rss <= 150)
    bad = int(r["lost"]) + int(r["duplicated"]) + int(r["errors_5xx"])
    row("soak: lost + duplicated + 5xx", b, str(bad), "0", bad == 0)

redirect = results("redirect-results.txt")
for b in sorted({r["backend"] for r in redirect}):
    runs = [r for r in redirect if r["backend"] == b and "ratio" in r]
    mems = [r for r in redirect if r["backend"] == b and "rss_mb" in r]
    if runs:
        ratio = statistics.median(float(r["ratio"]) for r in runs)
        want = 0.65 if b == "sqlite" else 0.45
        row(f"redirect alone, ratio to bare (median of {len(runs)} rounds)", b, f"{ratio:.2f}x", f">= {want}x", ratio >= want)
        p99 = max(float(r["p99_ms"]) for r in runs)
        row("redirect alone, worst p99 of the rounds", b, f"{p99:.1f} ms", "<= 10 ms", p99 <= 10)
        lost = sum(r["verdict"] != "ok" for r in runs)
        row("redirect: rounds with a lost click", b, str(lost), "0", lost == 0)
    for m in mems:
        rss = float(m["rss_mb"])
        row(f"server RSS, redirect run ({m['links']} links)", b, f"{rss:.0f} MB", "<= 150 MB", rss <= 150)

for r in results("orders.txt"):
    b = r["backend"]
    want = 3500 if b == "sqlite" else 1500
    ops = float(r["orders_per_s"])
    row("orders/s (5,000 orders, 32 clients)", b, f"{ops:.0f}", f">= {want}", ops >= want)

for r in results("reports.txt"):
    b = r["backend"]
    p50 = float(r["leaderboard_p50_ms"])
    row("leaderboard p50, quiet (300k clicks, 10k orders)", b, f"{p50:.1f} ms", "<= 50 ms", p50 <= 50)
    speed = float(r["speedup"])
    row("leaderboard speed-up over the naive answer", b, f"{speed:.0f}x", ">= 20x", speed >= 20)
    mism = int(r["mismatches"])
    row("reports: rows different from the naive answer", b, str(mism), "0", mism == 0)

widths = [max(len(str(c)) for c in col) for col in zip(("figure", "backend", "measured", "target", "met"), *table)]
def line(cells):
    print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths)))
line(("figure", "backend", "measured", "target", "met"))
line(tuple("-" * w for w in widths))
for t in table:
    line(t)
PY
exit $status
