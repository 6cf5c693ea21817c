from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stats.aggregation import purge_cutoff, purge_old_logs


class Command(BaseCommand):
    help = "Deletes request log rows older than N days (whole UTC days); DailyUsage is kept."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="default: GATEWAY_LOG_RETENTION_DAYS")

    def handle(self, *args, **options):
        days = options["days"] if options["days"] is not None else settings.GATEWAY["LOG_RETENTION_DAYS"]
        if days < 1:
            raise CommandError("--days must be at least 1")
        deleted = purge_old_logs(days)
        self.stdout.write(f"deleted {deleted} request log rows from before {purge_cutoff(days):%Y-%m-%d}")
