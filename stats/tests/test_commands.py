import datetime
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from gateway.configfile.schema import PRICE_EPOCH
from providers.models import ModelPrice
from stats.models import DailyUsage, RequestLog
from stats.tests.data import add_log, at


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# aggregate_stats


def test_aggregate_stats_rolls_up_today_by_default(logged, days):
    assert run("aggregate_stats") == f"{days.d0}: 3 daily usage rows, 1 proxies\n"
    assert DailyUsage.objects.filter(date=days.d0).count() == 3


def test_aggregate_stats_takes_a_date(logged, days):
    assert run("aggregate_stats", "--date", days.d2.isoformat()) == f"{days.d2}: 2 daily usage rows, 2 proxies\n"
    assert run("aggregate_stats", "--date", days.d2.isoformat()) == f"{days.d2}: 2 daily usage rows, 2 proxies\n"
    assert DailyUsage.objects.filter(date=days.d2).count() == 2


def test_aggregate_stats_refuses_a_bad_date(db):
    with pytest.raises(CommandError, match="not a date"):
        run("aggregate_stats", "--date", "31/01/2025")


# purge_logs


def test_purge_logs_deletes_days_older_than_asked(db, days):
    add_log(at(days.d0 - datetime.timedelta(days=3), 23))
    add_log(at(days.d0 - datetime.timedelta(days=2)))
    out = run("purge_logs", "--days", "2")
    assert out.startswith("deleted 1 request log rows from before ")
    assert RequestLog.objects.count() == 1


@override_settings(GATEWAY={"LOG_RETENTION_DAYS": 30})
def test_purge_logs_defaults_to_the_retention_setting(db, days):
    add_log(at(days.d0 - datetime.timedelta(days=31)))
    add_log(at(days.d0 - datetime.timedelta(days=30)))
    assert run("purge_logs").startswith("deleted 1 ")


def test_purge_logs_refuses_zero_days(db):
    with pytest.raises(CommandError, match="at least 1"):
        run("purge_logs", "--days", "0")


# importprices


@pytest.fixture
def write(tmp_path):
    def make(text, name="prices.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return make


PRICES_YAML = """\
# per million tokens, USD
- model: gpt-4o
  input_per_million: 2.5
  output_per_million: 10
  cached_input_per_million: 1.25
- model: claude-*
  input_per_million: 3
  output_per_million: 15
  valid_from: 2025-03-01
"""


def prices() -> dict:
    return {(p.model, p.valid_from): (p.input_per_million, p.output_per_million, p.cached_input_per_million)
            for p in ModelPrice.objects.all()}


def test_importprices_reads_yaml(db, write):
    assert run("importprices", write(PRICES_YAML)).endswith(": 2 created, 0 updated, 0 deleted, 0 unchanged\n")
    march = datetime.datetime(2025, 3, 1, tzinfo=datetime.timezone.utc)
    assert prices() == {
        ("gpt-4o", PRICE_EPOCH): (Decimal("2.5"), Decimal("10"), Decimal("1.25")),
        ("claude-*", march): (Decimal("3"), Decimal("15"), None),
    }


def test_importprices_reads_json(db, write):
    entries = [{"model": "gpt-4o-mini", "input_per_million": 0.15, "output_per_million": 0.6,
                "valid_from": "2025-01-31T12:00:00Z"}]
    run("importprices", write(json.dumps(entries, indent=2), "prices.json"))
    price = ModelPrice.objects.get()
    assert (price.model, price.input_per_million, price.output_per_million) == ("gpt-4o-mini", Decimal("0.15"),
                                                                             Decimal("0.6"))
    assert price.valid_from == datetime.datetime(2025, 1, 31, 12, tzinfo=datetime.timezone.utc)


def test_importprices_upserts_by_model_and_valid_from(db, write):
    run("importprices", write(PRICES_YAML))
    assert run("importprices", write(PRICES_YAML)).endswith("0 created, 0 updated, 0 deleted, 2 unchanged\n")
    changed = PRICES_YAML.replace("output_per_million: 10", "output_per_million: 12")
    changed += "- model: gpt-4o\n  input_per_million: 2\n  output_per_million: 8\n  valid_from: 2025-06-01\n"
    assert run("importprices", write(changed)).endswith("1 created, 1 updated, 0 deleted, 1 unchanged\n")
    assert ModelPrice.objects.get(model="gpt-4o", valid_from=PRICE_EPOCH).output_per_million == Decimal("12")
    assert ModelPrice.objects.count() == 3


def test_importprices_accepts_a_config_files_prices_section(db, write):
    run("importprices", write("prices:\n  - model: m\n    input_per_million: 1\n    output_per_million: 2\n"))
    assert ModelPrice.objects.get().model == "m"


def test_importprices_dry_run_saves_nothing(db, write):
    assert "dry run" in run("importprices", write(PRICES_YAML), "--dry-run")
    assert not ModelPrice.objects.exists()


@pytest.mark.parametrize("text, message", [
    ("- model: a\n  input_per_million: 1\n  output_per_million: 2\n- model: b\n  input_per_million: 1\n",
     r"prices.yaml:4: prices\[1\]: 'output_per_million' is required"),
    ("- model: a\n  input_per_million: cheap\n  output_per_million: 2\n",
     r"prices.yaml:2: prices\[0\]: 'input_per_million' must be a number, not 'cheap'"),
    ("- model: a\n  input_per_million: 1\n  output_per_million: 2\n  valid_from: soon\n",
     r"prices.yaml:4: prices\[0\]: 'valid_from' must be a date"),
    ("- model: a\n  input_per_million: 1\n  output_per_million: 2\n  currency: EUR\n",
     r"prices.yaml:4: prices\[0\]: unknown key 'currency'"),
    ("- {model: a, input_per_million: 1, output_per_million: 2}\n"
     "- {model: a, input_per_million: 3, output_per_million: 4}\n",
     r"prices.yaml:2: duplicate prices entry 'a' \(first on line 1\)"),
    ("- model: a\n  input_per_million: 1\n  output_per_million: 2\n  valid_from: 2025-01-01\n"
     "- model: a\n  input_per_million: 3\n  output_per_million: 4\n  valid_from: 2025-02-01\n"
     "- model: a\n  input_per_million: 1.0e+30\n  output_per_million: 4\n",
     r"prices.yaml:10: prices .a.: .*digits"),
    ("providers:\n  - name: x\n    type: openai\n    base_url: https://x.example\n", "more than prices"),
    ("just text\n", "must be a list of prices"),
    ("[{model: a\n", "neither JSON nor YAML"),
    ("", "empty"),
])
def test_importprices_errors_name_the_entry_and_save_nothing(db, write, text, message):
    with pytest.raises(CommandError, match=message):
        run("importprices", write(text))
    assert not ModelPrice.objects.exists()


def test_importprices_cannot_read_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read the file"):
        run("importprices", str(tmp_path / "nope.yaml"))
