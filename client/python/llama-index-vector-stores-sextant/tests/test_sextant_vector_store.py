"""SextantVectorStore for LlamaIndex against a real sextantd (started with sextant.connect; skipped
when $SEXTANTD is unset)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip(
    "llama_index.vector_stores.sextant",
    reason="not installed (pip install './client/python/llama-index-vector-stores-sextant[test]')",
)

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

import sextant
from llama_index.vector_stores.sextant import SextantVectorStore, to_sextant_filter

_counter = itertools.count()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sextant.Client]:
    if not os.environ.get("SEXTANTD"):
        pytest.skip("SEXTANTD is not set: set it to a sextantd binary to run these tests")
    path: Path = tmp_path_factory.mktemp("llamaindex") / "db"
    with sextant.connect(path) as c:
        yield c


def node(node_id: str, doc: str, text: str, vector: list, **meta: object) -> TextNode:
    n = TextNode(id_=node_id, text=text, embedding=vector, metadata=dict(meta))
    n.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc)
    return n


@pytest.fixture()
def store(client: sextant.Client) -> SextantVectorStore:
    s = SextantVectorStore(client=client, collection_name=f"li_{next(_counter)}", metric="l2", index="Flat")
    s.add(
        [
            node("n1", "doc-a", "red apple", [1.0, 0.0, 0.0], color="red", n=1, tags=["fruit"]),
            node("n2", "doc-a", "green apple", [0.9, 0.1, 0.0], color="green", n=2, tags=["fruit"]),
            node("n3", "doc-b", "blue sky", [0.0, 1.0, 0.0], color="blue", n=3, tags=["sky"]),
            node("n4", "doc-c", "red car", [0.0, 0.0, 1.0], color="red", n=4, tags=["car"]),
        ]
    )
    return s


def q(vector: list, k: int = 10, filters: MetadataFilters | None = None, **kw: object) -> VectorStoreQuery:
    return VectorStoreQuery(query_embedding=vector, similarity_top_k=k, filters=filters, **kw)  # type: ignore[arg-type]


def test_add_and_query(store: SextantVectorStore) -> None:
    r = store.query(q([1.0, 0.0, 0.0], k=2))
    assert r.ids == ["n1", "n2"]
    assert r.nodes is not None and r.nodes[0].get_content() == "red apple"
    assert r.nodes[0].metadata["color"] == "red" and r.nodes[0].ref_doc_id == "doc-a"
    assert r.similarities is not None and r.similarities[0] == pytest.approx(0.0)


def test_metadata_filters(store: SextantVectorStore) -> None:
    red = MetadataFilters(filters=[MetadataFilter(key="color", value="red")])
    assert sorted(store.query(q([0.0, 0.0, 0.0], filters=red)).ids or []) == ["n1", "n4"]
    either = MetadataFilters(
        filters=[
            MetadataFilter(key="n", value=3, operator=FilterOperator.GTE),
            MetadataFilter(key="color", value="green"),
        ],
        condition=FilterCondition.OR,
    )
    assert sorted(store.query(q([0.0, 0.0, 0.0], filters=either)).ids or []) == ["n2", "n3", "n4"]
    fruit = MetadataFilters(filters=[MetadataFilter(key="tags", value="fruit", operator=FilterOperator.CONTAINS)])
    assert sorted(store.query(q([0.0, 0.0, 0.0], filters=fruit)).ids or []) == ["n1", "n2"]
    among = MetadataFilters(filters=[MetadataFilter(key="color", value=["blue", "green"], operator=FilterOperator.IN)])
    assert sorted(store.query(q([0.0, 0.0, 0.0], filters=among)).ids or []) == ["n2", "n3"]
    assert sorted(store.query(q([1.0, 0.0, 0.0], node_ids=["n3", "n4"])).ids or []) == ["n3", "n4"]
    assert sorted(store.query(q([0.0, 0.0, 0.0], doc_ids=["doc-a"])).ids or []) == ["n1", "n2"]
    with pytest.raises(sextant.InvalidArgumentError):
        to_sextant_filter(MetadataFilters(filters=[MetadataFilter(key="x", value="y", operator=FilterOperator.TEXT_MATCH)]))


def test_delete_and_get_nodes(store: SextantVectorStore) -> None:
    store.delete("doc-a")
    assert sorted(store.query(q([1.0, 0.0, 0.0])).ids or []) == ["n3", "n4"]
    got = store.get_nodes(node_ids=["n3", "n1"])
    assert [n.node_id for n in got] == ["n3"] and got[0].embedding == [0.0, 1.0, 0.0]
    store.delete_nodes(node_ids=["n3"])
    assert store.query(q([1.0, 0.0, 0.0])).ids == ["n4"]
    store.clear()
    assert store.query(q([1.0, 0.0, 0.0])).ids == []


def test_ids_and_filters_together_mean_both(store: SextantVectorStore) -> None:
    red = MetadataFilters(filters=[MetadataFilter(key="color", value="red")])
    # get_nodes: the given ids that match, in the order given.
    assert [n.node_id for n in store.get_nodes(node_ids=["n4", "n2", "n1"], filters=red)] == ["n4", "n1"]
    assert store.get_nodes(node_ids=[], filters=red) == []
    # delete_nodes: only n1 is both among the ids and red (n4 is red but not listed, n2 listed but green).
    store.delete_nodes(node_ids=["n1", "n2"], filters=red)
    assert sorted(store.query(q([0.0, 0.0, 0.0])).ids or []) == ["n2", "n3", "n4"]
    store.delete_nodes(node_ids=[], filters=red)  # an empty id list selects nothing
    store.delete_nodes()  # neither: nothing
    assert sorted(store.query(q([0.0, 0.0, 0.0])).ids or []) == ["n2", "n3", "n4"]
    store.delete_nodes(filters=red)
    assert sorted(store.query(q([0.0, 0.0, 0.0])).ids or []) == ["n2", "n3"]


def test_with_vector_store_index(client: sextant.Client) -> None:
    from llama_index.core import Document, MockEmbedding, StorageContext, VectorStoreIndex

    store = SextantVectorStore(client=client, collection_name=f"li_{next(_counter)}")
    ctx = StorageContext.from_defaults(vector_store=store)
    index = VectorStoreIndex.from_documents(
        [Document(text="Sextant stores vectors.", id_="d1")], storage_context=ctx, embed_model=MockEmbedding(embed_dim=8)
    )
    nodes = index.as_retriever(similarity_top_k=1).retrieve("what does sextant store?")
    assert nodes and "Sextant" in nodes[0].node.get_content()
    index.delete_ref_doc("d1")
    assert index.as_retriever(similarity_top_k=1).retrieve("anything") == []
