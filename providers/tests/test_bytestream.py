"""The same-format stream relay over recorded streams: the bytes that go out are the bytes that came in
(less a usage-only event the client did not ask for), whatever the chunking, and usage is read on the way."""

import asyncio
import threading

import pytest

from gateway.bytestream import ByteStream
from gateway.errors import UpstreamError
from providers.formats import anthropic, openai
from providers.formats.sse import SSETooLarge
from providers.tests.test_format_anthropic import RECORDED_STREAM as ANTHROPIC_STREAM
from providers.tests.test_format_openai import REASONING_STREAM
from providers.types import Usage

_USAGE_AT = REASONING_STREAM.index(b'"choices":[],"usage"')
_USAGE_START = REASONING_STREAM.rindex(b"data: ", 0, _USAGE_AT)
OPENAI_USAGE_EVENT = REASONING_STREAM[_USAGE_START:REASONING_STREAM.index(b"\n\n", _USAGE_AT) + 2]


def relay(chunks: list, decoder, hide_usage=False) -> tuple[bytes, ByteStream, list]:
    async def source():
        for chunk in chunks:
            yield chunk

    async def run():
        stream = ByteStream(source(), decoder, hide_usage)
        pieces = [piece async for piece in stream.pieces()]
        return b"".join(piece.data for piece in pieces), stream, pieces

    return asyncio.run(run())


def splits(data: bytes):
    for cut in range(1, len(data)):
        yield [data[:cut], data[cut:]]


def test_an_openai_stream_goes_out_unchanged_at_every_split():
    for chunks in splits(REASONING_STREAM):
        out, stream, _ = relay(chunks, openai.StreamDecoder())
        assert out == REASONING_STREAM
        assert stream.finished
        assert stream.usage == Usage(prompt_tokens=12, completion_tokens=30, cached_tokens=8, reasoning_tokens=20)


def test_the_usage_only_event_is_kept_from_a_client_that_did_not_ask_at_every_split():
    assert OPENAI_USAGE_EVENT.count(b"data: ") == 1 and b'"choices":[]' in OPENAI_USAGE_EVENT
    expected = REASONING_STREAM.replace(OPENAI_USAGE_EVENT, b"")
    for chunks in splits(REASONING_STREAM):
        out, stream, _ = relay(chunks, openai.StreamDecoder(), hide_usage=True)
        assert out == expected
        assert stream.usage.prompt_tokens == 12


def test_an_anthropic_stream_goes_out_unchanged_byte_by_byte():
    out, stream, pieces = relay([bytes([b]) for b in ANTHROPIC_STREAM], anthropic.StreamDecoder())
    assert out == ANTHROPIC_STREAM
    assert stream.finished and stream.usage.prompt_tokens == 472 + 100 + 2048
    assert stream.produced.chars > 0
    # A piece is content when it holds text, thinking or a call; pings and message_start are not.
    assert not pieces[0].content and any(piece.content for piece in pieces)


def test_a_stream_that_stops_without_a_finish_is_not_finished():
    cut = REASONING_STREAM.rindex(b"data: ", 0, REASONING_STREAM.index(b"h\xc3\xa9llo"))
    out, stream, _ = relay([REASONING_STREAM[:cut]], openai.StreamDecoder())
    assert out == REASONING_STREAM[:cut]
    assert not stream.finished and stream.usage is None
    assert stream.produced.tokens() > 0


def test_an_error_event_is_raised_after_the_content_before_it_went_out():
    head = REASONING_STREAM[:REASONING_STREAM.index(b": keep-alive")]
    error = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    collected = []

    async def run():
        async def source():
            yield head + error + b"data: [DONE]\n\n"

        stream = ByteStream(source(), openai.StreamDecoder(), False)
        async for piece in stream.pieces():
            collected.append(piece.data)

    with pytest.raises(UpstreamError, match="overloaded"):
        asyncio.run(run())
    assert b"".join(collected) == head


def test_a_stream_cut_inside_an_event_fails_without_relaying_the_broken_part():
    cut = REASONING_STREAM.index(b"h\xc3\xa9llo")
    with pytest.raises(UpstreamError, match="invalid JSON"):
        relay([REASONING_STREAM[:cut]], openai.StreamDecoder())


def test_an_event_that_never_ends_is_refused_past_the_limit(monkeypatch):
    monkeypatch.setattr("gateway.bytestream.MAX_EVENT_BYTES", 1000)
    with pytest.raises(SSETooLarge):
        relay([b'data: {"x": "' + b"a" * 600, b"a" * 600], openai.StreamDecoder())


def test_a_long_unfinished_tail_behind_a_complete_event_is_read_in_linear_time():
    """One chunk holding an event and the start of a huge one: the tail is searched once, not again
    from each of its positions (hours at this size; the thread would still be running)."""
    head = REASONING_STREAM[:REASONING_STREAM.index(b"\n\n") + 2]
    outcome = []

    def run():
        try:
            relay([head + b'data: {"x": "' + b"a" * (4 << 20)], openai.StreamDecoder())
        except UpstreamError as error:  # the stream ends inside the tail: a broken event, after the head
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive() and outcome
