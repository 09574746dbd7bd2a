#!/usr/bin/env bash
# Lists at scale: seed a small database (BENCH_LARGE_SMALL, 1,000 tasks) and a large one
# (BENCH_LARGE_USERS users x 100 tasks plus one user with BENCH_LARGE_BIG tasks) directly with SQL
# (bench/large/seed-*.sql), start the release server on each, drive the same list scenarios over
# loopback with bench/loadgen, and print the large database's ratios to the small one and the
# large-database targets. Not part of `cargo test`; see specs/performance.md "Lists at scale".
# The quick benchmark is bench/run.sh.
#
#   bash bench/large/run.sh
#
# Knobs (environment):
#   BENCH_DURATION=10     measured seconds per scenario
#   BENCH_WARMUP=1        unmeasured seconds before each scenario
#   BENCH_CONCURRENCY=50  connections, one request in flight on each
#   BENCH_THREADS=1       load generator threads
#   BENCH_SKIP_BUILD=1    use the existing binaries
#   BENCH_SERVER=./target/release/todo-api   the server binary
#   BENCH_NICE=-10        run the benchmark in its own session whose scheduler autogroup gets this
#                         nice level (negative needs root); see bench/run.sh
# Rate limiting is off unless TODO_RATE_LIMIT__ENABLED=true, as in bench/run.sh.
#   BENCH_BACKEND=sqlite  or postgres: a fresh schema in BENCH_PG_URL, dropped afterwards
#   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test   (needs psql and the pg_trgm and btree_gin extensions)
#   BENCH_LARGE_USERS=10000 BENCH_LARGE_BIG=100000   (USERS x 100 must be a multiple of BIG)
#   BENCH_LARGE_SMALL=5,500   the small database: users,big (5 x 100 + 500 = 1,000 tasks)
#   BENCH_KEEP_DB=1       keep the seeded databases and reuse them in later runs (SQLite files
#                         ${TMPDIR:-/tmp}/todo-bench-<users>x100+<big>.db, PostgreSQL schemas
#                         bench_keep_<users>_<big>); seeding the large one takes minutes
#   BENCH_SEARCH=invoice  the word list-q searches (one of the seed vocabulary, in ~2% of tasks)
#   BENCH_SCENARIOS default: ceiling,list,list-middle,list-walk,list-q,list-tag-due,ceiling
# Server settings pass through as usual, e.g. TODO_DATABASE__POOL_SIZE=4 or RUST_LOG=warn.
# The server's log (stderr) goes to a file in the temporary folder, as it would in production.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-1}
CONCURRENCY=${BENCH_CONCURRENCY:-50}
THREADS=${BENCH_THREADS:-1}
SCENARIOS=${BENCH_SCENARIOS:-ceiling,list,list-middle,list-walk,list-q,list-tag-due,ceiling}
BACKEND=${BENCH_BACKEND:-sqlite}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
case "$BACKEND" in
sqlite | postgres) ;;
*)
    echo "BENCH_BACKEND must be sqlite or postgres" >&2
    exit 2
    ;;
esac

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_nice "$@"
bench_build
bench_workdir todo-bench
pg_schemas=()
# Called on exit: drop the PostgreSQL schemas this run made.
bench_on_exit() {
    local schema
    for schema in "${pg_schemas[@]}"; do
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 \
            || echo "warning: could not drop schema $schema" >&2
    done
}

# One loopback load generator exceeds every default request budget: rate limiting is off unless
# asked for (as in bench/run.sh).
export TODO_RATE_LIMIT__ENABLED=${TODO_RATE_LIMIT__ENABLED:-false}

load() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l || echo 0)
header() { # what was seeded
    echo "## todo-api benchmark $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "- machine: $(nproc) CPUs ($cpu_model), $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(uname -sr)"
    echo "- server: $SERVER (built $(date -u -r "$SERVER" +%H:%MZ)) at $addr, pid $server_pid, tree at commit $rev$([[ $dirty != 0 ]] && echo " + $dirty uncommitted file(s) in src/Cargo.*"), backend $BACKEND, pool_size=${TODO_DATABASE__POOL_SIZE:-config.toml}, log filter=${RUST_LOG:-config.toml} (stderr to a file)"
    echo "- load: $CONCURRENCY connections, ${DURATION}s measured + ${WARMUP}s warm-up per scenario, loadgen threads=$THREADS, nice=${BENCH_NICE:-0}; $1"
    echo "- load average before: $(load)"
    echo
}

# shellcheck source=bench/large/large.sh
source bench/large/large.sh
run_large
