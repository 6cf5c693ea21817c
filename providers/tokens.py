"""Token estimates for when an upstream reports none, and for budget reservations.

By default a documented heuristic: four characters a token (what OpenAI's own guidance gives for
English; other providers tokenize differently anyway). With GATEWAY_EXACT_TOKEN_COUNTS=true the
o200k_base BPE from bpe-openai is used instead: it ships its vocabulary in the wheel (tiktoken would
download it at run time) but costs about 150 MiB of memory per process, loaded at start-up.
"""

from functools import lru_cache

from django.conf import settings

from providers.types import ChatRequest, Image, Text, ToolCall, ToolResult

__all__ = ["count_text", "estimate_prompt_tokens", "warm_up"]

IMAGE_TOKENS = 765  # what OpenAI bills a 1024x1024 image at high detail; a fair average


@lru_cache(maxsize=1)
def _encoding():
    if not settings.GATEWAY["EXACT_TOKEN_COUNTS"]:
        return None
    try:
        import bpe_openai

        return bpe_openai.get_encoding("o200k_base")
    except ImportError:  # a slim install without it falls back to the documented heuristic: 4 characters a token
        return None


def warm_up():
    """Load the vocabulary now (start-up), not on the request that first needs it."""
    _encoding()


def count_text(text: str) -> int:
    encoding = _encoding()
    if encoding is not None:
        try:
            return len(encoding.encode(text))
        except ValueError:  # text naming a special token such as <|endoftext|>
            pass
    return (len(text) + 3) // 4


def _part_tokens(part) -> int:
    if isinstance(part, Text):
        return count_text(part.text)
    if isinstance(part, Image):
        return IMAGE_TOKENS
    if isinstance(part, ToolCall):
        return count_text(part.name) + count_text(part.arguments)
    if isinstance(part, ToolResult):
        return sum(_part_tokens(p) for p in part.content)
    return 0


def estimate_prompt_tokens(request: ChatRequest) -> int:
    total = sum(_part_tokens(p) for p in request.system)
    for message in request.messages:
        total += 4 + sum(_part_tokens(p) for p in message.parts)
    return total
