#!/usr/bin/env bash
# Python calls per request: the benchmark's setup (nginx upstream, bench/gateway.yaml, one uvicorn worker on
# core 0, wrk on core 1), with the worker under cProfile during one load run (bench/calls.py).
# Usage: bench/calls.sh [stream|non-stream] [SECONDS] [CONNS]
# Writes bench/results/calls-MODE.txt, and the raw profile to calls-MODE.prof (bench/calls.py callers).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-non-stream} SECONDS_=${2:-10} CONNS=${3:-16}
WORK=$(mktemp -d /tmp/calls.XXXXXX)
source bench/serve_one.sh

serve .venv/bin/python bench/calls.py serve "$WORK/stats" "$PORT"
load 3 > /dev/null  # warm up, uncounted
kill -USR1 "$PID"
load "$SECONDS_" > "$WORK/wrk.txt"
kill -TERM "$PID"; wait "$PID" || true; PID=
read -r REQUESTS ERRORS <<< "$(py counts "$WORK/wrk.txt")"
[ "$ERRORS" = 0 ] || echo "!! $ERRORS of $REQUESTS requests failed: the profile mixes in their error path" >&2

mkdir -p bench/results
OUT=bench/results/calls-$MODE.txt
.venv/bin/python bench/calls.py report "$WORK/stats" 60 > "$OUT"
cp "$WORK/stats" "bench/results/calls-$MODE.prof"  # for: bench/calls.py callers bench/results/calls-MODE.prof NAME
head -25 "$OUT"
