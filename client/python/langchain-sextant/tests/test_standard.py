"""LangChain's standard VectorStore suite (langchain-tests), sync and async, against a real
sextantd."""

from __future__ import annotations

from typing import Iterator

import pytest

pytest.importorskip("langchain_tests", reason="langchain-tests is not installed (pip install './client/python/langchain-sextant[test]')")

from langchain_core.vectorstores import VectorStore  # noqa: E402
from langchain_tests.integration_tests import VectorStoreIntegrationTests

import sextant
from conftest import fresh_name
from langchain_sextant import SextantVectorStore


class TestSextantVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, sextant_client: sextant.Client) -> Iterator[VectorStore]:  # type: ignore[override]
        name = fresh_name("std")
        store = SextantVectorStore(client=sextant_client, collection_name=name, embedding=self.get_embeddings())
        yield store
        sextant_client.drop_collection(name, missing_ok=True)
