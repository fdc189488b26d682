"""JSON as the ledger and the stores speak it, typed: what a raw chaincode call takes and answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

# JSON as parsed (json.loads): what a raw chaincode call answers.
Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None
# Anything json.dumps encodes, read-only so that a list[str] or a dict of lists fits: a chaincode argument
# (strings go as they are, anything else as JSON).
JsonArgument: TypeAlias = bool | int | float | str | Sequence["JsonArgument"] | Mapping[str, "JsonArgument"] | None
# Transient data (reaches the chaincode, never the block): bytes and strings as they are, the rest as JSON.
Transient: TypeAlias = Mapping[str, "JsonArgument | bytes"]
