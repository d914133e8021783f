#!/usr/bin/env python3
"""A lexical baseline for sextant-rag-bench's quality figures: Okapi BM25 (k1 1.2, b 0.75, no
stemming, no stop words, tokens = runs of [a-z0-9] after lower-casing) over the same documents,
questions and metrics as bench/rag/rag_bench.cc:

  python-faq: each answer is a document, each question a query; recall@1 and recall@5 of its
              own section.
  Cranfield:  title + abstract per document; nDCG@10 with gains 4, 3, 2, 1 for Cleverdon's codes
              1..4 (-1 and unjudged: 0), linear (trec_eval's ndcg_cut) and 2^g - 1.

Standard library only.  python3 bench/rag/bm25_reference.py [DATA_DIR]  (default
$SEXTANT_DATA_DIR or <repo>/../shared/data). Prints one JSON line per data set.
"""
import collections
import json
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "SEXTANT_DATA_DIR", os.path.join(ROOT, "..", "shared", "data"))


def tokens(text):
    return re.findall(r"[a-z0-9]+", text.lower())


class BM25:
    def __init__(self, docs, k1=1.2, b=0.75):
        self.ids = list(docs)
        self.tf = {d: collections.Counter(tokens(t)) for d, t in docs.items()}
        self.len = {d: sum(c.values()) for d, c in self.tf.items()}
        self.avg = sum(self.len.values()) / len(self.len)
        self.df = collections.Counter(w for c in self.tf.values() for w in c)
        self.n, self.k1, self.b = len(self.ids), k1, b

    def rank(self, query):
        words = tokens(query)
        scores = {}
        for d in self.ids:
            c, s = self.tf[d], 0.0
            for w in words:
                f = c.get(w, 0)
                if f:
                    idf = math.log(1 + (self.n - self.df[w] + 0.5) / (self.df[w] + 0.5))
                    s += idf * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * self.len[d] / self.avg))
            scores[d] = s
        return sorted(self.ids, key=lambda d: -scores[d])


def cranfield_records(path):
    records, field = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\r\n")
            if re.match(r"^\.[A-Z]( |$)", line):
                if line[1] == "I":
                    records.append({"I": line[2:].strip()})
                    field = None
                else:
                    field = line[1]
                    records[-1][field] = ""
                continue
            if records and field:
                records[-1][field] += ("\n" if records[-1][field] else "") + line
    return records


def ndcg10(ranked, gains, exponential):
    value = (lambda g: 2 ** g - 1) if exponential else (lambda g: g)
    dcg = sum(value(gains.get(d, 0)) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(gains.values(), reverse=True)[:10]
    idcg = sum(value(g) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def faq():
    items = json.load(open(os.path.join(DATA, "python-faq", "python_faq_qa.json")))
    bm25 = BM25({it["id"]: it["answer"] for it in items})
    at1 = at5 = 0
    for it in items:
        ranked = bm25.rank(it["question"])[:5]
        at1 += ranked[0] == it["id"]
        at5 += it["id"] in ranked
    n = len(items)
    return {"dataset": "python-faq", "method": "bm25", "documents": n, "questions": n,
            "recall_at_1": round(at1 / n, 4), "recall_at_5": round(at5 / n, 4)}


def cranfield():
    d = os.path.join(DATA, "ir-cranfield")
    docs = {r["I"]: r.get("T", "") + "\n\n" + r.get("W", "") for r in cranfield_records(os.path.join(d, "cran.all.1400"))}
    queries = [r.get("W", "") for r in cranfield_records(os.path.join(d, "cran.qry"))]
    gains = collections.defaultdict(dict)
    with open(os.path.join(d, "cranqrel")) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            q, doc, code = int(parts[0]), parts[1], int(parts[2])
            gains[q][doc] = 5 - code if 1 <= code <= 4 else 0
    bm25 = BM25(docs)
    lin = exp = 0.0
    for i, q in enumerate(queries, 1):
        ranked = bm25.rank(q)
        lin += ndcg10(ranked, gains[i], False)
        exp += ndcg10(ranked, gains[i], True)
    n = len(queries)
    return {"dataset": "cranfield", "method": "bm25", "documents": len(docs), "questions": n,
            "ndcg_at_10": round(lin / n, 4), "ndcg_at_10_exp": round(exp / n, 4)}


if __name__ == "__main__":
    if not os.path.isdir(DATA):
        sys.exit(f"bm25_reference.py: no data folder {DATA}")
    print(json.dumps(faq()))
    print(json.dumps(cranfield()))
