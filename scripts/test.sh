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

# MariaDB and Redis run as services on this machine kind; start one that is down (as its docs say).
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for_port() { for _ in $(seq 60); do listening "$1" && return 0; sleep 0.5; done; return 1; }
if [ "$(id -u)" = 0 ]; then
  if ! listening 3306 && [ -x /usr/sbin/mariadbd ]; then
    echo "== starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd && wait_for_port 3306 || true
  fi
  if ! listening 6379 && command -v redis-server >/dev/null; then
    echo "== starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log && wait_for_port 6379 || true
  fi
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
