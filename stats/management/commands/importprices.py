from django.core.management.base import BaseCommand, CommandError

from gateway.configfile import ConfigError
from stats.priceimport import import_prices, read_prices


class Command(BaseCommand):
    help = (
        "Creates or updates model prices from a JSON or YAML list of {model, input_per_million, "
        "output_per_million, cached_input_per_million?, valid_from?}; a price is named by (model, valid_from)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="e.g. prices.yaml or prices.json")
        parser.add_argument("--dry-run", action="store_true", help="check and count, then roll back")

    def handle(self, *args, **options):
        try:
            config = read_prices(options["file"])
            summary = import_prices(config, dry_run=options["dry_run"])
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(summary.line(config.source))
