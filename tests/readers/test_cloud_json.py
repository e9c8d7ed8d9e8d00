"""The JSON plumbing of the cloud readers: record layouts, damaged documents, field flattening."""

from __future__ import annotations

import io

from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.json_documents import JsonRecord, iter_json_records
from watchpost.readers.nested_fields import flatten_record


def records(data: bytes, wrappers: tuple[str, ...] = ("Records",)) -> tuple[list[JsonRecord], ProblemLog]:
    problems = ProblemLog()
    source = Source("test.json", lambda: io.BytesIO(data))
    return list(iter_json_records(source, problems, wrappers)), problems


def test_wrapped_document() -> None:
    found, problems = records(b'{"Records": [{"a": 1}, {"a": 2}]}')
    assert [(r.record["a"], r.place, r.kind) for r in found] == [(1, 1, "element"), (2, 2, "element")]
    assert problems.count() == 0


def test_pretty_printed_array_and_single_object() -> None:
    found, _ = records(b'[\n  {\n    "a": 1\n  },\n  {\n    "a": 2\n  }\n]\n')
    assert [(r.record["a"], r.place) for r in found] == [(1, 1), (2, 2)]
    single, _ = records(b'{\n  "a": 1\n}\n')
    assert [(r.record, r.place, r.kind) for r in single] == [({"a": 1}, 1, "element")]


def test_json_lines_with_a_bad_line_and_a_wrapper_line() -> None:
    data = b'\xef\xbb\xbf{"a": 1}\n\n{"a": \n{"Records": [{"a": 3}, {"a": 4}]}\n[5]\n'
    found, problems = records(data)
    assert [(r.record["a"], r.place, r.kind) for r in found] == [
        (1, 1, "line"),
        (3, 1, "element"),
        (4, 2, "element"),
    ]
    assert [p.place for p in problems.problems] == ["line 3", "line 5"]
    assert "unreadable JSON line" in problems.problems[0].reason
    assert problems.problems[1].reason == "not a JSON object"


def test_truncated_document_keeps_the_records_before_the_damage() -> None:
    found, problems = records(b'{"Records": [{"a": 1}, {"a": 2}, {"a": 3, "b": "cut here')
    assert [r.record["a"] for r in found] == [1, 2]
    assert [p.place for p in problems.problems] == ["element 3"]
    assert "unreadable JSON document from here on" in problems.problems[0].reason


def test_text_after_the_document_is_reported() -> None:
    found, problems = records(b'[{"a": 1}] trailing garbage')
    assert [r.record["a"] for r in found] == [1]
    assert problems.count() == 1
    assert "after the record list" in problems.problems[0].reason


def test_not_json_at_all() -> None:
    found, problems = records(b"hello world\n")
    assert found == []
    assert problems.count() == 1
    assert problems.problems[0].place is None


def test_elements_that_are_not_objects() -> None:
    found, problems = records(b'{"Records": [{"a": 1}, 7, "x"]}')
    assert [r.record["a"] for r in found] == [1]
    assert [p.place for p in problems.problems] == ["element 2", "element 3"]


def test_flatten_scalars_objects_and_lists() -> None:
    fields = flatten_record(
        {
            "eventName": "DescribeSubnets",
            "responseElements": None,
            "readOnly": True,
            "requestParameters": {
                "subnetSet": {},
                "filterSet": {
                    "items": [
                        {"name": "vpc-id", "valueSet": {"items": [{"value": "vpc-1"}]}},
                        {
                            "name": "state",
                            "valueSet": {"items": [{"value": "available"}, {"value": "pending"}]},
                        },
                    ]
                },
            },
            "resources": [{"ARN": "arn:1"}, {"ARN": "arn:2"}],
            "tags": ["a", "b"],
        }
    )
    assert fields["eventName"] == "DescribeSubnets"
    assert fields["responseElements"] is None
    assert fields["readOnly"] is True
    assert fields["requestParameters.subnetSet"] == "{}"
    assert fields["requestParameters.filterSet.items.name"] == ["vpc-id", "state"]
    assert fields["requestParameters.filterSet.items.valueSet.items.value"] == [
        "vpc-1",
        "available",
        "pending",
    ]
    assert fields["requestParameters.filterSet.items"] == [
        '{"name":"vpc-id","valueSet":{"items":[{"value":"vpc-1"}]}}',
        '{"name":"state","valueSet":{"items":[{"value":"available"},{"value":"pending"}]}}',
    ]
    assert fields["resources.ARN"] == ["arn:1", "arn:2"]
    assert fields["tags"] == ["a", "b"]
    assert isinstance(fields["requestParameters"], str)
    assert '"name":"state"' in fields["requestParameters"]


def test_flatten_with_prefix() -> None:
    assert flatten_record({"a": {"b": 1}}, prefix="data.") == {"data.a": '{"b":1}', "data.a.b": 1}
