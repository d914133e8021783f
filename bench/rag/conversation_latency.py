#!/usr/bin/env python3
"""Cost of a server-side conversation turn: gRPC Chat with conversation_id (the server loads the
stored turns, answers, and stores the turn) against Chat with the same history kept by the client
(the whole history sent every turn), on one sextantd, interleaved, extractive generator, hashed
6-document text collection. The stored conversation grows to the server's
--conversation-max-messages (200) and then rolls; the client's history grows without bound (the
prompt keeps max_history_tokens of it either way).

  python bench/rag/conversation_latency.py --sextantd build/server/sextantd [--n 200]   # ~5 s

Prints p50/p99 (nearest rank) of each in milliseconds. The machine's load shifts every figure:
compare the two lines of one run, not runs."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import sextant

DOCS = [
    {"id": "nitrogen", "text": "Liquid nitrogen boils at minus 196 degrees Celsius. Laboratories use it "
                               "to freeze biological samples quickly."},
    {"id": "water", "text": "Water boils at 100 degrees Celsius at sea level and at lower temperatures "
                            "on mountains."},
    {"id": "etna", "text": "Mount Etna in Sicily is one of the most active volcanoes in Europe."},
    {"id": "bread", "text": "Bread rises because yeast produces carbon dioxide while the dough proofs."},
    {"id": "tea", "text": "Green tea is brewed with water at about 80 degrees for two minutes."},
    {"id": "jupiter", "text": "Jupiter is the largest planet; its Great Red Spot is a storm."},
]


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sextantd", required=True)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        proc = subprocess.Popen([args.sextantd, "--data", str(Path(tmp) / "data"), "--listen", "127.0.0.1:0",
                                 "--port-file", str(port_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text().endswith("\n")):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("sextantd did not start")
                time.sleep(0.02)
            with sextant.Client(f"127.0.0.1:{int(port_file.read_text())}", timeout=60) as client:
                col = client.create_collection("faq", embedder="hash")
                col.ingest(DOCS, progress=False)
                question = [{"role": "user", "content": "At what temperature does liquid nitrogen boil?"}]
                for _ in range(5):  # warm-up
                    col.chat(question, k=2)
                history: List[Dict[str, Any]] = []
                client_side: List[float] = []
                stored: List[float] = []
                for _ in range(args.n):
                    t = time.perf_counter()
                    col.chat(history + question, k=2)
                    client_side.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    answer = col.chat(question, k=2, conversation_id="bench")
                    stored.append(time.perf_counter() - t)
                    history += question + answer.messages
                for name, values in (("history sent by the client", client_side), ("conversation_id", stored)):
                    print(f"{name:28s} p50 {percentile(values, 0.5):7.2f} ms   p99 {percentile(values, 0.99):7.2f} ms")
                print(f"stored messages at the end: {col.conversation('bench').info.messages}; "
                      f"client history: {len(history)}")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
