from celery import shared_task

from accounts import upkeep


@shared_task
def refresh_expiring_tokens() -> str:
    return str(upkeep.refresh_expiring_tokens())


@shared_task
def probe_failed_accounts() -> str:
    return str(upkeep.probe_failed_accounts())
