"""Plain transactions: echo, public state, transient data, a requested error and a chaincode event.

Used by the transaction, event, off-line signing and discovery scenarios (their "basic" chaincode)."""

from __future__ import annotations

from careledger_chaincode.runtime import Context, transaction

from ._common import ScenarioBase, ScenarioError, checked_key, checked_value, invalid

MAX_EVENT_NAME = 256


class BasicFunctions(ScenarioBase):
    @transaction("echo", read_only=True)
    def echo(self, ctx: Context, text: str) -> str:
        """The argument, unchanged. Also what event scenarios submit just to get a block committed."""
        return text

    @transaction("echoTransient", read_only=True)
    def echo_transient(self, ctx: Context) -> dict[str, str]:
        """The transient map as a JSON object of text values: shows the client passed it intact."""
        echoed = {}
        for name, value in ctx.stub.transient.items():
            try:
                echoed[name] = value.decode("utf-8")
            except UnicodeDecodeError:
                # Replacing the bad bytes would make the echo disagree with what was sent, silently.
                raise invalid(f"transient value {name[:64]!r} is not UTF-8 text") from None
        return echoed

    @transaction("put")
    def put(self, ctx: Context, key: str, value: str) -> str:
        ctx.stub.put_state(checked_key(key), checked_value(value))
        return value

    @transaction("get", read_only=True)
    def get(self, ctx: Context, key: str) -> str:
        """The committed value, or empty text when the key has none (the scenarios expect no error)."""
        value = ctx.stub.get_state(checked_key(key))
        return value.decode("utf-8", errors="replace") if value else ""

    @transaction("errorMessage", read_only=True)
    def error_message(self, ctx: Context, message: str) -> None:
        """Fail with exactly `message`: the client must bring it back to the caller."""
        raise ScenarioError(message, log_text=f"failure requested by the caller ({len(message)} characters)")

    @transaction("event")
    def event(self, ctx: Context, name: str, payload: str) -> None:
        """Set the transaction's chaincode event; listeners see it once the transaction commits."""
        if not name or len(name) > MAX_EVENT_NAME:
            raise invalid(f"event name must be 1-{MAX_EVENT_NAME} characters")
        ctx.stub.set_event(name, checked_value(payload))
