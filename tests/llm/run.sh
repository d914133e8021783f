#!/usr/bin/env bash
# The OpenAI embedder and generator against a real OpenAI-compatible server: starts
# scripts/llama-server.sh (llama-cpp-python on stories260K) on a free port on 127.0.0.1, waits
# until it answers, runs rag_test's OpenAIRealServerTest.* with SEXTANT_LLM_URL set, and stops
# the server; then tests/llm/rag_e2e.py (Ask) and tests/llm/chat_e2e.py (Chat, server-side
# conversations, /v1/chat/completions): sextantd and the Python client on the same server.
#
#   bash tests/llm/run.sh [BUILD_DIR] [VENV]    # defaults: build, BUILD_DIR/llmvenv
#
# Makes the venv first when it lacks llama-cpp-python (tests/llm/setup.sh: several minutes).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$here/build}"
venv="${2:-$build/llmvenv}"
test_bin="$build/tests/rag_test"
[[ -x "$test_bin" ]] || { echo "no $test_bin: build the rag_test target first" >&2; exit 1; }
bash "$here/tests/llm/setup.sh" "$venv"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp /tmp/sextant-llama-server.XXXXXX.log)"
bash "$here/scripts/llama-server.sh" "$venv" "$port" >"$log" 2>&1 &
server=$!
stop() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
trap stop EXIT

url="http://127.0.0.1:$port/v1"
for _ in $(seq 1 120); do
  if curl -sf "$url/models" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "the server exited; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done
curl -sf "$url/models" >/dev/null || { echo "the server did not come up in 60 s; its log:" >&2; cat "$log" >&2; exit 1; }
echo "llama-cpp-python serving at $url (log: $log)"
SEXTANT_LLM_URL="$url" "$test_bin" --gtest_filter='OpenAIRealServerTest.*'

# The whole RAG path through sextantd and the Python client against the same server.
sextantd="${SEXTANTD:-$build/server/sextantd}"
python="${SEXTANT_PYTHON:-$build/venv/bin/python}"
if [[ -x "$sextantd" && -x "$python" ]] && "$python" -c "import sextant" 2>/dev/null; then
  SEXTANT_LLM_URL="$url" SEXTANTD="$sextantd" "$python" "$here/tests/llm/rag_e2e.py"
  SEXTANT_LLM_URL="$url" SEXTANTD="$sextantd" "$python" "$here/tests/llm/chat_e2e.py"
else
  echo "skipping tests/llm/rag_e2e.py and chat_e2e.py: needs $sextantd and $python with the sextant client installed" >&2
  exit 1
fi
