#!/usr/bin/env bash
# The test command: the suite on the embedded defaults, then against MariaDB + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt

# Headless Chromium for the dashboard's browser test, which is skipped without it.
if ! { command -v chromium && command -v chromedriver; } >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing chromium and chromium-driver (the dashboard's browser test)"
  { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; } \
    || echo "!! chromium could not be installed: the dashboard's browser test will be skipped" >&2
fi

MYSQL_URL=${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}
REDIS=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
args=("$@")

echo "== pass 1/2: embedded defaults (SQLite, in-process cache)"
env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL \
  GATEWAY_DATA_DIR="$(mktemp -d)" .venv/bin/python -m pytest "${args[@]}"

echo "== pass 2/2: MariaDB + Redis"
DATABASE_URL="$MYSQL_URL" REDIS_URL="$REDIS" CELERY_BROKER_URL="$REDIS" \
  DJANGO_SECRET_KEY=test-secret-key-not-for-production \
  GATEWAY_ENCRYPTION_KEY="$(.venv/bin/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
  .venv/bin/python -m pytest "${args[@]}"
