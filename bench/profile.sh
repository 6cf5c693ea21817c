#!/usr/bin/env bash
# Where the gateway's time goes: the benchmark's setup (nginx upstream, bench/gateway.yaml, one uvicorn
# worker on core 0, wrk on core 1), with py-spy sampling the worker during one load run.
# Usage: bench/profile.sh [stream|non-stream] [SECONDS] [CONNS]
# Writes bench/results/profile-MODE.txt (the hottest functions, own and total time) and a flame graph SVG.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-non-stream} SECONDS_=${2:-10} CONNS=${3:-16}
KEY=sk-gw-bench-key-0123456789

[ -x .venv/bin/py-spy ] || .venv/bin/pip install -q py-spy
if ! { command -v nginx && command -v wrk; } >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null
fi
py() { "$ROOT/.venv/bin/python" "$ROOT/bench/measure.py" "$@"; }

WORK=$(mktemp -d /tmp/profile.XXXXXX)
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
WEB_CONCURRENCY=1 HOST=127.0.0.1 PORT=$PORT PYTHON=.venv/bin/python \
  taskset -c 0 scripts/serve.sh --no-access-log --log-level warning > "$WORK/gateway.log" 2>&1 &
PID=$!

if [ "$MODE" = stream ]; then MODEL=gpt-bench-stream STREAM=1; else MODEL=gpt-bench STREAM=0; fi
URL=http://127.0.0.1:$PORT/v1/chat/completions
py wait "$URL" "{\"model\":\"$MODEL\",\"stream\":$( ((STREAM)) && echo true || echo false),\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" "$KEY" "$(date +%s.%N)" >/dev/null
load() { BENCH_MODEL=$MODEL BENCH_STREAM=$STREAM BENCH_KEY=$KEY taskset -c 1 wrk -t1 -c"$CONNS" -d"$1"s -s bench/post.lua "$URL"; }
load 3 > /dev/null  # warm up

mkdir -p bench/results
OUT=bench/results/profile-$MODE
load "$SECONDS_" > "$WORK/wrk.txt" &
LOAD=$!
taskset -c 1 .venv/bin/py-spy record --pid "$PID" --duration "$SECONDS_" --rate 500 --format raw \
  --output "$WORK/raw.txt" > /dev/null 2>&1
wait "$LOAD"  # (a bare wait would wait for the server too)
taskset -c 1 .venv/bin/py-spy record --pid "$PID" --duration 3 --rate 200 --output "$OUT.svg" >/dev/null 2>&1 &
SPY=$!
load 3 > /dev/null
wait "$SPY"
.venv/bin/python bench/hotspots.py "$WORK/raw.txt" 60 Runner.run > "$OUT.txt"  # the event loop's thread
grep -E "Requests/sec" "$WORK/wrk.txt" | tee -a "$OUT.txt"
head -40 "$OUT.txt"
