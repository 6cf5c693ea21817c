#!/usr/bin/env bash
# The side-by-side benchmark (bench/README.md): installs what it needs, starts a fake upstream (nginx) and
# each target in turn, loads it with wrk, prints one Markdown report and saves it under bench/results/.
# Usage: bench/run.sh [--quick]
# Environment: BENCH_SECONDS (per cell; 15, or 5 with --quick),
# BENCH_TARGETS (direct passthrough gateway scaling litellm).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

LITELLM_VERSION=1.106.0
SERVER_CPU=0
LOAD_CPU=1
KEY=sk-gw-bench-key-0123456789
TARGETS=${BENCH_TARGETS:-direct passthrough gateway scaling litellm}
ALL_CPUS=0-$(($(nproc) - 1))
# The scaling target: worker counts and connections, and its own Redis database and key prefix (tests use db 0).
SCALING_WORKERS="1 2"
SCALING_CONNS="16 64"
SCALING_REDIS_URL=redis://127.0.0.1:6379/9
SCALING_PREFIX=bench-scaling
if [ "${1:-}" = "--quick" ]; then
  CELL_SECONDS=${BENCH_SECONDS:-5}; CONNS="1 16 256"; GROWTH_STEP=4000; OUT=quick
else
  CELL_SECONDS=${BENCH_SECONDS:-15}; CONNS="1 16 64 256"; GROWTH_STEP=20000; OUT=latest
fi
GROWTH_STEPS=5

# Servers, nginx and wrk run at the highest priority when we are root, so that other work on the machine
# disturbs them less (the report still shows how much of the server's core others took).
PRIO=()
[ "$(id -u)" = 0 ] && PRIO=(nice -n -20)

log() { echo "== $*" >&2; }
py() { taskset -c "$LOAD_CPU" "$ROOT/.venv/bin/python" "$ROOT/bench/measure.py" "$@"; }

install_tools() {
  local missing=()
  command -v nginx >/dev/null || missing+=(nginx)
  command -v wrk >/dev/null || missing+=(wrk)
  [ ${#missing[@]} = 0 ] && return
  [ "$(id -u)" = 0 ] || { echo "!! bench needs ${missing[*]}: sudo apt-get install nginx-light wrk" >&2; exit 1; }
  log "installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq wrk >/dev/null
  command -v nginx >/dev/null || apt-get install -y -qq nginx-light >/dev/null \
    || apt-get install -y -qq nginx >/dev/null
}

install_litellm() {
  local venv=bench/.venv-litellm
  "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('litellm') != '$LITELLM_VERSION')" \
    2>/dev/null && return
  log "installing litellm[proxy]==$LITELLM_VERSION into $venv (a few minutes)"
  "${PYTHON:-python3}" -m venv "$venv" && "$venv/bin/pip" install -q "litellm[proxy]==$LITELLM_VERSION" >&2
}

WORK=$(mktemp -d /tmp/bench.XXXXXX)
RESULTS=$WORK/results.jsonl
PID=
cleanup() {
  [ -n "$PID" ] && stop_server
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pin() {  # pin a process and its descendants to one core
  local pid
  for pid in $(py tree "$2"); do taskset -p -c "$1" "$pid" >/dev/null; done
}

start_nginx() {
  mkdir -p "$WORK/tmp"
  sed -e "s|__DIR__|$WORK|g" -e "s|__JSON_PORT__|$JSON_PORT|g" -e "s|__SSE_PORT__|$SSE_PORT|g" \
    bench/nginx.conf.template > "$WORK/nginx.conf"
  "${PRIO[@]}" taskset -c "$LOAD_CPU" nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"
  for _ in $(seq 50); do [ -s "$WORK/nginx.pid" ] && break; sleep 0.1; done
  NGINX_PID=$(cat "$WORK/nginx.pid")
}

start_server() {  # start_server NAME CPUS CMD...: on those cores (a taskset list), output to $WORK/NAME.log
  local name=$1 cpus=$2; shift 2
  STARTED=$(date +%s.%N)
  "${PRIO[@]}" taskset -c "$cpus" "$@" > "$WORK/$name.log" 2>&1 &
  PID=$!
}

alive() { local pid; for pid; do kill -0 "$pid" 2>/dev/null && return 0; done; return 1; }

stop_server() {  # TERM the server and what it started; KILL whatever is left after 10 s
  local tree
  tree=$(py tree "$PID" 2>/dev/null || echo "$PID")
  kill -TERM $tree 2>/dev/null || true
  for _ in $(seq 50); do alive $tree || break; sleep 0.2; done
  kill -KILL $tree 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}

body() { echo "{\"model\":\"$1\",\"stream\":$2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"; }

load() {  # load URL MODEL STREAM CONNS SECONDS: wrk on the load core, output on stdout
  BENCH_MODEL=$2 BENCH_STREAM=$3 BENCH_KEY=$KEY \
    "${PRIO[@]}" taskset -c "$LOAD_CPU" wrk -t1 -c"$4" -d"$5"s --timeout 10s --latency -s bench/post.lua "$1" 2>&1 || true
}

ready() {  # ready NAME LABEL URL: wait for the first 2xx, record start-up time and RSS
  local startup
  startup=$(py wait "$3" "$(body "$MODEL_JSON" false)" "$KEY" "$STARTED")
  if [ "$startup" = timeout ] || ! kill -0 "$PID" 2>/dev/null; then
    failed "$1" "$2" "did not answer within 180 s (log: $(tail -c 300 "$WORK/$1.log" | tr '\n|' '  '))"
    return 1
  fi
  local rss=($(py snap "$PID" "$SERVER_CPU"))
  py json kind=target target="$1" label="$2" startup_s="$startup" rss_start_kib="${rss[1]}" >> "$RESULTS"
  log "$1 answered after $startup s"
}

failed() {
  log "$1: $3"
  py json kind=failed target="$1" label="$2" reason="$3" >> "$RESULTS"
}

run_cells() {  # run_cells NAME BASE_URL_JSON BASE_URL_SSE CONNS CORE [KEY=VALUE...]: warm up, then every
  # mode x connections cell; CORE is the one whose use the cells record ("all": the machine); the pairs go
  # into every cell's record
  local name=$1 json_url=$2 sse_url=$3 conns_list=$4 core=$5; shift 5
  py wait "$sse_url" "$(body "$MODEL_SSE" true)" "$KEY" "$(date +%s.%N)" >/dev/null  # a first stream may be slow
  load "$json_url" "$MODEL_JSON" 0 16 2 >/dev/null
  load "$sse_url" "$MODEL_SSE" 1 16 2 >/dev/null
  py settle "$PID" >/dev/null
  local mode url model stream conns before after
  for mode in non-stream stream; do
    if [ $mode = stream ]; then url=$sse_url model=$MODEL_SSE stream=1; else url=$json_url model=$MODEL_JSON stream=0; fi
    for conns in $conns_list; do
      kill -0 "$PID" 2>/dev/null || { log "$name died"; return 1; }
      before=$(py snap "$PID" "$core")
      load "$url" "$model" $stream "$conns" "$CELL_SECONDS" > "$WORK/wrk.txt"
      sleep 1  # background work the cell caused (log flushes) is counted in its CPU
      after=$(py snap "$PID" "$core")
      py cell "$name" $mode "$conns" "$before" "$after" "$WORK/wrk.txt" "$@" | tee -a "$RESULTS" >&2
      log "$name idle again after $(py settle "$PID") s"
    done
  done
}

measure_growth() {  # RSS every GROWTH_STEP requests (wrk runs of 5 s), non-stream and stream alternating, 16 conns
  local rss=() errors=0 total=0 step served counts
  rss+=($(py snap "$PID" "$SERVER_CPU" | cut -d' ' -f2))
  for step in $(seq $GROWTH_STEPS); do
    served=0
    while [ $served -lt $GROWTH_STEP ] && alive "$PID"; do
      if [ $((step % 2)) = 1 ]; then load "$1" "$MODEL_JSON" 0 16 5; else load "$2" "$MODEL_SSE" 1 16 5; fi \
        > "$WORK/wrk.txt"
      counts=($(py counts "$WORK/wrk.txt"))
      [ "${counts[0]}" = 0 ] && { log "growth: no request answered"; return 1; }
      served=$((served + counts[0])) errors=$((errors + counts[1]))
    done
    total=$((total + served))
    sleep 1
    rss+=($(py snap "$PID" "$SERVER_CPU" | cut -d' ' -f2))
    log "growth step $step: $served requests, RSS ${rss[-1]} KiB"
  done
  py json kind=growth step=$GROWTH_STEP requests=$total errors=$errors rss_kib="[$(IFS=,; echo "${rss[*]}")]" >> "$RESULTS"
}

bench_direct() {
  local label="direct upstream (nginx, the floor)"
  PID=$NGINX_PID STARTED=$(date +%s.%N)
  pin "$SERVER_CPU" "$NGINX_PID"
  ready direct "$label" "$JSON_URL" || return 0
  run_cells direct "$JSON_URL" "$SSE_URL" "$CONNS" "$SERVER_CPU" || true
  pin "$LOAD_CPU" "$NGINX_PID"
  PID=
}

bench_proxy() {  # bench_proxy NAME LABEL CMD...: a proxy on SERVER_PORT in front of nginx
  local name=$1 label=$2; shift 2
  local base=http://127.0.0.1:$SERVER_PORT/v1/chat/completions
  start_server "$name" "$SERVER_CPU" "$@"
  if ready "$name" "$label" "$base"; then
    run_cells "$name" "$base" "$base" "$CONNS" "$SERVER_CPU" || failed "$name" "$label" "the server died under load"
    [ "$name" = gateway ] && measure_growth "$base" "$base"
  fi
  stop_server
}

bench_passthrough() {
  BENCH_UPSTREAM_JSON=http://127.0.0.1:$JSON_PORT/v1 BENCH_UPSTREAM_SSE=http://127.0.0.1:$SSE_PORT/v1 \
    bench_proxy passthrough "minimal pass-through (uvicorn+uvloop+httptools, raw ASGI, aiohttp)" \
    .venv/bin/python -m uvicorn passthrough:app --app-dir bench --host 127.0.0.1 --port "$SERVER_PORT" \
    --loop uvloop --http httptools --no-access-log --log-level warning
}

setup_gateway() {  # setup_gateway [NAME=VALUE...]: migrate and load bench/gateway.yaml in that environment
  env "$@" .venv/bin/python manage.py migrate --noinput -v 0 >&2
  env "$@" .venv/bin/python manage.py loadconfig bench/gateway.yaml >&2
}

bench_gateway() {
  export GATEWAY_DATA_DIR=$WORK/gateway
  mkdir -p "$GATEWAY_DATA_DIR"
  setup_gateway
  WEB_CONCURRENCY=1 HOST=127.0.0.1 PORT=$SERVER_PORT PYTHON=.venv/bin/python \
    bench_proxy gateway "our gateway (scripts/serve.sh: uvicorn+uvloop+httptools, 1 worker)" \
    scripts/serve.sh --no-access-log --log-level warning
}

clear_redis() { py redis-clear "$SCALING_REDIS_URL" "$SCALING_PREFIX" >/dev/null; }

bench_workers() {  # bench_workers N: the gateway with N workers on every core, fresh data and Redis keys
  local name=scaling-$1 label="our gateway, $1 worker(s) (scripts/serve.sh; Redis, SQLite; not pinned)"
  local base=http://127.0.0.1:$SERVER_PORT/v1/chat/completions
  local environment=(GATEWAY_DATA_DIR="$WORK/scaling-$1" REDIS_URL="$SCALING_REDIS_URL"
    GATEWAY_REDIS_PREFIX="$SCALING_PREFIX:" CACHE_KEY_PREFIX="$SCALING_PREFIX")
  clear_redis
  setup_gateway "${environment[@]}"
  start_server "$name" "$ALL_CPUS" env "${environment[@]}" WEB_CONCURRENCY="$1" HOST=127.0.0.1 \
    PORT="$SERVER_PORT" PYTHON=.venv/bin/python scripts/serve.sh --no-access-log --log-level warning
  if ready "$name" "$label" "$base"; then
    run_cells "$name" "$base" "$base" "$SCALING_CONNS" all workers="$1" \
      || failed "$name" "$label" "the server died under load"
  fi
  stop_server
}

bench_scaling() {  # the production shape for several processes: shared state in Redis (bench/README.md)
  local reason workers
  if ! reason=$(py redis-clear "$SCALING_REDIS_URL" "$SCALING_PREFIX" 2>&1 >/dev/null); then
    failed scaling "our gateway, $SCALING_WORKERS workers" "skipped: it needs Redis on 127.0.0.1:6379 ($reason)"
    return
  fi
  for workers in $SCALING_WORKERS; do bench_workers "$workers"; done
  clear_redis
}

bench_litellm() {
  local label="LiteLLM proxy $LITELLM_VERSION (no DB, 1 worker)"
  if ! install_litellm; then failed litellm "$label" "pip install litellm[proxy]==$LITELLM_VERSION failed"; return; fi
  sed -e "s|__JSON_PORT__|$JSON_PORT|g" -e "s|__SSE_PORT__|$SSE_PORT|g" bench/litellm.yaml > "$WORK/litellm.yaml"
  # The cost map is read from the package: this machine has no route to the internet.
  LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR \
    bench_proxy litellm "$label" bench/.venv-litellm/bin/litellm --config "$WORK/litellm.yaml" \
    --host 127.0.0.1 --port "$SERVER_PORT" --num_workers 1
}

install_tools
log "gateway environment"
scripts/bootstrap.sh requirements.txt >&2
read -r JSON_PORT SSE_PORT SERVER_PORT <<< "$(py ports 3)"
export BENCH_JSON_PORT=$JSON_PORT BENCH_SSE_PORT=$SSE_PORT  # bench/gateway.yaml reads them
JSON_URL=http://127.0.0.1:$JSON_PORT/v1/chat/completions
SSE_URL=http://127.0.0.1:$SSE_PORT/v1/chat/completions
MODEL_JSON=gpt-bench MODEL_SSE=gpt-bench-stream
start_nginx
py json kind=meta date="$(date -u +%Y-%m-%dT%H:%MZ)" loadavg="$(cut -d' ' -f1 /proc/loadavg)" cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
  cores="$(nproc)" seconds="$CELL_SECONDS" commit="$(git describe --always --dirty 2>/dev/null || echo unknown)" \
  > "$RESULTS"

for target in $TARGETS; do
  log "target: $target"
  "bench_$target"
done

mkdir -p bench/results
.venv/bin/python bench/report.py "$RESULTS" | tee "bench/results/$OUT.md"
cp "$RESULTS" "bench/results/$OUT.jsonl"
