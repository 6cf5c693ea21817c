"""/metrics counts what the relay did; live counters of the day follow the request log."""

import logging
import threading

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.models import ApiKey
from stats.live import today
from tests.fakes import Reply
from tests.support.server import settle


def _samples(gw) -> dict:
    page = httpx.get(f"{gw.url}/metrics").text
    found = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict, name: str, **labels) -> float:
    return sum(v for (n, l), v in samples.items() if n == name and all(dict(l).get(k) == w for k, w in labels.items()))


def test_it_counts_requests_errors_and_tokens(gw):
    before = _samples(gw)
    headers = {"authorization": f"Bearer {gw.key}"}
    for _ in range(3):
        ok = httpx.post(f"{gw.url}/v1/chat/completions", headers=headers,
                        json={"model": "mock-model", "messages": [{"role": "user", "content": "hi there"}]})
        assert ok.status_code == 200
    missing = httpx.post(f"{gw.url}/v1/chat/completions", headers=headers,
                         json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]})
    assert missing.status_code == 404
    settle()
    after = _samples(gw)

    def grew(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("proxy_requests_total", format="openai", model="mock-model", provider="mock", status="200") == 3
    assert grew("proxy_errors_total", format="openai", model="nope", error_type="unknown_model") == 1
    assert grew("proxy_tokens_total", provider="mock", kind="completion") > 0
    assert _value(after, "proxy_active_requests", format="openai", provider="mock") == 0


def test_it_counts_the_cost_of_priced_models(gw):
    before = _value(_samples(gw), "proxy_cost_usd_total", provider="openai", model="oa-model")
    gw.upstream.script(Reply.text("priced", usage=(1000, 500)))
    answer = httpx.post(f"{gw.url}/v1/chat/completions", headers={"authorization": f"Bearer {gw.key}"},
                        json={"model": "oa-model", "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 200
    settle()
    after = _value(_samples(gw), "proxy_cost_usd_total", provider="openai", model="oa-model")
    assert round(after - before, 9) == round((1000 * 1 + 500 * 2) / 1_000_000, 9)  # oa-* costs 1 and 2 a million


def test_it_keeps_live_counters_of_the_day_per_key(gw):
    headers = {"authorization": f"Bearer {gw.key}"}
    key_id = ApiKey.objects.get(name="relay-tests").id
    start = today("key", key_id)
    for _ in range(2):
        httpx.post(f"{gw.url}/v1/chat/completions", headers=headers,
                   json={"model": "mock-model", "messages": [{"role": "user", "content": "hi there"}]})
    settle()
    now = today("key", key_id)
    assert now["requests"] - start["requests"] == 2
    assert now["tokens"] > start["tokens"]


def test_each_request_gets_one_json_line_with_its_id_and_figures(gw, caplog):
    caplog.set_level(logging.INFO, logger="gateway.requests")
    answer = httpx.post(f"{gw.url}/v1/chat/completions", headers={"authorization": f"Bearer {gw.key}"},
                        json={"model": "mock-model", "messages": [{"role": "user", "content": "hi there"}]})
    settle()
    request_id = answer.headers["x-request-id"]
    lines = [r for r in caplog.records if r.name == "gateway.requests" and getattr(r, "request_id", "") == request_id]
    assert len(lines) == 1
    line = lines[0]
    assert line.getMessage() == "request" and line.status_code == 200 and line.provider == "mock"
    assert line.model == "mock-model" and line.format == "openai" and line.completion_tokens > 0
    assert 0 < line.duration_ms < 10_000


def test_a_request_in_flight_shows_in_the_gauge_when_scraped(gw):
    gw.upstream.script(Reply.text("slow answer").with_(delay=0.3))
    body = {"model": "oa-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    stream = threading.Thread(target=httpx.post, args=(f"{gw.url}/v1/chat/completions",),
                              kwargs={"headers": {"authorization": f"Bearer {gw.key}"}, "json": body, "timeout": 20})
    stream.start()
    try:
        during = 0
        for _ in range(50):
            during = _value(_samples(gw), "proxy_active_requests", format="openai", provider="openai")
            if during:
                break
            threading.Event().wait(0.02)
    finally:
        stream.join()
    settle()
    assert during == 1
    assert _value(_samples(gw), "proxy_active_requests", format="openai", provider="openai") == 0


def test_observe_all_counts_as_the_librarys_observe_does():
    from prometheus_client import CollectorRegistry, Histogram

    from gateway.metrics import observe_all

    amounts = [0.001, 0.005, 0.0051, 0.3, 2.5, 7.0, 1000.0, 0.3]
    registry = CollectorRegistry()
    one_by_one = Histogram("one", "", buckets=(0.005, 0.1, 1, 5), registry=registry)
    batched = Histogram("batched", "", buckets=(0.005, 0.1, 1, 5), registry=registry)
    for amount in amounts:
        one_by_one.observe(amount)
    observe_all(batched, amounts)

    def samples(name):
        return [(s.name.removeprefix(name), s.labels, s.value) for metric in registry.collect()
                for s in metric.samples if s.name.startswith(name) and not s.name.endswith("_created")]

    assert samples("batched") == samples("one") != []
