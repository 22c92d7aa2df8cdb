#!/usr/bin/env bash
# The crash run: the soak's mixed load (bench/soak/run.sh, examples/soak.rs) on SQLite and on
# PostgreSQL, with the server killed by SIGKILL KILLS times under load and restarted on the
# same database each time. Orders and refunds in flight at a kill are resent after the restart
# (each must answer 201 or 200, never be stored twice); at the end every acknowledged click,
# order and refund must be in the database exactly once.
#
#   bash bench/soak/crash.sh          # KILLS=3 SOAK_SECONDS=60 (load in all, per database)
set -euo pipefail
KILLS=${KILLS:-3} exec bash "$(dirname "$0")/run.sh"
