"""Simulated cloud audit records: AWS CloudTrail and Google Cloud Audit Logs, one JSON per line.

CloudTrail records carry what the service writes for an API call made with the CLI, the console
or by an AWS service (``userIdentity`` of the right type, ``sessionContext`` for role sessions,
``invokedBy`` for service calls, ``tlsDetails``, ``readOnly``...), as CloudTrail Lake or a
delivery pipeline that unpacks the ``Records`` arrays writes them. Google entries are
``LogEntry`` objects with an ``AuditLog`` ``protoPayload`` in the Data Access log
(``cloudaudit.googleapis.com%2Fdata_access``), as a Cloud Storage sink exports them.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from watchpost.simulation.records import Label, Record, iso_micros, iso_seconds

CLI_AGENT = (
    "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.0-18-cloud-amd64 md/arch#x86_64 "
    "lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/command#{command}"
)
CONSOLE_AGENT = "console.ec2.amazonaws.com"
GCLOUD_AGENT = (
    "google-cloud-sdk gcloud/496.0.0 command/gcloud.{command} invocation-id/{invocation} "
    "environment/None client-os/LINUX interactive/True from-script/False python/3.11.9"
)


@dataclass(frozen=True, slots=True)
class AwsPrincipal:
    """Who calls: an IAM user, a role session, or an AWS service acting for the account."""

    kind: str  # "IAMUser" | "AssumedRole" | "AWSService"
    name: str
    account: str = "111122223333"
    session: str = ""
    invoked_by: str = ""

    def identity(self, access_key: str) -> dict[str, Any]:
        if self.kind == "AWSService":
            return {"type": "AWSService", "invokedBy": self.invoked_by}
        if self.kind == "IAMUser":
            return {
                "type": "IAMUser",
                "principalId": "AIDA4EXAMPLE" + self.name.upper()[:8],
                "arn": f"arn:aws:iam::{self.account}:user/{self.name}",
                "accountId": self.account,
                "accessKeyId": access_key,
                "userName": self.name,
            }
        identity: dict[str, Any] = {
            "type": "AssumedRole",
            "principalId": f"AROA4EXAMPLEROLEID:{self.session}",
            "arn": f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{self.session}",
            "accountId": self.account,
            "accessKeyId": access_key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROA4EXAMPLEROLEID",
                    "arn": f"arn:aws:iam::{self.account}:role/{self.name}",
                    "accountId": self.account,
                    "userName": self.name,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": "2024-10-21T08:58:12Z", "mfaAuthenticated": "false"},
            },
        }
        if self.invoked_by:
            identity["invokedBy"] = self.invoked_by
        return identity


class CloudLog:
    """Writes CloudTrail and GCP audit records; ids come from the seeded generator."""

    cloudtrail_log = "cloud/aws/cloudtrail.jsonl"
    gcp_log = "cloud/gcp/cloudaudit.jsonl"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    @property
    def logs(self) -> tuple[str, str]:
        return (self.cloudtrail_log, self.gcp_log)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def cloudtrail(
        self,
        principal: AwsPrincipal,
        time_us: int,
        source: str,
        name: str,
        *,
        address: str,
        agent: str,
        region: str = "eu-west-1",
        parameters: dict[str, Any] | None = None,
        read_only: bool = True,
        error: str | None = None,
        label: Label | None = None,
    ) -> Record:
        """One CloudTrail record of an API call."""
        service = source.split(".")[0]
        record: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": principal.identity("ASIA4EXAMPLE" + f"{self.rng.getrandbits(40):010X}"),
            "eventTime": iso_seconds(time_us),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": address,
            "userAgent": agent,
            "requestParameters": parameters,
            "responseElements": None,
            "requestID": self.uuid(),
            "eventID": self.uuid(),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": principal.account,
            "eventCategory": "Management",
        }
        if error is not None:
            record["errorCode"] = error
            record["errorMessage"] = "You are not authorized to perform this operation."
        if principal.kind != "AWSService":
            record["tlsDetails"] = {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": f"{service}.{region}.amazonaws.com",
            }
        text = orjson.dumps(record).decode()
        return Record(time_us, self.cloudtrail_log, lambda _n: text, label)

    def gcp_audit(
        self,
        principal: str,
        time_us: int,
        method: str,
        resource: str,
        *,
        address: str,
        agent: str,
        project: str = "prod-net-4711",
        label: Label | None = None,
    ) -> Record:
        """One Data Access audit entry of a Compute Engine (or other) read call."""
        service = (
            "compute.googleapis.com"
            if ".compute." in f".{method}"
            else method.split(".")[0] + ".googleapis.com"
        )
        permission = ".".join(method.split(".")[-3:]) if method.startswith(("v1.", "beta.")) else method
        entry = {
            "protoPayload": {
                "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "status": {},
                "authenticationInfo": {"principalEmail": principal},
                "requestMetadata": {
                    "callerIp": address,
                    "callerSuppliedUserAgent": agent,
                    "requestAttributes": {"time": iso_micros(time_us), "auth": {}},
                    "destinationAttributes": {},
                },
                "serviceName": service,
                "methodName": method,
                "authorizationInfo": [
                    {
                        "resource": f"projects/{project}/{resource}",
                        "permission": permission,
                        "granted": True,
                        "resourceAttributes": {"service": service},
                    }
                ],
                "resourceName": f"projects/{project}/{resource}",
                "request": {"@type": f"type.googleapis.com/{permission}"},
            },
            "insertId": f"-{self.rng.getrandbits(48):012x}",
            "resource": {
                "type": "gce_network" if "network" in method else "gce_project",
                "labels": {"project_id": project},
            },
            "timestamp": iso_micros(time_us),
            "severity": "INFO",
            "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2Fdata_access",
            "receiveTimestamp": iso_micros(time_us + 412_000),
        }
        text = orjson.dumps(entry).decode()
        return Record(time_us, self.gcp_log, lambda _n: text, label)
