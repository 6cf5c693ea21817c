#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements; re-runs only when a requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
REQS=${1:-requirements-dev.txt}

need_headers() {
  ! pkg-config --exists mysqlclient 2>/dev/null && ! pkg-config --exists libmariadb 2>/dev/null \
    && ! pkg-config --exists mariadb 2>/dev/null
}

if need_headers; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing MariaDB client headers (for mysqlclient)"
    apt-get update -qq && apt-get install -y -qq libmariadb-dev pkg-config >/dev/null
  else
    echo "!! mysqlclient needs libmariadb-dev and pkg-config: sudo apt-get install libmariadb-dev pkg-config" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.installed-$(cat requirements.txt "$REQS" | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "== installing $REQS into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$REQS"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
