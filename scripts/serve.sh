#!/usr/bin/env bash
# The container's web process: optionally migrate and load the config, then uvicorn (uvloop, httptools).
# Environment: GATEWAY_MIGRATE=1 runs migrations first; GATEWAY_CONFIG=FILE loads a config file;
# PORT (8088); WEB_CONCURRENCY (worker processes, read by uvicorn itself; 2 here by default).
# FORWARDED_ALLOW_IPS: the reverse proxies whose X-Forwarded-For is believed (127.0.0.1; the app reads it,
# gateway/forwarded.py). Extra arguments are passed to uvicorn.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python}
case "${GATEWAY_MIGRATE:-0}" in
  1|true|yes|on) $PY manage.py migrate --noinput ;;
esac
if [ -n "${GATEWAY_CONFIG:-}" ]; then
  $PY manage.py loadconfig "$GATEWAY_CONFIG"
fi

export WEB_CONCURRENCY=${WEB_CONCURRENCY:-2}
# Several workers add up their metrics through files in this directory; stale files would double count.
# One worker keeps them in memory (a file write per update cost it ~5 % of a request's CPU), unless a
# directory is given.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ] || [ "$WEB_CONCURRENCY" != 1 ] || [[ " $* " == *" --workers"* ]]; then
  export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-${GATEWAY_DATA_DIR:-/tmp}/prometheus}
  rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
exec $PY -m uvicorn gateway.asgi:application \
  --host "${HOST:-0.0.0.0}" --port "${PORT:-8088}" \
  --loop uvloop --http httptools \
  --no-proxy-headers --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_SECONDS:-30}" \
  "$@"
