"""Django's settings for the hot path, without the lazy object's toll.

Every read of ``django.conf.settings.X`` is a Python call (``LazyObject.__getattribute__``): a
request made seven of them, 1.5 % of its time on the event loop. ``conf.SETTINGS`` is the object
behind the lazy one; an assignment to ``settings.X`` lands on it, and ``override_settings`` (which
swaps it) is followed through ``setting_changed``. Read it as ``conf.SETTINGS.X``, never imported by
name, so that the swap is seen.
"""

from django.conf import settings
from django.core.signals import setting_changed

__all__ = ["SETTINGS"]


def _bind(**_):
    global SETTINGS
    settings.DEBUG  # the lazy object sets itself up on its first read
    SETTINGS = settings._wrapped


SETTINGS = None
_bind()
setting_changed.connect(_bind, weak=False)
