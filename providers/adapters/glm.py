"""GLM (Zhipu): OpenAI's Chat Completions at /api/paas/v4, with a bearer key."""

from providers.adapters.openai import OpenAIAdapter


class GLMAdapter(OpenAIAdapter):
    default_base_url = "https://open.bigmodel.cn/api/paas/v4"
    responses_api = False  # Responses clients are translated to Chat Completions


adapter = GLMAdapter()
