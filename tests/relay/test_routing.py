"""Routing as a client sees it: exact names, globs, aliases, fallback chains and the default provider."""

import pytest

from providers.models import Provider
from tests.fakes import Reply
from tests.relay.wire import UPSTREAMS, UTF8

HI = [{"role": "user", "content": UTF8}]


def upstream_model(gw, provider) -> str:
    """The model name the provider's last chat request carried (in its body, or its URL for Gemini)."""
    request = gw.upstream.requests[-1]
    if provider == "gemini":
        return request.path.rsplit("/", 1)[1].split(":")[0]
    return request.json["model"]


def test_an_exact_name_beats_a_glob(gw, oa):
    gw.route("oa-special", "anthropic")
    reply = oa.chat.completions.create(model="oa-special", messages=HI)
    assert reply.model == "oa-special"
    assert [r.path for r in gw.upstream.requests] == ["/v1/messages"]


def test_the_more_literal_glob_wins(gw, oa):
    gw.route("oa-sp*", "gemini")
    oa.chat.completions.create(model="oa-spark", messages=HI)
    oa.chat.completions.create(model="oa-model", messages=HI)
    assert [r.path for r in gw.upstream.requests] == ["/v1beta/models/oa-spark:generateContent",
                                                      "/v1/chat/completions"]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_an_alias_is_rewritten_to_the_upstream_model(gw, oa, provider):
    gw.route("friendly", provider, upstream_model="real-model-7")
    reply = oa.chat.completions.create(model="friendly", messages=HI)
    # An upstream of the client's own format is relayed as it answered (the fast path), naming its model.
    assert reply.model == ("real-model-7" if provider in ("openai", "glm", "compat") else "friendly")
    assert reply.choices[0].message.content == f"echo: {UTF8}"
    assert upstream_model(gw, provider) == "real-model-7"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("status", [500, 429])
def test_a_failing_provider_falls_back_to_the_next(gw, an, status, stream):
    gw.route("chain", "openai", "gemini")
    gw.upstream.script(Reply.status(status), path="/chat/completions")
    options = {"model": "chain", "max_tokens": 64, "messages": HI}
    if stream:
        with an.messages.stream(**options) as events:
            message = events.get_final_message()
    else:
        message = an.messages.create(**options)
    assert message.content[0].text == f"echo: {UTF8}"
    method = "streamGenerateContent" if stream else "generateContent"
    assert [r.path for r in gw.upstream.requests] == ["/v1/chat/completions", f"/v1beta/models/chain:{method}"]


def test_a_stream_failing_before_its_content_falls_back(gw, oa):
    from tests.relay.test_errors import ANTHROPIC_START, OVERLOADED

    gw.route("chain", "anthropic", "openai")
    gw.upstream.script(Reply.raw([ANTHROPIC_START, OVERLOADED], content_type="text/event-stream"), path="/v1/messages")
    chunks = oa.chat.completions.create(model="chain", messages=HI, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"echo: {UTF8}"
    assert [r.path for r in gw.upstream.requests] == ["/v1/messages", "/v1/chat/completions"]


def test_a_request_error_does_not_fall_back(gw, oa):
    import openai

    gw.route("chain", "openai", "gemini")
    gw.upstream.script(Reply.status(400, message="bad tool schema"), path="/chat/completions")
    with pytest.raises(openai.BadRequestError, match="bad tool schema"):
        oa.chat.completions.create(model="chain", messages=HI)
    assert [r.path for r in gw.upstream.requests] == ["/v1/chat/completions"]


def test_an_unrouted_model_goes_to_the_default_provider_under_its_own_name(gw, ge):
    provider = Provider.objects.get(name="anthropic")
    provider.is_default = True
    provider.save()
    reply = ge.models.generate_content(model="claude-anything", contents=UTF8)
    assert reply.text == f"echo: {UTF8}"
    assert gw.upstream.last("/v1/messages").json["model"] == "claude-anything"
