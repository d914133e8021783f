"""LangChain integration of Sextant: `from langchain_sextant import SextantVectorStore`."""

from .vectorstores import SextantVectorStore, translate_filter

__all__ = ["SextantVectorStore", "translate_filter"]
