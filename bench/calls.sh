#!/usr/bin/env bash
# Python calls per request: the benchmark's setup (nginx upstream, bench/gateway.yaml, one uvicorn worker on
# core 0, wrk on core 1), with the worker under cProfile during one load run (bench/calls.py).
# Usage: bench/calls.sh [stream|non-stream] [SECONDS] [CONNS]
# Writes bench/results/calls-MODE.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-non-stream} SECONDS_=${2:-10} CONNS=${3:-16}
KEY=sk-gw-bench-key-0123456789

if ! { command -v nginx && command -v wrk; } >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null
fi
py() { "$ROOT/.venv/bin/python" "$ROOT/bench/measure.py" "$@"; }

WORK=$(mktemp -d /tmp/calls.XXXXXX)
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
taskset -c 0 .venv/bin/python bench/calls.py serve "$WORK/stats" "$PORT" > "$WORK/gateway.log" 2>&1 &
PID=$!

if [ "$MODE" = stream ]; then MODEL=gpt-bench-stream STREAM=1; else MODEL=gpt-bench STREAM=0; fi
URL=http://127.0.0.1:$PORT/v1/chat/completions
BODY="{\"model\":\"$MODEL\",\"stream\":$( ((STREAM)) && echo true || echo false),\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
[ "$(py wait "$URL" "$BODY" "$KEY" "$(date +%s.%N)")" != timeout ] || { tail -20 "$WORK/gateway.log"; exit 1; }
load() { BENCH_MODEL=$MODEL BENCH_STREAM=$STREAM BENCH_KEY=$KEY taskset -c 1 wrk -t1 -c"$CONNS" -d"$1"s -s bench/post.lua "$URL"; }
load 3 > /dev/null  # warm up, uncounted
kill -USR1 "$PID"
load "$SECONDS_" > "$WORK/wrk.txt"
kill -TERM "$PID"; wait "$PID" || true; PID=
read -r REQUESTS ERRORS <<< "$(py counts "$WORK/wrk.txt")"
[ "$ERRORS" = 0 ] || echo "!! $ERRORS of $REQUESTS requests failed: the profile mixes in their error path" >&2

mkdir -p bench/results
OUT=bench/results/calls-$MODE.txt
.venv/bin/python bench/calls.py report "$WORK/stats" 60 > "$OUT"
head -25 "$OUT"
