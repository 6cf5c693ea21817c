"""Prometheus metrics for the relay (the seeds' names), and the /metrics view.

With several worker processes set PROMETHEUS_MULTIPROC_DIR (scripts/serve.sh does): each process
writes its samples there and the scrape adds them up. Finished requests are counted by the request
log's writer thread from its entries (``observe_requests``), within LOG_FLUSH_SECONDS of their end, and
by the process that answers a scrape before it answers. State that lives in the database (account
health, proxy load) is read at scrape time by the process that answers it.
"""

import os
import secrets
from bisect import bisect_left
from collections import Counter as Tally
from collections import defaultdict

import prometheus_client
from django.conf import settings
from django.http import HttpResponse
from prometheus_client import Counter, Gauge, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily

__all__ = ["observe_requests", "observe_all", "in_flight", "publish_in_flight", "child", "metrics_view",
           "LOG_BACKLOG"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

REQUESTS = Counter("proxy_requests_total", "Requests handled by the relay",
                   ["format", "model", "provider", "status"])
DURATION = Histogram("proxy_request_duration_seconds", "Time from request to the last byte",
                     ["format", "model", "provider"], buckets=_LATENCY_BUCKETS)
TTFT = Histogram("proxy_time_to_first_token_seconds", "Time from request to the first streamed event",
                 ["format", "model", "provider"], buckets=_LATENCY_BUCKETS)
ERRORS = Counter("proxy_errors_total", "Requests that ended in an error",
                 ["format", "model", "provider", "error_type"])
ACTIVE = Gauge("proxy_active_requests", "Requests in flight", ["format", "provider"], multiprocess_mode="livesum")
TOKENS = Counter("proxy_tokens_total", "Tokens relayed", ["provider", "model", "kind"])
COST = Counter("proxy_cost_usd_total", "Cost of relayed requests in USD", ["provider", "model"])
LOG_BACKLOG = Gauge("gateway_request_log_backlog", "Request log rows waiting to be written",
                    multiprocess_mode="livesum")
LOG_SPILLED = Counter("gateway_request_log_spilled_total", "Request log rows spilled out of memory")
LOG_DROPPED = Counter("gateway_request_log_dropped_total", "Request log rows that could not be kept")


# (format, provider) -> this process's requests in flight: counted in a plain dict on the request path
# (the gauge locks, and with several workers writes a file, on every change) and published to the gauge
# by the writer thread's turns and before a scrape (publish_in_flight).
in_flight = Tally()


def publish_in_flight():
    for labels, count in list(in_flight.items()):
        child(ACTIVE, *labels).set(count)


_children: dict = {}
_MAX_CHILDREN = 20_000  # label sets remembered; past it the memo starts again


def child(metric, *labels):
    """``metric.labels(*labels)``, remembered: the library validates and locks on every call."""
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        if len(_children) >= _MAX_CHILDREN:
            _children.clear()
        found = _children[key] = metric.labels(*labels)
    return found


def observe_requests(entries: list, provider_names: dict):
    """Count finished requests, from their request log entries (stats.recording), off the request path:
    a batch's requests share a handful of label sets, so the figures are summed per label set first and
    each series is touched once a batch (the library locks on every touch)."""
    requests, errors, tokens, costs = Tally(), Tally(), Tally(), Tally()
    durations, ttfts = defaultdict(list), defaultdict(list)
    for entry in entries:
        fmt = entry["client_format"]
        model = entry["requested_model"] or "-"
        provider = provider_names.get(entry["provider_id"], "-")
        labels = fmt, model, provider
        requests[fmt, model, provider, entry["status_code"]] += 1
        durations[labels].append(entry["elapsed"])
        if entry["ttft_ms"] is not None:
            ttfts[labels].append(entry["ttft_ms"] / 1000)
        if entry["error_type"]:
            errors[fmt, model, provider, entry["error_type"]] += 1
        if entry["usage_source"] != "none":
            upstream = entry["upstream_model"] or model
            tokens[provider, upstream, "prompt"] += entry["prompt_tokens"]
            tokens[provider, upstream, "completion"] += entry["completion_tokens"]
            tokens[provider, upstream, "cached"] += entry["cached_tokens"]
        if entry["cost"]:  # images have a price with no tokens
            costs[provider, entry["upstream_model"]] += float(entry["cost"])
    for (fmt, model, provider, status), count in requests.items():
        child(REQUESTS, fmt, model, provider, str(status)).inc(count)
    for histogram, observed in ((DURATION, durations), (TTFT, ttfts)):
        for labels, amounts in observed.items():
            observe_all(child(histogram, *labels), amounts)
    for labels, count in errors.items():
        child(ERRORS, *labels).inc(count)
    for labels, count in tokens.items():
        if count or labels[2] != "cached":  # cached tokens appear once there are some
            child(TOKENS, *labels).inc(count)
    for labels, cost in costs.items():
        child(COST, *labels).inc(cost)


def observe_all(histogram, amounts: list):
    """``histogram.observe(amount)`` for each amount, each bucket and the sum touched once. (The
    library's own observe, per amount, takes the lock twice; its bucket and sum values are stable
    internals, and a test holds this to what observe gives.)"""
    bounds = histogram._upper_bounds
    counts = Tally(bisect_left(bounds, amount) for amount in amounts)
    histogram._sum.inc(sum(amounts))
    for index, count in counts.items():
        histogram._buckets[index].inc(count)


class _ConfigState:
    """Account health and proxy load, read from the database when scraped."""

    def collect(self):
        from django.db.models import Count

        from accounts.models import Account
        from proxies.models import ProxyServer

        health = GaugeMetricFamily("gateway_account_healthy", "1 when the account is in rotation",
                                   labels=["provider", "account", "state"])
        for provider, name, state, enabled in Account.objects.values_list("provider__name", "name", "health",
                                                                          "enabled"):
            health.add_metric([provider, name, state], 1.0 if enabled and state == "healthy" else 0.0)
        yield health
        load = GaugeMetricFamily("gateway_proxy_load_ratio", "Accounts behind a proxy over its capacity",
                                 labels=["proxy"])
        for name, capacity, count in ProxyServer.objects.annotate(n=Count("accounts")).values_list(
                "name", "capacity", "n"):
            load.add_metric([name], count / capacity if capacity else 0.0)
        yield load


def _registry():
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.CollectorRegistry()
        registry.register(prometheus_client.REGISTRY)
    registry.register(_ConfigState())
    return registry


def metrics_view(request):
    token = settings.GATEWAY["METRICS_TOKEN"]
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given.encode(), token.encode()):
            return HttpResponse("metrics token required\n", status=401, content_type="text/plain")
    from stats.recording import recorder  # (stats imports this module)

    recorder.report_fresh()  # what this process finished since the writer's last turn, and is serving
    page = prometheus_client.generate_latest(_registry())
    return HttpResponse(page, content_type=prometheus_client.CONTENT_TYPE_LATEST)
