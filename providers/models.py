from fnmatch import fnmatchcase

from django.db import models
from django.utils import timezone

from gateway.crypto import EncryptedTextField
from providers.registry import TYPE_CHOICES


class Provider(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    type = models.CharField(max_length=32, choices=TYPE_CHOICES)
    base_url = models.URLField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(
        default=False, help_text="Serves models that no route names (the config's default_provider)."
    )
    timeout = models.FloatField(default=600, help_text="Seconds to wait for the first byte of an answer.")
    connect_timeout = models.FloatField(default=10)
    idle_timeout = models.FloatField(default=120, help_text="Seconds of silence allowed between stream events.")
    oauth_token_url = models.URLField(max_length=500, blank=True)
    oauth_client_id = models.CharField(max_length=300, blank=True)
    oauth_client_secret = EncryptedTextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ModelRoute(models.Model):
    model = models.CharField(max_length=200, help_text="A model name or a glob such as gpt-*.")
    upstream_model = models.CharField(
        max_length=200, blank=True, help_text="The name sent upstream; empty keeps the requested name."
    )
    priority = models.IntegerField(default=0, help_text="Higher wins when several routes match.")
    enabled = models.BooleanField(default=True)
    providers = models.ManyToManyField(Provider, through="RouteTarget", related_name="routes")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "model"]
        constraints = [models.UniqueConstraint(fields=["model"], name="unique_route_model")]

    def __str__(self):
        return self.model

    @property
    def is_glob(self) -> bool:
        return any(ch in self.model for ch in "*?[")

    def matches(self, name: str) -> bool:
        return fnmatchcase(name, self.model)


class RouteTarget(models.Model):
    """One provider in a route's fallback chain; tried in ascending position."""

    route = models.ForeignKey(ModelRoute, on_delete=models.CASCADE, related_name="targets")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["route", "provider"], name="unique_route_provider")]

    def __str__(self):
        return f"{self.route} → {self.provider}"


class ModelPrice(models.Model):
    model = models.CharField(max_length=200, help_text="An upstream model name or a glob.")
    input_per_million = models.DecimalField(max_digits=12, decimal_places=6)
    output_per_million = models.DecimalField(max_digits=12, decimal_places=6)
    cached_input_per_million = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    per_image = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True,
                                    help_text="Price of one generated image; empty: images are priced by tokens.")
    valid_from = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model", "-valid_from"]
        constraints = [models.UniqueConstraint(fields=["model", "valid_from"], name="unique_price_model_from")]

    def __str__(self):
        return f"{self.model} from {self.valid_from:%Y-%m-%d}"
