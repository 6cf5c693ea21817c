"""Celery tasks: thin wrappers over stats.aggregation (scheduled by CELERY_BEAT_SCHEDULE)."""

import datetime

from celery import shared_task

from stats import aggregation

__all__ = ["aggregate_today", "aggregate_yesterday", "purge_request_logs"]


@shared_task
def aggregate_today() -> dict:
    return aggregation.roll_up(aggregation.today())


@shared_task
def aggregate_yesterday() -> dict:
    return aggregation.roll_up(aggregation.today() - datetime.timedelta(days=1))


@shared_task
def purge_request_logs() -> int:
    return aggregation.purge_old_logs()
