"""col.chat() against a real sextantd ($SEXTANTD; skipped without it): a follow-up conversation with
the extractive generator, streaming, bad conversations, and tool mode with a scripted fake
OpenAI-compatible model (a search round, then the caller's own function)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

import sextant
from conftest import Sextantd
from test_rag_server import DOCS, make_faq


def test_chat_follow_up(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    history: List[Dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "At what temperature does liquid nitrogen boil?"},
    ]
    first = col.chat(history, k=2)
    assert first.citations[0].document_id == "nitrogen"
    assert first.finish_reason == "stop" and first.messages[-1]["role"] == "assistant"
    history += first.messages
    history.append({"role": "user", "content": "and what do laboratories use it for?"})
    ans = col.chat(history, k=2, temperature=0.1, max_tokens=50, seed=3)  # settings: ignored by extractive
    assert ans.standalone_question.startswith("At what temperature does liquid nitrogen boil?")
    assert ans.citations[0].document_id == "nitrogen"
    assert ans.tool_calls == [] and ans.timings.total_ms > 0

    s = col.chat(history, k=2, stream=True)
    pieces = list(s)
    assert "".join(pieces) == s.answer == ans.answer

    off = col.chat(history, k=2, rewrite="off")
    assert off.standalone_question == "and what do laboratories use it for?"


def test_chat_errors(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    with pytest.raises(sextant.InvalidArgumentError, match="messages: empty"):
        col.chat([])
    with pytest.raises(sextant.InvalidArgumentError, match=r"messages\[1\]: the last message must be"):
        col.chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    with pytest.raises(sextant.InvalidArgumentError, match=r"messages\[0\]: unknown role \"bot\""):
        col.chat([{"role": "bot", "content": "hi"}])
    with pytest.raises(sextant.InvalidArgumentError, match=r"messages\[1\]: tool message answers"):
        col.chat([{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "c9", "content": "1"}])
    with pytest.raises(sextant.FailedPreconditionError, match="cannot call functions"):
        col.chat([{"role": "user", "content": "hi"}], tools="auto")
    with pytest.raises(sextant.InvalidArgumentError, match="generation.temperature"):
        col.chat([{"role": "user", "content": "hi"}], temperature=5)
    with pytest.raises(TypeError, match="top_k"):
        col.chat([{"role": "user", "content": "hi"}], top_k=3)
    with pytest.raises(sextant.InvalidArgumentError, match="rewrite"):
        col.chat([{"role": "user", "content": "hi"}], rewrite="sometimes")


def test_chat_server_side_conversation(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    cid = f"faq:{name}"
    first = col.chat([{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "At what temperature does liquid nitrogen boil?"}],
                     k=2, conversation_id=cid)
    assert first.conversation_id == cid and first.citations[0].document_id == "nitrogen"
    assert col.chat([{"role": "user", "content": "hi"}], k=2).conversation_id == ""  # nothing stored
    # Continuing by id sends only the new message: the stored turns make it a follow-up.
    follow = col.chat([{"role": "user", "content": "and what do laboratories use it for?"}], k=2, conversation_id=cid)
    assert follow.conversation_id == cid
    assert follow.standalone_question.startswith("At what temperature does liquid nitrogen boil?")

    conv = col.conversation(cid)
    assert conv.id == cid and conv.info.collection == name
    assert [m["role"] for m in conv.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert conv.messages[3]["content"] == "and what do laboratories use it for?"
    assert conv.messages[2]["content"] == first.answer and conv.messages[4]["content"] == follow.answer
    assert conv.info.messages == 5 and conv.info.bytes > 0
    assert 0 < conv.info.created_ms <= conv.info.updated_ms
    assert [c.id for c in col.conversations()] == [cid] and col.conversations()[0] == conv.info

    # A conversation stays with its collection: another one neither sees nor deletes it.
    other = client.create_collection(f"{name}_other", embedder="hash")
    assert other.conversations() == []
    with pytest.raises(sextant.NotFoundError, match="belongs to collection"):
        other.conversation(cid)
    with pytest.raises(sextant.NotFoundError, match="belongs to collection"):
        other.delete_conversation(cid)
    with pytest.raises(sextant.InvalidArgumentError):
        other.chat([{"role": "user", "content": "hi"}], conversation_id=cid)
    assert col.conversation(cid).info.messages == 5

    with pytest.raises(sextant.NotFoundError):
        col.conversation("no-such-conversation")
    for bad in ("", "has space", "x" * 129, "caf\u00e9"):
        with pytest.raises(sextant.InvalidArgumentError, match="conversation"):
            col.conversation(bad)
        with pytest.raises(sextant.InvalidArgumentError, match="conversation"):
            col.chat([{"role": "user", "content": "hi"}], conversation_id=bad)
        with pytest.raises(sextant.InvalidArgumentError, match="conversation"):
            col.delete_conversation(bad)
    with pytest.raises(sextant.InvalidArgumentError, match="conversation_id: expected a str"):
        col.chat([{"role": "user", "content": "hi"}], conversation_id=42)  # type: ignore[arg-type]
    with pytest.raises(sextant.InvalidArgumentError, match="conversation_id: expected a str"):
        col.conversation(None)  # type: ignore[arg-type]

    col.delete_conversation(cid)
    with pytest.raises(sextant.NotFoundError):
        col.conversation(cid)
    with pytest.raises(sextant.NotFoundError):
        col.delete_conversation(cid)
    assert col.conversations() == []
    # The id is free again: a new first turn starts a new conversation.
    again = col.chat([{"role": "user", "content": "What do laboratories use liquid nitrogen for?"}], conversation_id=cid)
    assert again.conversation_id == cid and col.conversation(cid).info.messages == 2


class FakeModel:
    """A scripted OpenAI-compatible /v1/chat/completions: `script(request, n)` returns the
    message dict of answer n, sent as server-sent events."""

    def __init__(self, script: Callable[[Dict[str, Any], int], Dict[str, Any]]) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.delay = 0.0  # seconds before each answer
        model = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                model.requests.append(body)
                message = script(body, len(model.requests) - 1)
                if model.delay:
                    time.sleep(model.delay)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                delta: Dict[str, Any] = {"role": "assistant"}
                if "tool_calls" in message:
                    delta["tool_calls"] = [dict(c, index=i) for i, c in enumerate(message["tool_calls"])]
                self.wfile.write(b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}).encode() + b"\n\n")
                if message.get("content"):
                    ev = {"choices": [{"index": 0, "delta": {"content": message["content"]}}]}
                    self.wfile.write(b"data: " + json.dumps(ev).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()


def call(name: str, args: Dict[str, Any], id: str) -> Dict[str, Any]:
    return {"id": id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def test_chat_tools(sextantd_binary: str, tmp_path: Path) -> None:
    def script(req: Dict[str, Any], n: int) -> Dict[str, Any]:
        last = req["messages"][-1]
        if last["role"] == "user":
            return {"tool_calls": [call("search", {"query": "liquid nitrogen boiling point"}, "c1")]}
        if last["tool_call_id"] == "c1":
            return {"tool_calls": [call("get_time", {"zone": "UTC"}, "c2")]}
        return {"content": "It boils at minus 196 degrees [1]; it is noon."}

    model = FakeModel(script)
    server = Sextantd(sextantd_binary, tmp_path, ["--generator", "openai", "--llm-url", model.url,
                                                  "--llm-model", "fake"]).start()
    try:
        with sextant.Client(server.address, timeout=60) as c:
            col = make_faq(c, "faq")
            get_time = {"type": "function", "function": {"name": "get_time", "description": "The time",
                                                         "parameters": {"type": "object"}}}
            history: List[Dict[str, Any]] = [{"role": "user", "content": "When does nitrogen boil, and what time is it?"}]
            ans = col.chat(history, tools=["auto", get_time])
            assert ans.finish_reason == "tool_calls"
            assert [t.name for t in ans.tool_calls] == ["search", "get_time"]
            assert [t.name for t in ans.pending_calls] == ["get_time"]
            assert ans.citations[0].document_id == "nitrogen"
            history += ans.messages
            history.append({"role": "tool", "tool_call_id": ans.pending_calls[0].id, "content": "12:00"})
            final = col.chat(history, tools=["auto", get_time])
            assert final.finish_reason == "stop" and "196" in final.answer
            assert model.requests[-1]["messages"][-1] == {"role": "tool", "content": "12:00", "tool_call_id": "c2"}
            # ask() takes tools too.
            model.requests.clear()
            asked = col.ask("When does nitrogen boil?", tools="auto", max_tokens=64)
            assert asked.tool_calls[0].name == "search"
            assert model.requests[0]["max_tokens"] == 64
    finally:
        model.close()
        assert server.stop() == 0, server.log()


def test_async_chat_and_ask_match_the_sync_client(server: Sextantd, client: sextant.Client, name: str) -> None:
    import asyncio

    col = make_faq(client, name)
    history: List[Dict[str, Any]] = [{"role": "user", "content": "At what temperature does liquid nitrogen boil?"}]
    sync_answer = col.chat(history, k=2)
    sync_ask = col.ask("What do laboratories use liquid nitrogen for?", k=2, temperature=0.1)

    async def run() -> None:
        async with sextant.AsyncClient(server.address, timeout=120) as ac:
            acol = await ac.collection(name)
            ans = await acol.chat(history, k=2)
            assert ans.answer == sync_answer.answer and ans.citations[0].document_id == "nitrogen"
            s = await acol.chat(history, k=2, stream=True)
            assert not s.done
            with pytest.raises(sextant.SextantError, match="not arrived"):
                s.answer
            pieces = [p async for p in s]
            assert s.done and "".join(pieces) == s.answer == sync_answer.answer
            assert s.generator == sync_answer.generator and s.tool_calls == [] and s.embedder_spec
            asked = await acol.ask("What do laboratories use liquid nitrogen for?", k=2, temperature=0.1)
            assert asked.answer == sync_ask.answer
            with pytest.raises(sextant.InvalidArgumentError, match="messages"):
                await acol.chat([], k=2)
            with pytest.raises(sextant.InvalidArgumentError, match="rewrite"):
                await acol.chat(history, rewrite="sometimes")
            with pytest.raises(sextant.InvalidArgumentError, match="tools"):
                await acol.ask("x", tools=[42])
            # Server-side conversations, as the sync client.
            cid = f"async:{name}"
            first = await acol.chat(history, k=2, conversation_id=cid)
            assert first.conversation_id == cid and first.answer == sync_answer.answer
            s = await acol.chat([{"role": "user", "content": "and what do laboratories use it for?"}], k=2,
                                stream=True, conversation_id=cid)
            [p async for p in s]
            assert (await s.result()).conversation_id == cid
            conv = await acol.conversation(cid)
            assert [m["role"] for m in conv.messages] == ["user", "assistant", "user", "assistant"]
            assert [c.id for c in await acol.conversations()] == [cid]
            with pytest.raises(sextant.InvalidArgumentError, match="conversation"):
                await acol.conversation("bad id")
            await acol.delete_conversation(cid)
            with pytest.raises(sextant.NotFoundError):
                await acol.conversation(cid)
            with pytest.raises(sextant.NotFoundError):
                await acol.delete_conversation(cid)
            cancelled = await acol.chat(history, k=2, stream=True)
            async with cancelled:
                pass  # left before the answer: the call is cancelled
            with pytest.raises(sextant.SextantError, match="cancelled"):
                await cancelled.result()

    asyncio.run(run())
