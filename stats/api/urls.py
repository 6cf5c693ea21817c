"""/api/v1/: stats, logs, configuration (staff) and usage (a gateway key)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from stats.api import views

router = SimpleRouter(trailing_slash="")
router.register("providers", views.ProviderViewSet)
router.register("accounts", views.AccountViewSet)
router.register("proxies", views.ProxyViewSet)

urlpatterns = [
    path("stats/summary", views.SummaryView.as_view(), name="stats-summary"),
    path("stats/daily", views.DailyView.as_view(), name="stats-daily"),
    path("stats/models", views.ModelStatsView.as_view(), name="stats-models"),
    path("stats/providers", views.ProviderStatsView.as_view(), name="stats-providers"),
    path("stats/accounts", views.AccountStatsView.as_view(), name="stats-accounts"),
    path("stats/keys", views.KeyStatsView.as_view(), name="stats-keys"),
    path("stats/proxies", views.ProxyStatsView.as_view(), name="stats-proxies"),
    path("stats/unpriced", views.UnpricedView.as_view(), name="stats-unpriced"),
    path("logs", views.LogList.as_view(), name="logs"),
    path("usage", views.UsageView.as_view(), name="usage"),
    *router.urls,
]
