#!/usr/bin/env bash
# Benchmark: start the release server on a fresh temporary database, seed it through the API with
# BENCH_USERS x BENCH_TASKS tasks, drive each scenario over loopback with bench/loadgen, and print
# one Markdown table. Not part of `cargo test`; see specs/performance.md for results.
#
#   bash bench/run.sh
#
# Knobs (environment):
#   BENCH_DURATION=10     measured seconds per scenario
#   BENCH_WARMUP=1        unmeasured seconds before each scenario
#   BENCH_CONCURRENCY=50  connections, one request in flight on each
#   BENCH_USERS=100       users seeded (each also has a token)
#   BENCH_TASKS=100       tasks seeded per user
#   BENCH_WRITERS=100     extra users that creates go to (keeps the seeded lists at BENCH_TASKS)
#   BENCH_THREADS=1       load generator threads
#   BENCH_SCENARIOS=ceiling,health,get,list,mcp-list,patch,create,mcp-create,mix,ceiling (ratios use the best ceiling;
#                   also create-tagged: creates with two tags and a due date; create-keyed: a
#                   new Idempotency-Key on each create; patch-if-match: If-Match: * on each PATCH;
#                   feed: a page of 100 from GET /api/{u}/changes; create-one: every create by
#                   one user; toggle: PATCH .../complete on a random task; toggle-one: on one task)
#   BENCH_SKIP_BUILD=1    use the existing binaries
#   BENCH_VARIANTS="A;B"  run everything once per variant, each on a fresh server and database; a
#                         variant is space-separated VAR=value settings for the server, e.g.
#                         "TODO_DATABASE__SYNCHRONOUS=FULL;TODO_DATABASE__SYNCHRONOUS=NORMAL" or
#                         "TODO_METRICS__ENABLED=true;TODO_METRICS__ENABLED=false". Default: one
#                         run with the settings as they are. Repeat variants interleaved
#                         ("A;B;A;B;A;B"): the run ends with each variant's medians and their
#                         ratios to the first variant's.
#                         A variant word server=PATH runs that binary instead (an older build,
#                         to compare commits in one run).
#   BENCH_PG=postgres://postgres@127.0.0.1:5432
#                         run on PostgreSQL: each variant gets a fresh database todo_bench_N on
#                         that server (dropped and created with psql), instead of a SQLite file
#   BENCH_NICE=-10        run the benchmark in its own session whose scheduler autogroup gets this
#                         nice level (negative needs root). With sched_autogroup on, plain `nice`
#                         does not outrank other sessions' compiles; this does, approximating a quiet
#                         machine. Off by default: it slows everyone else for the length of the run.
# Server settings pass through as usual, e.g. TODO_DATABASE__POOL_SIZE=4 or RUST_LOG=warn.
# Rate limiting is off unless TODO_RATE_LIMIT__ENABLED=true: one load generator on one address
# drives far more than one user's or one address's budget (the ceiling row is all anonymous).
# The server's log (stderr) goes to a file in the temporary folder, as it would in production.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-1}
CONCURRENCY=${BENCH_CONCURRENCY:-50}
USERS=${BENCH_USERS:-100}
TASKS=${BENCH_TASKS:-100}
WRITERS=${BENCH_WRITERS:-100}
THREADS=${BENCH_THREADS:-1}
SCENARIOS=${BENCH_SCENARIOS:-ceiling,health,get,list,mcp-list,patch,create,mcp-create,mix,ceiling}
VARIANTS=${BENCH_VARIANTS:-}

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_nice "$@"
bench_build
bench_workdir todo-bench

echo "== minting $((USERS + WRITERS)) tokens" >&2
mint bench-u "$USERS" "$tmp/tokens.txt"
mint bench-w "$WRITERS" "$tmp/writers.txt"

# One loopback load generator exceeds every default request budget: rate limiting is off unless
# asked for.
export TODO_RATE_LIMIT__ENABLED=${TODO_RATE_LIMIT__ENABLED:-false}

# Start the server with the settings of variant $1 (space-separated VAR=value) on a fresh
# database numbered $2; sets addr and server_pid.
start_variant() {
    local db="$tmp/bench-$2.db"
    if [[ -n "${BENCH_PG:-}" ]]; then
        psql -q -d "$BENCH_PG/postgres" -c "DROP DATABASE IF EXISTS todo_bench_$2" \
            -c "CREATE DATABASE todo_bench_$2" >&2
        db="$BENCH_PG/todo_bench_$2?sslmode=disable"
    fi
    local word settings=() binary=$default_server
    for word in $1; do
        case $word in
        server=*) binary=${word#server=} ;;
        *) settings+=("$word") ;;
        esac
    done
    SERVER=$binary
    echo "== starting $SERVER on a fresh database $db${1:+ with $1}" >&2
    start_server "$db" "${settings[@]}"
}

load() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | wc -l || echo 0)
echo "## todo-api benchmark $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- machine: $(nproc) CPUs ($cpu_model), $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(uname -sr)"
echo "- server: $SERVER (built $(date -u -r "$SERVER" +%H:%MZ)), tree at commit $rev$([[ $dirty != 0 ]] && echo " + $dirty uncommitted file(s) in src/Cargo.*"), pool_size=${TODO_DATABASE__POOL_SIZE:-config.toml}, log filter=${RUST_LOG:-config.toml} (stderr to a file), rate limiting ${TODO_RATE_LIMIT__ENABLED}"
echo "- load: $CONCURRENCY connections, ${DURATION}s measured + ${WARMUP}s warm-up per scenario, loadgen threads=$THREADS, nice=${BENCH_NICE:-0}; seeded $USERS users x $TASKS tasks via POST"
echo

default_server=$SERVER
IFS=';' read -r -a variant_list <<<"${VARIANTS:-}"
[[ ${#variant_list[@]} -eq 0 ]] && variant_list=("")
n=0
for variant in "${variant_list[@]}"; do
    n=$((n + 1))
    start_variant "$variant" "$n"
    echo "### ${variant:-as configured} (server pid $server_pid at $addr)"
    echo
    echo "- load average before: $(load)"
    echo
    "${NICE[@]}" "$LOADGEN" --addr "$addr" --pid "$server_pid" \
        --tokens "$tmp/tokens.txt" --writer-tokens "$tmp/writers.txt" \
        --tasks-per-user "$TASKS" --concurrency "$CONCURRENCY" \
        --duration "$DURATION" --warmup "$WARMUP" --threads "$THREADS" \
        --scenarios "$SCENARIOS" | tee "$tmp/table.md"
    # Keep each row for the summary: variant, scenario, req/s, server CPU µs/req, p50, p99.
    awk -F'|' -v v="${variant:-as configured}" '$3 ~ /^ *[0-9]/ {
        gsub(/^ +| +$/, "", $2); split($2, name, ":")
        printf "%s\t%s\t%s\t%s\t%s\t%s\n", v, name[1], $3 + 0, $11 + 0, $5 + 0, $6 + 0
    }' "$tmp/table.md" >>"$tmp/rows.tsv"
    echo
    echo "- load average after: $(load)"
    echo
    require_server_alive
    stop_server
done

# With variants repeated (e.g. "A;B;A;B;A;B", interleaved so that a change in the machine's load
# hits both alike), print each variant's medians and their ratios to the first variant's.
if [[ ${#variant_list[@]} -gt 1 ]]; then
    echo "### Medians per variant (ratios to V1's median)"
    echo
    awk -F'\t' '
        !($1 in label) { label[$1] = "V" (++nv); order[nv] = $1 }
        !(($1, $2) in seen) { seen[$1, $2] = 1; if (!($2 in known)) { known[$2] = 1; scen[++ns] = $2 } }
        { k = $1 SUBSEP $2; n[k]++; rps[k, n[k]] = $3; us[k, n[k]] = $4; p99[k, n[k]] = $6 }
        function median(arr, k, m,   i, j, t, v) {
            for (i = 1; i <= m; i++) v[i] = arr[k, i]
            for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
            return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
        }
        END {
            for (i = 1; i <= nv; i++) printf "- V%d: %s\n", i, order[i]
            print ""
            print "| scenario | variant | runs | median req/s | vs V1 | median server CPU µs/req | vs V1 | median p99 ms |"
            print "|---|---|---:|---:|---:|---:|---:|---:|"
            for (s = 1; s <= ns; s++) {
                base = order[1] SUBSEP scen[s]
                r1 = n[base] ? median(rps, base, n[base]) : 0
                u1 = n[base] ? median(us, base, n[base]) : 0
                for (i = 1; i <= nv; i++) {
                    k = order[i] SUBSEP scen[s]
                    if (!n[k]) continue
                    r = median(rps, k, n[k]); u = median(us, k, n[k])
                    printf "| %s | V%d | %d | %.0f | %s | %.0f | %s | %.1f |\n", scen[s], i, n[k], r,
                        (r1 ? sprintf("%.3f", r / r1) : "n/a"), u, (u1 ? sprintf("%.3f", u / u1) : "n/a"),
                        median(p99, k, n[k])
                }
            }
        }' "$tmp/rows.tsv"
    echo
fi
