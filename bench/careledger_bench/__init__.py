"""CareLedger benchmarks against the local network (`make bench`)."""
