"""The same-format stream relay over recorded streams: the bytes that go out are the bytes that came in
(less a usage-only event the client did not ask for), whatever the chunking, and usage is read on the way."""

import asyncio
import threading

import pytest

from gateway.bytestream import ByteStream, DecodedReader
from gateway.errors import UpstreamError
from providers.formats import anthropic, openai
from providers.formats.sse import CONTENT, SSETooLarge
from providers.tests.test_format_anthropic import RECORDED_STREAM as ANTHROPIC_STREAM
from providers.tests.test_format_openai import REASONING_STREAM
from providers.types import Usage

_USAGE_AT = REASONING_STREAM.index(b'"choices":[],"usage"')
_USAGE_START = REASONING_STREAM.rindex(b"data: ", 0, _USAGE_AT)
OPENAI_USAGE_EVENT = REASONING_STREAM[_USAGE_START:REASONING_STREAM.index(b"\n\n", _USAGE_AT) + 2]


# An OpenAI stream is read by the format's own reader on the fast path; any format by its full decoder.
OPENAI_READERS = pytest.mark.parametrize("openai_reader", [
    pytest.param(openai.ChunkReader, id="chunk-reader"),
    pytest.param(lambda: DecodedReader(openai.StreamDecoder()), id="decoder"),
])


def relay(chunks: list, reader, hide_usage=False) -> tuple[bytes, ByteStream, list]:
    async def source():
        for chunk in chunks:
            yield chunk

    async def run():
        stream = ByteStream(source(), reader, hide_usage)
        pieces = [piece async for piece in stream.pieces()]
        return b"".join(piece.data for piece in pieces), stream, pieces

    return asyncio.run(run())


def splits(data: bytes):
    for cut in range(1, len(data)):
        yield [data[:cut], data[cut:]]


@OPENAI_READERS
def test_an_openai_stream_goes_out_unchanged_at_every_split(openai_reader):
    for chunks in splits(REASONING_STREAM):
        out, stream, _ = relay(chunks, openai_reader())
        assert out == REASONING_STREAM
        assert stream.finished
        assert stream.usage == Usage(prompt_tokens=12, completion_tokens=30, cached_tokens=8, reasoning_tokens=20)


@OPENAI_READERS
def test_the_usage_only_event_is_kept_from_a_client_that_did_not_ask_at_every_split(openai_reader):
    assert OPENAI_USAGE_EVENT.count(b"data: ") == 1 and b'"choices":[]' in OPENAI_USAGE_EVENT
    expected = REASONING_STREAM.replace(OPENAI_USAGE_EVENT, b"")
    for chunks in splits(REASONING_STREAM):
        out, stream, _ = relay(chunks, openai_reader(), hide_usage=True)
        assert out == expected
        assert stream.usage.prompt_tokens == 12


def test_an_anthropic_stream_goes_out_unchanged_byte_by_byte():
    out, stream, pieces = relay([bytes([b]) for b in ANTHROPIC_STREAM], DecodedReader(anthropic.StreamDecoder()))
    assert out == ANTHROPIC_STREAM
    assert stream.finished and stream.usage.prompt_tokens == 472 + 100 + 2048
    assert stream.produced.chars > 0
    # A piece is content when it holds text, thinking or a call; pings and message_start are not.
    assert not pieces[0].content and any(piece.content for piece in pieces)


@OPENAI_READERS
def test_a_stream_that_stops_without_a_finish_is_not_finished(openai_reader):
    cut = REASONING_STREAM.rindex(b"data: ", 0, REASONING_STREAM.index(b"h\xc3\xa9llo"))
    out, stream, _ = relay([REASONING_STREAM[:cut]], openai_reader())
    assert out == REASONING_STREAM[:cut]
    assert not stream.finished and stream.usage is None
    assert stream.produced.tokens() > 0


@OPENAI_READERS
def test_an_error_event_is_raised_after_the_content_before_it_went_out(openai_reader):
    head = REASONING_STREAM[:REASONING_STREAM.index(b": keep-alive")]
    error = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    collected = []

    async def run():
        async def source():
            yield head + error + b"data: [DONE]\n\n"

        stream = ByteStream(source(), openai_reader(), False)
        async for piece in stream.pieces():
            collected.append(piece.data)

    with pytest.raises(UpstreamError, match="overloaded"):
        asyncio.run(run())
    assert b"".join(collected) == head


@OPENAI_READERS
def test_a_stream_cut_inside_an_event_fails_without_relaying_the_broken_part(openai_reader):
    cut = REASONING_STREAM.index(b"h\xc3\xa9llo")
    with pytest.raises(UpstreamError, match="invalid JSON"):
        relay([REASONING_STREAM[:cut]], openai_reader())


@OPENAI_READERS
def test_an_event_that_never_ends_is_refused_past_the_limit(openai_reader, monkeypatch):
    monkeypatch.setattr("gateway.bytestream.MAX_EVENT_BYTES", 1000)
    with pytest.raises(SSETooLarge):
        relay([b'data: {"x": "' + b"a" * 600, b"a" * 600], openai_reader())


@OPENAI_READERS
def test_a_long_unfinished_tail_behind_a_complete_event_is_read_in_linear_time(openai_reader):
    """One chunk holding an event and the start of a huge one: the tail is searched once, not again
    from each of its positions (hours at this size; the thread would still be running)."""
    head = REASONING_STREAM[:REASONING_STREAM.index(b"\n\n") + 2]
    outcome = []

    def run():
        try:
            relay([head + b'data: {"x": "' + b"a" * (4 << 20)], openai_reader())
        except UpstreamError as error:  # the stream ends inside the tail: a broken event, after the head
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive() and outcome


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_the_chunk_reader_reads_each_event_as_the_full_decoder_does(ending):
    """Content, usage-only, usage, the finish and the produced text: the same from both readers,
    whatever the line ending (a CRLF event is parsed, not sliced)."""
    stream = REASONING_STREAM.replace(b"\n", ending)
    fast, full = ByteStream(None, None, False), ByteStream(None, None, False)
    fast_reader, full_reader = openai.ChunkReader(), DecodedReader(openai.StreamDecoder())
    events = stream.split(ending * 2)[:-1]
    assert len(events) > 5
    for event in events:
        event += ending * 2
        assert fast_reader.read(event, fast) == full_reader.read(event, full), event
    assert fast.usage == full.usage and fast.usage is not None
    assert fast.finished and full.finished
    # The fast reader leaves plain content chunks unparsed until an estimate asks for their text.
    assert fast.produced.tokens() == full.produced.tokens() > 0


def test_the_chunk_reader_counts_a_tool_call_as_content_and_its_arguments_as_produced():
    reader, into = openai.ChunkReader(), ByteStream(None, None, False)
    call = (b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function",'
            b'"function":{"name":"f","arguments":"{\\"a\\":"}}]}}]}\n\n')
    assert reader.read(call, into) == CONTENT
    assert into.produced.parts == ['{"a":']
    assert reader.read(b'data: [DONE]\n\n', into) == 0
    assert reader.read(b'data: {"error": {"message": "late"}}\n\n', into) == 0  # nothing is read after [DONE]
