"""AWS CloudTrail: ``{"Records": [...]}`` files as delivered to S3, arrays, and JSON lines.

(``.json.gz`` and zip unwrapping is the archive layer's job: this reader sees plain JSON.)

Each record becomes an event with hint ``product: aws, service: cloudtrail``. Fields: the
top-level names as they are (``eventName``, ``eventSource``, ``errorCode``...) and nested ones with
dotted names (``userIdentity.arn``, ``requestParameters.vpcSet.items.vpcId``), following
`watchpost.readers.nested_fields` (objects also as JSON text, lists as lists). Timestamp:
``eventTime``, else ``@timestamp`` (Logstash-style exports such as OTRF's), in UTC. Origin: the
element number in a document, the line number in JSON lines.

Bad input: see `watchpost.readers.json_documents`; a record without a readable time keeps the
Unix epoch as timestamp and is reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import re2

from watchpost.events import Event, LogsourceHint, Origin
from watchpost.problems import ProblemLog
from watchpost.readers.base import Source
from watchpost.readers.json_documents import iter_json_records
from watchpost.readers.nested_fields import flatten_record
from watchpost.readers.record_times import record_time

CLOUDTRAIL = LogsourceHint(product="aws", service="cloudtrail")
TIME_KEYS = ("eventTime", "@timestamp")

_RECORDS_DOCUMENT = re2.compile(r'^\s*\{\s*"Records"\s*:\s*\[')


class CloudTrailReader:
    """Reads CloudTrail records; see the module docstring."""

    name = "cloudtrail"

    def sniff(self, head: bytes, source: Source) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace")
        if _RECORDS_DOCUMENT.search(text) is not None:
            return True
        return (
            text.lstrip()[:1] in ("{", "[")
            and '"eventSource"' in text
            and '"eventName"' in text
            and ('"eventVersion"' in text or '"awsRegion"' in text)
        )

    def read(self, source: Source, problems: ProblemLog) -> Iterator[Event]:
        for item in iter_json_records(source, problems, wrappers=("Records",)):
            yield self.event(item.record, Origin(source.name, item.place, item.kind), problems)

    @staticmethod
    def event(record: dict[str, Any], origin: Origin, problems: ProblemLog) -> Event:
        """The event of one CloudTrail record."""
        timestamp = record_time(record, TIME_KEYS, origin, problems)
        return Event(timestamp, flatten_record(record), origin, CLOUDTRAIL)
