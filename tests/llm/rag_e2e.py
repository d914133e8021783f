"""The whole RAG path through sextantd against a real OpenAI-compatible server.

Run by tests/llm/run.sh after rag_test's OpenAIRealServerTest.*, with the llama-cpp-python
server it started (stories260K): SEXTANT_LLM_URL (".../v1"), SEXTANT_LLM_MODEL (default
"stories260K"), SEXTANTD (a sextantd binary) and the Python client importable.

It starts sextantd with --generator openai pointing at that server and --allow-remote-embedders,
then, over gRPC with the Python client:
  - creates a text collection whose embedder is the server's /v1/embeddings (dimension learned),
  - ingests documents and checks that a chunk is found by its own text,
  - asks with the real model, streamed and not: pieces arrive, they make up the final answer, and
    at temperature 0 the streamed and the unstreamed answers are the same,
  - asks with the extractive generator on the same collection,
and starts a second sextantd whose LLM URL points at a closed port: Ask is UNAVAILABLE, and
creating a collection with an embedder there is UNAVAILABLE too and creates nothing.
Exits 0 when every check holds; prints what failed otherwise.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sextant

URL = os.environ["SEXTANT_LLM_URL"]
MODEL = os.environ.get("SEXTANT_LLM_MODEL", "stories260K")
SEXTANTD = os.environ["SEXTANTD"]

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def start(workdir: Path, llm_url: str):
    port_file = workdir / "port"
    log = open(workdir / "sextantd.log", "ab")
    proc = subprocess.Popen([SEXTANTD, "--data", str(workdir / "data"), "--listen", "127.0.0.1:0",
                             "--port-file", str(port_file), "--generator", "openai", "--llm-url", llm_url,
                             "--llm-model", MODEL, "--allow-remote-embedders", "--llm-timeout-ms", "20000"],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"sextantd exited: {(workdir / 'sextantd.log').read_text()[-2000:]}")
        text = port_file.read_text() if port_file.exists() else ""
        if text.endswith("\n"):
            return proc, f"127.0.0.1:{int(text)}"
        time.sleep(0.05)
    proc.kill()
    sys.exit("sextantd wrote no port file")


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


DOCS = [
    {"id": "cat", "text": "Lily had a little cat. The cat liked to play with a red ball in the garden.",
     "metadata": {"kind": "pet"}},
    {"id": "boat", "text": "Tom built a small boat. He sailed the boat on the big blue lake with his dad.",
     "metadata": {"kind": "toy"}},
    {"id": "cake", "text": "Mom baked a sweet cake for the party. Everyone ate the cake and sang a song.",
     "metadata": {"kind": "food"}},
]

with tempfile.TemporaryDirectory() as tmp:
    work = Path(tmp)
    (work / "a").mkdir()
    proc, address = start(work / "a", URL)
    try:
        c = sextant.Client(address)
        col = c.create_collection("stories", embedder={"openai": {"base_url": URL, "model": MODEL}})
        info = col.describe()
        check(info.dimension > 0, f"openai embedder: dimension learned from the endpoint ({info.dimension})")
        check(info.text is not None and info.text.embedder_spec.startswith("openai:"),
              f"the collection records its embedder ({info.text.embedder_spec if info.text else None})")
        result = col.ingest(DOCS)
        check(result.documents == 3 and result.chunks >= 3, f"ingested {result.documents} documents, {result.chunks} chunks")
        v = col.embed(["Lily had a little cat."])
        check(abs(float((v * v).sum()) - 1.0) < 1e-3, "embed: a unit vector from the real endpoint")

        streamed = col.ask("What did Lily have?", k=2, generator="openai", stream=True)
        pieces = [p for p in streamed]
        answer = streamed.answer
        check(len(pieces) >= 2, f"streamed answer in {len(pieces)} pieces")
        check("".join(pieces) == answer, "the pieces make up the final answer")
        check(streamed.generator.startswith("openai"), f"generator reported: {streamed.generator}")
        check(len(streamed.citations) == 2 and all(x.document_id for x in streamed.citations),
              "citations carry their documents")
        t = streamed.timings
        check(t.generate_ms > 0 and t.total_ms >= t.generate_ms, f"timings: {t}")
        whole = col.ask("What did Lily have?", k=2, generator="openai")
        check(whole.answer == answer, "temperature 0: the unstreamed answer equals the streamed one")
        extractive = col.ask("What did Lily have?", k=2, generator="extractive")
        check(extractive.generator == "extractive" and "[" in extractive.answer, "the extractive generator on the same collection")
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    down = f"http://127.0.0.1:{closed_port()}/v1"
    (work / "b").mkdir()
    proc, address = start(work / "b", down)
    try:
        c = sextant.Client(address)
        col = c.create_collection("local", embedder="hash")
        col.ingest(DOCS)
        try:
            col.ask("What did Lily have?", generator="openai")
            check(False, "Ask with the LLM down is UNAVAILABLE")
        except sextant.UnavailableError as e:
            check("cannot reach" in str(e) or "connect" in str(e).lower(), f"Ask with the LLM down: UNAVAILABLE ({e})")
        try:
            c.create_collection("remote", embedder={"openai": {"base_url": down, "model": MODEL}})
            check(False, "creating a collection on a down embedder is UNAVAILABLE")
        except sextant.UnavailableError as e:
            check(True, f"create with the embedder down: UNAVAILABLE ({str(e)[:80]})")
        check("remote" not in [x.name for x in c.list_collections()], "and creates nothing")
    finally:
        proc.terminate()
        proc.wait(timeout=30)

print("all checks passed" if not failures else f"{len(failures)} checks failed")
sys.exit(1 if failures else 0)
