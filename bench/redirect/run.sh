#!/usr/bin/env bash
# The redirect benchmark: the bare actix-web baseline and influtrack under the same load
# (wrk, 2 threads, 64 connections, random codes of 10,000 links), on SQLite and PostgreSQL,
# then again with 10 million clicks already stored. Prints req/s, p50, p99, the ratio to the
# baseline measured in this run, and checks that stored clicks equal the 302s served.
#
#   bash bench/redirect/run.sh            # DURATION=30s LINKS=10000 PREFILL=10000000
#   BACKENDS=sqlite bash bench/redirect/run.sh   # one backend only (default: "sqlite postgres")
#   ROUNDS=3 PAUSE=30 DURATION=15s PREFILL=0 bash bench/redirect/run.sh   # a sustained run
# Each run also prints the server's peak memory (RSS) and appends its figures to
# bench/out/redirect/results.txt.
#   INFLUTRACK_BIN=/path/to/influtrack SKIP_BUILD=1 bash bench/redirect/run.sh   # another build (A/B)
#   MORE_LINKS=990000 PREFILL=0 bash bench/redirect/run.sh   # 1 M links, every one cached first
# MORE_LINKS adds that many links by copying the first seeded one in SQL (same enrollment, new
# id and code; the API would take half an hour), then requests every code once before the
# rounds, so that the server holds all of them in its link cache when its memory is read.
#
# Needs wrk (apt-get install wrk) and, for PostgreSQL, a server at $PG_ADMIN_URL.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-30s}
LINKS=${LINKS:-10000}
MORE_LINKS=${MORE_LINKS:-0}
PREFILL=${PREFILL:-10000000}
CONNECTIONS=${CONNECTIONS:-64}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BACKENDS=${BACKENDS:-sqlite postgres}
# A sustained run: ROUNDS runs back to back on one server, PAUSE seconds apart.
ROUNDS=${ROUNDS:-1}
PAUSE=${PAUSE:-30}
OUT=bench/out/redirect
TOKEN=bench-operator-token-0123456789abcdefXYZ
mkdir -p "$OUT"

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --quiet --bin influtrack --example bare_redirect --example seed_links
fi
BIN=${INFLUTRACK_BIN:-target/release/influtrack}

wait_ready() {
    for _ in $(seq 1 300); do
        curl -fs "http://$1/readyz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server on $1 did not start" >&2; exit 1
}

run_wrk() { # url label
    CODES="$OUT/codes.tsv" wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/redirect/pick.lua "$1" \
        > "$OUT/$2.wrk" 2>&1
    grep '^RESULT' "$OUT/$2.wrk" | sed 's/^RESULT //'
}

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

stored_clicks() { # backend url
    if [ "$1" = sqlite ]; then
        # The clicks live in their own file beside the database (influtrack.db: influtrack.clicks.db).
        python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from clicks').fetchone()[0])" "${2%.db}.clicks.db"
    else
        psql "$2" -Atc 'select count(*) from clicks'
    fi
}

more_links() { # backend url count: copies of the first link, appended to codes.tsv
    echo "adding $3 links ($1)..." >&2
    python3 - "$1" "$2" "$3" "$OUT/codes.tsv" <<'PY'
import subprocess, sys
backend, url, count, codes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
import time
# Ids made now (UUIDv7 order), so that the server's periodic read of new links finds them.
now = f"{int(time.time() * 1000):012x}"
prefix = f"{now[:8]}-{now[8:]}-7000-9000-"
target = open(codes).readline().rstrip("\n").split("\t")[1]
def pick(cols, number):  # the new row's value of each column, in SQL, from the row `l`
    out = []
    for c in cols:
        if c == "id":
            out.append(f"'{prefix}' || {number}")
        elif c == "code":
            out.append(f"'m' || {number}")
        else:
            out.append(f"l.{c}")
    return ", ".join(out)
if backend == "sqlite":
    import sqlite3
    c = sqlite3.connect(url)
    cols = [r[1] for r in c.execute("PRAGMA table_info(links)")]
    number = "printf('%012d', n.i)"
    c.execute(f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
      INSERT INTO links ({", ".join(cols)}) SELECT {pick(cols, number)}
      FROM n, (SELECT * FROM links ORDER BY id LIMIT 1) l""", (count,))
    c.commit()
else:
    cols = subprocess.run(["psql", url, "-Atc", "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'links' ORDER BY ordinal_position"], check=True, capture_output=True,
        text=True).stdout.split()
    number = "lpad(i::text, 12, '0')"
    subprocess.run(["psql", "-q", url, "-c", f"""INSERT INTO links ({", ".join(cols)})
      SELECT {pick(cols, number)} FROM generate_series(1, {count}) i,
      (SELECT * FROM links ORDER BY id LIMIT 1) l"""], check=True)
with open(codes, "a") as f:
    for i in range(1, count + 1):
        f.write(f"m{i:012d}\t{target}\n")
PY
}

warm() { # backend database-url server-url: every code requested once, not measured
    local lines; lines=$(wc -l < "$OUT/codes.tsv")
    local before; before=$(stored_clicks "$1" "$2")
    CODES="$OUT/codes.tsv" wrk -t2 -c"$CONNECTIONS" -d3600s -s bench/redirect/walk.lua "$3" > "$OUT/warm.wrk" 2>&1 &
    local wrk_pid=$!
    # wrk waits for its deadline once both threads have walked their half: stop it once the
    # server has stored a click per code (up to one per connection may still be in flight).
    while kill -0 $wrk_pid 2>/dev/null; do
        if [ $(($(stored_clicks "$1" "$2") - before)) -ge $((lines - CONNECTIONS)) ]; then
            sleep 1
            kill -INT $wrk_pid
            break
        fi
        sleep 2
    done
    wait $wrk_pid || true
    echo "  warmed the link cache: $(grep -o 'requests=[0-9]*' "$OUT/warm.wrk" | head -1) for $lines codes" >&2
}

prefill() { # backend url rows: old, time-ordered click ids before any real one
    echo "prefilling $3 clicks ($1)..." >&2
    if [ "$1" = sqlite ]; then
        python3 - "$2" "$3" <<'PY'
import sqlite3, sys
db, rows = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
link = c.execute("select id, brand_id, campaign_id, enrollment_id, influencer_id from links limit 1").fetchone()
c.execute("PRAGMA journal_mode=WAL")
# The clicks' own file, attached as the server attaches it.
c.execute("ATTACH DATABASE ? AS clickdb", (db[:-3] + ".clicks.db",))
c.execute("PRAGMA clickdb.journal_mode=WAL")
c.execute("""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
  INSERT INTO clicks SELECT printf('00000000-0000-7000-8000-%012d', i), ?, ?, ?, ?, ?, i, printf('%032x', i),
  'human', 1, NULL, 'desktop', 'Chrome', 'Windows 10', NULL FROM n""", (rows,) + link)
# The history is already folded into the rollups (as it would be after days of traffic).
c.execute("INSERT INTO settings (name, value) VALUES ('rollup_watermark', '00000000-0000-7000-8000-999999999999') "
          "ON CONFLICT (name) DO UPDATE SET value = excluded.value")
c.commit()
# A settled database, as after days of traffic: the WAL written by the fill is checkpointed.
c.execute("PRAGMA main.wal_checkpoint(TRUNCATE)")
c.execute("PRAGMA clickdb.wal_checkpoint(TRUNCATE)")
PY
    else
        psql -q "$2" <<SQL
INSERT INTO clicks SELECT '00000000-0000-7000-8000-' || lpad(i::text, 12, '0'), l.id, l.brand_id, l.campaign_id,
  l.enrollment_id, l.influencer_id, i, md5(i::text), 'human', true, NULL, 'desktop', 'Chrome', 'Windows 10', NULL
FROM generate_series(1, $3) i, (SELECT * FROM links LIMIT 1) l;
INSERT INTO settings (name, value) VALUES ('rollup_watermark', '00000000-0000-7000-8000-999999999999')
  ON CONFLICT (name) DO UPDATE SET value = excluded.value;
ANALYZE clicks;
CHECKPOINT;
SQL
    fi
}

declare -A BASE
bench_backend() { # backend database-url label
    local backend=$1 url=$2 label=$3 port=18080
    INFLUTRACK_DATABASE_URL="$url" INFLUTRACK_BIND=127.0.0.1:$port INFLUTRACK_METRICS_BIND=127.0.0.1:0 INFLUTRACK_ADMIN_TOKEN=$TOKEN \
        INFLUTRACK_LOG=warn INFLUTRACK_RATE_LIMIT=0 "$BIN" serve > "$OUT/$label.log" 2>&1 &
    local pid=$!
    wait_ready 127.0.0.1:$port
    target/release/examples/seed_links "http://127.0.0.1:$port" $TOKEN "$LINKS" > "$OUT/codes.tsv"
    if [ "${4:-}" = prefill ]; then
        prefill "$backend" "$url" "$PREFILL"
    fi
    if [ "$MORE_LINKS" -gt 0 ]; then
        more_links "$backend" "$url" "$MORE_LINKS"
        sleep 3 # the server reads new links' codes every second
        warm "$backend" "$url" "http://127.0.0.1:$port"
    fi
    local links; links=$(wc -l < "$OUT/codes.tsv")
    local round
    for round in $(seq 1 "$ROUNDS"); do
        local name=$label
        if [ "$ROUNDS" -gt 1 ]; then name="$label round $round"; fi
        bench_round "$backend" "$url" "$name" "$(echo "$label-$round" | tr ' +' '__')"
        if [ "$round" -lt "$ROUNDS" ]; then sleep "$PAUSE"; fi
    done
    local rss; rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
    kill -TERM $pid; wait $pid || true
    printf '%-24s %s MB at most (RSS), %s links\n' "  server memory" "$rss" "$links"
    echo "RESULT backend=$backend run=$label rss_mb=$rss links=$links" >> "$OUT/results.txt"
}

bench_round() { # backend database-url name file-label: the baseline, then influtrack
    local backend=$1 url=$2 name=$3 label=$4 port=18080
    # The baseline is measured right before each run, on the same codes, so that drift in the
    # machine's speed between runs does not skew the ratio (and, in a sustained run, while
    # influtrack folds and checkpoints the rounds before, as the run after it does).
    target/release/examples/bare_redirect "$OUT/codes.tsv" 127.0.0.1:18090 2> "$OUT/bare-$label.log" &
    local bare_pid=$!
    sleep 0.5
    local base; base=$(run_wrk http://127.0.0.1:18090 "bare-$label")
    kill $bare_pid; wait $bare_pid 2>/dev/null || true
    BASE[rps]=$(field "$base" rps)
    local before; before=$(stored_clicks "$backend" "$url")
    local result; result=$(run_wrk "http://127.0.0.1:$port" "$label")
    # The clicks in flight at wrk's deadline are committed within milliseconds.
    sleep 1
    local after; after=$(stored_clicks "$backend" "$url")
    local rps; rps=$(field "$result" rps)
    local found; found=$(field "$result" found)
    local stored=$((after - before))
    local ratio; ratio=$(python3 -c "print(f'{$rps / ${BASE[rps]}:.2f}')")
    # wrk stops counting at the deadline while up to one request per connection is still in
    # flight: those clicks are stored too. Fewer stored than 302s would be a lost click.
    local verdict="ok (0 lost)"
    if [ "$stored" -lt "$found" ] || [ "$stored" -gt $((found + CONNECTIONS)) ]; then verdict=MISMATCH; fi
    printf '%-24s %9s req/s  p50 %6s ms  p99 %6s ms\n' "  bare baseline" "${BASE[rps]}" \
        "$(field "$base" p50_ms)" "$(field "$base" p99_ms)"
    printf '%-24s %9s req/s  p50 %6s ms  p99 %6s ms  ratio %5s x  302s %8s  stored %8s  %s\n' \
        "  $name" "$rps" "$(field "$result" p50_ms)" "$(field "$result" p99_ms)" "$ratio" "$found" "$stored" "$verdict"
    echo "RESULT backend=$backend run=$label rps=$rps bare_rps=${BASE[rps]} ratio=$ratio p99_ms=$(field "$result" p99_ms) found=$found stored=$stored verdict=${verdict%% *}" >> "$OUT/results.txt"
}

echo "redirect benchmark: wrk -t2 -c$CONNECTIONS -d$DURATION, $LINKS links, $(nproc) cores"
echo "each run: the bare actix-web redirect (in-memory map, no database), then influtrack"

fresh_pg() {
    local name="influtrack_bench_$1"
    psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
    python3 -c "import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path='/'+sys.argv[2])))" "$PG_ADMIN_URL" "$name"
}

wants() { case " $BACKENDS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
pg_up() { psql "$PG_ADMIN_URL" -Atc 'select 1' >/dev/null 2>&1; }

if [ -z "${SKIP_PLAIN:-}" ]; then
    if wants sqlite; then bench_backend sqlite "$(mktemp -d)/bench.db" sqlite; fi
    if wants postgres && pg_up; then bench_backend postgres "$(fresh_pg plain)" postgres; fi
fi
if [ "$PREFILL" -gt 0 ]; then
    if wants sqlite; then
        bench_backend sqlite "$(mktemp -d)/bench.db" "sqlite+${PREFILL}clicks" prefill
    fi
    if wants postgres && pg_up; then
        bench_backend postgres "$(fresh_pg prefill)" "postgres+${PREFILL}clicks" prefill
    fi
fi
