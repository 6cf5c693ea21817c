"""Gemini model listing."""

__all__ = ["build_model", "build_model_list"]


GENERATION_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]


# --- models ----------------------------------------------------------------------------------

def build_model(name: str) -> dict:
    model_id = name.removeprefix("models/")
    return {
        "name": f"models/{model_id}", "baseModelId": model_id, "displayName": model_id,
        "supportedGenerationMethods": list(GENERATION_METHODS),
    }


def build_model_list(names) -> dict:
    return {"models": [build_model(name) for name in names]}
