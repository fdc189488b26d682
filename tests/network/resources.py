"""FHIR resources the network tests store: small, valid, and told apart by their code and value."""

from __future__ import annotations

from typing import Any


def observation(text: str, value: float, unit: str = "") -> dict[str, Any]:
    """A final laboratory Observation: `text` names what was measured."""
    quantity: dict[str, Any] = {"value": value, **({"unit": unit} if unit else {})}
    return {"resourceType": "Observation", "status": "final", "code": {"text": text}, "valueQuantity": quantity}
