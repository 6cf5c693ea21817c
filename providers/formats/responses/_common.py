"""Constants and helpers shared by the Responses API codec."""

import os

__all__ = ["_REDACTED", "new_response_id"]


# Redacted thinking (Anthropic) travels as encrypted content with this prefix.
_REDACTED = "redacted:"


def new_response_id() -> str:
    return "resp_" + os.urandom(24).hex()
