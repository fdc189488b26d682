"""The one error the network's orchestration raises: its message says what failed and what to do."""

from __future__ import annotations


class NetworkError(RuntimeError):
    pass
