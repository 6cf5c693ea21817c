"""Celery tasks of the gateway itself: thin wrappers, scheduled by CELERY_BEAT_SCHEDULE."""

from celery import shared_task

from gateway.conversations import purge_old_responses

__all__ = ["purge_stored_responses"]


@shared_task
def purge_stored_responses() -> int:
    return purge_old_responses()
