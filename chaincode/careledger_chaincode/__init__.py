"""CareLedger chaincode: the runtime (`runtime`) and the contracts it serves (`contracts`)."""

__version__ = "0.1.0"
