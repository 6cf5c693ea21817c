import datetime

from django.core.management.base import BaseCommand, CommandError

from stats.aggregation import roll_up, today


def day(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date {value!r} is not a date such as 2025-01-31") from None


class Command(BaseCommand):
    help = "Rebuilds a UTC day's DailyUsage and ProxyDailyStats rows from the request log."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD (default: today, UTC)")

    def handle(self, *args, **options):
        result = roll_up(day(options["date"]) if options["date"] else today())
        self.stdout.write(
            f"{result['date']}: {result['usage_rows']} daily usage rows, {result['proxies']} proxies"
        )
