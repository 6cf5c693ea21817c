"""Wire-format codecs: pure functions between one API's JSON and the internal types.

Each module (``openai``, ``anthropic``, ``gemini``; the Responses API later) serves both sides,
because a format is spoken by clients to the gateway and by the gateway to upstreams. No I/O,
no Django, no provider names: adapters pick a codec, the relay drives it.

A codec module exposes:

Client side (what an SDK sends us, what we send back)
    parse_request(body: dict, *, model: str = "", stream: bool | None = None) -> ChatRequest
        Raises BadRequest / Unsupported with a message and ``param``. ``model`` and ``stream``
        come from the URL for Gemini; for the others from the body.
    build_response(response: ChatResponse, request: ChatRequest) -> dict
    StreamEncoder(request: ChatRequest, response_id: str, created: int)
        .encode(event) -> bytes       wire bytes for one internal event (b"" when nothing yet)
        .end() -> bytes               the format's successful ending ([DONE], message_stop, ...)
        .fail(error_type, message) -> bytes
                                      an error event in the format, ending the stream unsuccessfully
    build_error(status: int, error_type: str, message: str, request_id: str, param: str = "") -> dict
    parse_embedding_request / build_embedding_response, build_model_list / build_model
                                      where the format has them

Upstream side (what we send a provider, what it answers)
    build_request(request: ChatRequest, upstream_model: str) -> dict
        Streams ask for usage (OpenAI ``stream_options.include_usage``) whatever the client asked.
    parse_response(body: dict) -> ChatResponse
    StreamDecoder()
        .feed(chunk: bytes) -> list[Event]   safe for chunks split at any byte
        .close() -> list[Event]              at end of body
    parse_error(status: int, body: bytes) -> str   the upstream's message, for logs and mapping
    build_embedding_request / parse_embedding_response where the format has them

Stop reasons, usage and tool calls are mapped as documented at each function.
"""
