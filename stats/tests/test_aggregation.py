import datetime
from decimal import Decimal

import pytest
from django.test import override_settings

from proxies.models import ProxyDailyStats, ProxyServer
from stats.aggregation import aggregate_day, purge_cutoff, purge_old_logs, roll_proxy_stats, roll_up, today
from stats.models import DailyUsage, RequestLog
from stats.tests.data import add_log, at, expected, in_days, model_of

FIGURES = ("requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cost")


def usage_rows(day) -> set:
    fields = ("provider_id", "account_id", "api_key_id", "model", *FIGURES, "latency_ms_sum", "latency_count",
              "ttft_ms_sum", "ttft_count")
    return set(DailyUsage.objects.filter(date=day).values_list(*fields))


def groups_in_python(rows) -> dict:
    groups = {}
    for row in rows:
        groups.setdefault((row.provider_id, row.account_id, row.api_key_id, model_of(row)), []).append(row)
    return groups


@pytest.mark.parametrize("day_name", ["d0", "d1", "d2"])
def test_it_matches_the_log_group_by_group(logged, days, day_name):
    day = getattr(days, day_name)
    written = aggregate_day(day)
    groups = groups_in_python(in_days(logged, day))
    assert written == len(groups)
    for (provider, account, key, model), rows in groups.items():
        row = DailyUsage.objects.get(date=day, provider_id=provider, account_id=account, api_key_id=key, model=model)
        want = expected(rows)
        assert {name: getattr(row, name) for name in FIGURES} == {name: want[name] for name in FIGURES}
        assert row.latency_ms_sum == sum(r.latency_ms for r in rows)
        assert row.latency_count == len(rows)
        assert row.ttft_ms_sum == sum(r.ttft_ms or 0 for r in rows)
        assert row.ttft_count == sum(r.ttft_ms is not None for r in rows)


def test_it_counts_the_requested_model_when_nothing_went_upstream(logged, days):
    aggregate_day(days.d1)
    assert DailyUsage.objects.get(date=days.d1, model="claude-x").errors == 1


def test_it_puts_each_row_on_its_utc_day(logged, days):
    for day in (days.d0, days.d1, days.d2):
        aggregate_day(day)
    assert DailyUsage.objects.filter(date=days.d1).count() == 2  # 00:00:00.000 and 23:59:59.999
    totals = {day: sum(DailyUsage.objects.filter(date=day).values_list("requests", flat=True))
              for day in (days.d0, days.d1, days.d2)}
    assert totals == {days.d0: 3, days.d1: 2, days.d2: 3}


@override_settings(TIME_ZONE="America/New_York", CELERY_TIMEZONE="America/New_York")
def test_it_uses_utc_days_whatever_the_time_zone(logged, days):
    aggregate_day(days.d1)
    assert sum(DailyUsage.objects.filter(date=days.d1).values_list("requests", flat=True)) == 2


def test_running_it_again_gives_identical_rows(logged, days):
    aggregate_day(days.d2)
    first = usage_rows(days.d2)
    assert aggregate_day(days.d2) == len(first)
    assert usage_rows(days.d2) == first
    assert DailyUsage.objects.filter(date=days.d2).count() == len(first)


def test_it_replaces_the_rows_of_an_earlier_run(logged, world, days):
    aggregate_day(days.d0)
    add_log(at(days.d0, 4), api_key=world.ci, provider=world.openai, account=world.team_a,
            upstream_model="gpt-4o", prompt_tokens=7, cost=Decimal("0.00001750"))
    aggregate_day(days.d0)
    row = DailyUsage.objects.get(date=days.d0, model="gpt-4o", api_key=world.ci)
    assert (row.requests, row.prompt_tokens, row.cost) == (2, 2007, Decimal("0.01439250"))


def test_it_sums_costs_exactly_and_unpriced_rows_as_zero(world, days):
    for _ in range(30):
        add_log(at(days.d1, 5), api_key=world.ci, upstream_model="gpt-4o", cost=Decimal("0.00000001"))
    add_log(at(days.d1, 6), api_key=world.ci, upstream_model="gpt-4o", cost=Decimal("123456.12345678"))
    add_log(at(days.d1, 7), api_key=world.ci, upstream_model="unpriced-model")
    aggregate_day(days.d1)
    assert DailyUsage.objects.get(date=days.d1, model="gpt-4o").cost == Decimal("123456.12345708")
    assert DailyUsage.objects.get(date=days.d1, model="unpriced-model").cost == Decimal("0")


def test_a_day_without_log_rows_keeps_its_rollup(world, days):
    old = days.d0 - datetime.timedelta(days=400)
    DailyUsage.objects.create(date=old, model="gpt-4o", requests=5)
    assert aggregate_day(old) == 0
    assert DailyUsage.objects.get(date=old).requests == 5


def test_it_rolls_proxy_stats_up_and_sets_them_again(logged, world, days):
    assert roll_proxy_stats(days.d2) == 2
    assert roll_proxy_stats(days.d2) == 2
    stats = {s.proxy.name: (s.requests, s.errors) for s in ProxyDailyStats.objects.filter(date=days.d2)}
    assert stats == {"px1": (2, 1), "px2": (1, 0)}


def test_proxy_stats_skip_deleted_proxies(world, days):
    gone = ProxyServer.objects.create(name="gone", url="http://10.0.0.9:3128")
    add_log(at(days.d0, 1), proxy_id=gone.id)
    add_log(at(days.d0, 1), proxy=world.px1, status_code=500)
    gone.delete()
    assert roll_proxy_stats(days.d0) == 1
    assert ProxyDailyStats.objects.get(date=days.d0).errors == 1


def test_roll_up_does_both(logged, days):
    assert roll_up(days.d0) == {"date": days.d0.isoformat(), "usage_rows": 3, "proxies": 1}


def test_purge_deletes_whole_days_older_than_the_retention(world, days):
    keep_from = purge_cutoff(3)
    assert keep_from == at(today() - datetime.timedelta(days=3))
    old = [add_log(keep_from - datetime.timedelta(microseconds=1)), add_log(keep_from - datetime.timedelta(days=9))]
    kept = [add_log(keep_from), add_log(at(days.d0, 1))]
    DailyUsage.objects.create(date=days.d0 - datetime.timedelta(days=10), model="gpt-4o", requests=1)
    assert purge_old_logs(3, batch=1) == len(old)
    assert set(RequestLog.objects.values_list("id", flat=True)) == {row.id for row in kept}
    assert DailyUsage.objects.count() == 1


@override_settings(GATEWAY={"LOG_RETENTION_DAYS": 2})
def test_purge_defaults_to_the_retention_setting(world, days):
    add_log(at(days.d0 - datetime.timedelta(days=3), 12))
    add_log(at(days.d2, 12))
    assert purge_old_logs() == 1


def test_purge_refuses_no_retention(db):
    with pytest.raises(ValueError):
        purge_old_logs(0)
