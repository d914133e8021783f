#!/usr/bin/env bash
# Runs llama-cpp-python's OpenAI-compatible server (/v1/embeddings, /v1/chat/completions) on the
# tiny real model stories260K, for trying the OpenAI embedder and generator without any service.
#
#   bash scripts/llama-server.sh VENV PORT [MODEL.gguf]
#
# VENV is a venv with llama-cpp-python[server] (bash tests/llm/setup.sh VENV makes one). MODEL
# defaults to stories260K/stories260K.gguf in the shared data folder ($SEXTANT_DATA_DIR, else
# ../shared/data beside the repository). Serves on 127.0.0.1:PORT under the model name
# "stories260K" ($SEXTANT_LLM_MODEL overrides it), with embeddings on; runs in the foreground
# until stopped. Then: SEXTANT_LLM_URL=http://127.0.0.1:PORT/v1.
#
# stories260K is a LLaMA with a 512-token sentencepiece vocabulary trained on children's stories:
# it continues text, it does not follow instructions. Its GGUF has no chat template, so the
# "llama-2" chat format is used ([INST] <<SYS>> ... [/INST]); answers are story-like text.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 VENV PORT [MODEL.gguf]" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$1"
port="$2"
data="${SEXTANT_DATA_DIR:-$here/../shared/data}"
model="${3:-$data/stories260K/stories260K.gguf}"
alias="${SEXTANT_LLM_MODEL:-stories260K}"

[[ -x "$venv/bin/python" ]] || { echo "no venv at $venv (bash tests/llm/setup.sh $venv makes one)" >&2; exit 1; }
"$venv/bin/python" -c "import llama_cpp.server" 2>/dev/null ||
  { echo "$venv has no llama-cpp-python[server] (bash tests/llm/setup.sh $venv)" >&2; exit 1; }
[[ -f "$model" ]] || { echo "model not found: $model" >&2; exit 1; }

exec "$venv/bin/python" -m llama_cpp.server \
  --model "$model" --model_alias "$alias" \
  --host 127.0.0.1 --port "$port" \
  --embedding true --chat_format llama-2 \
  --n_ctx 2048 --n_threads "${SEXTANT_LLM_THREADS:-1}"
