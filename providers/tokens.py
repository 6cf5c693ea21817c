"""Token estimates for when an upstream reports none: OpenAI's o200k_base BPE, loaded once.

bpe-openai ships its vocabularies in the wheel, so (unlike tiktoken) nothing is downloaded at run time.
"""

from functools import lru_cache

from providers.types import ChatRequest, Image, Text, ToolCall, ToolResult

__all__ = ["count_text", "estimate_prompt_tokens"]

IMAGE_TOKENS = 765  # what OpenAI bills a 1024x1024 image at high detail; a fair average


@lru_cache(maxsize=1)
def _encoding():
    try:
        import bpe_openai

        return bpe_openai.get_encoding("o200k_base")
    except ImportError:  # a slim install without it falls back to the documented heuristic: 4 characters a token
        return None


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
