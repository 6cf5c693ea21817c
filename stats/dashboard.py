"""The operator dashboard in the admin: charts drawn in the browser from the stats API, and the live tail."""

import datetime

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render

from stats.aggregation import today
from stats.api.filters import DEFAULT_DAYS

__all__ = ["dashboard"]

PRESETS = (("Today", 1), ("7 days", 7), ("30 days", 30), ("90 days", 90))


@staff_member_required
def dashboard(request):
    """The page only; its script fetches the figures for the range in the query (UTC days)."""
    end = today()
    presets = [(label, (end - datetime.timedelta(days=days - 1)).isoformat()) for label, days in PRESETS]
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "start": request.GET.get("start") or (end - datetime.timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        "end": request.GET.get("end") or end.isoformat(),
        "today": end.isoformat(),
        "presets": presets,
    }
    return render(request, "stats/dashboard.html", context)
