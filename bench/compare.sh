#!/usr/bin/env bash
# Paired A/B of two builds of the gateway: the working tree ("new") against a git revision or another
# checkout's directory ("old"; the directory is served as it is, with this tree's .venv), or against the
# minimal pass-through (bench/passthrough.py) when REV is "passthrough": the goal's ratio, paired.
# On a shared machine req/s moves by a quarter between runs; serving both builds at once (both on core 0,
# nginx and wrk on core 1) and loading them in turn, old and new alternating first, the ratio within a
# round cancels most of that. Prints the median of the rounds' ratios.
# Usage: bench/compare.sh [REV|DIR|passthrough] [stream|non-stream] [ROUNDS] [SECONDS] [CONNS]   (HEAD non-stream 8 5 16)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REV=${1:-HEAD} MODE=${2:-non-stream} ROUNDS=${3:-8} SECONDS_=${4:-5} CONNS=${5:-16}
KEY=sk-gw-bench-key-0123456789
PY=$ROOT/.venv/bin/python

if ! { command -v nginx && command -v wrk; } >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null
fi
measure() { "$PY" "$ROOT/bench/measure.py" "$@"; }

WORK=$(mktemp -d /tmp/compare.XXXXXX)
PIDS=()
cleanup() {
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

read -r JSON_PORT SSE_PORT OLD_PORT NEW_PORT <<< "$(measure ports 4)"
mkdir -p "$WORK/tmp"
if [ "$REV" = passthrough ]; then
  OLD_TREE=
elif [ -d "$REV" ]; then
  OLD_TREE=$(cd "$REV" && pwd)
else
  OLD_TREE=$WORK/old
  mkdir -p "$OLD_TREE" && git archive "$REV" | tar -x -C "$OLD_TREE"
fi
sed -e "s|__DIR__|$WORK|g" -e "s|__JSON_PORT__|$JSON_PORT|g" -e "s|__SSE_PORT__|$SSE_PORT|g" \
  bench/nginx.conf.template > "$WORK/nginx.conf"
taskset -c 1 nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"

declare -A PORT=([old]=$OLD_PORT [new]=$NEW_PORT) TREE=([old]=$OLD_TREE [new]=$ROOT) PID
for build in old new; do
  (
    if [ "$build" = old ] && [ -z "$OLD_TREE" ]; then
      exec env BENCH_UPSTREAM_JSON="http://127.0.0.1:$JSON_PORT/v1" BENCH_UPSTREAM_SSE="http://127.0.0.1:$SSE_PORT/v1" \
        taskset -c 0 "$PY" -m uvicorn passthrough:app --app-dir bench --host 127.0.0.1 --port "${PORT[old]}" \
        --loop uvloop --http httptools --no-access-log --log-level warning > "$WORK/old.log" 2>&1
    fi
    cd "${TREE[$build]}"
    export GATEWAY_DATA_DIR=$WORK/data-$build BENCH_JSON_PORT=$JSON_PORT BENCH_SSE_PORT=$SSE_PORT
    mkdir -p "$GATEWAY_DATA_DIR"
    "$PY" manage.py migrate --noinput -v 0
    "$PY" manage.py loadconfig bench/gateway.yaml > /dev/null
    exec env WEB_CONCURRENCY=1 HOST=127.0.0.1 PORT=${PORT[$build]} PYTHON=$PY \
      taskset -c 0 scripts/serve.sh --no-access-log --log-level warning > "$WORK/$build.log" 2>&1
  ) &
  PID[$build]=$!
  PIDS+=("$!")
done

if [ "$MODE" = stream ]; then MODEL=gpt-bench-stream STREAM=1; else MODEL=gpt-bench STREAM=0; fi
BODY="{\"model\":\"$MODEL\",\"stream\":$( ((STREAM)) && echo true || echo false),\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
url() { echo "http://127.0.0.1:${PORT[$1]}/v1/chat/completions"; }
load() {
  BENCH_MODEL=$MODEL BENCH_STREAM=$STREAM BENCH_KEY=$KEY \
    taskset -c 1 wrk -t1 -c"$CONNS" -d"$2"s --latency -s bench/post.lua "$(url "$1")"
}
for build in old new; do
  [ "$(measure wait "$(url $build)" "$BODY" "$KEY" "$(date +%s.%N)")" != timeout ] \
    || { echo "the $build build did not start:"; tail -20 "$WORK/$build.log"; exit 1; }
  load "$build" 3 > /dev/null  # warm up
done

echo "$REV (old) vs the working tree (new): $MODE, $CONNS connections, $ROUNDS rounds of ${SECONDS_} s each"
for round in $(seq "$ROUNDS"); do
  if (( round % 2 )); then order="old new"; else order="new old"; fi
  for build in $order; do
    measure settle "${PID[$build]}" > /dev/null
    before=$(measure snap "${PID[$build]}" 0)
    load "$build" "$SECONDS_" > "$WORK/wrk.txt"
    after=$(measure snap "${PID[$build]}" 0)
    measure cell "$build" "$MODE" "$CONNS" "$before" "$after" "$WORK/wrk.txt" round="$round" build="$build" \
      >> "$WORK/cells.jsonl"
  done
done
measure paired "$WORK/cells.jsonl"
