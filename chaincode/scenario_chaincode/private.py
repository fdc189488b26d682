"""Which peer endorsed, and private data collections: the endorsement and private data scenarios.

Access to a collection (who may read, who may write, which peers hold it) is the peer's to enforce from
the collection configuration; these functions only read and write, so the peer's refusals reach the
client as they are."""

from __future__ import annotations

from careledger_chaincode.runtime import Context, transaction

from ._common import ScenarioBase, ScenarioError, checked_key, checked_size, invalid

# The transient fields of WritePrivateData. Values travel as transient data so that they never appear
# in the transaction's arguments, which every block reader sees.
COLLECTIONS_FIELD = "collection"
KEY_FIELD = "key"
VALUE_FIELD = "value"
MAX_COLLECTIONS = 8


class PrivateDataFunctions(ScenarioBase):
    @transaction("getPeerOrg", read_only=True)
    def get_peer_org(self, ctx: Context) -> str:
        """The MSP id of the peer that ran this proposal: shows where the gateway sent it."""
        return self.peer_msp()

    @transaction("checkEndorsingOrg", read_only=True)
    def check_endorsing_org(self, ctx: Context) -> str:
        """Answer "success" on the peers of organizations named as transient keys, fail on any other: a
        submit succeeds only if the gateway asked exactly the organizations it was told to."""
        msp = self.peer_msp()
        if msp not in ctx.stub.transient:
            raise ScenarioError(f"the peer of {msp} was asked to endorse, but the client did not name {msp}")
        return "success"

    @transaction("WritePrivateData")
    def write_private_data(self, ctx: Context) -> None:
        """Write transient `value` under transient `key` in each collection of transient `collection`
        (names separated by commas)."""
        transient = ctx.stub.transient
        missing = [f for f in (COLLECTIONS_FIELD, KEY_FIELD, VALUE_FIELD) if f not in transient]
        if missing:
            raise invalid(f"transient data lacks {', '.join(missing)}")
        try:
            names = transient[COLLECTIONS_FIELD].decode("utf-8").split(",")
            key = checked_key(transient[KEY_FIELD].decode("utf-8"))
        except UnicodeDecodeError:
            raise invalid("transient collection and key must be UTF-8 text") from None
        value = checked_size(transient[VALUE_FIELD])
        collections = list(dict.fromkeys(names))  # once each, in the order given
        if not all(collections) or len(collections) > MAX_COLLECTIONS:
            raise invalid(f"name 1-{MAX_COLLECTIONS} collections, separated by commas, none empty")
        for collection in collections:
            ctx.stub.put_state(key, value, collection)

    @transaction("ReadPrivateData", read_only=True)
    def read_private_data(self, ctx: Context, collection: str, key: str) -> str:
        """The value, or empty text when the collection has none under `key`. A peer that does not hold
        the collection, or a caller it does not let read, makes this fail (the peer's refusal)."""
        if not collection:
            raise invalid("collection must not be empty")
        value = ctx.stub.get_private_data(collection, checked_key(key))
        return value.decode("utf-8", errors="replace") if value else ""
