from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gateway.models import ApiKey, BudgetPeriod, generate_key


def model_list(values) -> list:
    """``--models a b`` and ``--models a,b`` both give [a, b]."""
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def budget(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise CommandError(f"--budget {value!r} is not a number") from None


class Command(BaseCommand):
    help = "Creates a gateway key and prints it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="a short slug, e.g. ci or team-search")
        parser.add_argument("--models", nargs="+", help="model globs the key may use (default: all)")
        parser.add_argument("--rpm", type=int, help="requests per minute")
        parser.add_argument("--tpm", type=int, help="tokens per minute")
        parser.add_argument("--budget", help="budget in USD")
        parser.add_argument("--budget-period", choices=BudgetPeriod.values, default=BudgetPeriod.TOTAL)

    def handle(self, *args, **options):
        if ApiKey.objects.filter(name__iexact=options["name"]).exists():
            raise CommandError(f"a key named {options['name']!r} exists")
        key = ApiKey(
            name=options["name"], allowed_models=model_list(options["models"]), rpm=options["rpm"],
            tpm=options["tpm"], budget_period=options["budget_period"],
            budget_usd=budget(options["budget"]) if options["budget"] else None,
        )
        raw = generate_key()
        key.set_key(raw)
        try:
            key.full_clean()
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        key.save()
        self.stdout.write(f"created key '{key.name}' (shown once, store it now):")
        self.stdout.write(raw)
