"""SextantVectorStore for llama-index-core: nodes as points of a Sextant vector collection.

Each node is the point whose id is node.node_id, with the node's embedding as its vector and, as
payload, LlamaIndex's usual node dict (node_to_metadata_dict: the node's metadata keys at the top
level, plus "_node_content", "_node_type", "doc_id", "document_id" and "ref_doc_id"), so metadata
filters become Sextant payload filters on the same keys, and delete(ref_doc_id) is one delete by
filter. The collection is created on the first add (dimension from the first embedding). The payload also holds "node_id", for queries
restricted to node ids.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

import sextant

_OPS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
}


def to_sextant_filter(filters: Optional[MetadataFilters]) -> Optional[Dict[str, Any]]:
    """LlamaIndex MetadataFilters -> a Sextant payload filter (docs/filters.md). CONTAINS (an
    array field holding the value) is an equality, which Sextant applies to array elements;
    other operators Sextant has no equivalent of raise InvalidArgumentError."""
    if filters is None or not filters.filters:
        return None
    parts: List[Dict[str, Any]] = []
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            sub = to_sextant_filter(f)
            if sub is not None:
                parts.append(sub)
            continue
        assert isinstance(f, MetadataFilter)
        if f.operator == FilterOperator.CONTAINS:
            parts.append({f.key: f.value})
        elif f.operator == FilterOperator.IS_EMPTY:
            parts.append({"$or": [{f.key: {"$exists": False}}, {f.key: None}, {f.key: []}]})
        elif f.operator in _OPS:
            parts.append({f.key: {_OPS[f.operator]: f.value}})
        else:
            raise sextant.InvalidArgumentError(f"filter operator {f.operator} is not supported by Sextant")
    if not parts:
        return None
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.OR:
        return {"$or": parts}
    if condition == FilterCondition.NOT:
        return {"$not": {"$and": parts}} if len(parts) > 1 else {"$not": parts[0]}
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _with_node_ids(where: Optional[Dict[str, Any]], node_ids: Optional[List[str]]) -> Optional[Dict[str, Any]]:
    """`where` restricted to the nodes `node_ids` (by the payload's "node_id"), or `where` alone
    when node_ids is None or there is no filter to restrict."""
    if where is None or node_ids is None:
        return where
    return {"$and": [where, {"node_id": {"$in": list(node_ids)}}]}


class SextantVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store on the Sextant collection `collection_name`.

        c = sextant.connect("./db")                      # or sextant.Client("localhost:7070")
        store = SextantVectorStore(client=c, collection_name="nodes")
        index = VectorStoreIndex.from_documents(docs, storage_context=StorageContext.from_defaults(vector_store=store))

    metric: of a collection created here ("cosine", "inner_product", "l2"); index: its index spec.
    """

    stores_text: bool = True
    flat_metadata: bool = False

    collection_name: str
    metric: str = "cosine"
    index_spec: str = "HNSW16"

    _client: sextant.Client = PrivateAttr()
    _collection: Optional[sextant.Collection] = PrivateAttr(default=None)

    def __init__(
        self, client: sextant.Client, collection_name: str, metric: str = "cosine", index: str = "HNSW16", **kwargs: Any
    ) -> None:
        super().__init__(collection_name=collection_name, metric=metric, index_spec=index, **kwargs)
        if not isinstance(client, sextant.Client):
            raise TypeError(f"client: expected a sextant.Client, not {type(client).__name__}")
        self._client = client

    @classmethod
    def class_name(cls) -> str:
        return "SextantVectorStore"

    @property
    def client(self) -> sextant.Client:
        return self._client

    def _existing(self) -> Optional[sextant.Collection]:
        if self._collection is None:
            try:
                self._collection = self._client.collection(self.collection_name)
            except sextant.NotFoundError:
                return None
        return self._collection

    def add(self, nodes: List[BaseNode], **add_kwargs: Any) -> List[str]:
        if not nodes:
            return []
        vectors = [n.get_embedding() for n in nodes]
        col = self._existing()
        if col is None:
            try:
                col = self._client.create_collection(
                    self.collection_name, dimension=len(vectors[0]), metric=self.metric, index=self.index_spec
                )
            except sextant.AlreadyExistsError:
                col = self._client.collection(self.collection_name)
            self._collection = col
        ids = [n.node_id for n in nodes]
        payloads = []
        for n in nodes:
            payload = node_to_metadata_dict(n, remove_text=False, flat_metadata=self.flat_metadata)
            payload["node_id"] = n.node_id  # for queries restricted to node ids
            payloads.append(payload)
        batch = 1000
        for start in range(0, len(nodes), batch):
            col.upsert(ids[start : start + batch], vectors[start : start + batch], payloads[start : start + batch])
        return ids

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Deletes every node of the document `ref_doc_id`."""
        col = self._existing()
        if col is not None:
            col.delete(filter={"ref_doc_id": ref_doc_id})

    def delete_nodes(
        self, node_ids: Optional[List[str]] = None, filters: Optional[MetadataFilters] = None, **delete_kwargs: Any
    ) -> None:
        """Deletes the nodes `node_ids`, or those matching `filters`, or, given both, the nodes of
        `node_ids` that match `filters` (the intersection, as LlamaIndex's own stores do). One
        atomic delete. Neither given: nothing is deleted."""
        col = self._existing()
        if col is None:
            return
        where = _with_node_ids(to_sextant_filter(filters), node_ids)
        if where is not None:
            col.delete(filter=where)
        elif node_ids:
            col.delete(list(node_ids))

    def clear(self) -> None:
        self._client.drop_collection(self.collection_name, missing_ok=True)
        self._collection = None

    def get_nodes(
        self, node_ids: Optional[List[str]] = None, filters: Optional[MetadataFilters] = None, **kwargs: Any
    ) -> List[BaseNode]:
        """The nodes `node_ids` (in that order, missing ones left out), or those matching
        `filters`, or, given both, the nodes of `node_ids` that match `filters`."""
        col = self._existing()
        if col is None:
            return []
        where = to_sextant_filter(filters)
        if node_ids is not None and where is None:
            points = [p for p in col.get(list(node_ids), with_vector=True) if p is not None]
        else:
            points = list(col.scan(filter=_with_node_ids(where, node_ids), with_vector=True))
            if node_ids is not None:
                order = {node_id: i for i, node_id in reversed(list(enumerate(node_ids)))}
                points.sort(key=lambda p: order[str(p.id)])
        out = []
        for p in points:
            node = metadata_dict_to_node(p.payload)
            node.embedding = p.vector
            out.append(node)
        return out

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if query.mode != VectorStoreQueryMode.DEFAULT:
            raise sextant.InvalidArgumentError(f"query mode {query.mode} is not supported (use DEFAULT)")
        if query.query_embedding is None:
            raise sextant.InvalidArgumentError("query: query_embedding is required")
        col = self._existing()
        if col is None:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        where = to_sextant_filter(query.filters)
        if query.node_ids or query.doc_ids:
            extra: List[Dict[str, Any]] = []
            if query.node_ids:
                extra.append({"node_id": {"$in": list(query.node_ids)}})
            if query.doc_ids:
                extra.append({"ref_doc_id": {"$in": list(query.doc_ids)}})
            where = {"$and": ([where] if where else []) + extra}
        hits = col.search(query.query_embedding, k=query.similarity_top_k, filter=where)
        nodes = [metadata_dict_to_node(h.payload or {}) for h in hits]
        return VectorStoreQueryResult(nodes=nodes, similarities=[float(h.score) for h in hits], ids=[str(h.id) for h in hits])
