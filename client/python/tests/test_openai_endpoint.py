"""sextantd's OpenAI-compatible endpoint (--openai-listen) driven by the real `openai` package:
chat (plain, streamed, follow-up, tools through a scripted fake model), embeddings (float and
base64), models, a wrong key = 401, an unknown collection = 404, a bad conversation = 400, all
in OpenAI's error shape. Skipped without $SEXTANTD or without the openai package."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest

import sextant
from conftest import Sextantd
from test_rag_chat import FakeModel, call
from test_rag_server import make_faq

openai = pytest.importorskip("openai")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def endpoint(sextantd_binary: str, tmp_path: Path) -> Iterator[Dict[str, Any]]:
    def script(req: Dict[str, Any], n: int) -> Dict[str, Any]:
        last = req["messages"][-1]
        if req.get("tools") and last["role"] == "user":
            return {"tool_calls": [call("search", {"query": "liquid nitrogen boil"}, "c1")]}
        return {"content": "It boils at minus 196 degrees [1]."}

    model = FakeModel(script)
    port = free_port()
    server = Sextantd(sextantd_binary, tmp_path, [
        "--openai-listen", f"127.0.0.1:{port}", "--api-key", "secret-key", "--read-only-key", "reader-key",
        "--llm-url", model.url, "--llm-model", "fake"]).start()
    try:
        with sextant.Client(server.address, api_key="secret-key", timeout=60) as c:
            make_faq(c, "faq")
            yield {"url": f"http://127.0.0.1:{port}/v1", "model": model, "client": c}
    finally:
        model.close()
        assert server.stop() == 0, server.log()


def test_openai_chat_and_stream(endpoint: Dict[str, Any]) -> None:
    client = openai.OpenAI(base_url=endpoint["url"], api_key="secret-key")
    r = client.chat.completions.create(
        model="faq", messages=[{"role": "user", "content": "At what temperature does liquid nitrogen boil?"}])
    assert r.object == "chat.completion" and r.choices[0].finish_reason == "stop"
    assert "196" in r.choices[0].message.content
    extra = r.model_extra
    assert extra["citations"][0]["document_id"] == "nitrogen" and extra["citations"][0]["cited"]
    assert extra["sextant"]["generator"] == "extractive"

    history: List[Dict[str, Any]] = [
        {"role": "user", "content": "At what temperature does liquid nitrogen boil?"},
        {"role": "assistant", "content": r.choices[0].message.content},
        {"role": "user", "content": "and what do laboratories use it for?"},
    ]
    pieces = []
    final = None
    for chunk in client.chat.completions.create(model="faq", messages=history, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            final = chunk
    assert final is not None and final.choices[0].finish_reason == "stop"
    assert final.model_extra["citations"][0]["document_id"] == "nitrogen"
    assert final.model_extra["sextant"]["standalone_question"].startswith("At what temperature")
    assert "".join(pieces)

    # collection@model: the configured LLM, asked for that model; tools through the fake model.
    endpoint["model"].requests.clear()
    r = client.chat.completions.create(
        model="faq@fake-2", messages=[{"role": "user", "content": "When does nitrogen boil?"}],
        temperature=0.5, max_tokens=40, seed=1, extra_body={"sextant": {"tools": "auto", "k": 2}})
    assert r.choices[0].message.content == "It boils at minus 196 degrees [1]."
    assert r.model_extra["sextant"]["tool_calls"][0]["function"]["name"] == "search"
    sent = endpoint["model"].requests[0]
    assert sent["model"] == "fake-2" and sent["max_tokens"] == 40 and sent["seed"] == 1


def test_openai_embeddings_and_models(endpoint: Dict[str, Any]) -> None:
    client = openai.OpenAI(base_url=endpoint["url"], api_key="secret-key")
    e = client.embeddings.create(model="faq", input=["liquid nitrogen", "bread"])  # base64 by default
    got = np.array([d.embedding for d in e.data], dtype=np.float32)
    want = endpoint["client"].collection("faq").embed(["liquid nitrogen", "bread"])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    e = client.embeddings.create(model="faq", input="bread", encoding_format="float")
    np.testing.assert_allclose(np.array(e.data[0].embedding, dtype=np.float32), want[1], atol=1e-6)
    assert [m.id for m in client.models.list()] == ["faq"]


def test_openai_errors(endpoint: Dict[str, Any]) -> None:
    bad = openai.OpenAI(base_url=endpoint["url"], api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.models.list()
    assert info.value.status_code == 401 and info.value.body["code"] == "invalid_api_key"
    client = openai.OpenAI(base_url=endpoint["url"], api_key="secret-key", max_retries=0)
    with pytest.raises(openai.NotFoundError) as nf:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert nf.value.body["code"] == "model_not_found" and "nope" in nf.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="nope", input="x")
    with pytest.raises(openai.BadRequestError, match=r"messages\[1\]: the last message must be"):
        client.chat.completions.create(model="faq", messages=[{"role": "user", "content": "hi"},
                                                             {"role": "assistant", "content": "hello"}])
    with pytest.raises(openai.BadRequestError, match="messages: empty"):
        client.chat.completions.create(model="faq", messages=[])
    with pytest.raises(openai.BadRequestError, match=r"messages\[0\]: unknown role"):
        client.chat.completions.create(model="faq", messages=[{"role": "developer-x", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match=r"messages\[1\]: tool message answers"):
        client.chat.completions.create(model="faq", messages=[
            {"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "zz", "content": "1"}])


def test_openai_limits_and_deadline(endpoint: Dict[str, Any]) -> None:
    client = openai.OpenAI(base_url=endpoint["url"], api_key="secret-key", max_retries=0)
    many = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}] * 500
    many.append({"role": "user", "content": "When does nitrogen boil?"})  # 1001 messages
    with pytest.raises(openai.BadRequestError, match="messages: 1001 messages; at most 1000"):
        client.chat.completions.create(model="faq", messages=many)
    for bad in (0, 300001, "x"):
        with pytest.raises(openai.BadRequestError, match="timeout_ms"):
            client.chat.completions.create(model="faq", messages=[{"role": "user", "content": "hi"}],
                                           extra_body={"sextant": {"timeout_ms": bad}})
    # Tool mode: the first round asks for a search; no second round starts after the deadline.
    model = endpoint["model"]
    model.delay = 0.5
    try:
        with pytest.raises(openai.APIStatusError) as late:
            client.chat.completions.create(model="faq@fake", messages=[{"role": "user", "content": "When does nitrogen boil?"}],
                                           extra_body={"sextant": {"tools": "auto", "timeout_ms": 200}})
    finally:
        model.delay = 0.0
    assert late.value.status_code == 504 and late.value.body["type"] == "server_error"


def test_openai_server_side_conversations(endpoint: Dict[str, Any]) -> None:
    """The extension "conversation_id" (extra_body) continues a stored conversation with the new
    message only, like gRPC Chat; "store": true starts one (a new id when none is given); the
    answer carries the id. Unknown id = 404, malformed id = 400, a read-only key = 403."""
    client = openai.OpenAI(base_url=endpoint["url"], api_key="secret-key", max_retries=0)
    first = [{"role": "user", "content": "At what temperature does liquid nitrogen boil?"}]
    r = client.chat.completions.create(model="faq", messages=first, store=True, extra_body={"conversation_id": "trip-1"})
    assert r.model_extra["conversation_id"] == "trip-1" and "196" in r.choices[0].message.content
    # The follow-up alone: the stored turns make it a follow-up (the heuristic rewrite uses them).
    follow = [{"role": "user", "content": "and what do laboratories use it for?"}]
    r = client.chat.completions.create(model="faq", messages=follow, extra_body={"conversation_id": "trip-1"})
    assert r.model_extra["conversation_id"] == "trip-1"
    assert r.model_extra["sextant"]["standalone_question"].startswith("At what temperature")
    # The same conversation as gRPC's: stored turns, seen through the Python client.
    stored = endpoint["client"].collection("faq").conversation("trip-1")
    assert [m["role"] for m in stored.messages] == ["user", "assistant", "user", "assistant"]
    assert stored.messages[2]["content"] == follow[0]["content"]
    # Streaming: the final chunk carries the id.
    final = None
    for chunk in client.chat.completions.create(model="faq", stream=True, extra_body={"conversation_id": "trip-1"},
                                                messages=[{"role": "user", "content": "and water?"}]):
        if chunk.choices and chunk.choices[0].finish_reason:
            final = chunk
    assert final is not None and final.model_extra["conversation_id"] == "trip-1"
    # "store" without an id: the server names the conversation.
    r = client.chat.completions.create(model="faq", messages=first, store=True)
    made = r.model_extra["conversation_id"]
    assert made.startswith("conv-") and made != "trip-1"
    r = client.chat.completions.create(model="faq", messages=follow, extra_body={"conversation_id": made})
    assert r.model_extra["sextant"]["standalone_question"].startswith("At what temperature")

    with pytest.raises(openai.NotFoundError) as nf:
        client.chat.completions.create(model="faq", messages=follow, extra_body={"conversation_id": "never-made"})
    assert nf.value.body["code"] == "conversation_not_found" and "never-made" in nf.value.body["message"]
    for bad in ("has space", "x" * 129, 7):
        with pytest.raises(openai.BadRequestError) as br:
            client.chat.completions.create(model="faq", messages=follow, extra_body={"conversation_id": bad})
        assert br.value.body["code"] == "invalid_conversation_id" and "conversation_id" in br.value.body["message"]
    with pytest.raises(openai.BadRequestError, match="messages: empty"):
        client.chat.completions.create(model="faq", messages=[], extra_body={"conversation_id": "trip-1"})
    with pytest.raises(openai.BadRequestError, match="store: must be true or false"):
        client.chat.completions.create(model="faq", messages=follow, extra_body={"store": "yes"})
    reader = openai.OpenAI(base_url=endpoint["url"], api_key="reader-key", max_retries=0)
    with pytest.raises(openai.PermissionDeniedError, match="read-only"):
        reader.chat.completions.create(model="faq", messages=follow, extra_body={"conversation_id": "trip-1"})
    # Without an id, a read-only key chats as before.
    assert reader.chat.completions.create(model="faq", messages=first).model_extra.get("conversation_id") is None

    # The store's own collection is hidden from listings and closed to clients' writes and drops.
    c = endpoint["client"]
    assert [info.name for info in c.list_collections()] == ["faq"]
    assert [m.id for m in client.models.list()] == ["faq"]
    reserved = "sextant.conversations"
    for attempt in (lambda: c.drop_collection(reserved),
                    lambda: c.collection(reserved).upsert(["x"], [[0.5]]),
                    lambda: c.collection(reserved).delete(["x"]),
                    lambda: c.create_collection("sextant.mine", 2),
                    lambda: c.create_alias("sextant.alias", "faq"),
                    lambda: c.create_alias("mine", reserved)):
        with pytest.raises(sextant.PermissionDeniedError, match='names starting with "sextant." are reserved'):
            attempt()
    # Reading them stays possible; the conversations are intact.
    assert [m["role"] for m in c.collection("faq").conversation("trip-1").messages][:2] == ["user", "assistant"]


def test_http_requests_drain_at_sigterm(sextantd_binary: str, tmp_path: Path) -> None:
    """SIGTERM while a slow chat completion (plain and streamed) and an MCP ask are running: they
    get complete answers, new HTTP requests get 503 meanwhile, and sextantd exits cleanly."""
    model = FakeModel(lambda req, n: {"content": "It boils at minus 196 degrees [1]."})
    oport, mport = free_port(), free_port()
    server = Sextantd(sextantd_binary, tmp_path, [
        "--openai-listen", f"127.0.0.1:{oport}", "--mcp-listen", f"127.0.0.1:{mport}",
        "--generator", "openai", "--llm-url", model.url, "--llm-model", "fake"]).start()
    base = f"http://127.0.0.1:{oport}/v1"
    mcp_url = f"http://127.0.0.1:{mport}/mcp"

    def post(url: str, body: Dict[str, Any]) -> tuple[int, Dict[str, Any]]:
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def status_of(url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    try:
        with sextant.Client(server.address, timeout=60) as c:
            make_faq(c, "faq")
        model.delay = 4.0
        client = openai.OpenAI(base_url=base, api_key="none", max_retries=0, timeout=60)
        question = [{"role": "user", "content": "When does liquid nitrogen boil?"}]
        got: Dict[str, Any] = {}

        def plain() -> None:
            got["plain"] = client.chat.completions.create(model="faq", messages=question)

        def streamed() -> None:
            chunks = list(client.chat.completions.create(model="faq", messages=question, stream=True))
            got["stream"] = ("".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices),
                             chunks[-1].choices[0].finish_reason)

        def ask() -> None:
            got["mcp"] = post(mcp_url, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "ask", "arguments": {"collection": "faq", "question": "When does liquid nitrogen boil?"}}})

        threads = [threading.Thread(target=f) for f in (plain, streamed, ask)]
        for t in threads:
            t.start()
        waited = time.monotonic() + 30
        while len(model.requests) < 3 and time.monotonic() < waited:
            time.sleep(0.02)
        assert len(model.requests) == 3, "the three requests did not reach the model"
        server.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        # New requests are refused (503) while the three in flight go on.
        refused = {"openai": 0, "mcp": 0}
        waited = time.monotonic() + 30
        while (not refused["openai"] or not refused["mcp"]) and time.monotonic() < waited and "plain" not in got:
            if status_of(base + "/models") == 503:
                refused["openai"] += 1
            code, body = post(mcp_url, {"jsonrpc": "2.0", "id": 2, "method": "ping"})
            if code == 503:
                assert "shutting down" in body["error"]["message"]
                refused["mcp"] += 1
            time.sleep(0.02)
        for t in threads:
            t.join(60)
        assert refused["openai"] and refused["mcp"], refused
        assert got["plain"].choices[0].message.content == "It boils at minus 196 degrees [1]."
        assert got["plain"].choices[0].finish_reason == "stop"
        assert got["stream"] == ("It boils at minus 196 degrees [1].", "stop")
        code, body = got["mcp"]
        assert code == 200 and not body["result"]["isError"], body
        assert "196" in body["result"]["structuredContent"]["answer"]
        assert server.proc.wait(timeout=60) == 0, server.log()  # type: ignore[union-attr]
        assert "shutdown_cancelling" not in server.log()
    finally:
        model.close()
        server.kill()
