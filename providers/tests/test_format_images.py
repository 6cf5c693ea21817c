"""Image generation in the codecs: OpenAI's Images API both ways, Gemini image models' generateContent."""

import pytest
from openai.types import ImagesResponse

from providers.formats import gemini, openai
from providers.types import BadRequest, GeneratedImage, ImageRequest, ImageResponse, Unsupported, Usage

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def test_parse_image_request_maps_every_field():
    body = {"model": "gpt-image-1", "prompt": "a red dot", "n": 2, "size": "1024x1536", "quality": "high",
            "style": "vivid", "response_format": "url", "output_format": "webp", "background": "transparent",
            "user": "u-1", "moderation": "low"}
    assert openai.parse_image_request(body) == ImageRequest(
        "gpt-image-1", "a red dot", 2, "1024x1536", "high", "vivid", "url", "webp", "transparent", "u-1")


@pytest.mark.parametrize("body, error, param", [
    ({"prompt": "x"}, BadRequest, "model"),
    ({"model": "m"}, BadRequest, "prompt"),
    ({"model": "m", "prompt": "x", "n": 0}, BadRequest, "n"),
    ({"model": "m", "prompt": "x", "response_format": "png"}, BadRequest, "response_format"),
    ({"model": "m", "prompt": "x", "stream": True}, Unsupported, "stream"),
])
def test_parse_image_request_refuses_bad_fields(body, error, param):
    with pytest.raises(error) as caught:
        openai.parse_image_request(body)
    assert caught.value.param == param


def test_build_image_request_sends_only_what_was_asked():
    assert openai.build_image_request(ImageRequest("alias", "a red dot"), "dall-e-3") == {
        "model": "dall-e-3", "prompt": "a red dot"}
    request = ImageRequest("alias", "a red dot", n=3, size="512x512", response_format="b64_json")
    assert openai.build_image_request(request, "dall-e-2") == {
        "model": "dall-e-2", "prompt": "a red dot", "n": 3, "size": "512x512", "response_format": "b64_json"}


def test_parse_image_response_reads_inline_images_urls_and_token_usage():
    body = {"created": 1700000000, "output_format": "jpeg",
            "data": [{"b64_json": PNG}, {"url": "https://img/1.png", "revised_prompt": "a dot, red"}],
            "usage": {"input_tokens": 12, "output_tokens": 4160, "total_tokens": 4172}}
    assert openai.parse_image_response(body) == ImageResponse(
        "", [GeneratedImage(PNG, "image/jpeg"), GeneratedImage("", "image/jpeg", "https://img/1.png", "a dot, red")],
        Usage(12, 4160), created=1700000000)


@pytest.mark.parametrize("response_format, expected", [
    ("", [{"b64_json": PNG}, {"url": "https://img/1.png"}]),
    ("b64_json", [{"b64_json": PNG}, {"url": "https://img/1.png"}]),
    ("url", [{"url": f"data:image/png;base64,{PNG}"}, {"url": "https://img/1.png"}]),
])
def test_build_image_response_answers_as_the_client_asked_where_it_can(response_format, expected):
    response = ImageResponse("m", [GeneratedImage(PNG), GeneratedImage(url="https://img/1.png")], created=5)
    body = openai.build_image_response(response, ImageRequest("m", "x", response_format=response_format))
    assert body == {"created": 5, "data": expected}
    ImagesResponse.model_validate(body)


def test_build_image_response_reports_token_usage_when_there_was_some():
    response = ImageResponse("m", [GeneratedImage(PNG, revised_prompt="better")], Usage(3, 4), created=5)
    body = openai.build_image_response(response, ImageRequest("m", "x"))
    assert body["data"] == [{"b64_json": PNG, "revised_prompt": "better"}]
    assert body["usage"] == {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}


@pytest.mark.parametrize("size, config", [
    ("", {"responseModalities": ["IMAGE"]}),
    ("1792x1024", {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "16:9"}}),
    ("333x777", {"responseModalities": ["IMAGE"]}),
])
def test_gemini_asks_an_image_model_for_one_image(size, config):
    body = gemini.build_image_request(ImageRequest("alias", "a red dot", n=4, size=size), "gemini-2.5-flash-image")
    assert body == {"contents": [{"role": "user", "parts": [{"text": "a red dot"}]}], "generationConfig": config}


def test_gemini_answers_give_their_inline_images_and_usage():
    body = {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Here it is."}, {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"inline_data": {"mime_type": "image/jpeg", "data": PNG}}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1290}, "modelVersion": "gemini-img"}
    assert gemini.parse_image_response(body) == ImageResponse(
        "gemini-img", [GeneratedImage(PNG, "image/png"), GeneratedImage(PNG, "image/jpeg")], Usage(5, 1290))


@pytest.mark.parametrize("body, reason", [
    ({"promptFeedback": {"blockReason": "SAFETY"}}, "SAFETY"),
    ({"candidates": [{"content": {"parts": [{"text": "I cannot draw that."}]}}]}, "I cannot draw that."),
    ({"candidates": [{"finishReason": "IMAGE_SAFETY"}]}, "IMAGE_SAFETY"),
])
def test_gemini_says_why_an_answer_holds_no_image(body, reason):
    assert gemini.parse_image_response(body).images == []
    assert gemini.image_refusal(body) == reason
