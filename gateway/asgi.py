"""The ASGI entry point: the relay's routes in front of Django, WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.urls import path  # noqa: E402

django_application = get_asgi_application()

from gateway.edge import GatewayHTTP  # noqa: E402  (needs Django set up)
from gateway.forwarded import behind_proxies  # noqa: E402
from gateway.lifespan import lifespan  # noqa: E402
from stats.consumers import RequestTailConsumer  # noqa: E402

application = ProtocolTypeRouter({
    # The relay reads forwarded addresses itself (gateway/forwarded.py); Django and WebSockets get them here.
    "http": GatewayHTTP(behind_proxies(django_application)),
    "websocket": behind_proxies(AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([
        path("ws/requests/", RequestTailConsumer.as_asgi()),
    ])))),
    "lifespan": lifespan,
})
