"""Chat through sextantd against a real OpenAI-compatible server (the conversation path end to end).

Run by tests/llm/run.sh after rag_e2e.py, with the llama-cpp-python server it started
(stories260K): SEXTANT_LLM_URL (".../v1"), SEXTANT_LLM_MODEL (default "stories260K"), SEXTANTD
(a sextantd binary) and the Python client importable; the `openai` package for the
/v1/chat/completions part (skipped, with a message, without it).

The tiny model cannot call tools, so this covers Chat without them. It starts sextantd with
--generator openai pointing at that server (and --openai-listen), then, with the Python client:
  - a multi-turn conversation (system, user, assistant, user) answered streamed and not: the
    pieces make up the answer and at temperature 0 both answers (and the rewritten question) are
    the same; the follow-up is rewritten by the model (standalone_question, rewrite_ms reported),
    rewrite="off" retrieves with the question as asked and "heuristic" prepends the earlier one,
  - per-request generation settings reaching the model: max_tokens=3 gives at most 3 words with
    finish_reason "length"; a stop sequence taken from the full answer cuts it just before it,
  - a server-side conversation: the first turn creates it, the next sends only the new user
    message (streamed) and gets the answer the same history sent whole gets, the stored
    conversation comes back with its roles, is listed, and is deleted (then NotFound),
  - /v1/chat/completions with the `openai` package on the same history: the same answer as the
    gRPC Chat, streamed and not, and max_tokens giving finish_reason "length",
and starts a second sextantd whose LLM URL points at a closed port: Chat is UNAVAILABLE and stores
no turn (an existing conversation keeps its messages, a new one is not created), and
/v1/chat/completions is 503.
Exits 0 when every check holds; prints what failed otherwise.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sextant

try:
    import openai
except ImportError:  # the /v1/chat/completions part is skipped
    openai = None

URL = os.environ["SEXTANT_LLM_URL"]
MODEL = os.environ.get("SEXTANT_LLM_MODEL", "stories260K")
SEXTANTD = os.environ["SEXTANTD"]

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(workdir: Path, llm_url: str, openai_port: int):
    port_file = workdir / "port"
    log = open(workdir / "sextantd.log", "ab")
    proc = subprocess.Popen([SEXTANTD, "--data", str(workdir / "data"), "--listen", "127.0.0.1:0",
                             "--port-file", str(port_file), "--generator", "openai", "--llm-url", llm_url,
                             "--llm-model", MODEL, "--allow-remote-embedders", "--llm-timeout-ms", "20000",
                             "--openai-listen", f"127.0.0.1:{openai_port}"],
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


def stop(proc):
    proc.terminate()
    proc.wait(timeout=30)
    check(proc.returncode == 0, f"sextantd stopped cleanly (exit {proc.returncode})")


DOCS = [
    {"id": "cat", "text": "Lily had a little cat. The cat liked to play with a red ball in the garden.",
     "metadata": {"kind": "pet"}},
    {"id": "boat", "text": "Tom built a small boat. He sailed the boat on the big blue lake with his dad.",
     "metadata": {"kind": "toy"}},
    {"id": "cake", "text": "Mom baked a sweet cake for the party. Everyone ate the cake and sang a song.",
     "metadata": {"kind": "food"}},
]
SYSTEM = {"role": "system", "content": "You tell short stories for children."}
FIRST = {"role": "user", "content": "What did Lily have?"}
FOLLOW_UP = {"role": "user", "content": "What did it like to play with?"}
HISTORY = [SYSTEM, FIRST, {"role": "assistant", "content": "Lily had a little cat."}, FOLLOW_UP]


def stream_pieces(stream):
    pieces = [p for p in stream]
    return pieces, stream.result


started = time.monotonic()
with tempfile.TemporaryDirectory() as tmp:
    work = Path(tmp)
    (work / "a").mkdir()
    oport = free_port()
    proc, address = start(work / "a", URL, oport)
    try:
        c = sextant.Client(address, timeout=120)
        col = c.create_collection("stories", embedder={"openai": {"base_url": URL, "model": MODEL}})
        result = col.ingest(DOCS)
        check(result.documents == 3, f"ingested {result.documents} documents, {result.chunks} chunks")

        # A multi-turn conversation, streamed and not.
        pieces, streamed = stream_pieces(col.chat(HISTORY, k=2, generator="openai", stream=True, temperature=0))
        check(len(pieces) >= 2, f"chat streamed in {len(pieces)} pieces")
        check("".join(pieces) == streamed.answer, "the pieces make up the final answer")
        check(streamed.answer.strip() != "", f"a non-empty answer ({streamed.answer[:60]!r})")
        check(streamed.generator.startswith("openai"), f"generator reported: {streamed.generator}")
        check(streamed.finish_reason in ("stop", "length"), f"finish_reason: {streamed.finish_reason}")
        check(streamed.messages == [{"role": "assistant", "content": streamed.answer}],
              "the turn adds the assistant's message")
        check(len(streamed.citations) == 2 and all(x.document_id for x in streamed.citations),
              "citations carry their documents")
        # The follow-up is rewritten by the model (it has an earlier user turn).
        t = streamed.timings
        check(streamed.standalone_question.strip() != "",
              f"the model's rewritten question: {streamed.standalone_question[:80]!r}")
        check(t.rewrite_ms > 0 and t.generate_ms > 0 and t.total_ms >= t.rewrite_ms + t.generate_ms,
              f"timings: rewrite {t.rewrite_ms:.1f} ms, generate {t.generate_ms:.1f} ms, total {t.total_ms:.1f} ms")
        whole = col.chat(HISTORY, k=2, generator="openai", temperature=0)
        check(whole.answer == streamed.answer, "temperature 0: the unstreamed answer equals the streamed one")
        check(whole.standalone_question == streamed.standalone_question, "and so does the rewritten question")
        off = col.chat(HISTORY, k=2, generator="openai", temperature=0, rewrite="off")
        check(off.standalone_question == FOLLOW_UP["content"] and off.timings.rewrite_ms == 0,
              f"rewrite=\"off\": retrieved with the question as asked ({off.standalone_question!r})")
        heuristic = col.chat(HISTORY, k=2, generator="openai", temperature=0, rewrite="heuristic")
        check(heuristic.standalone_question == FIRST["content"] + " " + FOLLOW_UP["content"],
              f"rewrite=\"heuristic\": the earlier question prepended ({heuristic.standalone_question[:80]!r})")

        # Generation settings reach the model.
        full = col.chat([FIRST], k=2, generator="openai", temperature=0)
        short = col.chat([FIRST], k=2, generator="openai", temperature=0, max_tokens=3)
        check(short.finish_reason == "length" and len(short.answer.split()) <= 3,
              f"max_tokens=3: {short.answer!r}, finish_reason {short.finish_reason!r}")
        check(len(short.answer) < len(full.answer), f"shorter than the full answer ({len(full.answer)} chars)")
        words = [w for w in re.findall(r"[A-Za-z]{3,}", full.answer)]
        cut = next((w for w in words[2:] if full.answer.find(w) > 0), None)
        if cut is None:
            check(False, f"the full answer has a word to stop at: {full.answer!r}")
        else:
            stopped = col.chat([FIRST], k=2, generator="openai", temperature=0, stop=[cut])
            before = full.answer[:full.answer.find(cut)]
            check(cut not in stopped.answer and stopped.answer.strip() == before.strip(),
                  f"stop=[{cut!r}]: the answer ends just before it ({stopped.answer[-40:]!r})")
            check(stopped.finish_reason == "stop", f"stop: finish_reason {stopped.finish_reason!r}")

        # A server-side conversation: continue by id with only the new message.
        t1 = col.chat([SYSTEM, FIRST], k=2, generator="openai", temperature=0, conversation_id="story-1")
        check(t1.conversation_id == "story-1", f"the first turn creates the conversation ({t1.conversation_id!r})")
        pieces, t2 = stream_pieces(col.chat([FOLLOW_UP], k=2, generator="openai", temperature=0, stream=True,
                                            conversation_id="story-1"))
        check("".join(pieces) == t2.answer and t2.conversation_id == "story-1",
              "the next turn, streamed, sends only the new user message")
        same = col.chat([SYSTEM, FIRST, {"role": "assistant", "content": t1.answer}, FOLLOW_UP], k=2,
                        generator="openai", temperature=0)
        check(t2.answer == same.answer and t2.standalone_question == same.standalone_question,
              "its answer is the one the same history sent whole gets")
        conv = col.conversation("story-1")
        check([m["role"] for m in conv.messages] == ["system", "user", "assistant", "user", "assistant"],
              f"stored with its roles: {[m['role'] for m in conv.messages]}")
        check([m["content"] for m in conv.messages] ==
              [SYSTEM["content"], FIRST["content"], t1.answer, FOLLOW_UP["content"], t2.answer],
              "and its contents, oldest first")
        listed = {x.id: x for x in col.conversations()}
        check("story-1" in listed and listed["story-1"].messages == 5, "listed with 5 messages")
        col.delete_conversation("story-1")
        try:
            col.conversation("story-1")
            check(False, "a deleted conversation is NotFound")
        except sextant.NotFoundError:
            check("story-1" not in {x.id for x in col.conversations()}, "deleted: NotFound, and no longer listed")

        # /v1/chat/completions with the openai package, on the same model.
        if openai is None:
            print("skip  /v1/chat/completions: no openai package in this Python", flush=True)
        else:
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{oport}/v1", api_key="unused", timeout=120)
            r = client.chat.completions.create(model="stories", messages=HISTORY, temperature=0,
                                               extra_body={"sextant": {"k": 2}})
            text = r.choices[0].message.content
            check(text == whole.answer, f"/v1/chat/completions: the gRPC Chat's answer ({text[:50]!r})")
            check(r.model_extra["sextant"]["standalone_question"] == whole.standalone_question,
                  "and its rewritten question")
            got, final = [], None
            for chunk in client.chat.completions.create(model="stories", messages=HISTORY, temperature=0,
                                                        stream=True, extra_body={"sextant": {"k": 2}}):
                if chunk.choices and chunk.choices[0].delta.content:
                    got.append(chunk.choices[0].delta.content)
                if chunk.choices and chunk.choices[0].finish_reason:
                    final = chunk
            check(len(got) >= 2 and "".join(got) == text, f"streamed in {len(got)} pieces: the same answer")
            check(final is not None and final.choices[0].finish_reason in ("stop", "length")
                  and len(final.model_extra["citations"]) == 2, "the last chunk carries finish_reason and citations")
            r = client.chat.completions.create(model=f"stories@{MODEL}", messages=[FIRST], temperature=0,
                                               max_tokens=3)
            check(r.choices[0].finish_reason == "length" and len(r.choices[0].message.content.split()) <= 3,
                  f"collection@model, max_tokens=3: {r.choices[0].message.content!r}")
    finally:
        stop(proc)

    # The LLM's port closed: UNAVAILABLE, and no turn stored.
    down = f"http://127.0.0.1:{free_port()}/v1"
    (work / "b").mkdir()
    oport = free_port()
    proc, address = start(work / "b", down, oport)
    try:
        c = sextant.Client(address, timeout=60)
        col = c.create_collection("local", embedder="hash")
        col.ingest(DOCS)
        col.chat([SYSTEM, FIRST], generator="extractive", conversation_id="kept")
        for cid in ("kept", "new"):
            try:
                col.chat([FOLLOW_UP], generator="openai", conversation_id=cid)
                check(False, f"Chat ({cid}) with the LLM down is UNAVAILABLE")
            except sextant.UnavailableError as e:
                check(True, f"Chat ({cid}) with the LLM down: UNAVAILABLE ({str(e)[:70]})")
        check(len(col.conversation("kept").messages) == 3, "the existing conversation keeps its 3 messages")
        try:
            col.conversation("new")
            check(False, "a conversation whose first turn failed is not created")
        except sextant.NotFoundError:
            check(True, "a conversation whose first turn failed is not created")
        try:
            col.chat(HISTORY, generator="openai", stream=True).result
            check(False, "a streamed Chat with the LLM down is UNAVAILABLE")
        except sextant.UnavailableError:
            check(True, "a streamed Chat with the LLM down: UNAVAILABLE")
        if openai is not None:
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{oport}/v1", api_key="unused", max_retries=0)
            try:
                client.chat.completions.create(model="local", messages=[FIRST])
                check(False, "/v1/chat/completions with the LLM down is 503")
            except openai.APIStatusError as e:
                check(e.status_code == 503, f"/v1/chat/completions with the LLM down: {e.status_code}")
    finally:
        stop(proc)

print(f"chat_e2e: {len(failures)} checks failed" if failures else "chat_e2e: all checks passed",
      f"in {time.monotonic() - started:.1f} s")
sys.exit(1 if failures else 0)
