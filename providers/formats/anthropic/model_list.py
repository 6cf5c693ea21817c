"""Anthropic model listing."""

__all__ = ["build_model", "build_model_list"]


MODEL_CREATED_AT = "2024-01-01T00:00:00Z"


def build_model(name: str) -> dict:
    return {"type": "model", "id": name, "display_name": name, "created_at": MODEL_CREATED_AT, "lifecycle": "active"}


def build_model_list(names: list) -> dict:
    return {
        "data": [build_model(name) for name in names],
        "has_more": False,
        "first_id": names[0] if names else None,
        "last_id": names[-1] if names else None,
    }
