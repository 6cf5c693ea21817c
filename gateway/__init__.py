from gateway import promvalues

promvalues.install()  # before any metric is created

from gateway.celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
