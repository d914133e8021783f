"""Full-text, hybrid and shaped search from Python against a real sextantd (docs/text_search.md):
create_collection(text_fields=...), search(vector=None, text=..., fusion=..., weights=...,
group_by=..., group_size=..., score_threshold=..., mmr=...), the $text filter, and the errors."""

from __future__ import annotations

import pytest

import sextant


@pytest.fixture()
def col(client: sextant.Client, name: str) -> sextant.Collection:
    c = client.create_collection(name, dimension=2, metric="l2", text_fields={"body": {"language": "english"}})
    ids = list(range(20))
    vectors = [[float(i), 1.0] for i in ids]
    payloads = [
        {"doc": f"d{i // 4}", "body": "error E1234 disk full" if i == 13 else "common words"} for i in ids
    ]
    c.upsert(ids, vectors, payloads)
    return c


def test_text_hybrid_and_shaping(col: sextant.Collection) -> None:
    hits = col.search(text="E1234")  # text alone: BM25
    assert [h.id for h in hits] == [13]
    assert hits[0].text_score is not None and hits[0].dense_score is None

    hits = col.search([0.0, 1.0], k=2, text="E1234")  # both: hybrid, RRF
    assert {h.id for h in hits} == {0, 13}
    assert all(h.dense_score is not None and h.text_score is not None for h in hits)
    hits = col.search([0.0, 1.0], k=1, text="E1234", fusion="weighted", weights=(0.0, 1.0))
    assert [h.id for h in hits] == [13]

    hits = col.search([0.0, 1.0], k=3, group_by="doc")
    assert [h.id for h in hits] == [0, 4, 8]
    assert [h.group for h in hits] == ["d0", "d1", "d2"]
    assert len(col.search([0.0, 1.0], k=3, group_by="doc", group_size=2)) == 6

    assert [h.id for h in col.search([0.0, 1.0], score_threshold=4.0)] == [0, 1, 2]
    hits = col.search([0.0, 1.0], k=3, mmr=0.5, filter={"body": {"$text": "common"}})
    assert len(hits) == 3 and 13 not in {h.id for h in hits}


def test_bad_input(col: sextant.Collection, client: sextant.Client, name: str) -> None:
    with pytest.raises(sextant.InvalidArgumentError, match="empty"):
        col.search(text="   ")
    with pytest.raises(sextant.InvalidArgumentError, match="fusion"):
        col.search([0.0, 1.0], text="x", fusion="borda")
    with pytest.raises(sextant.InvalidArgumentError, match="weights"):
        col.search([0.0, 1.0], text="x", weights=(1.0, 1.0))  # weights need fusion="weighted"
    with pytest.raises(sextant.InvalidArgumentError, match="not both 0"):
        col.search([0.0, 1.0], text="x", fusion="weighted", weights=(0, 0))
    with pytest.raises(sextant.InvalidArgumentError, match="title"):
        col.search(text="x", text_fields=["title"])
    with pytest.raises(sextant.InvalidArgumentError, match="group_size"):
        col.search([0.0, 1.0], group_by="doc", group_size=0)
    with pytest.raises(sextant.InvalidArgumentError, match="mmr_lambda"):
        col.search([0.0, 1.0], mmr=2.0)
    with pytest.raises(sextant.InvalidArgumentError, match="doc"):
        col.search([0.0, 1.0], filter={"doc": {"$text": "d1"}})
    with pytest.raises(sextant.InvalidArgumentError, match="klingon"):
        client.create_collection(name + "-bad", dimension=2, text_fields={"body": {"language": "klingon"}})
    with pytest.raises(sextant.InvalidArgumentError, match="stemmer"):
        client.create_collection(name + "-bad", dimension=2, text_fields={"body": {"stemmer": "x"}})


def test_search_batch_hybrid_and_shaping(col: sextant.Collection) -> None:
    # The same text fused with each query vector; all the weight on the vector, then on the text.
    res = col.search_batch([[0.0, 1.0], [19.0, 1.0]], k=1, text="disk", fusion="weighted", weights=(1.0, 0.0))
    assert [[h.id for h in hits] for hits in res] == [[0], [19]]
    assert all(h.text_score is not None and h.dense_score is not None for hits in res for h in hits)
    res = col.search_batch([[0.0, 1.0], [19.0, 1.0]], k=1, text="disk", fusion="weighted", weights=(0.0, 1.0))
    assert [[h.id for h in hits] for hits in res] == [[13], [13]]
    res = col.search_batch([[0.0, 1.0], [19.0, 1.0]], k=2, group_by="doc")
    assert [[h.group for h in hits] for hits in res] == [["d0", "d1"], ["d4", "d3"]]
    res = col.search_batch([[0.0, 1.0]], score_threshold=1.0)
    assert [h.id for h in res[0]] == [0, 1]
    with pytest.raises(sextant.InvalidArgumentError, match="fusion"):
        col.search_batch([[0.0, 1.0]], text="x", fusion="borda")
    with pytest.raises(sextant.InvalidArgumentError, match="empty"):
        col.search_batch([[0.0, 1.0]], text=" ")
    with pytest.raises(sextant.InvalidArgumentError, match="group_size"):
        col.search_batch([[0.0, 1.0]], group_by="doc", group_size=0)
