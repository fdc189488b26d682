"""fabric_gateway.aio against the network: the transactions and chaincode event scenarios (T1-T3, C1),
awaited, on grpc.aio."""

from __future__ import annotations

import asyncio
import json

import pytest
from fabric_gateway import Identity, aio, signers

from .conftest import Scenarios, run_id

pytestmark = pytest.mark.network


def _gateway(scenarios: Scenarios, org_key: str, user: str) -> aio.Gateway:
    profile = scenarios.profile(org_key)
    peer = next(iter(profile["peers"].values()))  # type: ignore[attr-defined]
    identity = scenarios.wallet_identity(org_key, user)
    channel = aio.tls_channel(peer["url"], peer["tlsCACerts"]["pem"].encode())
    sign = signers.for_private_key(identity.private_key)
    return aio.Gateway.connect(Identity(identity.msp_id, identity.certificate_pem), channel, sign=sign)


def test_aio_evaluate_submit_and_events(scenarios: Scenarios) -> None:
    name, key = f"aio-{run_id()}", f"aio-{run_id()}"

    async def run() -> tuple[bytes, bytes, bytes, bytes]:
        async with (
            _gateway(scenarios, "hospital1", "h1-clinician-1") as client,
            _gateway(scenarios, "hospital1", "event-reader") as reader,
        ):
            basic = client.network(scenarios.network.c.channel).contract("basic")
            echoed = await basic.evaluate("echo", ["conga"])
            written = await basic.submit("put", [key, "value"])
            read = await basic.evaluate("get", [key])
            async with reader.network(scenarios.network.c.channel).chaincode_events("basic", timeout=30) as stream:
                await basic.submit("event", [name, json.dumps({"n": 1})])
                async for event in stream:
                    if event.event_name == name:
                        return echoed, written, read, event.payload
            raise AssertionError("the event never came")

    assert asyncio.run(run()) == (b"conga", b"value", b"value", b'{"n": 1}')
