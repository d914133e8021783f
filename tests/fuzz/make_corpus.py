#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Deterministic: run it again after changing a seed list and commit the result. Each seed is a
small valid (or nearly valid) input, so the fuzzer starts from the interesting formats instead
of discovering JSON or the safetensors header from nothing. The seeds of index_load_fuzz (real
index checkpoints) and service_fuzz (requests of every method) are written by those binaries
(scripts/fuzz.sh --seeds runs this script and them).
"""
import hashlib
import json
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, seeds):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        os.remove(os.path.join(d, old))
    for data in seeds:
        if isinstance(data, str):
            data = data.encode()
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


FILTERS = [
    '{}',
    '{"genre": "drama"}',
    '{"year": {"$gte": 2000, "$lt": 2010}}',
    '{"genre": "drama", "year": 2001}',
    '{"$and": [{"a": 1}, {"b": {"$ne": "x"}}]}',
    '{"$or": [{"a": {"$in": [1, 2, 3]}}, {"b": {"$nin": ["x", "y"]}}]}',
    '{"$not": {"lang": "fr"}}',
    '{"author.name": "Austen"}',
    '{"tags": {"$exists": true}}',
    '{"score": {"$gt": 0.5, "$lte": 1e3}}',
    '{"flag": true, "n": null}',
    '{"title": {"$gte": "a", "$lt": "m"}}',
    '{"$and": [{"$or": [{"x": 1}, {"$not": {"y": 2}}]}, {"z.w.v": {"$eq": [1, 2]}}]}',
]
PAYLOADS = [
    '',
    '{}',
    '{"genre": "drama", "year": 2001, "lang": "en"}',
    '{"author": {"name": "Austen", "born": 1775}, "tags": ["novel", "classic"]}',
    '{"score": 0.75, "flag": true, "n": null, "title": "emma"}',
    '{"a": [1, 2, [3]], "b": {"c": {"d": "e"}}, "x": -1e-5}',
    '[1, 2]',
    '{"a": "\\u00e9t\\u00e9", "b": "\\ud83d\\ude00"}',
]


def filter_seeds():
    seeds = []
    for i, f in enumerate(FILTERS):
        seeds.append(f + "\0" + PAYLOADS[i % len(PAYLOADS)])
        seeds.append(f + "\0" + PAYLOADS[(i * 3 + 2) % len(PAYLOADS)])
    seeds += ['{"a": {"$bogus": 1}}\0{}', '{"$and": {}}\0{}', '[1]\0{}', '{"a": {"$in": 3}}\0{"a": 3}']
    return seeds


def payload_seeds():
    seeds = []
    for i, p in enumerate(PAYLOADS):
        seeds.append(bytes([i % 4]) + p.encode())
    seeds += [b"\x00" + b'{"deep": ' + b"[" * 40 + b"]" * 40 + b"}",
              b"\x00{\"n\": 1e400}", b"\x00{\"s\": \"\xff\xfe\"}", b"\x01{\"big\": \"0123456789abcdef\"}"]
    return seeds


def wordpiece_seeds():
    texts = [
        "Hello, world! Playing unaffable games.",
        "CAFÉ résumé naïve Übermaß straße",
        "中国日本 mixed 中文 text",
        "tabs\tand\nnewlines\r\nand\u00a0nbsp\u3000ideographic",
        "control\x00\x01\x7f chars \ufffd and \u200b zero-width",
        "ǅ ǆ Σίσυφος ΣΑΣ İstanbul",
        "e\u0301 combining a\u0300\u0308 marks",
        "x" * 120 + " long word",
        "punctuation...!!!???---((()))'''",
        "\xf0\x9f\x98\x80 emoji \xe4\xb8 truncated",
    ]
    seeds = [bytes([i % 8]) + t.encode("utf-8", "surrogatepass") for i, t in enumerate(texts)]
    vocab = "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "##lo", "world", ",", "!"])
    seeds.append(b"\x80" + vocab.encode())
    seeds.append(b"\x80" + b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[UNK]")  # a repeated token
    seeds.append(b"\x80" + b"[PAD]\n[CLS]\n[SEP]")                # no [UNK]
    return seeds


def chunker_seeds():
    prose = ("The first paragraph has a few sentences. It goes on a little. Then it ends.\n\n"
             "The second paragraph is here; it is longer, with commas, and more words than the first one. "
             "Another sentence follows it! Does a question end it?\n\n")
    markdown = ("# Title\n\nSome text under the title.\n\n## Section\n\n- item one\n- item two\n\n"
                "```\ncode block\nwith lines\n```\n\n1. numbered\n2. list\n\nText after.\n")
    seeds = []
    for i, text in enumerate([prose, prose * 3, markdown, markdown * 2, "one", "", "   \n\n  ",
                              "word " * 200, "中文句子。另一个句子！" * 10, "a\x0bb\x0cc " * 20]):
        size, overlap = (8 + 7 * i) % 64, (i * 5) % 20
        for kind in (0, 1):
            seeds.append(bytes([size, overlap, kind, i % 2]) + text.encode())
    return seeds


def safetensors(header, data=b""):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    return [
        safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}, f32),
        safetensors({"__metadata__": {"format": "pt"},
                     "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                     "b": {"dtype": "F16", "shape": [2, 2], "data_offsets": [8, 16]},
                     "c": {"dtype": "I64", "shape": [1], "data_offsets": [16, 24]}}, f32),
        safetensors({"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, f32[:4]),
        safetensors({"e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [0, 0]}}),
        safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}, f32[:20]),  # truncated
        safetensors({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]},
                     "u8": {"dtype": "U8", "shape": [2], "data_offsets": [6, 8]}}, f32[:8]),
        struct.pack("<Q", 1 << 40) + b"{}",
        b"\x02\x00\x00\x00\x00\x00\x00\x00{}",
    ]


def main():
    write("filter_fuzz", filter_seeds())
    write("payload_fuzz", payload_seeds())
    write("wordpiece_fuzz", wordpiece_seeds())
    write("chunker_fuzz", chunker_seeds())
    write("safetensors_fuzz", safetensors_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
