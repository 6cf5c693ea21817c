from celery import shared_task

from proxies import counters


@shared_task
def roll_proxy_counters() -> int:
    return counters.roll()
