"""SigmaHQ rules through the whole engine on the project's auditd fixtures.

The Linux process_creation rule sees the derived events (one per execve); SigmaHQ's auditd rules
see one event per record.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import watchpost.hunting.engine as engine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "linux"
RULES = Path(__file__).resolve().parents[3] / "shared" / "sigma" / "rules"
NETWORK_CONNECTIONS = (
    RULES / "linux" / "process_creation" / "proc_creation_lnx_system_network_connections_discovery.yml"
)
NETWORK_CONNECTIONS_ID = "4c519226-f0cd-4471-bd2f-6fbb2bb68a79"
USER_DISCOVERY = RULES / "linux" / "auditd" / "execve" / "lnx_auditd_user_discovery.yml"
USER_DISCOVERY_ID = "9a0d8ca0-2385-4020-b6c6-cb6153ca56f3"
C2_COMMANDS = RULES / "linux" / "auditd" / "lnx_auditd_susp_c2_commands.yml"
C2_COMMANDS_ID = "f7158a64-6204-4d6d-868a-6e6378b467e0"


def fired(paths: list[Path], rules: list[Path]) -> list[tuple[str, str]]:
    """(rule id, what ran: Image, else exe, else a0 of the first event) of every alert."""
    found = []
    for alert in engine.hunt(paths, rules=rules):
        event = alert.events[0]
        found.append((alert.rule.id, str(event.get("Image") or event.get("exe") or event.get("a0"))))
    return found


def rule_id(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("id:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no id in {path}")


def test_rule_ids_are_the_expected_ones() -> None:
    assert rule_id(NETWORK_CONNECTIONS) == NETWORK_CONNECTIONS_ID
    assert rule_id(USER_DISCOVERY) == USER_DISCOVERY_ID
    assert rule_id(C2_COMMANDS) == C2_COMMANDS_ID


@pytest.mark.parametrize(
    "name",
    ["auditd_raw_t1049.log", "auditd_enriched_t1049.log", "auditd_interpreted_t1049.txt"],
)
def test_network_connections_discovery_fires_on_the_derived_process_creation(name: str) -> None:
    alerts = fired([FIXTURES / name], [NETWORK_CONNECTIONS])
    assert alerts == [
        (NETWORK_CONNECTIONS_ID, "/usr/bin/netstat"),
        (NETWORK_CONNECTIONS_ID, "/usr/bin/lsof"),
        (NETWORK_CONNECTIONS_ID, "/usr/bin/who"),
        (NETWORK_CONNECTIONS_ID, "/usr/bin/w"),
    ]  # ss is not in the rule's list; bash and grep are no discovery


def test_landscape_sysinfo_running_who_is_filtered_out() -> None:
    alerts = fired([FIXTURES / "auditd_two_nodes.log"], [NETWORK_CONNECTIONS])
    # netstat on db02 fires; who under /usr/bin/landscape-sysinfo on ubu01 is the rule's filter.
    assert alerts == [(NETWORK_CONNECTIONS_ID, "/usr/bin/netstat")]


def test_user_discovery_matches_per_execve_record() -> None:
    alerts = fired([FIXTURES / "auditd_raw_t1049.log"], [USER_DISCOVERY])
    assert alerts == [(USER_DISCOVERY_ID, "who"), (USER_DISCOVERY_ID, "w")]


def test_auditd_key_rule_matches_syscall_records() -> None:
    alerts = fired([FIXTURES / "auditd_raw_t1049.log"], [C2_COMMANDS])
    # key="susp_activity" is on the SYSCALL records of netstat and ss; the derived process_creation
    # events carry the key too but are no auditd service events, so they do not count twice.
    assert Counter(alerts) == Counter(
        {(C2_COMMANDS_ID, "/usr/bin/netstat"): 1, (C2_COMMANDS_ID, "/usr/sbin/ss"): 1}
    )
