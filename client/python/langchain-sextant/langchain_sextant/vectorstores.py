"""SextantVectorStore: a LangChain VectorStore on a Sextant collection.

Two kinds of collection:

- A vector collection, with any LangChain `Embeddings` (`embedding=`). Each document is a point
  whose id is the document's id (a str; a new UUID when none is given) and whose payload is
  {"page_content": text, "metadata": {...}}. The collection is created on the first write when
  it does not exist (dimension from the embeddings, metric `metric`).
- A text collection (created with `embedder=` in sextant), with `embedding=None`: Sextant embeds
  with the collection's own embedder. add_texts ingests each text as a document (chunked by the
  server); searches return chunks as documents whose id is their document's id.

Metadata filters are dicts in Sextant's filter language (docs/filters.md) written on metadata
keys: {"lang": "en", "year": {"$gte": 2020}} becomes {"metadata.lang": "en", "metadata.year":
{...}} ($and / $or / $not are kept).
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance

import sextant

_CONTENT = "page_content"
_METADATA = "metadata"
_LOGICAL = {"$and", "$or", "$not"}


def translate_filter(filter: Optional[Dict[str, Any]], prefix: str = _METADATA) -> Optional[Dict[str, Any]]:
    """A LangChain metadata filter -> a Sextant payload filter on `prefix.`-keys."""
    if filter is None:
        return None
    if not isinstance(filter, dict):
        raise sextant.InvalidArgumentError(f"filter: expected a dict, not {type(filter).__name__}")
    out: Dict[str, Any] = {}
    for key, value in filter.items():
        if key in ("$and", "$or"):
            out[key] = [translate_filter(v, prefix) for v in value]
        elif key == "$not":
            out[key] = translate_filter(value, prefix)
        elif key.startswith("$"):
            raise sextant.InvalidArgumentError(f"filter: {key} is not a logical operator ($and, $or, $not)")
        else:
            out[f"{prefix}.{key}"] = value
    return out


class SextantVectorStore(VectorStore):
    """A LangChain VectorStore on the Sextant collection `collection_name`.

        c = sextant.connect("./db")                 # or sextant.Client("localhost:7070")
        store = SextantVectorStore(client=c, collection_name="docs", embedding=emb)
        store.add_texts(["..."], metadatas=[{"lang": "en"}])
        store.similarity_search("question", k=4, filter={"lang": "en"})
        retriever = store.as_retriever(search_type="mmr")

    client: a sextant.Client (sextant.connect() returns one).
    embedding: LangChain Embeddings for a vector collection; None for a text collection, which
        embeds with its own embedder.
    metric: of a vector collection created here ("cosine", "inner_product" or "l2"); index: its
        index spec ("HNSW16" by default).
    """

    def __init__(
        self,
        client: sextant.Client,
        collection_name: str,
        embedding: Optional[Embeddings] = None,
        *,
        metric: str = "cosine",
        index: str = "HNSW16",
    ) -> None:
        if not isinstance(client, sextant.Client):
            raise TypeError(f"client: expected a sextant.Client, not {type(client).__name__}")
        self._client = client
        self._name = collection_name
        self._embedding = embedding
        self._metric = metric
        self._index = index
        self._collection: Optional[sextant.Collection] = None
        if embedding is None:
            # A text collection must exist already (it carries its embedder).
            col = client.collection(collection_name)
            info = col.describe()
            if info.text is None:
                raise sextant.FailedPreconditionError(
                    f"collection {collection_name!r} is a vector collection: pass embedding= to use it"
                )
            self._collection = col

    # ---------------------------------------------------------------- plumbing

    @property
    def embeddings(self) -> Optional[Embeddings]:
        return self._embedding

    @property
    def client(self) -> sextant.Client:
        return self._client

    @property
    def is_text_collection(self) -> bool:
        return self._embedding is None

    def _existing(self) -> Optional[sextant.Collection]:
        """The collection, or None while a vector collection has not been created yet."""
        if self._collection is None:
            try:
                self._collection = self._client.collection(self._name)
            except sextant.NotFoundError:
                return None
        return self._collection

    def _for_write(self, dimension: int) -> sextant.Collection:
        col = self._existing()
        if col is None:
            try:
                col = self._client.create_collection(
                    self._name, dimension=dimension, metric=self._metric, index=self._index
                )
            except sextant.AlreadyExistsError:  # created concurrently
                col = self._client.collection(self._name)
            self._collection = col
        return col

    @staticmethod
    def _document(id: Any, payload: Optional[Dict[str, Any]]) -> Document:
        payload = payload or {}
        meta = payload.get(_METADATA) or {}
        return Document(page_content=str(payload.get(_CONTENT, "")), metadata=dict(meta), id=str(id))

    def _chunk_document(self, payload: Optional[Dict[str, Any]]) -> Document:
        payload = payload or {}
        return Document(
            page_content=str(payload.get("text", "")),
            metadata=dict(payload.get(_METADATA) or {}),
            id=str(payload.get("document_id", "")),
        )

    # ---------------------------------------------------------------- writes

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: Optional[List[Dict[str, Any]]] = None,
        *,
        ids: Optional[List[str]] = None,
        batch_size: int = 1000,
        **kwargs: Any,
    ) -> List[str]:
        """Embeds and stores texts (replacing documents with the same ids); returns their ids."""
        text_list = list(texts)
        if not text_list:
            return []
        if metadatas is not None and len(metadatas) != len(text_list):
            raise sextant.InvalidArgumentError(f"metadatas: {len(metadatas)} for {len(text_list)} texts")
        if ids is not None and len(ids) != len(text_list):
            raise sextant.InvalidArgumentError(f"ids: {len(ids)} for {len(text_list)} texts")
        id_list = [str(i) if i is not None else str(uuid.uuid4()) for i in (ids or [None] * len(text_list))]
        metas = [dict(m or {}) for m in (metadatas or [{}] * len(text_list))]
        if self._embedding is None:
            assert self._collection is not None
            docs = [{"id": i, "text": t, "metadata": m or None} for i, t, m in zip(id_list, text_list, metas)]
            self._collection.ingest(docs, progress=False)
            return id_list
        vectors = np.asarray(self._embedding.embed_documents(text_list), dtype=np.float32)
        col = self._for_write(int(vectors.shape[1]))
        payloads = [{_CONTENT: t, _METADATA: m} for t, m in zip(text_list, metas)]
        for start in range(0, len(id_list), batch_size):
            end = start + batch_size
            col.upsert(id_list[start:end], vectors[start:end], payloads[start:end])
        return id_list

    def add_documents(self, documents: List[Document], **kwargs: Any) -> List[str]:
        ids = kwargs.pop("ids", None)
        if ids is None and any(d.id for d in documents):
            ids = [d.id if d.id else str(uuid.uuid4()) for d in documents]
        return self.add_texts(
            [d.page_content for d in documents], [d.metadata for d in documents], ids=ids, **kwargs
        )

    def delete(self, ids: Optional[List[str]] = None, **kwargs: Any) -> Optional[bool]:
        """Deletes the documents with these ids (absent ones are skipped); with ids=None and
        filter=, the documents whose metadata matches. Returns True."""
        filter = kwargs.get("filter")
        col = self._existing()
        if col is None:
            return True
        if ids is None:
            if filter is None:
                raise sextant.InvalidArgumentError("delete: give ids or filter=")
            col.delete(filter=translate_filter(filter))
            return True
        if not ids:
            return True
        if self._embedding is None:
            col.delete_documents([str(i) for i in ids])
        else:
            col.delete([str(i) for i in ids])
        return True

    # ---------------------------------------------------------------- reads

    def get_by_ids(self, ids: Sequence[str], /) -> List[Document]:
        """The documents with these ids that exist, in the order given."""
        col = self._existing()
        if col is None or not ids:
            return []
        if self._embedding is not None:
            points = col.get([str(i) for i in ids], with_vector=False)
            return [self._document(p.id, p.payload) for p in points if p is not None]
        # A text collection: rebuild each document from its chunks (spans may overlap).
        by_doc: Dict[str, List[Dict[str, Any]]] = {}
        for p in col.scan(filter={"document_id": {"$in": [str(i) for i in ids]}}):
            by_doc.setdefault(str(p.payload.get("document_id")), []).append(p.payload)
        out = []
        for doc_id in ids:
            chunks = sorted(by_doc.get(str(doc_id), []), key=lambda c: int(c.get("chunk", 0)))
            if not chunks:
                continue
            text = b""
            end = 0
            for c in chunks:
                piece = str(c.get("text", "")).encode()
                begin = int(c.get("begin", end))
                skip = max(0, end - begin)
                text += piece[skip:]
                end = max(end, begin + len(piece))
            out.append(Document(page_content=text.decode(errors="replace"), metadata=dict(chunks[0].get(_METADATA) or {}), id=str(doc_id)))
        return out

    def _query_vector(self, query: str) -> List[float]:
        if self._embedding is not None:
            return list(self._embedding.embed_query(query))
        assert self._collection is not None
        return [float(x) for x in self._collection.embed(query)]

    def _search(
        self, vector: Sequence[float], k: int, filter: Optional[Dict[str, Any]], with_vector: bool = False
    ) -> List[sextant.Hit]:
        col = self._existing()
        if col is None:
            return []
        return col.search(vector, k=k, filter=translate_filter(filter), with_vector=with_vector)

    def _to_document(self, hit: sextant.Hit) -> Document:
        if self._embedding is None:
            return self._chunk_document(hit.payload)
        return self._document(hit.id, hit.payload)

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Optional[Dict[str, Any]] = None, **kwargs: Any
    ) -> List[Tuple[Document, float]]:
        """The k nearest documents with Sextant's score (cosine similarity and inner product:
        higher is nearer; l2: squared distance, lower is nearer)."""
        return self.similarity_search_with_score_by_vector(self._query_vector(query), k, filter)

    def similarity_search_with_score_by_vector(
        self, embedding: List[float], k: int = 4, filter: Optional[Dict[str, Any]] = None, **kwargs: Any
    ) -> List[Tuple[Document, float]]:
        return [(self._to_document(h), float(h.score)) for h in self._search(embedding, k, filter)]

    def similarity_search(
        self, query: str, k: int = 4, filter: Optional[Dict[str, Any]] = None, **kwargs: Any
    ) -> List[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter)]

    def similarity_search_by_vector(
        self, embedding: List[float], k: int = 4, filter: Optional[Dict[str, Any]] = None, **kwargs: Any
    ) -> List[Document]:
        return [d for d, _ in self.similarity_search_with_score_by_vector(embedding, k, filter)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        if self._metric == "l2" and self._embedding is not None:
            return lambda d: 1.0 / (1.0 + d)
        return lambda s: (s + 1.0) / 2.0  # cosine similarity in [-1, 1] -> [0, 1]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: List[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> List[Document]:
        hits = self._search(embedding, max(fetch_k, k), filter, with_vector=True)
        if not hits:
            return []
        picked = maximal_marginal_relevance(
            np.asarray(embedding, dtype=np.float32),
            [h.vector or [] for h in hits],
            lambda_mult=lambda_mult,
            k=min(k, len(hits)),
        )
        return [self._to_document(hits[i]) for i in picked]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> List[Document]:
        return self.max_marginal_relevance_search_by_vector(
            self._query_vector(query), k, fetch_k, lambda_mult, filter
        )

    @classmethod
    def from_texts(
        cls,
        texts: List[str],
        embedding: Optional[Embeddings] = None,
        metadatas: Optional[List[Dict[str, Any]]] = None,
        *,
        client: Optional[sextant.Client] = None,
        collection_name: str = "langchain",
        ids: Optional[List[str]] = None,
        **kwargs: Any,
    ) -> "SextantVectorStore":
        if client is None:
            raise sextant.InvalidArgumentError("from_texts: client= (a sextant.Client) is required")
        store = cls(client=client, collection_name=collection_name, embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store
