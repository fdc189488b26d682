"""A chaincode for running the official fabric-gateway Cucumber scenarios against our gateway client.

It offers, under the names the feature files call, what the scenarios' own chaincodes (basic, private,
errors) offer: echo, public state, transient data, a requested error, chaincode events, the endorsing
peer's organization, private data, key-level endorsement, and deliberate failures. Written with
CareLedger's chaincode runtime; it holds test data only and must run in its own server process.
See docs/gateway-scenarios.md.
"""

from ._common import ScenarioError
from .contract import ScenarioContract, scenario_router

__all__ = ["ScenarioContract", "ScenarioError", "scenario_router"]
