"""LlamaIndex integration of Sextant: `from llama_index.vector_stores.sextant import SextantVectorStore`."""

from llama_index.vector_stores.sextant.base import SextantVectorStore, to_sextant_filter

__all__ = ["SextantVectorStore", "to_sextant_filter"]
