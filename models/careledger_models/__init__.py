"""Diagnostic models: training with model cards, the registry on the ledger, and the authorized runner."""
