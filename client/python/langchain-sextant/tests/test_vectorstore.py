"""SextantVectorStore beyond the standard suite: filters, scores, MMR, retriever, delete by
filter, and a text collection embedding with Sextant's own embedder."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_sextant", reason="langchain-sextant is not installed (pip install './client/python/langchain-sextant[test]')")

from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding

import sextant
from conftest import fresh_name
from langchain_sextant import SextantVectorStore, translate_filter


def test_translate_filter() -> None:
    assert translate_filter(None) is None
    assert translate_filter({"lang": "en", "$or": [{"y": {"$gte": 1}}, {"$not": {"z": 1}}]}) == {
        "metadata.lang": "en",
        "$or": [{"metadata.y": {"$gte": 1}}, {"$not": {"metadata.z": 1}}],
    }
    with pytest.raises(sextant.InvalidArgumentError):
        translate_filter({"$in": [1]})


def test_vector_collection(sextant_client: sextant.Client) -> None:
    name = fresh_name()
    emb = DeterministicFakeEmbedding(size=16)
    store = SextantVectorStore(client=sextant_client, collection_name=name, embedding=emb)
    assert store.similarity_search("anything") == []  # not created yet
    ids = store.add_texts(
        ["red apple", "green apple", "blue sky", "red car"],
        metadatas=[{"color": "red", "n": 1}, {"color": "green", "n": 2}, {"color": "blue", "n": 3}, {"color": "red", "n": 4}],
        ids=["a", "b", "c", "d"],
    )
    assert ids == ["a", "b", "c", "d"]
    hits = store.similarity_search_with_score("red apple", k=1)
    assert hits[0][0] == Document(page_content="red apple", metadata={"color": "red", "n": 1}, id="a")
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    red = store.similarity_search("red apple", k=10, filter={"color": "red"})
    assert sorted(d.id or "" for d in red) == ["a", "d"]
    assert [d.id for d in store.similarity_search("x", k=10, filter={"n": {"$gte": 3}})] != []
    mmr = store.max_marginal_relevance_search("red apple", k=2, fetch_k=4)
    assert len(mmr) == 2 and mmr[0].id == "a"
    retriever = store.as_retriever(search_kwargs={"k": 2, "filter": {"color": "red"}})
    assert {d.id for d in retriever.invoke("red apple")} == {"a", "d"}
    rel = store.similarity_search_with_relevance_scores("red apple", k=1)
    assert 0.99 <= rel[0][1] <= 1.0
    assert store.delete(filter={"color": "red"})
    assert sorted(d.id or "" for d in store.get_by_ids(["a", "b", "c", "d"])) == ["b", "c"]
    sextant_client.drop_collection(name)


def test_text_collection(sextant_client: sextant.Client) -> None:
    name = fresh_name("text")
    sextant_client.create_collection(name, embedder="hash")
    store = SextantVectorStore(client=sextant_client, collection_name=name)
    assert store.is_text_collection and store.embeddings is None
    store.add_texts(
        ["Sextant is a vector database.", "Bananas are yellow fruit."],
        metadatas=[{"topic": "db"}, {"topic": "food"}],
        ids=["doc-db", "doc-fruit"],
    )
    top = store.similarity_search("which database stores vectors?", k=1)
    assert top[0].id == "doc-db" and top[0].metadata == {"topic": "db"}
    assert store.similarity_search("vectors", k=5, filter={"topic": "food"})[0].id == "doc-fruit"
    got = store.get_by_ids(["doc-fruit", "missing"])
    assert got == [Document(page_content="Bananas are yellow fruit.", metadata={"topic": "food"}, id="doc-fruit")]
    store.delete(["doc-fruit"])
    assert store.get_by_ids(["doc-fruit"]) == []
    with pytest.raises(sextant.FailedPreconditionError):
        sextant_client.create_collection(name + "_v", dimension=3)
        SextantVectorStore(client=sextant_client, collection_name=name + "_v")
