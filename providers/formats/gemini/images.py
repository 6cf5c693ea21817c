"""Gemini image generation (image models answer generateContent with inlineData)."""

from providers.types import GeneratedImage, ImageRequest, ImageResponse

from ._common import _get
from .responses import _usage

__all__ = ["build_image_request", "parse_image_response", "image_refusal"]


# --- image generation (Gemini image models answer generateContent with inlineData) ----------

# OpenAI sizes Gemini can draw, as the aspect ratios it takes instead.
_ASPECT_RATIOS = {"1024x1024": "1:1", "1536x1024": "3:2", "1024x1536": "2:3", "1792x1024": "16:9",
                  "1024x1792": "9:16", "512x512": "1:1", "256x256": "1:1"}


def build_image_request(request: ImageRequest, upstream_model: str) -> dict:
    """One image per request: Gemini's image models draw one per candidate and take no count."""
    config = {"responseModalities": ["IMAGE"]}
    ratio = _ASPECT_RATIOS.get(request.size)
    if ratio:
        config["imageConfig"] = {"aspectRatio": ratio}
    return {"contents": [{"role": "user", "parts": [{"text": request.prompt}]}], "generationConfig": config}


def parse_image_response(body: dict) -> ImageResponse:
    """Every inlineData part of the first candidate, in order; text parts are not images."""
    candidates = body.get("candidates") or [{}]
    parts = (candidates[0].get("content") or {}).get("parts") or []
    images = []
    for part in parts:
        inline = _get(part, "inlineData")
        if isinstance(inline, dict) and _get(inline, "data"):
            images.append(GeneratedImage(data=_get(inline, "data"), media_type=_get(inline, "mimeType", "image/png")))
    usage = _usage(_get(body, "usageMetadata", {}))
    return ImageResponse(_get(body, "modelVersion", ""), images, usage)


def image_refusal(body: dict) -> str:
    """Why an answer holds no image: the finish or block reason, else the model's own words."""
    blocked = _get(body.get("promptFeedback") or {}, "blockReason")
    candidate = (body.get("candidates") or [{}])[0]
    texts = [part.get("text", "") for part in (candidate.get("content") or {}).get("parts") or ()]
    return blocked or "".join(texts)[:300] or _get(candidate, "finishReason", "") or "no reason given"
