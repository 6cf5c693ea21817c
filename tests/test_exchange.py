"""gateway.http.Exchange on its own: what a client's head can hold without a server error."""

from gateway.http import Exchange


async def test_a_content_length_that_is_not_a_number_is_read_as_none():
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
             "headers": [(b"content-length", "²".encode("latin-1"))], "client": ("127.0.0.1", 5000)}

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    assert await Exchange(scope, receive, None).body() == b"{}"
