#!/usr/bin/env bash
# Soak: start the release server on a fresh temporary database, seed it through the API, then
# drive a fixed request rate of mixed traffic (list pages with filters and cursors, search, get,
# create, update, toggle, delete, MCP list) for minutes with bench/loadgen, printing errors,
# latency and the server's resident memory every sampling interval, and a verdict. Not part of
# `cargo test`; see specs/performance.md ("Hardening cost and soak") for results.
#
#   bash bench/soak.sh                     # 5 minutes at 1,000 req/s
#   SOAK_DURATION=60 bash bench/soak.sh    # a shorter one
#
# Knobs (environment):
#   SOAK_DURATION=300     measured seconds
#   SOAK_WARMUP=10        unmeasured seconds first (the same traffic)
#   SOAK_RATE=1000        requests per second over all connections (fixed, open-loop)
#   SOAK_CONCURRENCY=50   connections; each sends on its own schedule, one request in flight
#   SOAK_SAMPLE=30        seconds between samples (latency, errors, server VmRSS)
#   BENCH_USERS=100 BENCH_TASKS=100 BENCH_WRITERS=100 BENCH_THREADS=1 BENCH_SKIP_BUILD=1: as in run.sh
# Server settings pass through as usual. The server runs as in production (rate limiting,
# metrics and request ids on) except that the rate limits' budgets default to 1,000,000/s, so the
# limiter does its work on every request but refuses none: one load generator on one address is
# far above any real user's budget. A 429 would count as an error. Set TODO_RATE_LIMIT__ENABLED=false
# to soak without it.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${SOAK_DURATION:-300}
WARMUP=${SOAK_WARMUP:-10}
RATE=${SOAK_RATE:-1000}
CONCURRENCY=${SOAK_CONCURRENCY:-50}
SAMPLE=${SOAK_SAMPLE:-30}
USERS=${BENCH_USERS:-100}
TASKS=${BENCH_TASKS:-100}
WRITERS=${BENCH_WRITERS:-100}
THREADS=${BENCH_THREADS:-1}

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_build
bench_workdir todo-soak

echo "== minting $((USERS + WRITERS)) tokens" >&2
mint bench-u "$USERS" "$tmp/tokens.txt"
mint bench-w "$WRITERS" "$tmp/writers.txt"

export TODO_RATE_LIMIT__ENABLED=${TODO_RATE_LIMIT__ENABLED:-true}
export TODO_RATE_LIMIT__USER_PER_SECOND=${TODO_RATE_LIMIT__USER_PER_SECOND:-1000000}
export TODO_RATE_LIMIT__USER_BURST=${TODO_RATE_LIMIT__USER_BURST:-1000000}
export TODO_RATE_LIMIT__IP_PER_SECOND=${TODO_RATE_LIMIT__IP_PER_SECOND:-1000000}
export TODO_RATE_LIMIT__IP_BURST=${TODO_RATE_LIMIT__IP_BURST:-1000000}

db="$tmp/soak.db"
echo "== starting $SERVER on a fresh database $db" >&2
start_server "$db"

load() { cut -d' ' -f1-3 /proc/loadavg; }
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "## todo-api soak $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- machine: $(nproc) CPUs, $(uname -sr); server $SERVER (built $(date -u -r "$SERVER" +%H:%MZ)) at commit $rev, pid $server_pid"
echo "- traffic: $RATE req/s over $CONCURRENCY connections, ${WARMUP}s warm-up + ${DURATION}s measured, samples every ${SAMPLE}s; seeded $USERS users x $TASKS tasks"
echo "- rate limiting enabled=$TODO_RATE_LIMIT__ENABLED (user ${TODO_RATE_LIMIT__USER_PER_SECOND}/s burst $TODO_RATE_LIMIT__USER_BURST, ip ${TODO_RATE_LIMIT__IP_PER_SECOND}/s burst $TODO_RATE_LIMIT__IP_BURST), metrics ${TODO_METRICS__ENABLED:-config.toml}, request ids ${TODO_SERVER__REQUEST_IDS:-config.toml}, synchronous ${TODO_DATABASE__SYNCHRONOUS:-config.toml}"
echo "- load average before: $(load)"
echo

# The WAL's size on disk beside the samples: SQLite checkpoints it back to the database file and
# reuses it from the start only when no reader holds an older snapshot.
(
    while kill -0 "$server_pid" 2>/dev/null; do
        printf '%s %s\n' "$(date -u +%H:%M:%S)" "$(stat -c %s "$db-wal" 2>/dev/null || echo 0)"
        sleep "$SAMPLE"
    done
) >"$tmp/wal.txt" &
wal_sampler=$!

"$LOADGEN" --addr "$addr" --pid "$server_pid" \
    --tokens "$tmp/tokens.txt" --writer-tokens "$tmp/writers.txt" \
    --tasks-per-user "$TASKS" --concurrency "$CONCURRENCY" --threads "$THREADS" \
    --duration "$DURATION" --warmup "$WARMUP" --scenarios soak --rate "$RATE" \
    --sample-every "$SAMPLE"

kill "$wal_sampler" 2>/dev/null || true
echo
echo "- WAL file size (bytes) every ${SAMPLE}s from the start: $(cut -d' ' -f2 "$tmp/wal.txt" | paste -sd' ')"
echo "- load average after: $(load)"
require_server_alive
panics=$(grep -c -i 'panic' "$tmp/server.log" || true)
echo "- server log: $(wc -l <"$tmp/server.log") lines, ${panics} mentioning a panic"
