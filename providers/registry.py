"""The provider registry: one line per upstream type, pointing at its adapter module."""

from importlib import import_module

__all__ = ["ADAPTERS", "TYPE_CHOICES", "adapter_for"]

ADAPTERS = {
    "openai": ("OpenAI", "providers.adapters.openai"),
    "anthropic": ("Anthropic", "providers.adapters.anthropic"),
    "gemini": ("Google Gemini", "providers.adapters.gemini"),
    "antigravity": ("Antigravity (Google Cloud Code)", "providers.adapters.antigravity"),
    "glm": ("GLM (Zhipu)", "providers.adapters.glm"),
    "openai_compatible": ("OpenAI-compatible host", "providers.adapters.openai_compatible"),
    "mock": ("Built-in mock", "providers.adapters.mock"),
}

TYPE_CHOICES = [(kind, label) for kind, (label, _) in ADAPTERS.items()]


def adapter_for(kind: str):
    """The adapter module for a provider type (imported once, then cached by Python)."""
    return import_module(ADAPTERS[kind][1])
