"""Any host that speaks OpenAI's Chat Completions: OpenRouter, DeepSeek, Mistral, Groq, vLLM, Ollama."""

from providers.adapters.openai import OpenAIAdapter, Upstream


class OpenAICompatibleAdapter(OpenAIAdapter):
    default_base_url = ""
    needs_account = False  # local servers (vLLM, Ollama) often take no key
    responses_api = False  # Responses clients are translated to Chat Completions

    def headers(self, up: Upstream) -> dict:
        return {"authorization": f"Bearer {up.credential}"} if up.credential else {}


adapter = OpenAICompatibleAdapter()
