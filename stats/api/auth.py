"""Authentication by gateway key, for the one endpoint a key holder may call (``/api/v1/usage``)."""

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from gateway.models import ApiKey, hash_key

__all__ = ["GatewayKeyAuthentication", "HasGatewayKey", "presented_key"]


def presented_key(request) -> str:
    """The key as the SDKs send it: ``Authorization: Bearer <key>`` or ``x-api-key: <key>``."""
    header = authentication.get_authorization_header(request).decode("latin-1")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("x-api-key", "").strip()


class GatewayKeyAuthentication(authentication.BaseAuthentication):
    """request.auth becomes the ApiKey; request.user stays anonymous, so no staff permission ever passes."""

    def authenticate(self, request):
        raw = presented_key(request)
        if not raw:
            return None
        key = ApiKey.objects.filter(key_hash=hash_key(raw)).first()
        if key is None:
            raise exceptions.AuthenticationFailed("the gateway key is not valid")
        if key.revoked:
            raise exceptions.AuthenticationFailed("the gateway key has been revoked")
        if key.expires_at is not None and key.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("the gateway key has expired")
        return AnonymousUser(), key

    def authenticate_header(self, request):
        return 'Bearer realm="gateway key"'


class HasGatewayKey(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


class GatewayKeyScheme(OpenApiAuthenticationExtension):
    target_class = GatewayKeyAuthentication
    name = "gatewayKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "a gateway key (sk-gw-...)"}
