"""Real gateway processes for the fault suite: ``scripts/serve.sh`` (uvicorn, uvloop, httptools) on
loopback against a database of their own, configured with ``loadconfig`` to use the scripted fake
upstream. Which database follows the test run: MariaDB when DATABASE_URL names one, else SQLite.

Every behaviour lives in the fake upstream's scripts keyed by account credential, so one
configuration serves every test: ``key-flaky`` answers 500 (the route fails over to openai),
``key-down`` 503 (no fallback), ``key-slow`` streams slowly, ``key-cut`` drops streams midway.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil
from cryptography.fernet import Fernet

from tests.fakes import FakeUpstream, Reply
from tests.support.server import free_port

__all__ = ["KEY", "ServedDatabase", "ServedGateway", "script_upstream", "SLOW_WORDS"]

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-gw-faults-served-key"
SLOW_WORDS = " ".join(f"s{n}" for n in range(30))
CLOSED_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: Celery is unreachable throughout
CONFIG = """
providers:
  - {name: openai, type: openai, base_url: "%(base)s/v1", timeout: 10, idle_timeout: 5}
  - {name: anthropic, type: anthropic, base_url: "%(base)s", timeout: 10, idle_timeout: 5}
  - {name: gemini, type: gemini, base_url: "%(base)s", timeout: 10, idle_timeout: 5}
  - {name: flaky, type: openai, base_url: "%(base)s/v1"}
  - {name: down, type: openai, base_url: "%(base)s/v1"}
  - {name: slow, type: openai, base_url: "%(base)s/v1"}
  - {name: cut, type: anthropic, base_url: "%(base)s"}
accounts:
  - {provider: openai, name: a, api_key: key-openai}
  - {provider: anthropic, name: a, api_key: key-anthropic}
  - {provider: gemini, name: a, api_key: key-gemini}
  - {provider: flaky, name: a, api_key: key-flaky}
  - {provider: down, name: a, api_key: key-down}
  - {provider: slow, name: a, api_key: key-slow}
  - {provider: cut, name: a, api_key: key-cut}
routes:
  - {model: "oa-*", provider: openai}
  - {model: "an-*", provider: anthropic}
  - {model: "ge-*", provider: gemini}
  - {model: "fl-*", providers: [flaky, openai]}
  - {model: "dn-*", provider: down}
  - {model: "slow-*", provider: slow}
  - {model: "cut-*", provider: cut}
keys:
  - {name: faults, key: "%(key)s"}
prices:
  - {model: "*", input_per_million: 1, output_per_million: 2}
"""


def script_upstream(upstream: FakeUpstream):
    upstream.script(Reply.status(500), credential="key-flaky", times=None)
    upstream.script(Reply.status(503), credential="key-down", times=None)
    upstream.script(Reply.text(SLOW_WORDS).with_(delay=0.1), credential="key-slow", times=None)
    upstream.script(Reply.cut_mid_stream(after=4, reply=Reply.text("one two three four five six")),
                    credential="key-cut", times=None)


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "DATABASE_URL", "REDIS_URL", "CELERY_", "GATEWAY_", "DJANGO_"))}
    return env | {"LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}


class ServedDatabase:
    """A database for server processes, migrated and configured once per test session."""

    def __init__(self, upstream: FakeUpstream, workdir: Path):
        self.workdir = workdir
        self.mysql = os.environ.get("DATABASE_URL", "").startswith("mysql")
        self.redis_url = os.environ.get("REDIS_URL", "")
        self.encryption_key = Fernet.generate_key().decode()
        self.name = f"faults_served_{os.getpid()}"
        self.config = workdir / "gateway.yaml"
        self.config.write_text(CONFIG % {"base": upstream.base_url, "key": KEY})

    # --- the environment a process of the gateway gets -------------------------------------------
    def env(self, database_port: int | None = None, redis_port: int | None = None) -> dict:
        env = _clean_env() | {"GATEWAY_DATA_DIR": str(self.workdir), "CELERY_BROKER_URL": CLOSED_BROKER,
                              "GATEWAY_LOG_FLUSH_SECONDS": "0.2", "GATEWAY_SQLITE_TIMEOUT": "1"}
        if self.mysql:
            url = urlparse(os.environ["DATABASE_URL"])
            port = database_port or url.port or 3306
            env |= {"DATABASE_URL": f"mysql://{url.username or 'root'}@127.0.0.1:{port}/{self.name}",
                    "DJANGO_SECRET_KEY": "faults-served-secret", "GATEWAY_ENCRYPTION_KEY": self.encryption_key,
                    "ALLOWED_HOSTS": "*", "DB_CONN_MAX_AGE": "60"}
        if self.redis_url:
            url = urlparse(self.redis_url)
            port = redis_port or url.port or 6379
            env |= {"REDIS_URL": f"redis://127.0.0.1:{port}{url.path or '/0'}",
                    "GATEWAY_REDIS_PREFIX": f"{self.name}:", "CACHE_KEY_PREFIX": self.name}
        return env

    def manage(self, *args: str):
        subprocess.run([str(ROOT / ".venv/bin/python"), "manage.py", *args], cwd=ROOT, env=self.env(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def create(self) -> "ServedDatabase":
        if self.mysql:
            self._mysql("CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        self.manage("migrate", "--noinput")
        self.manage("loadconfig", str(self.config))
        return self

    def drop(self):
        if self.mysql:
            self._mysql("DROP DATABASE IF EXISTS {}")
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- reading the request log -----------------------------------------------------------------
    def log_ids(self, prefix: str) -> list:
        """The request ids logged under ``prefix``, duplicates included (there must be none)."""
        sql = "SELECT request_id FROM stats_requestlog WHERE request_id LIKE %s"
        return [row[0] for row in self._query(sql, (prefix + "%",))]

    def log_rows(self, prefix: str) -> dict:
        sql = ("SELECT request_id, status_code, error_type, usage_source, completion_tokens FROM stats_requestlog "
               "WHERE request_id LIKE %s")
        return {row[0]: row[1:] for row in self._query(sql, (prefix + "%",))}

    def _query(self, sql: str, params: tuple) -> list:
        if self.mysql:
            import MySQLdb

            url = urlparse(os.environ["DATABASE_URL"])
            with MySQLdb.connect(host="127.0.0.1", port=url.port or 3306, user=url.username or "root",
                                 passwd=url.password or "", db=self.name) as conn, conn.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        with sqlite3.connect(self.workdir / "gateway.sqlite3", timeout=20) as conn:
            return conn.execute(sql.replace("%s", "?"), params).fetchall()

    def _mysql(self, statement: str):
        import MySQLdb

        url = urlparse(os.environ["DATABASE_URL"])
        with MySQLdb.connect(host="127.0.0.1", port=url.port or 3306, user=url.username or "root",
                             passwd=url.password or "") as conn, conn.cursor() as cursor:
            cursor.execute(statement.format(self.name))

    def lock_sqlite(self) -> sqlite3.Connection:
        """Hold SQLite's write lock (the embedded database's outage): writers wait, then fail."""
        conn = sqlite3.connect(self.workdir / "gateway.sqlite3", timeout=20, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        return conn


class ServedGateway:
    """One ``scripts/serve.sh`` process (a uvicorn supervisor and its workers with WEB_CONCURRENCY > 1)."""

    def __init__(self, env: dict, workers: int = 1, graceful: float = 10):
        self.port = free_port()
        self.metrics_dir = tempfile.mkdtemp(prefix="faults-metrics-")
        self.env = env | {"HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": str(workers),
                          "GRACEFUL_SHUTDOWN_SECONDS": str(graceful), "PYTHON": str(ROOT / ".venv/bin/python"),
                          "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir}
        self.workers = workers
        self.process = None
        self.output = tempfile.NamedTemporaryFile(prefix="faults-server-", suffix=".log", delete=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "ServedGateway":
        self.process = subprocess.Popen(["bash", str(ROOT / "scripts/serve.sh"), "--no-access-log"], cwd=ROOT,
                                        env=self.env, stdout=self.output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited: {self.log()[-3000:]}"
            try:
                # Not /health: its broker check waits out a timeout while the broker is unreachable.
                ready = httpx.get(self.url + "/v1/models", headers={"authorization": f"Bearer {KEY}"}, timeout=5)
                if ready.status_code == 200 and len(self.worker_pids()) >= self.workers:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not start: {self.log()[-3000:]}")

    def worker_pids(self) -> list:
        """The processes that serve: the workers under a supervisor, or the one process."""
        main = psutil.Process(self.process.pid)
        children = [c for c in main.children(recursive=True) if "spawn_main" in " ".join(c.cmdline())]
        return [c.pid for c in children] if self.workers > 1 else [main.pid]

    def rss(self) -> int:
        return sum(psutil.Process(pid).memory_info().rss for pid in self.worker_pids())

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as an orchestrator sends it; the exit code once the process is gone."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def log(self) -> str:
        return Path(self.output.name).read_text(errors="replace")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
