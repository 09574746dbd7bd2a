# shellcheck shell=bash
# The large-database mode of bench/large/run.sh (sourced by it; uses its variables and functions): seed
# a small and a large database directly with SQL, run the same scenarios on each, and print the
# large one's ratios to the small one. Kept apart so the quick run's script stays short.

LARGE_USERS=${BENCH_LARGE_USERS:-10000}
LARGE_BIG=${BENCH_LARGE_BIG:-100000}
SMALL=${BENCH_LARGE_SMALL:-5,500}
SEARCH=${BENCH_SEARCH:-invoice}
KEEP=${BENCH_KEEP_DB:-0}

# The database for `users` x 100 tasks + `big` tasks of bench-big, seeded if new: echoes its
# path or URL (the server's --database-url).
prepare_db() { # users big
    local users=$1 big=$2
    if (((users * 100) % big != 0)); then
        echo "users x 100 ($users x 100) must be a multiple of big ($big)" >&2
        exit 2
    fi
    local started=$SECONDS
    if [[ "$BACKEND" == sqlite ]]; then
        local db="$tmp/bench-${users}x100+${big}.db"
        [[ "$KEEP" == 1 ]] && db="${TMPDIR:-/tmp}/todo-bench-${users}x100+${big}.db"
        if [[ -f "$db" ]]; then
            echo "== reusing $db" >&2
        else
            echo "== seeding $db: $users users x 100 + $big tasks" >&2
            TODO_DATABASE__URL="$db" "$SERVER" migrate >/dev/null 2>&1 || {
                echo "todo-api migrate failed on $db" >&2
                exit 1
            }
            sqlite3 -bail "$db" -cmd ".parameter set @users $users" \
                -cmd ".parameter set @big $big" <bench/large/seed-sqlite.sql >&2
            echo "   seeded in $((SECONDS - started)) s, $(du -m "$db" | cut -f1) MiB" >&2
        fi
        echo "$db"
    else
        local schema="bench_${users}_${big}_$$"
        [[ "$KEEP" == 1 ]] && schema="bench_keep_${users}_${big}"
        local url="$PG_URL?options=-c%20search_path%3D$schema"
        [[ "$PG_URL" == *\?* ]] && url="$PG_URL&options=-c%20search_path%3D$schema"
        local exists
        exists=$(psql -qtA "$PG_URL" -c "SELECT count(*) FROM pg_namespace WHERE nspname = '$schema'")
        [[ "$KEEP" != 1 ]] && pg_schemas+=("$schema")
        if [[ "$exists" == 1 && "$KEEP" == 1 ]]; then
            echo "== reusing schema $schema" >&2
        else
            echo "== seeding schema $schema: $users users x 100 + $big tasks" >&2
            # The extensions go in `public`, as an operator would install them: left to the
            # migration they would live in this schema and go with it when it is dropped,
            # taking every other schema's search index along.
            psql -q "$PG_URL" -c "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public" \
                -c "CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA public" >&2
            psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema" >&2
            TODO_DATABASE__URL="$url" "$SERVER" migrate >/dev/null 2>&1 || {
                echo "todo-api migrate failed on schema $schema (are pg_trgm and btree_gin available?)" >&2
                exit 1
            }
            psql -q "$url" -v users="$users" -v big="$big" -f bench/large/seed-postgres.sql >&2
            echo "   seeded in $((SECONDS - started)) s" >&2
        fi
        echo "$url"
    fi
}

# Tokens for up to 100 of the `users` seeded users, spread over them, and for bench-big.
mint_large() { # users
    local users=$1 n i
    n=$((users < 100 ? users : 100))
    : >"$tmp/tokens.txt"
    for ((i = 0; i < n; i++)); do
        local user
        user=$(printf 'bench-u%05d' $((i * users / n)))
        printf '%s %s\n' "$user" "$("$SERVER" token --user "$user" --ttl 2h)" >>"$tmp/tokens.txt"
    done
    printf 'bench-big %s\n' "$("$SERVER" token --user bench-big --ttl 2h)" >"$tmp/big.txt"
    # Creates are not among the default scenarios, but the load generator wants a writer.
    printf 'bench-w00000 %s\n' "$("$SERVER" token --user bench-w00000 --ttl 2h)" >"$tmp/writers.txt"
}

run_large() {
    local small_users=${SMALL%,*} small_big=${SMALL#*,}
    local name users big db
    for name in small large; do
        if [[ "$name" == small ]]; then
            users=$small_users big=$small_big
        else
            users=$LARGE_USERS big=$LARGE_BIG
        fi
        db=$(prepare_db "$users" "$big")
        mint_large "$users"
        echo "== starting $SERVER on the $name database" >&2
        start_server "$db"
        header "$name database seeded by SQL: $users users x 100 tasks + bench-big with $big tasks = $((users * 100 + big)) tasks"
        local compare=(--save "$tmp/small.tsv")
        [[ "$name" == large ]] && compare=(--baseline "$tmp/small.tsv")
        "${NICE[@]}" "$LOADGEN" --addr "$addr" --pid "$server_pid" --seeded \
            --tokens "$tmp/tokens.txt" --writer-tokens "$tmp/writers.txt" \
            --big-token "$tmp/big.txt" --search "$SEARCH" \
            --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" \
            --threads "$THREADS" --scenarios "$SCENARIOS" "${compare[@]}"
        echo
        echo "- load average after: $(load)"
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "server died during the run; its log tail:" >&2
            tail -n 20 "$tmp/server.log" >&2
            exit 1
        fi
        stop_server
        echo
    done
}
