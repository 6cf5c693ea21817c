"""The /api/v1 views: staff-only stats, logs and configuration (the REST_FRAMEWORK defaults), and the
key holder's own usage. Each stats view is its report function (stats.reports) behind a serializer."""

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account
from gateway.audit import acting_as
from providers.models import Provider
from proxies.models import ProxyServer
from stats import reports
from stats.api import serializers as s
from stats.api.auth import GatewayKeyAuthentication, HasGatewayKey
from stats.api.filters import LOG_PARAMETERS, RANGE_PARAMETERS, SCOPE_PARAMETERS, log_filters, range_from, scope_from

__all__ = [
    "SummaryView", "DailyView", "UnpricedView", "ModelStatsView", "ProviderStatsView", "AccountStatsView",
    "KeyStatsView", "ProxyStatsView", "LogList", "UsageView", "ProviderViewSet", "AccountViewSet", "ProxyViewSet",
]


class ReportView(APIView):
    """GET: a report (a function of the Scope the query parameters describe) through its serializer."""

    serializer_class = None
    many = True

    def report(self, scope: reports.Scope):
        raise NotImplementedError

    def get(self, request):
        data = self.report(scope_from(request.query_params))
        return Response(self.serializer_class(data, many=self.many).data)


@extend_schema(parameters=SCOPE_PARAMETERS, responses=s.SummarySerializer)
class SummaryView(ReportView):
    """Totals over the request log, success rate and latency percentiles."""

    serializer_class = s.SummarySerializer
    many = False

    def report(self, scope):
        return {"start": scope.start, "end": scope.end, **reports.summary(scope)}


@extend_schema(parameters=SCOPE_PARAMETERS, responses=s.DailySerializer(many=True))
class DailyView(ReportView):
    """One entry per UTC day, oldest first: DailyUsage where rolled up, the live log otherwise."""

    serializer_class = s.DailySerializer

    def report(self, scope):
        return reports.daily(scope)


@extend_schema(parameters=SCOPE_PARAMETERS, responses=s.UnpricedSerializer(many=True))
class UnpricedView(ReportView):
    """Upstream models logged without a cost: add a price for them (importprices)."""

    serializer_class = s.UnpricedSerializer

    def report(self, scope):
        return reports.unpriced(scope)


class GroupView(ReportView):
    serializer_class = s.GroupSerializer
    by = ""

    def report(self, scope):
        return reports.grouped(scope, self.by)


def group_view(by: str, serializer=s.GroupSerializer):
    """The view of totals per ``by``, most requests first."""
    view = type(f"{by.title()}StatsView", (GroupView,), {
        "by": by, "serializer_class": serializer, "__doc__": f"Totals per {by}, most requests first.",
    })
    return extend_schema(parameters=SCOPE_PARAMETERS, responses=serializer(many=True))(view)


ModelStatsView = group_view("model", s.ModelFiguresSerializer)
ProviderStatsView = group_view("provider")
AccountStatsView = group_view("account")
KeyStatsView = group_view("key")
ProxyStatsView = group_view("proxy")


class LogPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


@extend_schema(parameters=LOG_PARAMETERS)
class LogList(ListAPIView):
    """The request log, newest first, a cursor page at a time."""

    serializer_class = s.LogSerializer
    pagination_class = LogPagination

    def get_queryset(self):
        params = self.request.query_params
        rows = reports.logs(scope_from(params)).filter(log_filters(params))
        return rows.select_related("provider", "account", "api_key", "proxy")


@extend_schema(parameters=RANGE_PARAMETERS, responses=s.UsageSerializer)
class UsageView(APIView):
    """The calling gateway key's own usage and limits (authenticated by the key itself)."""

    authentication_classes = [GatewayKeyAuthentication]
    permission_classes = [HasGatewayKey]

    def get(self, request):
        key = request.auth
        scope = reports.Scope(*range_from(request.query_params), keys=(key.id,))
        data = {
            "key": key.name, "prefix": key.prefix, "start": scope.start, "end": scope.end,
            **reports.totals(scope),
            "limits": {
                "rpm": key.rpm, "tpm": key.tpm, "budget_usd": key.budget_usd, "budget_period": key.budget_period,
                "expires_at": key.expires_at, "allowed_models": key.allowed_models or [],
            },
            "by_model": reports.grouped(scope, "model"),
            "by_day": reports.daily(scope),
        }
        return Response(s.UsageSerializer(data).data)


class AuditedViewSet(viewsets.ModelViewSet):
    """Changes are audited under the API user: DRF authenticates tokens after the audit middleware has run."""

    def perform_create(self, serializer):
        with acting_as(self.request.user.get_username(), "api"):
            super().perform_create(serializer)

    def perform_update(self, serializer):
        with acting_as(self.request.user.get_username(), "api"):
            super().perform_update(serializer)

    def perform_destroy(self, instance):
        with acting_as(self.request.user.get_username(), "api"):
            super().perform_destroy(instance)


class ProviderViewSet(AuditedViewSet):
    queryset = Provider.objects.all()
    serializer_class = s.ProviderSerializer


class AccountViewSet(AuditedViewSet):
    queryset = Account.objects.select_related("provider")
    serializer_class = s.AccountSerializer


class ProxyViewSet(AuditedViewSet):
    queryset = ProxyServer.objects.all()
    serializer_class = s.ProxySerializer
