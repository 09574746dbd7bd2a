# Shared by the benchmark scripts (sourced from the project root, never run on its own): the
# release build, a temporary folder removed on exit with any server still running in it, token
# minting, and starting and stopping the server on a database.
#
# Sets SERVER (BENCH_SERVER, or the release binary) and LOADGEN; NICE (an array, empty unless
# BENCH_NICE) prefixes what start_server runs.

SERVER=${BENCH_SERVER:-./target/release/todo-api}
LOADGEN=./bench/loadgen/target/release/todo-api-loadgen
NICE=()

# Build the server and, unless $1 is "server", the load generator; BENCH_SKIP_BUILD=1 skips this.
bench_build() {
    [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]] && return
    echo "== building (release)" >&2
    cargo build --release --quiet --bin todo-api >&2
    if [[ "${1:-}" != server ]]; then
        cargo build --release --quiet --manifest-path bench/loadgen/Cargo.toml >&2
    fi
}

# Make the temporary folder $tmp (named after $1); on exit, stop the server, run
# bench_on_exit if the script defines one, and remove the folder.
bench_workdir() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    server_pid=
    trap bench_cleanup EXIT
}

bench_cleanup() {
    stop_server
    if declare -F bench_on_exit >/dev/null; then bench_on_exit; fi
    rm -rf "$tmp"
}

# Write $2 tokens (2 h) for the users $1000, $1001, ... to file $3, one "user token" a line.
mint() {
    local i user
    : >"$3"
    for ((i = 0; i < $2; i++)); do
        user=$(printf '%s%03d' "$1" "$i")
        printf '%s %s\n' "$user" "$("$SERVER" token --user "$user" --ttl 2h)" >>"$3"
    done
}

# Start the server on database $1 (a path or URL) with the settings $2... (VAR=value words) and
# wait up to 30 s for its address: sets server_pid and addr; exits with its log if it fails.
start_server() {
    local db=$1
    shift
    env "$@" "${NICE[@]}" "$SERVER" serve --host 127.0.0.1 --port 0 --database-url "$db" \
        >"$tmp/server.out" 2>"$tmp/server.log" &
    server_pid=$!
    addr=
    for _ in $(seq 1 600); do
        addr=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$tmp/server.out" 2>/dev/null \
            | head -n1 | sed 's|.*http://||' || true)
        [[ -n "$addr" ]] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    if [[ -z "$addr" ]]; then
        echo "server did not start; its log:" >&2
        cat "$tmp/server.out" "$tmp/server.log" >&2 || true
        exit 1
    fi
}

# Exit with the tail of its log if the server is no longer running.
require_server_alive() {
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "server died during the run; its log tail:" >&2
        tail -n 20 "$tmp/server.log" >&2
        exit 1
    fi
}

stop_server() {
    if [[ -n "${server_pid:-}" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
}

# With BENCH_NICE, run the calling script again (with its arguments, "$@") in a session of its
# own whose scheduler autogroup gets that nice level, and prefix the server and load generator
# with `nice` (NICE).
bench_nice() {
    [[ -n "${BENCH_NICE:-}" ]] || return 0
    if [[ -z "${BENCH_IN_SESSION:-}" ]]; then
        BENCH_IN_SESSION=1 exec setsid -w bash "$0" "$@"
    fi
    echo "$BENCH_NICE" >/proc/self/autogroup 2>/dev/null \
        || echo "warning: cannot set the autogroup's nice level" >&2
    NICE=(nice -n "$BENCH_NICE")
}
