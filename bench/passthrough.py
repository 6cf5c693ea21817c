"""The minimal pass-through reference: raw ASGI, one aiohttp session, bytes relayed as they come.

This is the "what Python can do" row of the benchmark: no routing table, no auth, no logging.
Run: BENCH_UPSTREAM_JSON=http://... BENCH_UPSTREAM_SSE=http://... \
     uvicorn passthrough:app --loop uvloop --http httptools --no-access-log
A request whose body says "stream":true goes to the SSE upstream, any other to the JSON one.
"""
import os

import aiohttp

__all__ = ["app"]

PATH = "/chat/completions"
FORWARDED = (b"authorization", b"content-type")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(scope["state"], receive, send)
    elif scope["type"] == "http":
        await relay(scope, receive, send)


async def lifespan(state, receive, send):
    """The session lives in the lifespan state, which uvicorn hands to every request's scope."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            connector = aiohttp.TCPConnector(limit=1024, keepalive_timeout=60)
            state["session"] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await state["session"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive):
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def relay(scope, receive, send):
    body = await read_body(receive)
    stream = b'"stream":true' in body
    upstream = os.environ["BENCH_UPSTREAM_SSE" if stream else "BENCH_UPSTREAM_JSON"] + PATH
    headers = {k.decode(): v.decode() for k, v in scope["headers"] if k in FORWARDED}
    async with scope["state"]["session"].post(upstream, data=body, headers=headers) as response:
        content_type = response.headers.get("Content-Type", "application/json").encode()
        await send({"type": "http.response.start", "status": response.status,
                    "headers": [(b"content-type", content_type)]})
        if not stream:
            await send({"type": "http.response.body", "body": await response.read()})
            return
        async for chunk in response.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
