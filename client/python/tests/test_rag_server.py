"""Text collections (RAG) against a real sextantd ($SEXTANTD; skipped without it), with the hash
embedder, which needs no model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

import sextant
from conftest import Sextantd, data_dir

DOCS: List[Dict[str, Any]] = [
    {"id": "nitrogen", "metadata": {"topic": "chemistry", "lang": "en"},
     "text": "Liquid nitrogen boils at minus 196 degrees Celsius. Laboratories use liquid nitrogen "
             "to freeze biological samples quickly."},
    {"id": "volcano", "metadata": {"topic": "geology", "lang": "en"},
     "text": "Mount Etna in Sicily is one of the most active volcanoes in Europe. Its eruptions "
             "send lava flows down the mountain."},
    {"id": "python", "metadata": {"topic": "programming", "lang": "en"},
     "text": "In Python a list is reversed in place with its reverse method, or copied in reverse "
             "order with the slice [::-1]."},
    {"id": "bread", "metadata": {"topic": "cooking", "lang": "en"},
     "text": "Sourdough bread rises thanks to wild yeast and lactic acid bacteria living in the "
             "starter, which is fed with flour and water."},
    {"id": "orbit", "metadata": {"topic": "space", "lang": "en"},
     "text": "The International Space Station orbits the Earth about every ninety minutes, at an "
             "altitude of roughly four hundred kilometres."},
    {"id": "schach", "metadata": {"topic": "games", "lang": "de"},
     "text": "Beim Schach zieht der Springer in Form eines L: zwei Felder geradeaus und eines zur Seite."},
]
NITROGEN_QUESTION = "At what temperature does liquid nitrogen boil?"


def make_faq(client: sextant.Client, name: str) -> sextant.Collection:
    col = client.create_collection(name, embedder="hash")
    col.ingest(DOCS, progress=False)
    return col


def stored_texts(col: sextant.Collection, document_id: str) -> List[str]:
    return [p.payload["text"] for p in col.scan(filter={"document_id": document_id})]


def test_rag_create_describe_ingest(client: sextant.Client, name: str) -> None:
    col = client.create_collection(name, embedder="hash")
    info = col.describe()
    assert info.text is not None and info.is_text
    assert info.text.embedder.kind == "hash" and info.text.embedder_spec.startswith("hash:")
    assert (info.dimension, info.metric, info.count) == (384, "cosine", 0)
    assert info.index.startswith("HNSW16")  # a text collection's default index
    assert "sextant.text" in info.properties  # the recorded embedder and chunking
    listed = [c for c in client.list_collections() if c.name == name]
    assert listed[0].text == info.text

    seen: List[sextant.IngestResult] = []
    result = col.ingest(DOCS, batch_size=2, progress=False, on_progress=seen.append)
    assert result.documents == len(DOCS) and result.chunks >= len(DOCS) and result.replaced_chunks == 0
    assert [s.documents for s in seen] == [2, 4, 6]
    assert seen[-1] == result
    assert col.count() == result.chunks
    # Each chunk is a point "<id>#<n>" whose payload holds the document id, the chunk's text and
    # span, and the document's metadata.
    point = col.get("nitrogen#0")
    assert point.payload["document_id"] == "nitrogen" and point.payload["chunk"] == 0
    assert point.payload["metadata"] == {"topic": "chemistry", "lang": "en"}
    doc = DOCS[0]["text"].encode()
    assert doc[point.payload["begin"]:point.payload["end"]].decode() == point.payload["text"]

    # A vector collection has no text options; its properties are the application's.
    plain = client.create_collection(name + "_vec", dimension=4, properties={"owner": "tests"})
    assert plain.describe().text is None
    assert plain.describe().properties == {"owner": "tests"}


def test_rag_chunking_options(client: sextant.Client, name: str) -> None:
    col = client.create_collection(name, embedder={"hash": {"dimension": 64}}, chunk_tokens=8, overlap_tokens=2,
                                   index="Flat")
    info = col.describe()
    assert info.dimension == 64 and info.text is not None and info.index == "Flat"
    assert (info.text.chunk_tokens, info.text.overlap_tokens) == (8, 2)
    long_text = " ".join(f"word{i}." for i in range(60))
    result = col.ingest([{"id": "long", "text": long_text}], progress=False)
    assert result.chunks > 5  # 60 words in windows of 8
    texts = stored_texts(col, "long")
    assert len(texts) == result.chunks and all(t for t in texts)


def test_rag_ask(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    ans = col.ask(NITROGEN_QUESTION, k=3, generator="extractive")
    assert isinstance(ans, sextant.Answer)
    assert ans.answer.strip()
    assert 1 <= len(ans.citations) <= 3
    assert [c.number for c in ans.citations] == list(range(1, len(ans.citations) + 1))
    top = ans.citations[0]
    assert top.document_id == "nitrogen"
    assert top.score >= max(c.score for c in ans.citations)
    assert top.text in DOCS[0]["text"]
    assert DOCS[0]["text"].encode()[top.begin:top.end].decode() == top.text
    assert any(c.cited for c in ans.citations)
    assert "196" in ans.answer  # the extractive answer quotes the matching sentence
    assert ans.generator.startswith("extractive")
    assert ans.embedder_spec.startswith("hash:")
    t = ans.timings
    assert min(t.embed_ms, t.retrieve_ms, t.generate_ms) >= 0 and t.total_ms >= t.generate_ms

    # Another question, another document.
    ans = col.ask("How do I reverse a list in Python?", generator="extractive")
    assert ans.citations[0].document_id == "python"


def test_rag_ask_stream(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    whole = col.ask(NITROGEN_QUESTION, generator="extractive")
    stream = col.ask(NITROGEN_QUESTION, generator="extractive", stream=True)
    pieces = list(stream)
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert stream.done
    assert "".join(pieces) == stream.answer == whole.answer
    assert [c.document_id for c in stream.citations] == [c.document_id for c in whole.citations]
    assert stream.citations[0].document_id == "nitrogen"

    # Leaving the block early cancels the call; the answer is then not available.
    with col.ask(NITROGEN_QUESTION, generator="extractive", stream=True) as s:
        first = next(s)
    assert first == pieces[0] and not s.done and s.text == first
    with pytest.raises(sextant.SextantError, match="cancelled"):
        s.result
    assert list(s) == []


def test_rag_reingest_replaces(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    before = col.count()
    old = stored_texts(col, "nitrogen")
    new_text = ("Liquid nitrogen is now described differently: it is a cryogenic fluid kept in "
                "insulated dewars.")
    result = col.ingest([{"id": "nitrogen", "text": new_text, "metadata": {"topic": "chemistry"}}], progress=False)
    assert result.documents == 1 and result.replaced_chunks == len(old)
    texts = stored_texts(col, "nitrogen")
    assert texts and all(t in new_text for t in texts)
    assert col.count() == before - len(old) + result.chunks
    ans = col.ask(NITROGEN_QUESTION, k=6, generator="extractive")
    assert all("196" not in c.text for c in ans.citations)
    assert "196" not in ans.answer

    # An empty text deletes the document.
    result = col.ingest([("nitrogen", "")], progress=False)
    assert result.chunks == 0 and result.replaced_chunks == len(texts)
    assert stored_texts(col, "nitrogen") == []


def test_rag_delete_documents(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    chunks = len(stored_texts(col, "volcano"))
    before = col.count()
    assert col.delete_documents(["volcano"]) == chunks >= 1
    assert col.count() == before - chunks
    ans = col.ask("Which volcano in Sicily erupts lava?", k=6)
    assert "volcano" not in [c.document_id for c in ans.citations]
    assert col.delete_documents("volcano") == 0  # already gone
    assert col.delete_documents(["bread", "orbit", "nope"]) >= 2


def test_rag_embed(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    vectors = col.embed(["liquid nitrogen", "sourdough bread", "liquid nitrogen"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])  # deterministic
    assert not np.array_equal(vectors[0], vectors[1])
    one = col.embed("liquid nitrogen")
    assert one.shape == (384,)
    np.testing.assert_array_equal(one, vectors[0])
    # The vectors are the collection's: searching with one finds the matching chunk.
    hits = col.search(col.embed(DOCS[3]["text"]), k=1)
    assert hits[0].id == "bread#0" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(sextant.InvalidArgumentError, match="texts"):
        col.embed([])


def test_rag_filter_on_metadata(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    ans = col.ask(NITROGEN_QUESTION, k=5, filter={"metadata.topic": "cooking"})
    assert ans.citations and {c.document_id for c in ans.citations} == {"bread"}
    ans = col.ask("Wie zieht der Springer?", filter={"metadata.lang": "de"})
    assert {c.document_id for c in ans.citations} == {"schach"}
    ans = col.ask(NITROGEN_QUESTION, filter={"metadata.lang": {"$in": ["en"]}}, k=10)
    assert "schach" not in {c.document_id for c in ans.citations} and len(ans.citations) >= 5
    ans = col.ask(NITROGEN_QUESTION, filter={"metadata.topic": "none-such"})
    assert ans.citations == []
    with pytest.raises(sextant.InvalidArgumentError):
        col.ask(NITROGEN_QUESTION, filter='{"metadata.topic": ')


def test_rag_retrieve_modes_group_and_threshold(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    chunks = col.retrieve("liquid nitrogen", k=3)
    assert [c.number for c in chunks] == [1, 2, 3]
    assert chunks[0].document_id == "nitrogen"
    assert chunks[0].dense_score is not None and chunks[0].text_score is not None
    text = col.retrieve("sourdough", retrieval="text")
    assert [c.document_id for c in text] == ["bread"]
    assert text[0].dense_score is None and text[0].text_score == pytest.approx(text[0].score)
    dense = col.retrieve("sourdough", k=2, retrieval="dense", group_by="document_id", group_size=1)
    assert len(dense) == 2 and dense[0].document_id != dense[1].document_id and dense[0].text_score is None
    assert col.retrieve("the capital of Peru", score_threshold=0.999) == []
    ans = col.ask("What is the capital of Peru?", retrieval="dense", score_threshold=0.999)
    assert "I don't know" in ans.answer and ans.citations == [] and ans.retrieval == "dense"
    assert col.ask(NITROGEN_QUESTION).retrieval == "hybrid"

    with pytest.raises(sextant.InvalidArgumentError, match="retrieval"):
        col.retrieve("x", retrieval="sparse")  # refused by the client
    with pytest.raises(sextant.InvalidArgumentError, match="retrieval"):
        col.ask("x", retrieval="bm25")
    with pytest.raises(sextant.InvalidArgumentError, match="score_threshold"):
        col.retrieve("x", retrieval="dense", score_threshold=1.5)  # refused by the server
    with pytest.raises(sextant.InvalidArgumentError, match="score_threshold"):
        col.ask("x", retrieval="text", score_threshold=-1)
    with pytest.raises(sextant.InvalidArgumentError, match="score_threshold"):
        col.retrieve("x", score_threshold="high")  # type: ignore[arg-type]
    with pytest.raises(sextant.InvalidArgumentError, match="query"):
        col.retrieve("  ")
    with pytest.raises(sextant.InvalidArgumentError, match="k"):
        col.retrieve("x", k=0)
    with pytest.raises(sextant.InvalidArgumentError, match="group_size"):
        col.retrieve("x", group_by="document_id", group_size=0)
    with pytest.raises(sextant.NotFoundError):
        client.collection(name + "_missing").retrieve("x")


def test_rag_errors(client: sextant.Client, name: str) -> None:
    col = make_faq(client, name)
    count = col.count()
    missing = sextant.Collection(client, name + "_missing")
    with pytest.raises(sextant.NotFoundError):
        missing.ask("anything")
    with pytest.raises(sextant.NotFoundError):
        missing.ingest([("a", "text")], progress=False)
    with pytest.raises(sextant.NotFoundError):
        missing.embed(["text"])
    with pytest.raises(sextant.NotFoundError):
        missing.delete_documents(["a"])

    plain = client.create_collection(name + "_vec", dimension=4)
    with pytest.raises(sextant.FailedPreconditionError):
        plain.ask("anything")
    with pytest.raises(sextant.FailedPreconditionError):
        list(plain.ask("anything", stream=True))
    with pytest.raises(sextant.FailedPreconditionError):
        plain.ingest([("a", "text")], progress=False)
    with pytest.raises(sextant.FailedPreconditionError):
        plain.embed(["text"])
    assert plain.count() == 0

    with pytest.raises(sextant.InvalidArgumentError, match="question"):
        col.ask("")
    with pytest.raises(sextant.InvalidArgumentError):
        col.ask("   ", stream=True).answer

    # Metadata that is not a JSON object is refused by the server, naming the document; nothing
    # of it or of the documents after it is written.
    for metadata in ("[1, 2]", '{"topic": ', "7"):
        with pytest.raises(sextant.InvalidArgumentError, match="metadata"):
            col.ingest([("fresh", "a brand new document", metadata), ("fresh2", "another")], progress=False)
    # So are bad ids.
    with pytest.raises(sextant.InvalidArgumentError):
        col.ingest([("", "no id")], progress=False)
    with pytest.raises(sextant.InvalidArgumentError):
        col.ingest([("x" * 300, "id too long")], progress=False)
    assert col.count() == count
    assert stored_texts(col, "fresh") == [] and stored_texts(col, "fresh2") == []
    # The same id twice in one batch is refused, naming it.
    with pytest.raises(sextant.InvalidArgumentError, match="dup"):
        col.ingest([("dup", "one"), ("dup", "two")], progress=False)

    # Bad options at create time.
    with pytest.raises(sextant.InvalidArgumentError):
        client.create_collection(name + "_tiny", embedder="hash", chunk_tokens=2)
    with pytest.raises(sextant.AlreadyExistsError):
        client.create_collection(name, embedder="hash")
    # A text collection records its own properties, and indexes document_id itself.
    with pytest.raises(sextant.InvalidArgumentError, match="properties"):
        client.create_collection(name + "_props", embedder="hash", properties={"owner": "me"})
    with pytest.raises(sextant.InvalidArgumentError, match="payload_indexes"):
        client.create_collection(name + "_pidx", embedder="hash", payload_indexes={"metadata.lang": "keyword"})
    with pytest.raises(sextant.InvalidArgumentError, match="generator"):
        col.ask(NITROGEN_QUESTION, generator="gpt-9")
    assert not client.has_collection(name + "_tiny")


def test_rag_python_faq(client: sextant.Client, name: str) -> None:
    """The Python FAQ answers as documents: most questions retrieve their own answer."""
    path = data_dir() / "python-faq" / "python_faq_qa.json"
    if not path.exists():
        pytest.skip(f"{path} not found (set SEXTANT_DATA_DIR)")
    qa = json.loads(path.read_text(encoding="utf-8"))
    col = client.create_collection(name, embedder="hash")
    docs = [{"id": str(q["id"]), "text": q["question"] + "\n\n" + q["answer"], "metadata": {"faq": q["faq"]}}
            for q in qa]
    result = col.ingest(docs, batch_size=50, progress=False)
    assert result.documents == len(qa)
    asked = qa[:40]
    found = 0
    for q in asked:
        ans = col.ask(q["question"], k=5)
        found += str(q["id"]) in [c.document_id for c in ans.citations]
    # The question is part of its document, so lexical hashing finds nearly all of them.
    assert found >= 0.9 * len(asked), f"{found} of {len(asked)} questions retrieved their answer"


def test_rag_local_embedder(client: sextant.Client, name: str) -> None:
    """The local sentence encoder (all-MiniLM-L6-v2) in the server, when its model is there."""
    try:
        col = client.create_collection(name, embedder="local")
    except sextant.NotFoundError as e:
        pytest.skip(f"the server has no local model: {e.message} (run scripts/fetch-model.sh)")
    # The model decides the dimension; a contradicting one is refused.
    with pytest.raises(sextant.InvalidArgumentError, match="dimension"):
        client.create_collection(name + "_dim", dimension=100, embedder={"local": {}})
    info = col.describe()
    assert info.text is not None and info.text.embedder.kind == "local"
    assert info.dimension == 384 and info.text.embedder_spec.startswith("local:")
    col.ingest(DOCS, progress=False)
    ans = col.ask("How cold is boiling liquid nitrogen?", k=3)
    assert ans.citations[0].document_id == "nitrogen"
    ans = col.ask("Which mountain in Italy spits out molten rock?", k=3)
    assert ans.citations[0].document_id == "volcano"
    vectors = col.embed(["a cat sits on the mat", "a kitten rests on the rug", "stock markets fell"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
    # Paraphrases are nearer each other than an unrelated sentence.
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.2


def test_rag_local_model_missing(sextantd_binary: str, tmp_path: Path) -> None:
    server = Sextantd(sextantd_binary, tmp_path, ["--model-dir", str(tmp_path / "no-models")]).start()
    try:
        with sextant.Client(server.address, timeout=60) as c:
            with pytest.raises(sextant.NotFoundError, match="all-MiniLM-L6-v2") as info:
                c.create_collection("faq", embedder="local")
            assert "fetch" in info.value.message or "download" in info.value.message
            assert not c.has_collection("faq")
            # The hash embedder needs no model.
            c.create_collection("faq", embedder="hash").ingest([("a", "text")], progress=False)
    finally:
        assert server.stop() == 0, server.log()
