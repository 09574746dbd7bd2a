#!/usr/bin/env bash
# Instructions per request: run the release server under valgrind's callgrind with the given
# settings, seed 100 tasks, zero the counters, send exactly 1,000 GETs of one task, 200 lists of
# all 100 (the default page) and 500 creates (curl, one keep-alive connection per 100 requests),
# and print the instructions executed per request. Unlike requests/s on a shared machine, the
# count hardly depends on the machine's load (repeats agree within ~1%: timing still changes how
# writes are batched), so it can compare two settings to a few percent. It counts user-space
# instructions only: not the kernel's work in system calls, nor cache misses or waiting.
#
#   bash bench/instructions.sh "TODO_METRICS__ENABLED=false TODO_SERVER__REQUEST_IDS=false" ...
#
# Each argument is one variant (space-separated VAR=value server settings; "" for the settings as
# they are). A word server=PATH runs that binary instead of $BENCH_SERVER for its variant, to
# compare two builds: bash bench/instructions.sh server=/tmp/before server=/tmp/after
# Needs valgrind (callgrind_control) and curl; takes ~40 s per variant. Rate limiting is off
# unless a variant sets TODO_RATE_LIMIT__ENABLED=true (one client exceeds every default budget).
# Not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in valgrind callgrind_control curl; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIPPED: bench/instructions.sh needs $tool, which is not installed" >&2
        exit 0
    fi
done
[[ $# -gt 0 ]] || set -- ""

# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_build server
bench_workdir todo-instructions

token=$("$SERVER" token --user bench-i --ttl 1h)
auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
# Titles and descriptions of the benchmark's length, one with characters JSON must escape.
create_body='{"title":"bench task \"quoted\" three","description":"a description of average length, written once","tags":["work"]}'

# Zero the counters, run "$@", dump them; prints the instructions counted in between.
count() {
    callgrind_control -z "$server_pid" >/dev/null
    "$@"
    callgrind_control -d "$server_pid" >/dev/null
    local dump
    dump=$(ls -t "$tmp"/callgrind.out.* | head -n1)
    grep -m1 '^summary:' "$dump" | cut -d' ' -f2
}

echo "| variant | Ir per GET one | Ir per list of 100 | Ir per create |"
echo "|---|---:|---:|---:|"
for variant in "$@"; do
    rm -f "$tmp"/callgrind.out.* "$tmp/db.sqlite"*
    server=$SERVER
    settings=()
    for word in $variant; do
        case "$word" in
        server=*) server=${word#server=} ;;
        *) settings+=("$word") ;;
        esac
    done
    env TODO_RATE_LIMIT__ENABLED=false "${settings[@]}" valgrind --tool=callgrind \
        --callgrind-out-file="$tmp/callgrind.out.%p" \
        "$server" serve --host 127.0.0.1 --port 0 --database-url "$tmp/db.sqlite" \
        >"$tmp/server.out" 2>"$tmp/server.log" &
    server_pid=$!
    addr=
    for _ in $(seq 1 600); do
        addr=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$tmp/server.out" 2>/dev/null \
            | sed 's|.*http://||' || true)
        [[ -n "$addr" ]] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z "$addr" ]]; then
        echo "server did not start; its log:" >&2
        cat "$tmp/server.log" >&2
        exit 1
    fi
    base="http://$addr/api/bench-i/tasks"
    # Seed ids 1..100 and warm up; an unknown query parameter on POST is ignored.
    curl -sf -o /dev/null "${auth[@]}" -d "$create_body" "$base?n=[1-100]"
    curl -sf -o /dev/null "${auth[@]}" "$base/[1-100]"
    gets() { for _ in $(seq 1 10); do curl -sf -o /dev/null "${auth[@]}" "$base/[1-100]"; done; }
    lists() { for _ in 1 2; do curl -sf -o /dev/null "${auth[@]}" "$base?n=[1-100]"; done; }
    creates() { curl -sf -o /dev/null "${auth[@]}" -d "$create_body" "$base?n=[1-500]"; }
    get_ir=$(count gets)
    list_ir=$(count lists)
    create_ir=$(count creates)
    echo "| ${variant:-as configured} | $((get_ir / 1000)) | $((list_ir / 200)) | $((create_ir / 500)) |"
    stop_server
done
