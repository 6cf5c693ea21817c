from urllib.parse import quote, urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from gateway.crypto import EncryptedTextField

SCHEMES = ("http", "https", "socks5", "socks5h")


def validate_proxy_url(value: str):
    parts = urlsplit(value)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValidationError(f"a proxy URL looks like http://host:port (schemes: {', '.join(SCHEMES)})")
    if parts.username or parts.password:
        raise ValidationError("put the credentials in the username and password fields, not the URL")


class ProxyServer(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    url = models.CharField(max_length=500, validators=[validate_proxy_url], help_text="scheme://host:port")
    username = models.CharField(max_length=200, blank=True)
    password = EncryptedTextField(blank=True)
    capacity = models.PositiveIntegerField(default=10, help_text="How many accounts may leave through it.")
    priority = models.IntegerField(default=0, help_text="Lower fills first.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = "proxy server"

    def __str__(self):
        return self.name

    def connect_url(self) -> str:
        """The URL with credentials, for the HTTP client only; never log or display it."""
        if not self.username:
            return self.url
        parts = urlsplit(self.url)
        auth = quote(self.username, safe="") + ":" + quote(self.password or "", safe="")
        return f"{parts.scheme}://{auth}@{parts.netloc}{parts.path}"


class ProxyDailyStats(models.Model):
    proxy = models.ForeignKey(ProxyServer, on_delete=models.CASCADE, related_name="daily_stats")
    date = models.DateField()
    requests = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-date", "proxy"]
        verbose_name_plural = "proxy daily stats"
        constraints = [models.UniqueConstraint(fields=["proxy", "date"], name="unique_proxy_day")]

    def __str__(self):
        return f"{self.proxy} {self.date}"
