import httpx


def test_it_answers_openai_chat_from_the_mock(gw):
    response = httpx.post(f"{gw.url}/v1/chat/completions", headers={"authorization": f"Bearer {gw.key}"},
                          json={"model": "mock-model", "messages": [{"role": "user", "content": "hi there"}]})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Mock answer to: hi there"
    assert response.headers["x-request-id"].startswith("req_")


def test_it_relays_openai_chat_to_an_openai_upstream(gw):
    response = httpx.post(f"{gw.url}/v1/chat/completions", headers={"authorization": f"Bearer {gw.key}"},
                          json={"model": "oa-model", "messages": [{"role": "user", "content": "hi there"}]})
    assert response.status_code == 200, response.text
    assert "hi there" in response.json()["choices"][0]["message"]["content"]
    assert gw.upstream.last("/chat/completions").credential == "key-openai-a"
