from pathlib import Path

from django.core.management.base import BaseCommand

from gateway.configfile import export_config


class Command(BaseCommand):
    help = "Writes the current configuration as YAML (secrets as ${VARIABLE} placeholders)."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="a file to write (default: standard output)")

    def handle(self, *args, **options):
        text = export_config()
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"wrote {options['output']}")
        else:
            self.stdout.write(text, ending="")
