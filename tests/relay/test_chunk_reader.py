"""The fast path's reader of OpenAI chunk streams: once content has begun, plain content chunks are relayed
unparsed, while the end, usage and errors are still read, and the produced text is estimated the same."""

import json

import pytest

from gateway.bytestream import ByteStream
from gateway.errors import UpstreamError
from providers.formats.openai.forwarding import ChunkReader


def chunk(delta: dict, finish=None, compact=True, **extra) -> bytes:
    data = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    text = json.dumps(data, separators=(",", ":") if compact else None)
    return b"data: " + text.encode() + b"\n\n"


USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}\n\n'
WORDS = ["Hello", " there,", " how", " are", " you", " doing", " today?"]


def stream(compact=True, usage=True, tools=False) -> list:
    events = [chunk({"role": "assistant", "content": ""}, compact=compact)]
    events += [chunk({"content": word}, compact=compact) for word in WORDS]
    if tools:
        call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
        events.append(chunk({"tool_calls": [call]}, compact=compact))
    events.append(chunk({}, "stop", compact=compact))
    return events + ([USAGE] if usage else []) + [b"data: [DONE]\n\n"]


async def read_all(events: list, hide_usage=False) -> tuple:
    async def chunks():
        for event in events:
            yield event

    source = ByteStream(chunks(), ChunkReader(), hide_usage)
    relayed = b"".join([piece.data async for piece in source.pieces()])
    return source, relayed


async def test_the_end_and_the_usage_are_read_and_every_byte_is_relayed():
    events = stream()
    source, relayed = await read_all(events)
    assert source.finished and (source.usage.prompt_tokens, source.usage.completion_tokens) == (5, 7)
    assert relayed == b"".join(events)


@pytest.mark.parametrize("tools", [False, True])
async def test_unparsed_chunks_give_the_same_estimate_as_parsed_ones(tools):
    compact, _ = await read_all(stream(compact=True, usage=False, tools=tools))
    spaced, _ = await read_all(stream(compact=False, usage=False, tools=tools))  # read whole, every one
    assert compact.usage is None and compact.finished
    assert compact.produced._unread and not spaced.produced._unread  # the compact chunks went unparsed
    assert compact.produced.tokens() == spaced.produced.tokens() > 0


async def test_usage_is_still_kept_from_a_client_that_did_not_ask_for_it():
    events = stream()
    source, relayed = await read_all(events, hide_usage=True)
    assert source.usage.completion_tokens == 7
    assert relayed == b"".join(event for event in events if event != USAGE)


async def test_an_error_after_content_is_still_raised():
    error = b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n'
    events = stream()[:4] + [error]
    with pytest.raises(UpstreamError, match="overloaded"):
        await read_all(events)


async def test_a_finish_after_content_is_seen_whatever_the_reason():
    events = stream(usage=False)[:4] + [chunk({"content": " bye"}, "length"), b"data: [DONE]\n\n"]
    source, _ = await read_all(events)
    assert source.finished
