"""Conversions between Python values and sextant.v1 messages (no server needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sextant
from sextant import _convert as cv
from sextant._proto import sextant_pb2 as pb

# ---------------------------------------------------------------- ids


@pytest.mark.parametrize(
    "value, kind, expected",
    [
        (0, "num", 0),
        (7, "num", 7),
        (2**64 - 1, "num", 2**64 - 1),
        (np.int64(42), "num", 42),
        (np.uint64(2**64 - 1), "num", 2**64 - 1),
        (np.int32(5), "num", 5),
        ("7", "str", "7"),
        ("doc-ü", "str", "doc-ü"),
        (np.str_("abc"), "str", "abc"),
    ],
)
def test_id_round_trip(value: object, kind: str, expected: object) -> None:
    msg = cv.id_to_proto(value)
    assert msg.WhichOneof("kind") == kind
    back = cv.id_from_proto(msg)
    assert back == expected
    assert type(back) is (int if kind == "num" else str)


def test_number_and_string_ids_differ() -> None:
    assert cv.id_to_proto(7) != cv.id_to_proto("7")


@pytest.mark.parametrize(
    "value, words",
    [
        (-1, "out of range"),
        (2**64, "out of range"),
        (True, "bool"),
        (np.bool_(False), "bool"),
        (1.0, "float"),
        (None, "NoneType"),
        (b"7", "bytes"),
    ],
)
def test_bad_ids(value: object, words: str) -> None:
    with pytest.raises(sextant.InvalidArgumentError, match=words) as info:
        cv.id_to_proto(value, "ids[3]")
    assert str(info.value).startswith("INVALID_ARGUMENT: ids[3]: ")


def test_ids_name_the_bad_position() -> None:
    with pytest.raises(sextant.InvalidArgumentError, match=r"ids\[2\]"):
        cv.ids_to_proto([1, 2, -3])
    with pytest.raises(sextant.InvalidArgumentError, match="sequence of ids"):
        cv.ids_to_proto("abc")
    assert [m.num for m in cv.ids_to_proto(np.arange(3))] == [0, 1, 2]


def test_unset_id_from_server_is_an_error() -> None:
    with pytest.raises(sextant.SextantError, match="without an id"):
        cv.id_from_proto(pb.PointId())


# ---------------------------------------------------------------- vectors


def test_matrix_from_lists_and_arrays_agree() -> None:
    rows = [[1, 2.5, -3], [4, 5, 6]]
    from_list = cv.as_matrix(rows)
    from_f64 = cv.as_matrix(np.array(rows, dtype=np.float64))
    assert from_list.dtype == np.float32 and from_list.shape == (2, 3)
    assert from_f64.dtype == np.float32
    np.testing.assert_array_equal(from_list, from_f64)


def test_float32_array_is_not_copied() -> None:
    arr = np.ones((4, 3), dtype=np.float32)
    assert cv.as_matrix(arr) is arr


@pytest.mark.parametrize(
    "value, words",
    [
        ([1.0, 2.0, 3.0], r"2-D array .* got 1 dimension\(s\); wrap a single vector"),
        (np.zeros((2, 2, 2)), r"got 3 dimension\(s\)"),
        ([[1, 2, 3], [4, 5]], "row 1 has 2 numbers, row 0 has 3"),
        ([[1, 2], "ab"], "row 1 has a str"),
        ([["a", "b"]], "not a list of equally long vectors of numbers"),
        ("abc", "expected vectors"),
    ],
)
def test_bad_matrices(value: object, words: str) -> None:
    with pytest.raises(sextant.InvalidArgumentError, match=words):
        cv.as_matrix(value)


def test_empty_matrix() -> None:
    assert cv.as_matrix([]).shape == (0, 0)


def test_vector() -> None:
    v = cv.as_vector(np.arange(4, dtype=np.int64))
    assert v.dtype == np.float32 and v.tolist() == [0, 1, 2, 3]
    with pytest.raises(sextant.InvalidArgumentError, match="use search_batch"):
        cv.as_vector([[1, 2]])
    with pytest.raises(sextant.InvalidArgumentError, match="not a vector of numbers"):
        cv.as_vector(["x", "y"])
    with pytest.raises(sextant.InvalidArgumentError, match="0 dimension"):
        cv.as_vector(3.0)


def test_float32_rounding_is_what_goes_on_the_wire() -> None:
    [point] = cv.points_to_proto([1], [[0.1, 1e-50, 3.4e38]], None)
    assert np.frombuffer(point.vector_f32, dtype="<f4").tolist() == np.array([0.1, 1e-50, 3.4e38], dtype=np.float32).tolist()


# ---------------------------------------------------------------- payloads and filters


def test_payload_to_json() -> None:
    payload = {"group": 3, "name": "é", "big": 2**63 + 1, "tags": ["a"], "nested": {"x": None}}
    text = cv.payload_to_json(payload)
    assert json.loads(text) == payload
    assert "é" in text  # UTF-8 as is, not \u escapes
    assert str(2**63 + 1) in text  # integers stay exact
    assert cv.payload_to_json(None) == ""
    assert cv.payload_to_json('{"a": 1}') == '{"a": 1}'  # text goes unchanged


@pytest.mark.parametrize(
    "value, words",
    [
        ({"x": float("nan")}, "cannot be written as JSON"),
        ({"x": {1, 2}}, "cannot be written as JSON"),
        ([1, 2], "a payload is a dict"),
        (5, "a payload is a dict"),
    ],
)
def test_bad_payloads(value: object, words: str) -> None:
    with pytest.raises(sextant.InvalidArgumentError, match=words):
        cv.payload_to_json(value, "payloads[4]")


def test_payload_from_json() -> None:
    assert cv.payload_from_json("") == {}
    assert cv.payload_from_json("{}") == {}
    assert cv.payload_from_json('{"n": 18446744073709551615}') == {"n": 2**64 - 1}
    with pytest.raises(sextant.SextantError, match="not a JSON object"):
        cv.payload_from_json("[1]")


def test_filter_to_json() -> None:
    f = {"group": 3, "year": {"$gte": 2000}}
    assert json.loads(cv.filter_to_json(f)) == f
    assert cv.filter_to_json('{"group": 3}') == '{"group": 3}'
    assert cv.filter_to_json(None) == ""
    assert cv.filter_to_json({}) == "{}"
    with pytest.raises(sextant.InvalidArgumentError, match="a filter is a dict"):
        cv.filter_to_json(["group", 3])


# ---------------------------------------------------------------- points


def test_points_to_proto() -> None:
    points = cv.points_to_proto([1, "b"], np.eye(2), [{"g": 1}, None])
    assert [cv.id_from_proto(p.id) for p in points] == [1, "b"]
    assert [np.frombuffer(p.vector_f32, dtype="<f4").tolist() for p in points] == [[1, 0], [0, 1]]
    assert [p.payload for p in points] == ['{"g":1}', ""]
    assert [p.payload for p in cv.points_to_proto([1], [[1]], None)] == [""]


def test_points_lengths_must_agree() -> None:
    with pytest.raises(sextant.InvalidArgumentError, match="2 vectors for 3 ids"):
        cv.points_to_proto([1, 2, 3], [[1], [2]], None)
    with pytest.raises(sextant.InvalidArgumentError, match="1 payloads for 2 ids"):
        cv.points_to_proto([1, 2], [[1], [2]], [{}])
    with pytest.raises(sextant.InvalidArgumentError, match="one payload per id"):
        cv.points_to_proto([1], [[1]], {"a": 1})  # type: ignore[arg-type]


def test_points_errors_name_the_callers_row() -> None:
    with pytest.raises(sextant.InvalidArgumentError, match=r"payloads\[1001\]"):
        cv.points_to_proto([1, 2], [[1], [2]], [{}, 7], offset=1000)
    with pytest.raises(sextant.InvalidArgumentError, match=r"ids\[1000\]"):
        cv.points_to_proto([-1, 2], [[1], [2]], None, offset=1000)


def test_point_from_proto() -> None:
    msg = pb.Point(id=pb.PointId(str="x"), vector=[1.5, 2], payload='{"a":[1]}')
    assert cv.point_from_proto(msg) == sextant.Point(id="x", vector=[1.5, 2.0], payload={"a": [1]})
    assert cv.point_from_proto(msg, with_vector=False).vector is None


# ---------------------------------------------------------------- enums and options


def test_metrics() -> None:
    assert cv.metric_to_proto("L2") == pb.METRIC_L2
    assert cv.metric_to_proto("euclidean") == pb.METRIC_L2
    assert cv.metric_to_proto("ip") == pb.METRIC_INNER_PRODUCT
    assert cv.metric_to_proto("inner_product") == pb.METRIC_INNER_PRODUCT
    assert cv.metric_to_proto(" Cosine ") == pb.METRIC_COSINE
    assert cv.metric_to_proto(pb.METRIC_COSINE) == pb.METRIC_COSINE
    for name, value in [("l2", pb.METRIC_L2), ("inner_product", pb.METRIC_INNER_PRODUCT), ("cosine", pb.METRIC_COSINE)]:
        assert cv.metric_name(value) == name
    with pytest.raises(sextant.InvalidArgumentError, match="unknown metric 'hamming'"):
        cv.metric_to_proto("hamming")
    with pytest.raises(sextant.InvalidArgumentError, match="metric"):
        cv.metric_to_proto(0)


def test_payload_indexes() -> None:
    as_dict = cv.payload_indexes_to_proto({"group": "integer", "tag": "Keyword"})
    as_pairs = cv.payload_indexes_to_proto([("group", "integer"), ("tag", "keyword")])
    assert as_dict == as_pairs
    assert [(p.field, p.type) for p in as_dict] == [
        ("group", pb.PAYLOAD_FIELD_TYPE_INTEGER),
        ("tag", pb.PAYLOAD_FIELD_TYPE_KEYWORD),
    ]
    assert cv.payload_indexes_to_proto(None) == []
    with pytest.raises(sextant.InvalidArgumentError, match=r"payload_indexes\['x'\]: unknown type 'text'"):
        cv.payload_indexes_to_proto({"x": "text"})
    with pytest.raises(sextant.InvalidArgumentError, match="pairs"):
        cv.payload_indexes_to_proto(["group"])


def test_index_spec_and_search_params() -> None:
    spec = cv.index_spec("HNSW16", ef_construction=100, ef_search=None, nprobe=None)
    assert (spec.spec, spec.ef_construction, spec.ef_search, spec.nprobe) == ("HNSW16", 100, 0, 0)
    params = cv.search_params(5, {"g": 1}, 80, None, True, False, True)
    assert (params.k, params.filter, params.ef_search, params.nprobe) == (5, '{"g":1}', 80, 0)
    assert (params.exact, params.with_payload, params.with_vector) == (True, False, True)
    with pytest.raises(sextant.InvalidArgumentError, match="k: expected an int >= 1"):
        cv.search_params(0, None, None, None, False, True, False)
    with pytest.raises(sextant.InvalidArgumentError, match="ef_search"):
        cv.search_params(10, None, 0, None, False, True, False)
    with pytest.raises(sextant.InvalidArgumentError, match="nprobe"):
        cv.search_params(10, None, None, 2.5, False, True, False)  # type: ignore[arg-type]
    with pytest.raises(sextant.InvalidArgumentError, match="index spec is a str"):
        cv.index_spec(16)  # type: ignore[arg-type]


# ---------------------------------------------------------------- results


def test_hits_and_plans() -> None:
    msg = pb.Hit(id=pb.PointId(num=3), score=0.5, payload='{"a":1}', vector=[1, 2])
    assert cv.hit_from_proto(msg, True, True) == sextant.Hit(3, 0.5, {"a": 1}, [1.0, 2.0])
    assert cv.hit_from_proto(msg, False, False) == sextant.Hit(3, 0.5, None, None)
    # A point without a payload comes back as {} when payloads were asked for.
    assert cv.hit_from_proto(pb.Hit(id=pb.PointId(num=1)), True, False).payload == {}
    plan = cv.plan_from_proto(
        pb.SearchPlan(kind=pb.SearchPlan.KIND_INDEX, index="HNSW16", matches=10, effort=64)
    )
    assert plan == sextant.SearchPlan("index", "HNSW16", 10, False, 0, 64)


def test_collection_and_server_info() -> None:
    info = cv.collection_info_from_proto(
        pb.CollectionInfo(
            name="docs", dimension=384, metric=pb.METRIC_COSINE, count=5, index="HNSW16",
            index_state=pb.INDEX_STATE_BUILDING, index_bytes=1, vector_bytes=2, index_origin="built",
        )
    )
    assert info == sextant.CollectionInfo("docs", 384, "cosine", 5, "HNSW16", "building", 1, 2, "built")
    server = cv.server_info_from_proto(
        pb.ServerInfoResponse(version="0.1.0", simd_level="avx2", read_only=True, max_batch_points=10)
    )
    assert (server.version, server.simd_level, server.read_only, server.max_batch_points) == (
        "0.1.0", "avx2", True, 10,
    )


def test_payload_selection() -> None:
    assert cv.payload_selection(True) == (True, [], [])
    assert cv.payload_selection(False) == (False, [], [])
    assert cv.payload_selection(["a", "b.c"]) == (True, ["a", "b.c"], [])
    assert cv.payload_selection({"exclude": ["x"]}) == (True, [], ["x"])
    for bad in ([], {"keep": ["a"]}, [""], "a", 3):
        with pytest.raises(sextant.InvalidArgumentError, match="with_payload"):
            cv.payload_selection(bad)


def test_update_aliases_request() -> None:
    req = cv.update_aliases_request([("delete", "live"), ("create", "live", "v2")])
    assert [c.WhichOneof("action") for c in req.changes] == ["delete_alias", "create_alias"]
    assert req.changes[1].create_alias.collection == "v2"
    for bad in ([], [("create", "x")], [("rename", "a", "b")], "delete", [("delete", 3)]):
        with pytest.raises(sextant.InvalidArgumentError, match="changes"):
            cv.update_aliases_request(bad)


def test_set_payload_request_selectors() -> None:
    r = cv.set_payload_request("c", {"a": 1}, [1, "x"], None, False, True)
    assert r.WhichOneof("selector") == "ids" and len(r.ids.ids) == 2 and r.sync and not r.overwrite
    r = cv.set_payload_request("c", None, None, {}, True, False)
    assert r.WhichOneof("selector") == "filter" and r.filter == "{}" and r.payload == "" and r.overwrite
    with pytest.raises(sextant.InvalidArgumentError, match="either ids or filter"):
        cv.set_payload_request("c", {}, None, None, False, False)
    with pytest.raises(sextant.InvalidArgumentError, match="payload"):
        cv.set_payload_request("c", [1], [1], None, False, False)
    with pytest.raises(sextant.InvalidArgumentError, match="keys"):
        cv.delete_payload_keys_request("c", [], [1], None, False)


# ---------------------------------------------------------------- pre-encoded upserts


@pytest.mark.parametrize("collection", ["docs", ""])
@pytest.mark.parametrize("sync", [False, True])
@pytest.mark.parametrize("with_payloads", [False, True])
def test_encoded_upsert_is_the_messages_bytes(collection: str, sync: bool, with_payloads: bool) -> None:
    # Every kind of id (0, varint lengths 1..10, NumPy ints, strings with non-ASCII), every kind
    # of payload (None, {}, dict, JSON text): byte for byte what the generated code writes.
    ids = [0, 1, 127, 128, 16383, 16384, 2**35, 2**64 - 1, np.int64(300), np.uint64(2**63), "", "doc-é"]
    vectors = np.random.default_rng(5).standard_normal((len(ids), 6), dtype=np.float32)
    payloads = [None, {}, {"a": 1}, '{"x": [1, 2]}', {"é": "ü"}, None, {"n": None}, {}, {"b": True}, None, {"s": "t"}, None]
    chosen = payloads if with_payloads else None
    got = cv.encode_upsert_request(collection, ids, vectors, chosen, sync=sync)
    want = pb.UpsertRequest(collection=collection, points=cv.points_to_proto(ids, vectors, chosen), sync=sync)
    assert got == want.SerializeToString()
    back = pb.UpsertRequest.FromString(got)
    assert back.points[7].id.num == 2**64 - 1 and back.points[11].id.str == "doc-é"
    assert np.frombuffer(back.points[3].vector_f32, "<f4").tolist() == vectors[3].tolist()


def test_encoded_upsert_from_lists_and_float64() -> None:
    got = cv.encode_upsert_request("c", [1, 2], [[1, 2], [3.5, -0.0]], None)
    want = pb.UpsertRequest(collection="c", points=cv.points_to_proto([1, 2], np.array([[1, 2], [3.5, -0.0]]), None))
    assert got == want.SerializeToString()
    assert cv.encode_upsert_request("c", [], np.zeros((0, 3), dtype=np.float32), None) == b"\x0a\x01c"


@pytest.mark.parametrize(
    "ids, vectors, payloads, words",
    [
        ([1, 2], [[0.0, 1.0]], None, "1 vectors for 2 ids"),
        ([1, True], [[0.0], [1.0]], None, "ids[11]: a bool is not an id"),
        ([1, -1], [[0.0], [1.0]], None, "ids[11]: -1 is out of range"),
        ([1, 2**64], [[0.0], [1.0]], None, "out of range"),
        ([1, 2.5], [[0.0], [1.0]], None, "ids[11]: an id is an int or a str, not float"),
        ([1, 2], [[0.0], [1.0]], [None], "1 payloads for 2 ids"),
        ([1, 2], [[0.0], [1.0]], "{}", "one payload per id"),
        ([1, 2], [[0.0], [1.0]], [None, [1]], "payloads[11]"),
        ([1, 2], [[0.0], [1.0, 2.0]], None, "vectors"),
    ],
)
def test_encoded_upsert_errors_name_the_callers_row(ids: list, vectors: list, payloads: object, words: str) -> None:
    with pytest.raises(sextant.InvalidArgumentError, match=words.replace("[", r"\[").replace("]", r"\]")):
        cv.encode_upsert_request("c", ids, vectors, payloads, offset=10)  # type: ignore[arg-type]


# ---------------------------------------------------------------- cluster layout


def test_create_collection_request_shards_and_replication():
    req = cv.create_collection_request(
        "docs", 4, "l2", None, None, None, None, None, False, None, None, None, None, None,
        shards=3, replication=2,
    )
    assert (req.shards, req.replication) == (3, 2)
    req = cv.create_collection_request(
        "docs", 4, "l2", None, None, None, None, None, False, None, None, None, None, None
    )
    assert (req.shards, req.replication) == (0, 0)
    for bad in (0, -1, True, "3", 2.0):
        with pytest.raises(sextant.InvalidArgumentError, match="shards"):
            cv.create_collection_request(
                "docs", 4, "l2", None, None, None, None, None, False, None, None, None, None, None,
                shards=bad,
            )
    with pytest.raises(sextant.InvalidArgumentError, match="replication"):
        cv.create_collection_request(
            "docs", 4, "l2", None, None, None, None, None, False, None, None, None, None, None,
            replication=0,
        )
