"""Authorization matrix on the live network: function x role x own/other org, through real transactions.

Writes that must be refused are endorsed only (a refusal fails endorsement, so nothing reaches the
orderer); writes that must be allowed are submitted and must commit VALID.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from careledger.connection import connect
from careledger.errors import EndorseError
from careledger.services import Session
from careledger_network.network import Network
from fabric_gateway import Contract, Gateway

from .authorization_cases import CASES
from .authorization_scene import (
    RUN,
    USERS,
    Scene,
    inference_batch,
    jwe,
    model_doc,
    policy_for_scene,
    q,
    record_doc,
    reproduction_doc,
    split_private,
)
from .conftest import eventually, known

pytestmark = pytest.mark.network


def _reaches(s: Scene, user: str, function: str, *args: str) -> None:
    """Wait until `user`'s peer has what `function` reads, written through another organization's peer."""
    eventually(lambda: known(partial(s.call, user, function, *args, write=False)), f"{function} {args} for {user}")


@pytest.fixture(scope="module")
def scene(network: Network) -> Iterator[Scene]:
    gateways: list[Gateway] = []
    contracts: dict[str, Contract] = {}
    for user, org in USERS.items():
        gw = connect(network.state / "profiles" / f"{org}.json", user)
        gateways.append(gw)
        contracts[user] = gw.network(network.c.channel).contract(network.c.chaincode_name)
    for user, org in USERS.items():  # encryption keys kept in the wallets, as every flow expects
        with Session.open(network.state / "profiles" / f"{org}.json", user) as session:
            session.register()
    s = Scene(contracts, f"mx-{RUN}-r1", f"mx-{RUN}-r2", f"mx-{RUN}-r3", "", f"matrix-{RUN}", "")
    s.call("h1-clinician-1", "CreateRecord", record_doc(s.record, q("h1-patient-1"), "Hospital1MSP"), write=True)
    s.call("h1-clinician-1", "CreateRecord", record_doc(s.spare_record, q("h1-patient-1"), "Hospital1MSP"), write=True)
    s.call("h2-clinician-1", "CreateRecord", record_doc(s.other_record, q("h2-patient-1"), "Hospital2MSP"), write=True)
    grant = {
        "grantee": q("h2-clinician-1"),
        "record_ids": [s.record],
        "purposes": ["treatment", "diagnosis-ai"],
        "valid_until": "2099-01-01T00:00:00Z",
        "wrapped_keys": {s.record: jwe("g")},
    }
    s.grant = s.call("h1-patient-1", "GrantConsent", grant, write=True)["id"]
    s.call("h1-researcher-1", "RegisterModel", model_doc("1.0.0"), write=True)
    s.call("ha-auditor-1", "SetApprovalPolicy", policy_for_scene(s)[0], write=True)
    _reaches(s, "h2-clinician-1", "GetGrant", s.grant)  # granted through Hospital1's peer
    s.access_tx = s.call(
        "h2-clinician-1", "RequestAccess", {"record_ids": [s.record], "purpose": "treatment"}, write=True
    )["tx_id"]
    # An approved version's inference on the record, for the oversight and trace cases.
    s.call("h1-researcher-1", "RegisterModel", model_doc("2.0.0"), write=True)
    _reaches(s, "ha-auditor-1", "GetModel", s.model, "2.0.0")  # registered through Hospital1's peer
    s.call("ha-auditor-1", "ApproveModel", s.model, "2.0.0", reproduction_doc("2.0.0"), write=True)
    ai_access = s.call(
        "h2-clinician-1", "RequestAccess", {"record_ids": [s.record], "purpose": "diagnosis-ai"}, write=True
    )["tx_id"]
    s.inference = (
        s.call("h2-clinician-1", "RecordInferences", inference_batch(s, ai_access, "2.0.0"), write=True)["tx_id"] + ":0"
    )
    yield s
    for gw in gateways:
        gw.close()


@pytest.mark.parametrize(
    ("user", "function", "args", "write", "allowed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_authorization(
    scene: Scene, user: str, function: str, args: Callable[[Scene], list[Any]], write: bool, allowed: bool
) -> None:
    contract = scene.contracts[user]
    encoded, transient = split_private(args(scene))
    if allowed:
        if write:
            transaction = contract.new_proposal(function, encoded, transient=transient).endorse()
            assert transaction.submit().status().successful
        else:
            contract.evaluate_transaction(function, *encoded, transient=transient)
        return
    step = (
        contract.new_proposal(function, encoded, transient=transient).endorse
        if write
        else lambda: contract.evaluate_transaction(function, *encoded, transient=transient)
    )
    with pytest.raises(EndorseError) as info:
        step()
    assert info.value.code == "NOT_AUTHORIZED", str(info.value)


@pytest.mark.parametrize(
    ("user", "record_attr", "purpose", "decision"),
    [
        ("h2-clinician-1", "record", "treatment", "allowed"),  # consent, other org
        ("h2-clinician-1", "record", "research", "denied"),  # wrong purpose and role
        ("h1-clinician-1", "record", "treatment", "denied"),  # custodian clinician without consent
        ("h1-patient-1", "record", "treatment", "allowed"),  # the patient's own record
        ("h2-patient-1", "record", "treatment", "denied"),  # another patient
        ("h1-researcher-1", "other_record", "research", "denied"),  # no consent
    ],
)
def test_access_decisions(scene: Scene, user: str, record_attr: str, purpose: str, decision: str) -> None:
    record = getattr(scene, record_attr)
    result = scene.call(user, "RequestAccess", {"record_ids": [record], "purpose": purpose}, write=True)
    assert result["decisions"][0]["decision"] == decision, result["decisions"][0]["reason"]
