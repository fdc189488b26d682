"""sbe.feature (S1-S5) on the `private` definition: key-level endorsement policies decide who must endorse
a change, and the gateway learns them. Each test uses its own key (the official run reuses key-001)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fabric_gateway import Contract, GatewayError

from .conftest import ORGS, run_id

pytestmark = pytest.mark.network


@pytest.fixture
def private(contract: Callable[..., Contract]) -> Contract:
    return contract("Org1", "private")


@pytest.fixture
def key(private: Contract) -> str:
    """A key whose changes must be endorsed by Org1's peer (the feature's background)."""
    key = f"sbe-{run_id()}"
    private.submit("SetStateWithEndorser", [key, "value-001", ORGS.org1])
    return key


def test_s1_a_change_endorsed_by_the_key_s_organization(private: Contract, key: str) -> None:
    private.submit("ChangeState", [key, "value-Org1"], endorsing_organizations=[ORGS.org1])
    assert private.evaluate("GetState", [key]) == b"value-Org1"


def test_s2_a_change_endorsed_by_another_organization_fails(private: Contract, key: str) -> None:
    with pytest.raises(GatewayError):
        private.submit("ChangeState", [key, "value-Org2"], endorsing_organizations=[ORGS.org2])
    assert private.evaluate("GetState", [key]) == b"value-001"


@pytest.mark.parametrize(
    "policy",
    [("org1", "org3"), ("org2", "org3")],
    ids=["s3-org1-and-org3", "s4-org2-and-org3-no-local-org"],
)
def test_s3_s4_the_gateway_finds_the_key_s_endorsers(private: Contract, key: str, policy: tuple[str, str]) -> None:
    private.submit("SetStateEndorsers", [key, *(getattr(ORGS, o) for o in policy)])
    private.submit("ChangeState", [key, "value-both"])  # no endorsers named
    assert private.evaluate("GetState", [key]) == b"value-both"


def test_s5_endorsers_that_do_not_meet_the_key_s_policy(private: Contract, key: str) -> None:
    private.submit("SetStateEndorsers", [key, ORGS.org1, ORGS.org3])
    with pytest.raises(GatewayError):
        private.submit("ChangeState", [key, "value-wrong"], endorsing_organizations=[ORGS.org1, ORGS.org2])
    assert private.evaluate("GetState", [key]) == b"value-001"
