"""The tasks run in-process, the beat schedule loads, and (with a real broker) a Celery worker and beat
started as processes do the work against the test database."""

import datetime
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler
from kombu import Exchange, Queue

from gateway.celery import app
from stats.aggregation import today
from stats.models import DailyUsage, RequestLog
from stats.tasks import aggregate_today, aggregate_yesterday, purge_request_logs
from stats.tests.data import add_log, at

SCHEDULE = {
    "aggregate-today": ("stats.tasks.aggregate_today", "*/5", "*"),
    "aggregate-yesterday": ("stats.tasks.aggregate_yesterday", "10", "0"),
    "purge-request-logs": ("stats.tasks.purge_request_logs", "0", "3"),
}


def test_the_tasks_roll_up_and_purge(logged, days):
    assert aggregate_today.apply().get() == {"date": days.d0.isoformat(), "usage_rows": 3, "proxies": 1}
    assert aggregate_yesterday.apply().get() == {"date": days.d1.isoformat(), "usage_rows": 2, "proxies": 2}
    add_log(at(days.d0 - datetime.timedelta(days=settings.GATEWAY["LOG_RETENTION_DAYS"] + 1)))
    assert purge_request_logs.apply().get() == 1
    assert RequestLog.objects.count() == len(logged)


def test_the_beat_schedule_names_registered_tasks_at_utc_times():
    app.loader.import_default_modules()
    for name, (task, minute, hour) in SCHEDULE.items():
        entry = settings.CELERY_BEAT_SCHEDULE[name]
        assert entry["task"] == task and task in app.tasks
        assert entry["schedule"].tz == datetime.timezone.utc
        assert (str(entry["schedule"]._orig_minute), str(entry["schedule"]._orig_hour)) == (minute, hour)


def test_the_database_scheduler_copies_the_schedule_into_its_tables(transactional_db):
    # transactional: the scheduler closes connections it finds inside a transaction
    DatabaseScheduler(app=app)
    for name, (task, minute, hour) in SCHEDULE.items():
        row = PeriodicTask.objects.get(name=name)
        assert (row.task, row.enabled, row.crontab.minute, row.crontab.hour) == (task, True, minute, hour)
        assert str(row.crontab.timezone) == "UTC"
    assert CrontabSchedule.objects.filter(minute="*/5").count() == 1
    DatabaseScheduler(app=app)  # a restart does not duplicate them
    assert PeriodicTask.objects.filter(name__in=SCHEDULE).count() == 3


# Real processes: only where a broker and a database other processes can reach are configured.


def database_url() -> str:
    db = connection.settings_dict
    scheme = {"mysql": "mysql", "postgresql": "postgres"}[db["ENGINE"].rsplit(".", 1)[-1]]
    auth = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"{scheme}://{auth}@{db['HOST'] or 'localhost'}{port}/{db['NAME']}"


needs_broker = pytest.mark.skipif(
    settings.CELERY_BROKER_URL.startswith("memory://") or settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"),
    reason="needs a real broker and a shared database (CELERY_BROKER_URL and DATABASE_URL): "
           "the MariaDB + Redis pass of scripts/test.sh runs it",
)


@contextmanager
def celery(*args):
    """``celery -A gateway <args>`` as a process on the test database; its output is shown on failure."""
    env = {**os.environ, "DATABASE_URL": database_url()}
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "gateway", *args], env=env,
                                   cwd=settings.BASE_DIR, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        except BaseException:
            output.seek(0)
            print(f"celery {args[0]} said:\n{output.read()[-6000:]}")
            raise
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def queue():
    """A queue of the test's own, so no other worker on the same broker takes its tasks."""
    name = f"stats-test-{uuid.uuid4().hex[:12]}"
    yield name
    with app.connection_for_write() as conn:
        declared = Queue(name, Exchange(name), routing_key=name)(conn.default_channel)
        declared.declare()
        declared.delete()


def worker(queue):
    return celery("worker", "--pool=solo", "-c", "1", "-Q", queue, "-n", f"{queue}@%h", "--without-gossip",
                  "--without-mingle", "--without-heartbeat", "-l", "INFO")


def wait_for(check, seconds=90.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


@needs_broker
def test_a_worker_process_runs_the_aggregation(transactional_db, logged, queue):
    with worker(queue) as process:
        aggregate_today.apply_async(queue=queue)
        assert wait_for(lambda: DailyUsage.objects.filter(date=today()).exists()), "no DailyUsage rows appeared"
        assert process.poll() is None
    assert DailyUsage.objects.filter(date=today()).count() == 3


@needs_broker
def test_beat_loads_the_schedule_and_sends_due_tasks_to_a_worker(transactional_db, logged, queue):
    tick = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=f"tick {queue}", task="stats.tasks.aggregate_today", interval=tick, queue=queue)
    with tempfile.TemporaryDirectory() as folder, worker(queue):
        beat = ["beat", "-l", "INFO", "--pidfile", os.path.join(folder, "beat.pid"), "-s", os.path.join(folder, "s")]
        with celery(*beat) as process:
            assert wait_for(lambda: PeriodicTask.objects.filter(name__in=SCHEDULE).count() == 3), "schedule not loaded"
            assert wait_for(lambda: DailyUsage.objects.filter(date=today()).exists()), "the tick did not run"
            assert wait_for(lambda: PeriodicTask.objects.get(name=f"tick {queue}").total_run_count > 0, 30)
            assert process.poll() is None
