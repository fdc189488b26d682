"""Workloads on the live network: trivial write/read, grant, request-access (1 and 100 records), access check.

Set-up registers the demo users (idempotently) and creates the records a workload needs, with wrapped
keys of a real JWE's size (the chaincode checks their shape; it never opens them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from careledger.connection import connect
from careledger.errors import Conflict
from careledger.json_types import JsonArgument
from careledger.ledger import BlockReader
from careledger.services import Session
from careledger_protocol import Purpose
from fabric_gateway import Contract, Gateway
from joserfc.jwk import ECKey

from .node import run_node
from .runner import Result, run

# Shaped like ECDH-ES+A256KW JSON serialization of a 32-byte key: ~650 bytes.
_SIZED_JWE: dict[str, JsonArgument] = {
    "protected": "eyJlbmMiOiJBMjU2R0NNIn0",
    "recipients": [
        {
            "header": {
                "alg": "ECDH-ES+A256KW",
                "kid": "k" * 43,
                "epk": {"kty": "EC", "crv": "P-256", "x": "x" * 43, "y": "y" * 43},
            },
            "encrypted_key": "e" * 54,
        }
    ],
    "iv": "i" * 16,
    "ciphertext": "c" * 43,
    "tag": "t" * 22,
}
USERS = {
    "h1-admin": "hospital1",
    "h2-admin": "hospital2",
    "h1-clinician-1": "hospital1",
    "h1-researcher-1": "hospital1",
    "h1-patient-1": "hospital1",
    "h2-clinician-1": "hospital2",
    "ha-auditor-1": "healthauthority",
}
SETTLE_USERS = ("h1-admin", "h2-admin", "ha-auditor-1")  # one per org: each asks its own peer (blocks: readers)
# Ledger ids (<member_id>@<MSP>) of the users the workloads name in arguments.
PATIENT, RESEARCHER, READER = "h1-patient-1@Hospital1MSP", "h1-researcher-1@Hospital1MSP", "h2-clinician-1@Hospital2MSP"
DIAG_USER = "h1-admin"  # the diag contract is for admins only
SETTLE_TIMEOUT = 30.0


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Bench:
    profiles: Path
    channel: str = "careledger"
    chaincode: str = "careledger"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    gateways: dict[str, Gateway] = field(default_factory=dict)

    def _gateway(self, user: str) -> Gateway:
        if user not in self.gateways:
            self.gateways[user] = connect(self.profiles / f"{USERS[user]}.json", user)
        return self.gateways[user]

    def contract(self, user: str, name: str = "") -> Contract:
        return self._gateway(user).network(self.channel).contract(self.chaincode, name)

    def close(self) -> None:
        for gw in self.gateways.values():
            gw.close()

    def register_users(self) -> None:
        for user in USERS:
            jwk = json.dumps(ECKey.generate_key("P-256").as_dict(private=False))
            function = "RegisterOrganizationKey" if user.endswith("admin") else "RegisterMember"
            with contextlib.suppress(Conflict):  # registered by an earlier run
                self.contract(user).submit_transaction(function, jwk)

    def create_records(self, count: int, tag: str, concurrency: int = 32) -> list[str]:
        batch_id = uuid.uuid4().hex[:6]  # every set-up gets fresh records
        ids = [f"b-{self.run_id}-{tag}-{batch_id}-{i}" for i in range(count)]
        clinician = self.contract("h1-clinician-1")
        keys = {"wrapped_keys": json.dumps({PATIENT: _SIZED_JWE, "org:Hospital1MSP": _SIZED_JWE}).encode()}

        def create(i: int) -> None:
            doc = {
                "record_id": ids[i],
                "patient_id": PATIENT,
                "category": f"bench-{self.run_id}",
                "resource_type": "Observation",
                "ciphertext_sha256": _sha(ids[i]),
                "size": 4096,
                "locator": f"sha256/{_sha(ids[i])}",
            }
            clinician.submit_transaction("CreateRecord", json.dumps(doc), transient=keys)

        result = run("create-record (set-up)", create, concurrency=concurrency, operations=count)
        if result.errors:
            raise RuntimeError(f"set-up failed: {result.error_samples}")
        self.settle()
        return ids

    def settle(self) -> None:
        """Wait until every org's peer has committed what set-up wrote.

        A submit returns once the client's gateway peer committed; another org's peer may be a block
        behind for a moment, and a transaction it endorsed then would disagree with the others (the
        gateway refuses such mismatched endorsements). Measurements start from a settled ledger."""
        readers = {user: BlockReader(self._gateway(user), self.channel) for user in SETTLE_USERS}
        target = max(reader.height()[0] for reader in readers.values())
        deadline = time.monotonic() + SETTLE_TIMEOUT
        for user, reader in readers.items():
            while reader.height()[0] < target:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the peer of {USERS[user]} did not reach block {target} in {SETTLE_TIMEOUT} s")
                time.sleep(0.02)

    def grant(self, records: list[str], grantee: str, purposes: list[str]) -> str:
        doc = {"grantee": grantee, "record_ids": records, "purposes": purposes, "valid_until": "2099-01-01T00:00:00Z"}
        keys = {"wrapped_keys": json.dumps(dict.fromkeys(records, _SIZED_JWE)).encode()}
        granted = self.contract("h1-patient-1").submit_transaction("GrantConsent", json.dumps(doc), transient=keys)
        return str(json.loads(granted)["id"])

    # -- workloads ---------------------------------------------------------------------------------------------
    def trivial_write(self, concurrency: int, operations: int) -> Result:
        diag = self.contract(DIAG_USER, "diag")
        return run(
            "trivial write, Python client",
            lambda i: diag.submit_transaction("Put", f"bench-{i % 1000}", "v"),
            concurrency=concurrency,
            operations=operations,
        )

    def write_keys(self, concurrency: int, operations: int, keys: int) -> Result:
        """Like the trivial write with `keys` keys of 300 bytes (an audit event's size): the cost per key."""
        diag = self.contract(DIAG_USER, "diag")
        return run(
            f"write {keys} keys, Python client",
            lambda i: diag.submit_transaction("PutMany", f"bench-many-{i % 1000}", str(keys), "300"),
            concurrency=concurrency,
            operations=operations,
        )

    def trivial_read(self, concurrency: int, operations: int) -> Result:
        diag = self.contract(DIAG_USER, "diag")
        diag.submit_transaction("Put", "bench-read", "v")
        return run(
            "trivial read, Python client",
            lambda i: diag.evaluate_transaction("Get", "bench-read"),
            concurrency=concurrency,
            operations=operations,
        )

    def grants(self, concurrency: int, operations: int) -> Result:
        records = self.create_records(operations, "grant")
        patient = self.contract("h1-patient-1")

        def grant(i: int) -> None:
            doc = {
                "grantee": RESEARCHER,
                "record_ids": [records[i]],
                "purposes": [Purpose.RESEARCH],
                "valid_until": "2099-01-01T00:00:00Z",
            }
            keys = {"wrapped_keys": json.dumps({records[i]: _SIZED_JWE}).encode()}
            patient.submit_transaction("GrantConsent", json.dumps(doc), transient=keys)

        return run("grant (1 record)", grant, concurrency=concurrency, operations=operations)

    def revokes(self, concurrency: int, operations: int) -> Result:
        """RevokeConsent of 1-record grants (set-up: the records and one grant each, made first)."""
        records = self.create_records(operations, "revoke")
        patient = self.contract("h1-patient-1")
        grant_ids: list[str] = []

        def grant(i: int) -> None:
            grant_ids.append(self.grant([records[i]], RESEARCHER, [Purpose.RESEARCH]))

        made = run("grant (set-up)", grant, concurrency=concurrency, operations=operations)
        if made.errors:
            raise RuntimeError(f"set-up failed: {made.error_samples}")
        self.settle()
        return run(
            "revoke (1 record)",
            lambda i: patient.submit_transaction("RevokeConsent", grant_ids[i]),
            concurrency=concurrency,
            operations=operations,
        )

    def create_record_end_to_end(self, concurrency: int, operations: int) -> Result:
        """What a hospital app does per new record: validate, encrypt, wrap the key for every entitled
        recipient, submit CreateRecord, upload the ciphertext to its store."""
        session = Session.open(self.profiles / "hospital1.json", "h1-clinician-1")
        resource = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "Haemoglobin"},
            "valueQuantity": {"value": 13.5, "unit": "g/dL"},
            "note": [{"text": "x" * 3500}],  # about the 4 KiB of the encryption workload
        }
        category = f"bench-{self.run_id}"
        try:
            return run(
                "create-record (encrypt + store)",
                lambda i: session.create_record(PATIENT, resource, category),
                concurrency=concurrency,
                operations=operations,
            )
        finally:
            session.close()

    def request_access(self, concurrency: int, operations: int, batch: int) -> Result:
        records = self.create_records(batch, f"ra{batch}")
        self.grant(records, READER, [Purpose.TREATMENT, Purpose.DIAGNOSIS_AI])
        self.settle()
        clinician = self.contract("h2-clinician-1")
        request = json.dumps({"record_ids": records, "purpose": Purpose.TREATMENT})

        def access(i: int) -> None:
            clinician.submit_transaction("RequestAccess", request)

        return run(
            f"request-access ({batch} record{'s' if batch > 1 else ''})",
            access,
            concurrency=concurrency,
            operations=operations,
            units_per_op=batch,
        )

    def access_check(self, concurrency: int, operations: int) -> Result:
        """The access decision as an evaluate (nothing recorded): what a UI calls to show what is allowed."""
        records = self.create_records(1, "check")
        self.grant(records, READER, [Purpose.TREATMENT])
        self.settle()
        clinician = self.contract("h2-clinician-1")
        request = json.dumps({"record_ids": records, "purpose": Purpose.TREATMENT})
        return run(
            "access check (evaluate)",
            lambda i: clinician.evaluate_transaction("RequestAccess", request),
            concurrency=concurrency,
            operations=operations,
        )

    def node_trivial_write(self, concurrency: int, operations: int) -> Result:
        return run_node(
            "trivial write, Node client",
            self.profiles / "hospital1.json",
            DIAG_USER,
            "submit",
            "diag:Put",
            concurrency,
            operations,
        )

    def node_trivial_read(self, concurrency: int, operations: int) -> Result:
        self.contract(DIAG_USER, "diag").submit_transaction("Put", "bench-read", "v")
        return run_node(
            "trivial read, Node client",
            self.profiles / "hospital1.json",
            DIAG_USER,
            "evaluate",
            "diag:Get",
            concurrency,
            operations,
        )


WORKLOADS: dict[str, Callable[[Bench, int, int], Result]] = {
    "trivial-write": Bench.trivial_write,
    "trivial-read": Bench.trivial_read,
    "node-trivial-write": Bench.node_trivial_write,
    "node-trivial-read": Bench.node_trivial_read,
    "write-4-keys": lambda b, c, n: b.write_keys(c, n, 4),
    "write-16-keys": lambda b, c, n: b.write_keys(c, n, 16),
    "grant": Bench.grants,
    "revoke": Bench.revokes,
    "create-record": Bench.create_record_end_to_end,
    "request-access-1": lambda b, c, n: b.request_access(c, n, 1),
    "request-access-100": lambda b, c, n: b.request_access(c, n, 100),
    "access-check": Bench.access_check,
}
