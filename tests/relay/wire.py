"""What the fake upstream was sent, read back in one vocabulary, so one test asserts on every provider.

``WIRES[provider]`` reads the recorded body of that provider's protocol: OpenAI Chat Completions
(openai, glm, compat), Anthropic Messages, Gemini generateContent, and Antigravity's envelope
around Gemini's body. Each reader returns plain values (strings, tuples, dicts) to compare.
"""

import base64

from tests.relay.conftest import MODEL

__all__ = ["WIRES", "PROVIDERS", "UPSTREAMS", "UTF8", "TINY_PNG", "TINY_PNG_B64", "WEATHER_ARGS", "TIME_ARGS", "sent",
           "script", "script_weather_call"]

PROVIDERS = ["openai", "anthropic", "gemini", "glm", "compat", "antigravity", "mock"]
UPSTREAMS = [name for name in PROVIDERS if name != "mock"]  # the ones with a fake upstream to inspect
UTF8 = "héllo 世界 🎉"
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
TINY_PNG_B64 = base64.b64encode(TINY_PNG).decode()


def _text(content) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


class OpenAIWire:
    def system(self, body) -> str:
        return "".join(_text(m["content"]) for m in body["messages"] if m["role"] in ("system", "developer"))

    def turns(self, body) -> list:
        roles = {"user": "user", "assistant": "assistant"}
        return [(roles[m["role"]], _text(m["content"])) for m in body["messages"] if m["role"] in roles]

    def sampling(self, body) -> dict:
        stop = body.get("stop")
        return {"temperature": body.get("temperature"), "top_p": body.get("top_p"),
                "max_tokens": body.get("max_tokens") or body.get("max_completion_tokens"),
                "stop": [stop] if isinstance(stop, str) else stop}

    def tool_names(self, body) -> list:
        return [tool["function"]["name"] for tool in body.get("tools", [])]

    def tool_calls(self, body) -> list:
        return [(call["id"], call["function"]["name"]) for m in body["messages"] for call in m.get("tool_calls") or []]

    def tool_choice(self, body) -> tuple:
        choice = body.get("tool_choice", "auto")
        return (choice, "") if isinstance(choice, str) else ("tool", choice["function"]["name"])

    def tool_results(self, body) -> list:
        return [(m["tool_call_id"], _text(m["content"])) for m in body["messages"] if m["role"] == "tool"]

    def images(self, body) -> list:
        urls = [part["image_url"]["url"] for m in body["messages"] if isinstance(m.get("content"), list)
                for part in m["content"] if part.get("type") == "image_url"]
        return [tuple(url[5:].split(";base64,")) for url in urls]

    def stream_usage_requested(self, body) -> bool:
        return body.get("stream") is True and body.get("stream_options") == {"include_usage": True}

    def thoughts(self, body) -> list:
        return []  # Chat Completions has no way to send reasoning back

    def signatures(self, body) -> list:
        return []


class AnthropicWire:
    def system(self, body) -> str:
        return _text(body.get("system"))

    def turns(self, body) -> list:
        return [(m["role"], _text(m["content"])) for m in body["messages"]
                if not any(block.get("type") == "tool_result" for block in m["content"] if isinstance(block, dict))]

    def sampling(self, body) -> dict:
        return {"temperature": body.get("temperature"), "top_p": body.get("top_p"),
                "max_tokens": body.get("max_tokens"), "stop": body.get("stop_sequences")}

    def tool_names(self, body) -> list:
        return [tool["name"] for tool in body.get("tools", [])]

    def _blocks(self, body, kind) -> list:
        return [block for m in body["messages"] if isinstance(m["content"], list)
                for block in m["content"] if block.get("type") == kind]

    def tool_calls(self, body) -> list:
        return [(block["id"], block["name"]) for block in self._blocks(body, "tool_use")]

    def tool_choice(self, body) -> tuple:
        choice = body.get("tool_choice", {"type": "auto"})
        return {"any": "required"}.get(choice["type"], choice["type"]), choice.get("name", "")

    def tool_results(self, body) -> list:
        return [(block["tool_use_id"], _text(block.get("content"))) for block in self._blocks(body, "tool_result")]

    def images(self, body) -> list:
        return [(block["source"]["media_type"], block["source"]["data"]) for block in self._blocks(body, "image")]

    def stream_usage_requested(self, body) -> bool:
        return body.get("stream") is True  # Anthropic's streams always report usage

    def thoughts(self, body) -> list:
        return [block["thinking"] for block in self._blocks(body, "thinking")]

    def signatures(self, body) -> list:
        return [block["signature"] for block in self._blocks(body, "thinking")]


class GeminiWire:
    def inner(self, body) -> dict:
        return body

    def system(self, body) -> str:
        return _text((self.inner(body).get("systemInstruction") or {}).get("parts"))

    def turns(self, body) -> list:
        roles = {"user": "user", "model": "assistant"}
        return [(roles[c["role"]], _text([p for p in c["parts"] if not p.get("thought")]))
                for c in self.inner(body)["contents"] if not any("functionResponse" in part for part in c["parts"])]

    def sampling(self, body) -> dict:
        config = self.inner(body).get("generationConfig", {})
        return {"temperature": config.get("temperature"), "top_p": config.get("topP"),
                "max_tokens": config.get("maxOutputTokens"), "stop": config.get("stopSequences")}

    def tool_names(self, body) -> list:
        return [d["name"] for tool in self.inner(body).get("tools", []) for d in tool["functionDeclarations"]]

    def _parts(self, body, kind) -> list:
        return [part[kind] for c in self.inner(body)["contents"] for part in c["parts"] if kind in part]

    def tool_calls(self, body) -> list:
        return [(None, call["name"]) for call in self._parts(body, "functionCall")]

    def tool_choice(self, body) -> tuple:
        config = self.inner(body).get("toolConfig", {}).get("functionCallingConfig", {"mode": "AUTO"})
        names = config.get("allowedFunctionNames", [])
        if config["mode"] == "ANY" and len(names) == 1:
            return "tool", names[0]
        return {"ANY": "required"}.get(config["mode"], config["mode"].lower()), ""

    def tool_results(self, body) -> list:
        # Gemini pairs results with calls by name; the text is the response's "result".
        return [(r["name"], r["response"].get("result", r["response"])) for r in self._parts(body, "functionResponse")]

    def images(self, body) -> list:
        # A Gemini client's own body is forwarded as it is: the google-genai SDK writes some names in snake_case.
        return [(data.get("mimeType") or data["mime_type"], data["data"]) for data in self._parts(body, "inlineData")]

    def stream_usage_requested(self, body) -> bool:
        return True  # Gemini's streams always report usage

    def thoughts(self, body) -> list:
        return [part["text"] for c in self.inner(body)["contents"] for part in c["parts"] if part.get("thought")]

    def signatures(self, body) -> list:
        # Gemini puts a thought's signature on the part that follows it.
        return self._parts(body, "thoughtSignature")


class AntigravityWire(GeminiWire):
    def inner(self, body) -> dict:
        assert body["project"] == "proj-1" and body["model"] == MODEL["antigravity"], body
        return body["request"]


WIRES = {"openai": OpenAIWire(), "glm": OpenAIWire(), "compat": OpenAIWire(), "anthropic": AnthropicWire(),
         "gemini": GeminiWire(), "antigravity": AntigravityWire()}


def sent(gw, provider) -> tuple:
    """``(wire, body)``: the reader for ``provider`` and the last chat body the fake recorded."""
    chats = [r for r in gw.upstream.requests if r.method == "POST" and _is_chat(r.path)]
    assert chats, f"no chat request reached the upstream; saw {[r.path for r in gw.upstream.requests]}"
    return WIRES[provider], chats[-1].json


def _is_chat(path: str) -> bool:
    return path.endswith(("/chat/completions", "/messages", ":generateContent", ":streamGenerateContent"))


WEATHER_ARGS = {"city": "Zürich"}
TIME_ARGS = {"zone": "CET"}


def script(gw, provider, *replies):
    """Queue replies on the fake upstream; the mock provider has none and answers by its own rules."""
    if provider != "mock":
        gw.upstream.script(*replies)


def script_weather_call(gw, provider) -> dict:
    """Make the next answer call get_weather; returns the arguments to expect (the mock fills in samples)."""
    from tests.fakes import Reply

    script(gw, provider, Reply.tool_call("get_weather", WEATHER_ARGS))
    return {"city": "sample"} if provider == "mock" else WEATHER_ARGS
