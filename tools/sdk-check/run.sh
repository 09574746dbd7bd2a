#!/usr/bin/env bash
# SDK check for the todo-api OpenAPI document. Exits non-zero on the first failure.
#
#   1. installs the pinned linters and generators (npm ci from package-lock.json; pip into ./.venv);
#   2. builds todo-api and exports the document (`todo-api openapi` and `openapi --yaml`);
#   3. lints both with Redocly (`recommended`) and Spectral (`spectral:oas`); warnings fail too;
#   4. generates a TypeScript client (openapi-typescript) and a Python client
#      (openapi-python-client, failing on any generator warning), with no hand edits;
#   5. starts the server on 127.0.0.1, a random port and a temporary database, and runs
#      smoke.ts (type-checked with tsc, run with tsx, through openapi-fetch) and smoke.py.
#
# Usage: tools/sdk-check/run.sh        (from anywhere; needs cargo, Node >= 20, Python >= 3.11)
# Env:   TODO_API_BIN=path  use this todo-api binary instead of building one.
#        SDK_CHECK_SKIP_INSTALL=1  reuse node_modules/ and .venv/ as they are.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
gen="$here/generated"
cd "$here"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'sdk-check: FAILED: %s\n' "$*" >&2; exit 1; }

# --- 1. tools -----------------------------------------------------------------------------------
if [[ "${SDK_CHECK_SKIP_INSTALL:-}" != 1 ]]; then
  step "installing pinned npm tools (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  step "installing pinned Python tools into .venv"
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
fi
export PATH="$here/node_modules/.bin:$here/.venv/bin:$PATH"

# --- 2. the document ----------------------------------------------------------------------------
if [[ -n "${TODO_API_BIN:-}" ]]; then
  bin="$TODO_API_BIN"
else
  step "building todo-api"
  (cd "$root" && cargo build --quiet --bin todo-api)
  target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  bin="$target_dir/debug/todo-api"
fi
[[ -x "$bin" ]] || fail "no todo-api binary at $bin"

rm -rf "$gen"
mkdir -p "$gen/ts" "$gen/python"
"$bin" openapi >"$gen/openapi.json"
"$bin" openapi --yaml >"$gen/openapi.yaml"
for f in openapi.json openapi.yaml; do
  if [[ -f "$root/openapi/$f" ]] && ! diff -q "$root/openapi/$f" "$gen/$f" >/dev/null; then
    echo "note: openapi/$f differs from what the code generates (regenerate it; see tests/api/openapi.rs)"
  fi
done

# --- 3. lint ------------------------------------------------------------------------------------
for f in openapi.yaml openapi.json; do
  step "redocly lint (recommended): generated/$f"
  # Redocly exits non-zero on errors only; its JSON report also lets warnings fail the check.
  redocly lint --config redocly.yaml "generated/$f" || fail "redocly lint: errors in $f"
  redocly lint --config redocly.yaml --format json "generated/$f" 2>/dev/null >"$gen/redocly-$f.report.json" || true
  node -e '
    const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).totals;
    console.log(`redocly: ${t.errors} errors, ${t.warnings} warnings, ${t.ignored} ignored`);
    process.exit(t.errors + t.warnings === 0 ? 0 : 1);
  ' "$gen/redocly-$f.report.json" || fail "redocly lint: problems in $f"

  step "spectral lint (spectral:oas): generated/$f"
  spectral lint --ruleset .spectral.yaml --fail-severity warn "generated/$f" ||
    fail "spectral lint: problems in $f"
done

# --- 4. generate clients ------------------------------------------------------------------------
step "generating the TypeScript client (openapi-typescript)"
# openapi-typescript runs Redocly's linter itself and prints the GET /health 4XX warning that
# .redocly.lint-ignore.yaml explains; it does not read that ignore file. The warning is harmless.
openapi-typescript "$gen/openapi.json" --output "$gen/ts/schema.ts"
step "type-checking smoke.ts against it (tsc)"
tsc --project tsconfig.json

step "generating the Python client (openapi-python-client)"
openapi-python-client generate --path "$gen/openapi.json" --meta none --config python-client.yaml \
  --output-path "$gen/python/todo_api_client" --fail-on-warning
# Also from the YAML document, which is what a YAML-first consumer feeds it: it must generate
# without warnings too. (Its output is not compared with the JSON one: the YAML's unquoted
# date-time examples are strings in YAML 1.2 but timestamps to the YAML 1.1 loader this generator
# uses, so example docstrings differ; types and code do not.)
openapi-python-client generate --path "$gen/openapi.yaml" --meta none --config python-client.yaml \
  --output-path "$gen/python-from-yaml/todo_api_client" --fail-on-warning
python3 -m compileall -q "$gen/python/todo_api_client" >/dev/null || fail "generated Python does not compile"

# --- 5. run them against a live server ----------------------------------------------------------
step "starting todo-api on 127.0.0.1 with a temporary database"
run_dir="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$run_dir"
}
trap cleanup EXIT

# A config file of our own with a random secret, in an empty working directory, so no developer
# config.toml or environment variable can change what is tested.
secret="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
cat >"$run_dir/config.toml" <<EOF
[server]
host = "127.0.0.1"
port = 0
[database]
url = "$run_dir/todo.db"
[auth]
secret = "$secret"
[log]
filter = "warn"
EOF
unset_env=(-u HOST -u PORT -u DATABASE_URL -u BETTER_AUTH_SECRET -u CORS_ORIGINS -u RUST_LOG)
for name in $(compgen -e); do [[ "$name" == TODO_* ]] && unset_env+=(-u "$name"); done
todo_api() {
  (cd "$run_dir" && exec env "${unset_env[@]}" RUST_BACKTRACE=0 "$bin" --config "$run_dir/config.toml" "$@")
}
# One subshell that execs the server, so $! is the server's own pid and cleanup() stops it.
(cd "$run_dir" && exec env "${unset_env[@]}" RUST_BACKTRACE=0 "$bin" --config "$run_dir/config.toml" \
  serve --host 127.0.0.1 --port 0 --database-url "$run_dir/todo.db") \
  >"$run_dir/stdout" 2>"$run_dir/stderr" &
server_pid=$!

SDK_CHECK_URL=""
for _ in $(seq 1 100); do
  SDK_CHECK_URL="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$run_dir/stdout" | head -n1 || true)"
  [[ -n "$SDK_CHECK_URL" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$run_dir/stderr" >&2; fail "the server exited"; }
  sleep 0.1
done
[[ -n "$SDK_CHECK_URL" ]] || { cat "$run_dir/stderr" >&2; fail "the server printed no URL"; }
export SDK_CHECK_URL
echo "server: $SDK_CHECK_URL (pid $server_pid)"

# Each client works as its own user, so each starts from an empty task list.
step "TypeScript smoke test (openapi-fetch)"
SDK_CHECK_USER="ts-alice" SDK_CHECK_TOKEN="$(todo_api token --user ts-alice)" tsx smoke.ts ||
  fail "TypeScript smoke test"

step "Python smoke test (openapi-python-client)"
SDK_CHECK_USER="py-alice" SDK_CHECK_TOKEN="$(todo_api token --user py-alice)" \
  PYTHONPATH="$gen/python" .venv/bin/python smoke.py || fail "Python smoke test"

kill -0 "$server_pid" 2>/dev/null || fail "the server died during the smoke tests"
printf '\nsdk-check: OK (both linters clean, both generated clients pass)\n'
