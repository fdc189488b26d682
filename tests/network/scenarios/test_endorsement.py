"""endorsement.feature (N1-N6) on the `private` definition, policy OR(Org1, Org2, Org3): the organizations a
client names endorse (or evaluate), and only they."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fabric_gateway import Contract

from .conftest import ORGS

pytestmark = pytest.mark.network


@pytest.mark.parametrize("org", ["org1", "org2", "org3"], ids=["n1-org1", "n2-org2", "n3-org3"])
def test_n1_n3_submit_endorsed_by_the_named_organization(contract: Callable[..., Contract], org: str) -> None:
    msp = getattr(ORGS, org)
    transaction = contract("Org1", "private").new_proposal("getPeerOrg", endorsing_organizations=[msp]).endorse()
    assert transaction.result.decode() == msp
    assert transaction.endorser_msp_ids == [msp]
    assert transaction.submit().status().successful


def test_n4_submit_endorsed_by_exactly_org1_and_org3(contract: Callable[..., Contract]) -> None:
    named = [ORGS.org1, ORGS.org3]
    transient = {msp: b"" for msp in named}  # each endorser checks its own MSP id is among these keys
    result = contract("Org1", "private").submit("checkEndorsingOrg", transient=transient, endorsing_organizations=named)
    assert result == b"success"


@pytest.mark.parametrize("org", ["org1", "org2"], ids=["n5-org1", "n6-org2"])
def test_n5_n6_evaluate_on_the_named_organization(contract: Callable[..., Contract], org: str) -> None:
    msp = getattr(ORGS, org)
    assert contract("Org1", "private").evaluate("getPeerOrg", endorsing_organizations=[msp]).decode() == msp
