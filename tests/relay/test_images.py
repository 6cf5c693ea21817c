"""Image generation with the official OpenAI SDK: OpenAI forwards, Gemini image models draw through
generateContent, the mock answers a tiny PNG; every answer in OpenAI's shape, logged and priced per image."""

import base64
from decimal import Decimal

import openai
import pytest

from providers.models import ModelPrice
from stats.models import RequestLog
from tests.relay.wire import TINY_PNG
from tests.support.server import settle

DRAWING = ["openai", "gemini", "antigravity", "mock"]


def png(datum) -> bytes:
    return base64.b64decode(datum.b64_json)


@pytest.mark.parametrize("provider", DRAWING)
def test_it_generates_images_as_base64(gw, oa, provider):
    answer = oa.images.generate(model=gw.model(provider), prompt="a red dot", n=2, response_format="b64_json")
    assert [png(datum) for datum in answer.data] == [TINY_PNG, TINY_PNG]
    assert answer.created > 0


def test_openai_gets_the_request_as_it_was_asked(gw, oa):
    oa.images.generate(model=gw.model("openai"), prompt="a red dot", n=2, size="1024x1536", quality="high")
    sent = gw.upstream.last("/v1/images/generations")
    assert sent.json == {"model": gw.model("openai"), "prompt": "a red dot", "n": 2, "size": "1024x1536",
                         "quality": "high"}
    assert sent.credential == "key-openai-a"


def test_urls_from_openai_stay_urls(gw, oa):
    answer = oa.images.generate(model=gw.model("openai"), prompt="a red dot", response_format="url")
    (datum,) = answer.data
    assert datum.url.startswith("https://images.fake/") and datum.b64_json is None


@pytest.mark.parametrize("provider", ["gemini", "antigravity"])
def test_gemini_image_models_draw_through_generate_content(gw, oa, provider):
    answer = oa.images.generate(model=gw.model(provider), prompt="a red dot", n=2, size="1792x1024")
    assert [png(datum) for datum in answer.data] == [TINY_PNG, TINY_PNG]
    drawn = [request for request in gw.upstream.requests if request.path.endswith(":generateContent")]
    assert len(drawn) == 2  # one image per request
    body = drawn[0].json["request"] if provider == "antigravity" else drawn[0].json
    assert body["generationConfig"] == {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "16:9"}}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "a red dot"}]}]


def test_an_inline_image_asked_for_as_a_url_is_a_data_url(gw, oa):
    (datum,) = oa.images.generate(model=gw.model("gemini"), prompt="a red dot", response_format="url").data
    assert datum.url == "data:image/png;base64," + base64.b64encode(TINY_PNG).decode()


def test_a_gemini_answer_without_an_image_is_an_error(gw, oa):
    from tests.fakes import Reply

    gw.upstream.script(Reply.raw(b'{"candidates":[{"content":{"parts":[{"text":"I cannot draw that."}]},'
                                 b'"finishReason":"STOP"}]}'))
    with pytest.raises(openai.BadRequestError, match="I cannot draw that"):
        oa.images.generate(model=gw.model("gemini"), prompt="something forbidden")


@pytest.mark.parametrize("provider", ["anthropic", "glm"])
def test_providers_without_image_generation_refuse(gw, oa, provider):
    with pytest.raises((openai.BadRequestError, openai.NotFoundError)):
        oa.images.generate(model=gw.model(provider), prompt="a red dot")


def test_an_image_request_is_logged_and_priced_per_image(gw, oa):
    ModelPrice.objects.create(model="mock-*", input_per_million=0, output_per_million=0, per_image=Decimal("0.04"))
    oa.images.generate(model=gw.model("mock"), prompt="a red dot", n=3)
    settle()
    row = RequestLog.objects.get(endpoint="images.generations")
    assert (row.client_format, row.requested_model, row.status_code, row.images) == ("openai", "mock-model", 200, 3)
    assert row.cost == Decimal("0.12")


def test_image_requests_without_a_per_image_price_are_priced_by_their_tokens(gw, oa):
    oa.images.generate(model=gw.model("openai"), prompt="a red dot")  # oa-* has token prices only
    settle()
    row = RequestLog.objects.get(endpoint="images.generations")
    assert row.images == 1 and row.cost == Decimal(0)


def test_streamed_image_generation_is_refused(gw, oa):
    with pytest.raises(openai.BadRequestError, match="streamed image generation"):
        oa.images.generate(model=gw.model("openai"), prompt="a red dot", stream=True)
