"""watchpost on Apache Spark (the ``spark`` extra: ``pip install 'watchpost[spark]'``).

    from watchpost.spark import hunt, hunt_table
    for alert in hunt(spark, ["s3://bucket/logs/"], rules=["rules/"]):
        ...

`hunt` reads files and URLs in Spark tasks, `hunt_table` the rows of a DataFrame; both give the
alerts of a local hunt, correlations included (docs/spark.md). The runner lives in
`watchpost.hunting.spark`, next to the local and ``--jobs`` runners.
"""

from __future__ import annotations

from watchpost.hunting.records import RecordOrigin, events_from_records
from watchpost.hunting.spark import SparkHunt, hunt, hunt_table
from watchpost.hunting.spark_session import session

__all__ = ["RecordOrigin", "SparkHunt", "events_from_records", "hunt", "hunt_table", "session"]
