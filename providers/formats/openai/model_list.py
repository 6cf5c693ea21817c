"""OpenAI model listing."""

__all__ = ["build_model_list", "build_model"]


# --- model listing ---------------------------------------------------------------------------

def build_model_list(names: list, owned_by: dict | None = None) -> dict:
    """``owned_by`` maps a name to its owner; names it lacks are owned by "gateway"."""
    owners = owned_by or {}
    data = [build_model(name, owners.get(name, "gateway")) for name in names]
    return {"object": "list", "data": data}


def build_model(name: str, owned_by: str = "gateway") -> dict:
    return {"id": name, "object": "model", "created": 0, "owned_by": owned_by}
