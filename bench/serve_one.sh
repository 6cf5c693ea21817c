# Sourced by bench/profile.sh and bench/calls.sh (from the project's root, after `set -euo pipefail`, with
# MODE, CONNS and WORK set): nginx as the fake upstream on core 1, a fresh data directory with
# bench/gateway.yaml loaded, and the helpers to start one server on core 0, wait for it and load it.
KEY=sk-gw-bench-key-0123456789
ROOT=$PWD

if ! { command -v nginx && command -v wrk; } >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null
fi
py() { "$ROOT/.venv/bin/python" "$ROOT/bench/measure.py" "$@"; }

PID=
cleanup() {  # every step runs: under set -e a failing one (wait reports the server's signal) must not stop it
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

read -r JSON_PORT SSE_PORT PORT <<< "$(py ports 3)"
mkdir -p "$WORK/tmp" "$WORK/gateway"
sed -e "s|__DIR__|$WORK|g" -e "s|__JSON_PORT__|$JSON_PORT|g" -e "s|__SSE_PORT__|$SSE_PORT|g" \
  bench/nginx.conf.template > "$WORK/nginx.conf"
taskset -c 1 nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"

export GATEWAY_DATA_DIR=$WORK/gateway BENCH_JSON_PORT=$JSON_PORT BENCH_SSE_PORT=$SSE_PORT
.venv/bin/python manage.py migrate --noinput -v 0
.venv/bin/python manage.py loadconfig bench/gateway.yaml > /dev/null

if [ "$MODE" = stream ]; then MODEL=gpt-bench-stream STREAM=1; else MODEL=gpt-bench STREAM=0; fi
URL=http://127.0.0.1:$PORT/v1/chat/completions

# serve COMMAND...: the server on core 0 (it listens on $PORT), its output in $WORK/gateway.log; once it answers.
serve() {
  taskset -c 0 "$@" > "$WORK/gateway.log" 2>&1 &
  PID=$!
  local body="{\"model\":\"$MODEL\",\"stream\":$( ((STREAM)) && echo true || echo false),\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
  [ "$(py wait "$URL" "$body" "$KEY" "$(date +%s.%N)")" != timeout ] || { tail -20 "$WORK/gateway.log"; exit 1; }
}
load() { BENCH_MODEL=$MODEL BENCH_STREAM=$STREAM BENCH_KEY=$KEY taskset -c 1 wrk -t1 -c"$CONNS" -d"$1"s -s bench/post.lua "$URL"; }
