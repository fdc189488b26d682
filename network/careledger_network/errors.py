"""The network's errors: a malformed consortium definition (bad input), and a failure of the orchestration;
each message says what was wrong and what to do."""

from __future__ import annotations


class NetworkError(RuntimeError):
    pass


class ConsortiumError(ValueError):
    """The consortium definition is malformed; the message names the field and the fix."""
