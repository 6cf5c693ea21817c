"""The relay's real server and fake upstream, with every app available (/metrics runs Django's middleware)."""

from tests.relay.conftest import fake_upstream, gateway_server, gw  # noqa: F401
