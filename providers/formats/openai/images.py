"""OpenAI image generation, both directions."""

import time

from providers.types import BadRequest, GeneratedImage, ImageRequest, ImageResponse, Unsupported, Usage

from ._common import _get, _positive, _required_string, _string

__all__ = ["parse_image_request", "build_image_request", "parse_image_response", "build_image_response"]


# --- image generation ------------------------------------------------------------------------

_IMAGE_OPTIONS = ("size", "quality", "style", "output_format", "background", "user")
_IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def parse_image_request(body: dict) -> ImageRequest:
    """An images/generations body -> ImageRequest; options other than these are not relayed."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    if body.get("stream"):
        raise Unsupported("streamed image generation is not supported by the gateway", "stream")
    request = ImageRequest(model=_required_string(body, "model", "model"),
                           prompt=_required_string(body, "prompt", "prompt"), n=_positive(body, "n") or 1)
    for name in _IMAGE_OPTIONS:
        setattr(request, name, _get(body, name, str) or "")
    request.response_format = _get(body, "response_format", str) or ""
    if request.response_format not in ("", "url", "b64_json"):
        raise BadRequest("'response_format' must be 'url' or 'b64_json'", "response_format")
    return request


def build_image_request(request: ImageRequest, upstream_model: str) -> dict:
    body = {"model": upstream_model, "prompt": request.prompt}
    if request.n != 1:
        body["n"] = request.n
    for name in (*_IMAGE_OPTIONS, "response_format"):
        if getattr(request, name):
            body[name] = getattr(request, name)
    return body


def parse_image_response(body: dict) -> ImageResponse:
    media_type = _IMAGE_TYPES.get(_string(body.get("output_format")), "image/png")
    images = [GeneratedImage(data=_string(item.get("b64_json")), media_type=media_type, url=_string(item.get("url")),
                             revised_prompt=_string(item.get("revised_prompt")))
              for item in body.get("data") or () if isinstance(item, dict)]
    usage = body.get("usage") or {}
    tokens = Usage(prompt_tokens=usage.get("input_tokens") or 0, completion_tokens=usage.get("output_tokens") or 0)
    return ImageResponse("", images, tokens, created=body.get("created") or 0)


def build_image_response(response: ImageResponse, request: ImageRequest) -> dict:
    """Images as the client asked (b64_json or url); an image the upstream only hosts stays a URL,
    and one it sent inline, asked for as a URL, becomes a data URL."""
    data = [_image_datum(image, request.response_format) for image in response.images]
    body = {"created": response.created or int(time.time()), "data": data}
    if response.usage.total_tokens:
        body["usage"] = {"input_tokens": response.usage.prompt_tokens,
                         "output_tokens": response.usage.completion_tokens,
                         "total_tokens": response.usage.total_tokens}
    return body


def _image_datum(image: GeneratedImage, response_format: str) -> dict:
    if image.data and response_format == "url":
        datum = {"url": f"data:{image.media_type};base64,{image.data}"}
    elif image.data:
        datum = {"b64_json": image.data}
    else:
        datum = {"url": image.url}
    if image.revised_prompt:
        datum["revised_prompt"] = image.revised_prompt
    return datum
