#!/usr/bin/env python3
"""Added latency of sextantd's chat surfaces, against a scripted fake OpenAI-compatible model that
answers at once (so the figures are Sextant's own cost plus one local HTTP round trip per model call):

  openai_endpoint  POST /v1/chat/completions (extractive, one user message) vs gRPC Ask of the same question
  rewrite          gRPC Chat of a follow-up with rewrite="model" (one extra model call) vs rewrite="off"
  tool_round       gRPC Chat with tools="auto" (the model asks for one search, then answers) vs no tools

Each pair is run interleaved, N times after a warm-up, and reported as p50/p99 of each and the
difference of the p50s. Usage (docs in bench/README.md, "Chat surfaces"):

  python bench/rag/chat_latency.py --sextantd build/server/sextantd [--n 300]

Needs the sextant Python client (client/python). The machine's load shifts every figure; compare
the two columns of a row, measured in the same run, not rows of different runs."""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, List

import sextant

DOCS = [
    {"id": "nitrogen", "text": "Liquid nitrogen boils at minus 196 degrees Celsius. Laboratories use it "
                               "to freeze biological samples quickly."},
    {"id": "water", "text": "Water boils at 100 degrees Celsius at sea level and at lower temperatures "
                            "on mountains."},
    {"id": "etna", "text": "Mount Etna in Sicily is one of the most active volcanoes in Europe."},
]


class FakeModel:
    """/v1/chat/completions answering at once, streamed as server-sent events: a search call when
    tools are offered and the last message is the user's, else a short cited answer."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                delta: Dict[str, Any] = {"role": "assistant"}
                if req.get("tools") and req["messages"][-1]["role"] == "user":
                    delta["tool_calls"] = [{"index": 0, "id": "c1", "type": "function", "function": {
                        "name": "search", "arguments": json.dumps({"query": "liquid nitrogen boils"})}}]
                else:
                    delta["content"] = "At what temperature does liquid nitrogen boil? It boils at -196 C [1]."
                body = b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}).encode() + b"\n\n"
                body += b"data: [DONE]\n\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: List[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def measure(n: int, a: Callable[[], None], b: Callable[[], None]) -> Dict[str, List[float]]:
    for _ in range(max(5, n // 10)):  # warm-up
        a()
        b()
    out: Dict[str, List[float]] = {"a": [], "b": []}
    for _ in range(n):
        for key, fn in (("a", a), ("b", b)):
            t = time.perf_counter()
            fn()
            out[key].append((time.perf_counter() - t) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sextantd", required=True)
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()

    model = FakeModel()
    work = Path(tempfile.mkdtemp(prefix="chat-latency-"))
    http_port = free_port()
    port_file = work / "port"
    proc = subprocess.Popen([args.sextantd, "--data", str(work / "data"), "--listen", "127.0.0.1:0",
                             "--port-file", str(port_file), "--openai-listen", f"127.0.0.1:{http_port}",
                             "--llm-url", model.url, "--llm-model", "fake", "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().endswith("\n")):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("sextantd did not start")
            time.sleep(0.05)
        client = sextant.Client(f"127.0.0.1:{int(port_file.read_text())}", timeout=60)
        col = client.create_collection("faq", embedder="hash")
        col.ingest(DOCS, progress=False)
        question = "At what temperature does liquid nitrogen boil?"

        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=60)
        body = json.dumps({"model": "faq", "messages": [{"role": "user", "content": question}]})

        def openai_endpoint() -> None:
            conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            assert r.status == 200, data

        def grpc_ask() -> None:
            col.ask(question, generator="extractive")

        follow_up = [{"role": "user", "content": question},
                     {"role": "assistant", "content": "It boils at -196 C [1]."},
                     {"role": "user", "content": "and what do laboratories use it for?"}]

        def rewrite_model() -> None:
            col.chat(follow_up, generator="openai", rewrite="model")

        def rewrite_off() -> None:
            col.chat(follow_up, generator="openai", rewrite="off")

        one_turn = [{"role": "user", "content": question}]

        def tool_round() -> None:
            a = col.chat(one_turn, generator="openai", tools="auto")
            assert a.tool_calls, "the fake model's search was not made"

        def no_tools() -> None:
            col.chat(one_turn, generator="openai")

        rows = [("openai_endpoint", "HTTP /v1/chat/completions", "gRPC Ask", openai_endpoint, grpc_ask),
                ("rewrite", "Chat rewrite=model", "Chat rewrite=off", rewrite_model, rewrite_off),
                ("tool_round", "Chat tools=auto (1 round)", "Chat no tools", tool_round, no_tools)]
        print(f"n={args.n} per column, fake model at {model.url}; milliseconds")
        print(f"{'what':16} {'with':28} {'p50':>7} {'p99':>7}   {'baseline':20} {'p50':>7} {'p99':>7}   {'added p50':>9}")
        for name, label_a, label_b, a, b in rows:
            m = measure(args.n, a, b)
            pa50, pa99, pb50, pb99 = pct(m["a"], 50), pct(m["a"], 99), pct(m["b"], 50), pct(m["b"], 99)
            print(f"{name:16} {label_a:28} {pa50:7.2f} {pa99:7.2f}   {label_b:20} {pb50:7.2f} {pb99:7.2f}   "
                  f"{pa50 - pb50:9.2f}")
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        model.httpd.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
