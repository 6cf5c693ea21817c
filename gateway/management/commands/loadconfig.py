import getpass

from django.core.management.base import BaseCommand, CommandError

from gateway.audit import acting_as
from gateway.configfile import ConfigError, apply_config, read_config


class Command(BaseCommand):
    help = "Creates or updates providers, proxies, accounts, routes, keys and prices from a YAML file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the YAML config, e.g. config/example.yaml")
        parser.add_argument("--prune", action="store_true", help="delete what the file no longer names")
        parser.add_argument("--dry-run", action="store_true", help="check and count, then roll back")

    def handle(self, *args, **options):
        try:
            config = read_config(options["file"])
            with acting_as(getpass.getuser(), "loadconfig"):
                summary = apply_config(config, prune=options["prune"], dry_run=options["dry_run"])
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        for name, raw in summary.generated:
            if not summary.dry_run:
                self.stdout.write(f"generated key for '{name}' (shown once, store it now): {raw}")
        self.stdout.write(summary.line(config.source))
