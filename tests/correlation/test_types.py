"""Each correlation type on the specification's own examples (rules as written there)."""

from __future__ import annotations

from .support import load, match, records, run

FAILED_LOGIN = """
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
"""

MANY_FAILED = (
    FAILED_LOGIN
    + """
---
title: Many failed logins
id: 0e95725d-7320-415d-80f7-004da920fc11
correlation:
    type: event_count
    rules:
        - 53ba33fd-3a50-4468-a5ef-c583635cfa92
    group-by:
        - ComputerName
    timespan: 1h
    condition:
        gte: 100
"""
)


def test_event_count_fires_at_the_hundredth_failure_on_one_host() -> None:
    loaded = load(MANY_FAILED)
    failed = loaded.rule("failed_login")
    matches = [match(failed, i * 30, ComputerName="dc1") for i in range(100)]
    alerts = run(loaded.specs, matches)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.correlation is not None and alert.correlation.value == 100
    assert alert.group == (("ComputerName", "dc1"),)
    assert len(alert.events) == 100 and set(alert.event_rules) == {failed.id}
    assert alert.timestamp == matches[-1].event.timestamp


def test_event_count_needs_the_count_on_one_host_within_the_hour() -> None:
    loaded = load(MANY_FAILED)
    failed = loaded.rule("failed_login")
    ninety_nine = [match(failed, i, ComputerName="dc1") for i in range(99)]
    split = [match(failed, i, ComputerName="dc1" if i % 2 else "dc2") for i in range(100)]
    spread = [match(failed, i * 37, ComputerName="dc1") for i in range(100)]  # 100 over 61 minutes
    assert run(loaded.specs, ninety_nine) == []
    assert run(loaded.specs, split) == []
    assert run(loaded.specs, spread) == []


def test_event_count_window_slides_across_clock_hours() -> None:
    loaded = load(MANY_FAILED)
    failed = loaded.rule("failed_login")
    # 10:40 .. 11:19:30, never 100 in one clock hour, 100 within 40 minutes
    matches = [match(failed, 2400 + i * 24, ComputerName="dc1") for i in range(100)]
    alerts = run(loaded.specs, matches)
    assert len(alerts) == 1
    assert alerts[0].correlation is not None and alerts[0].correlation.value == 100


VALUE_COUNT = (
    FAILED_LOGIN
    + """
---
title: Failed login
id: 0e95725d-7320-415d-80f7-004da920fc12
correlation:
    type: value_count
    rules:
        - 53ba33fd-3a50-4468-a5ef-c583635cfa92
    group-by:
        - ComputerName
        - WorkstationName
    timespan: 1d
    condition:
        field: User
        gte: 100
"""
)


def test_value_count_counts_distinct_users_per_source_and_destination() -> None:
    loaded = load(VALUE_COUNT)
    failed = loaded.rule("failed_login")
    hundred = [
        match(failed, i * 60, ComputerName="dc1", WorkstationName="ws7", User=f"user{i}") for i in range(100)
    ]
    alerts = run(loaded.specs, hundred)
    assert len(alerts) == 1
    assert alerts[0].correlation is not None and alerts[0].correlation.value == 100
    assert alerts[0].group == (("ComputerName", "dc1"), ("WorkstationName", "ws7"))


def test_value_count_ignores_repeats_and_case_and_other_workstations() -> None:
    loaded = load(VALUE_COUNT)
    failed = loaded.rule("failed_login")
    repeats = [
        match(failed, i, ComputerName="dc1", WorkstationName="ws7", User=f"user{i % 99}") for i in range(150)
    ]
    cased = [
        match(failed, 200 + i, ComputerName="dc1", WorkstationName="ws7", User="USER0") for i in range(5)
    ]
    elsewhere = [match(failed, 300, ComputerName="dc1", WorkstationName="ws8", User="new")]
    assert run(loaded.specs, repeats + cased + elsewhere) == []


TEMPORAL = """
title: recon a
name: recon_cmd_a
logsource: {product: windows, category: process_creation}
detection: {selection: {Image|endswith: '\\whoami.exe'}, condition: selection}
---
title: recon b
name: recon_cmd_b
logsource: {product: windows, category: process_creation}
detection: {selection: {Image|endswith: '\\netstat.exe'}, condition: selection}
---
title: recon c
name: recon_cmd_c
logsource: {product: windows, category: process_creation}
detection: {selection: {Image|endswith: '\\net.exe'}, condition: selection}
---
title: Recon commands
correlation:
    type: temporal
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
"""


def test_temporal_fires_for_all_three_in_any_order_within_five_minutes() -> None:
    loaded = load(TEMPORAL)
    a, b, c = (loaded.rule(f"recon_cmd_{x}") for x in "abc")
    matches = [
        match(c, 0, ComputerName="pc1", User="eve"),
        match(a, 100, ComputerName="pc1", User="eve"),
        match(b, 299, ComputerName="pc1", User="eve"),
    ]
    alerts = run(loaded.specs, matches)
    assert len(alerts) == 1
    assert alerts[0].event_rules == (c.id, a.id, b.id)
    assert alerts[0].correlation is not None and alerts[0].correlation.value == 3


def test_temporal_needs_every_rule_same_user_same_host_within_timespan() -> None:
    loaded = load(TEMPORAL)
    a, b, c = (loaded.rule(f"recon_cmd_{x}") for x in "abc")
    two = [match(a, 0, ComputerName="pc1", User="eve"), match(b, 1, ComputerName="pc1", User="eve")]
    other_user = [*two, match(c, 2, ComputerName="pc1", User="bob")]
    too_late = [*two, match(c, 301, ComputerName="pc1", User="eve")]
    assert run(loaded.specs, two) == []
    assert run(loaded.specs, other_user) == []
    assert run(loaded.specs, too_late) == []


CHAINED = """
title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
"""


def test_temporal_ordered_chained_failed_logins_then_success() -> None:
    loaded = load(CHAINED)
    failed, success = loaded.rule("failed_login"), loaded.rule("successful_login")
    matches = [match(failed, i * 10, User="alice") for i in range(10)] + [match(success, 120, User="alice")]
    alerts = run(loaded.specs, matches)
    assert [a.rule.title for a in alerts] == [
        "Correlation - Multiple Failed Logins Followed by Successful Login"
    ]
    alert = alerts[0]
    assert alert.rule.kind == "correlation" and alert.rule.level == "high"
    assert alert.event_rules == (failed.id,) * 10 + (success.id,)
    assert records(alert) == [m.event.origin.record for m in matches]
    assert alert.group == (("User", "alice"),)


def test_temporal_ordered_chained_rejects_wrong_order_short_burst_and_other_user() -> None:
    loaded = load(CHAINED)
    failed, success = loaded.rule("failed_login"), loaded.rule("successful_login")
    success_first = [match(success, 0, User="alice")] + [
        match(failed, 1 + i, User="alice") for i in range(10)
    ]
    nine = [match(failed, i, User="alice") for i in range(9)] + [match(success, 20, User="alice")]
    other = [match(failed, i, User="alice") for i in range(10)] + [match(success, 20, User="bob")]
    assert run(loaded.specs, success_first) == []
    assert run(loaded.specs, nine) == []
    assert run(loaded.specs, other) == []


ALIASES = """
title: internal error
name: internal_error
logsource: {category: webserver}
detection:
    selection:
        http.response.status_code: 500
    condition: selection
---
title: new network connection
name: new_network_connection
logsource: {category: network_connection}
detection:
    selection:
        event.category: network
        event.type: connection
        event.outcome: success
    condition: selection
---
title: Error then connection back
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
"""


def test_aliases_join_different_fields_of_different_rules() -> None:
    loaded = load(ALIASES)
    error, connection = loaded.rule("internal_error"), loaded.rule("new_network_connection")
    matches = [
        match(error, 0, **{"destination.ip": "10.0.0.5", "source.ip": "203.0.113.9"}),
        match(connection, 4, **{"source.ip": "10.0.0.5", "destination.ip": "203.0.113.9"}),
    ]
    alerts = run(loaded.specs, matches)
    assert len(alerts) == 1
    assert alerts[0].group == (("internal_ip", "10.0.0.5"), ("remote_ip", "203.0.113.9"))


def test_aliases_do_not_join_the_same_field_names() -> None:
    loaded = load(ALIASES)
    error, connection = loaded.rule("internal_error"), loaded.rule("new_network_connection")
    same_direction = [
        match(error, 0, **{"destination.ip": "10.0.0.5", "source.ip": "203.0.113.9"}),
        match(connection, 4, **{"destination.ip": "10.0.0.5", "source.ip": "203.0.113.9"}),
    ]
    late = [
        match(error, 0, **{"destination.ip": "10.0.0.5", "source.ip": "203.0.113.9"}),
        match(connection, 11, **{"source.ip": "10.0.0.5", "destination.ip": "203.0.113.9"}),
    ]
    assert run(loaded.specs, same_direction) == []
    assert run(loaded.specs, late) == []


TRAFFIC = """
title: outbound traffic
id: 7c3ad0b2-3c4d-4a49-9c44-6d3b1f0f3a11
name: rule_a_id
logsource: {category: firewall}
detection: {selection: {action: allow}, condition: selection}
"""

AVERAGE = (
    TRAFFIC
    + """
---
title: Suspicious average network traffic
correlation:
    type: value_avg
    rules:
        - rule_a_id
    group-by:
        - SourceIP
        - User
    timespan: 24h
    condition:
        field: BytesOut
        gt: 500
"""
)


def test_value_avg_is_decided_over_the_whole_window() -> None:
    loaded = load(AVERAGE)
    rule = loaded.rule("rule_a_id")
    high = [
        match(rule, i * 3600, SourceIP="10.1.1.1", User="u", BytesOut=b)
        for i, b in enumerate([900, 400, 600])
    ]
    low = [
        match(rule, i * 3600, SourceIP="10.1.1.2", User="u", BytesOut=b)
        for i, b in enumerate([900, 100, 200])
    ]
    alerts = run(loaded.specs, high + low)
    assert len(alerts) == 1
    assert alerts[0].group == (("SourceIP", "10.1.1.1"), ("User", "u"))
    assert alerts[0].correlation is not None and alerts[0].correlation.value == 1900 / 3
    assert alerts[0].extra["decided"] == "window_end"


def test_value_sum_and_percentile_measure_the_field() -> None:
    text = (
        TRAFFIC
        + """
---
title: Exfiltration volume
correlation:
    type: value_sum
    rules: [rule_a_id]
    group-by: [User]
    timespan: 1h
    condition: {field: BytesOut, gte: 1000000}
---
title: Large transfers are the norm
correlation:
    type: value_percentile
    rules: [rule_a_id]
    group-by: [User]
    timespan: 1h
    condition: {field: BytesOut, percentile: 90, gt: 50000}
"""
    )
    loaded = load(text)
    rule = loaded.rule("rule_a_id")
    sizes = [400_000, "300000", 299_999, 1, 120_000]
    matches = [match(rule, i * 60, User="mallory", BytesOut=size) for i, size in enumerate(sizes)]
    matches.append(match(rule, 400, User="mallory", BytesOut="n/a"))  # not a number: not measured
    alerts = {a.rule.title: a for a in run(loaded.specs, matches)}
    total = alerts["Exfiltration volume"]
    assert total.correlation is not None and total.correlation.value == 1_000_000
    assert len(total.events) == 4  # fired on arrival of the 4th transfer
    high = alerts["Large transfers are the norm"]
    # sorted [1, 120000, 299999, 300000, 400000]: position 0.9 * 4 = 3.6 -> 300000 + 0.6 * 100000
    assert high.correlation is not None and high.correlation.value == 360_000
    assert len(high.events) == 5


def test_value_percentile_of_the_specification_test_needs_a_percentile() -> None:
    loaded = load(
        TRAFFIC
        + """
---
title: A computer spawned a processes name in the last 24h than 1% of all the processes.
correlation:
    type: value_percentile
    rules:
        - rule_a_id
    group-by:
        - ComputerName
    timespan: 24h
    condition:
        field: image
        lte: 1
"""
    )
    assert loaded.specs == []
    assert [p.reason for p in loaded.problems] == [
        "a value_percentile correlation needs 'percentile' between 0 and 100 in its condition"
    ]
