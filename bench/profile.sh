#!/usr/bin/env bash
# Where the gateway's time goes: the benchmark's setup (nginx upstream, bench/gateway.yaml, one uvicorn
# worker on core 0, wrk on core 1), with py-spy sampling the worker during one load run.
# Usage: bench/profile.sh [stream|non-stream] [SECONDS] [CONNS]
# Writes bench/results/profile-MODE.txt (the hottest functions, own and total time) and a flame graph SVG.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-non-stream} SECONDS_=${2:-10} CONNS=${3:-16}
[ -x .venv/bin/py-spy ] || .venv/bin/pip install -q py-spy
WORK=$(mktemp -d /tmp/profile.XXXXXX)
source bench/serve_one.sh

serve env WEB_CONCURRENCY=1 HOST=127.0.0.1 PORT="$PORT" PYTHON=.venv/bin/python \
  scripts/serve.sh --no-access-log --log-level warning
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
