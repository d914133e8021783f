"""Sextant's MCP server driven by the official `mcp` Python SDK as the client: `sextant mcp --db DIR`
(stdio, embedded) and `sextantd --mcp-listen` (streamable HTTP, with API keys). Each transport:
initialize, list the tools, call each tool, and the error cases (an unknown collection, bad
arguments, an unknown tool, ingest with a read-only key, a wrong key). Skipped without $SEXTANTD /
$SEXTANT_CLI or without the mcp package."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict

import anyio
import pytest

import sextant
from conftest import Sextantd
from test_rag_server import make_faq

mcp = pytest.importorskip("mcp")
from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared._httpx_utils import create_mcp_http_client  # noqa: E402

TOOLS = {"list_collections", "search", "ask", "ingest"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def payload(result: Any) -> Dict[str, Any]:
    """The JSON a successful tool call returned (its text content)."""
    assert not result.is_error, result
    return json.loads(result.content[0].text)


def error_text(result: Any) -> str:
    assert result.is_error, result
    return str(result.content[0].text)


async def exercise(session: ClientSession, *, writable: bool = True) -> None:
    """The calls both transports must answer alike (the collection "faq" exists)."""
    init = await session.initialize()
    assert init.server_info.name.startswith("sextant")
    assert init.capabilities.tools is not None
    tools = (await session.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    search_schema = next(t for t in tools if t.name == "search").input_schema
    assert set(search_schema["required"]) == {"collection", "query"}

    listed = payload(await session.call_tool("list_collections", {}))
    faq = next(c for c in listed["collections"] if c["name"] == "faq")
    assert faq["text"] is True and faq["points"] > 0

    hits = payload(await session.call_tool("search", {"collection": "faq", "query": "liquid nitrogen boil", "k": 2}))
    assert 1 <= len(hits["hits"]) <= 2 and hits["hits"][0]["document_id"] == "nitrogen"

    answer = payload(await session.call_tool("ask", {"collection": "faq", "question": "At what temperature does liquid nitrogen boil?"}))
    assert "196" in answer["answer"] and answer["citations"][0]["document_id"] == "nitrogen"

    ingested = await session.call_tool("ingest", {"collection": "faq", "documents": [
        {"id": "helium", "text": "Liquid helium boils at 4.2 kelvin and cools superconducting magnets.",
         "metadata": {"lang": "en"}}]})
    if writable:
        assert payload(ingested)["documents"] == 1
        found = payload(await session.call_tool("search", {"collection": "faq", "query": "helium superconducting magnets",
                                                           "k": 1, "filter": {"metadata.lang": "en"}}))
        assert found["hits"][0]["document_id"] == "helium"
    else:
        assert "PermissionDenied" in error_text(ingested) and "read-write" in error_text(ingested)

    # Errors: tool errors come back as results with isError, naming the problem.
    assert "NotFound" in error_text(await session.call_tool("search", {"collection": "nope", "query": "x"}))
    assert "query" in error_text(await session.call_tool("search", {"collection": "faq"}))
    assert "k" in error_text(await session.call_tool("ask", {"collection": "faq", "question": "q", "k": 0}))
    if writable:
        assert "documents[0].text" in error_text(
            await session.call_tool("ingest", {"collection": "faq", "documents": [{"id": "x"}]}))
    with pytest.raises(Exception, match="unknown tool"):
        await session.call_tool("drop_everything", {})


def test_mcp_stdio(tmp_path: Path) -> None:
    cli = os.environ.get("SEXTANT_CLI")
    if not cli:
        pytest.skip("SEXTANT_CLI is not set: set it to a sextant binary (e.g. build/engine/sextant)")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "nitrogen").write_text("Liquid nitrogen boils at minus 196 degrees Celsius. Laboratories use it "
                                   "to freeze biological samples.")
    (docs / "water").write_text("Water boils at 100 degrees Celsius at sea level.")
    db = tmp_path / "db"
    subprocess.run([cli, "--db", str(db), "ingest", "faq", str(docs / "nitrogen"), str(docs / "water")],
                   check=True, capture_output=True)

    async def run(read_only: bool) -> None:
        args = ["--db", str(db), "mcp"] + (["--read-only"] if read_only else [])
        async with stdio_client(StdioServerParameters(command=cli, args=args)) as (read, write):
            async with ClientSession(read, write) as session:
                await exercise(session, writable=not read_only)

    anyio.run(run, False)
    anyio.run(run, True)
    # A bad line gets the JSON-RPC parse error, and the server goes on.
    out = subprocess.run([cli, "--db", str(db), "mcp"], input='not json\n{"jsonrpc":"2.0","id":7,"method":"ping"}\n',
                         capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
    assert json.loads(out[0])["error"]["code"] == -32700
    assert json.loads(out[1]) == {"jsonrpc": "2.0", "id": 7, "result": {}}
    # No database: a clear error, exit status 1.
    r = subprocess.run([cli, "--db", str(tmp_path / "none"), "mcp"], input="", capture_output=True, text=True)
    assert r.returncode == 1 and "error" in r.stderr


def test_mcp_http(sextantd_binary: str, tmp_path: Path) -> None:
    port = free_port()
    server = Sextantd(sextantd_binary, tmp_path, ["--mcp-listen", f"127.0.0.1:{port}",
                                                  "--api-key", "writer-key", "--read-only-key", "reader-key"]).start()
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        with sextant.Client(server.address, api_key="writer-key", timeout=60) as c:
            make_faq(c, "faq")

        async def run(key: str, writable: bool) -> None:
            http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
            async with http, streamable_http_client(url, http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await exercise(session, writable=writable)

        anyio.run(run, "writer-key", True)
        anyio.run(run, "reader-key", False)

        def post(body: bytes, headers: Dict[str, str]) -> tuple[int, Dict[str, Any]]:
            req = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", **headers})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    text = r.read()
                    return r.status, json.loads(text) if text else {}
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"{}")

        ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
        status, body = post(ping, {"Authorization": "Bearer wrong"})
        assert status == 401 and "not valid" in body["error"]["message"]
        status, body = post(ping, {})
        assert status == 401 and "API key" in body["error"]["message"]
        status, body = post(b"{not json", {"Authorization": "Bearer reader-key"})
        assert status == 400 and body["error"]["code"] == -32700
        status, body = post(ping, {"Authorization": "Bearer reader-key", "Origin": "http://evil.example"})
        assert status == 403
        status, body = post(b'{"jsonrpc":"2.0","method":"notifications/initialized"}', {"Authorization": "Bearer reader-key"})
        assert status == 202
        status, body = post(b'{"jsonrpc":"2.0","id":2,"method":"resources/list"}', {"Authorization": "Bearer reader-key"})
        assert status == 200 and body["error"]["code"] == -32601
        req = urllib.request.Request(url, headers={"Authorization": "Bearer reader-key"})
        with pytest.raises(urllib.error.HTTPError) as get:
            urllib.request.urlopen(req, timeout=30)
        assert get.value.code == 405 and get.value.headers["Allow"] == "POST"
    finally:
        assert server.stop() == 0, server.log()


def test_mcp_ask_generation_settings_and_deadline(sextantd_binary: str, tmp_path: Path) -> None:
    """ask passes temperature, max_tokens, stop, seed and model to the language model, within the
    server's limits (bad ones are tool errors naming the argument), and a generator slower than
    ask's timeout_ms ends the call with a DEADLINE_EXCEEDED tool error, not a hang."""
    from test_rag_chat import FakeModel

    model = FakeModel(lambda req, n: {"content": "It boils at minus 196 degrees [1]."})
    port = free_port()
    server = Sextantd(sextantd_binary, tmp_path, [
        "--mcp-listen", f"127.0.0.1:{port}", "--generator", "openai", "--llm-url", model.url,
        "--llm-model", "fake", "--llm-max-tokens", "100", "--llm-models", "fake,fake-2"]).start()
    try:
        with sextant.Client(server.address, timeout=60) as c:
            make_faq(c, "faq")

        async def run() -> None:
            async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    tools = (await session.list_tools()).tools
                    ask_schema = next(t for t in tools if t.name == "ask").input_schema
                    assert {"temperature", "max_tokens", "stop", "seed", "model", "timeout_ms"} <= set(
                        ask_schema["properties"])
                    question = {"collection": "faq", "question": "When does liquid nitrogen boil?"}
                    answer = payload(await session.call_tool("ask", {
                        **question, "temperature": 0.5, "max_tokens": 40, "stop": ["END"], "seed": 7,
                        "model": "fake-2"}))
                    assert answer["answer"] == "It boils at minus 196 degrees [1]."
                    sent = model.requests[-1]
                    assert (sent["model"], sent["max_tokens"], sent["seed"], sent["stop"]) == ("fake-2", 40, 7, ["END"])
                    assert sent["temperature"] == 0.5
                    payload(await session.call_tool("ask", {**question, "stop": "END"}))
                    assert model.requests[-1]["stop"] == ["END"]

                    # Bad settings: tool errors naming the argument; nothing reaches the model.
                    asked = len(model.requests)
                    for args, code, words in [
                        ({"temperature": 3}, "InvalidArgument", 'argument "temperature": 3'),
                        ({"temperature": "hot"}, "InvalidArgument", '"temperature": must be a number'),
                        ({"max_tokens": 101}, "InvalidArgument", "exceeds the server's limit of 100"),
                        ({"max_tokens": 0}, "InvalidArgument", '"max_tokens": must be an integer >= 1'),
                        ({"stop": ["a", "b", "c", "d", "e"]}, "InvalidArgument", "5 sequences, at most 4"),
                        ({"stop": [""]}, "InvalidArgument", '"stop"[0]: must be 1..'),
                        ({"stop": 5}, "InvalidArgument", '"stop": must be a string or an array'),
                        ({"seed": 1.5}, "InvalidArgument", '"seed": must be an integer'),
                        ({"model": "gpt-x"}, "PermissionDenied", 'argument "model": "gpt-x" is not one'),
                        ({"timeout_ms": 0}, "InvalidArgument", '"timeout_ms": must be an integer in 1..300000'),
                    ]:
                        text = error_text(await session.call_tool("ask", {**question, **args}))
                        assert code in text and words in text, (args, text)
                    assert len(model.requests) == asked

                    # A generator slower than the deadline: a clear tool error.
                    model.delay = 5.0
                    text = error_text(await session.call_tool("ask", {**question, "timeout_ms": 300}))
                    assert "DeadlineExceeded" in text and "timeout_ms = 300" in text, text
                    model.delay = 0.0
                    # The server goes on answering.
                    assert payload(await session.call_tool("ask", question))["answer"]

        anyio.run(run)
    finally:
        model.close()
        assert server.stop() == 0, server.log()
