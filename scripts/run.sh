#!/usr/bin/env bash
# Runs the gateway on the embedded defaults: SQLite and the in-process cache under var/, no Redis needed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt

PORT=${PORT:-8088}
PY=.venv/bin/python
$PY manage.py migrate --noinput -v 0
$PY manage.py loadconfig "${GATEWAY_CONFIG:-config/example.yaml}"
$PY manage.py ensureadmin
echo "== gateway on http://127.0.0.1:$PORT  (admin: http://127.0.0.1:$PORT/admin/)"
echo "== try: curl http://127.0.0.1:$PORT/v1/chat/completions -H \"Authorization: Bearer ${GATEWAY_DEMO_KEY:-sk-gw-demo-key-change-me}\" -d '{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello!\"}]}'"
exec .venv/bin/daphne -b 0.0.0.0 -p "$PORT" gateway.asgi:application
