"""Prometheus's multiprocess values ask the system for the process id on every update, to notice a
fork: a system call per sample, several per request. Here the id is read once and again after a fork.

``install`` runs before any metric exists (from gateway/__init__), so that every value in the process
shares one set of files.
"""

import os

from prometheus_client import values

__all__ = ["install"]

_pid = os.getpid()


def _current_pid() -> int:
    return _pid


def _after_fork():
    global _pid
    _pid = os.getpid()


def install():
    if getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue(process_identifier=_current_pid)
        os.register_at_fork(after_in_child=_after_fork)
