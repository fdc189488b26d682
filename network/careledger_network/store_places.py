"""Where an organization's record store keeps its blobs, from its `record_store` entry in consortium.yaml:
the store server's command line (specs.store_spec) and the scrub (store_verify.py) both read it here, so
they always name the same places."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .consortium import Org
from .crypto import org_paths


@dataclass(frozen=True)
class StorePlaces:
    primary: str  # a folder, or s3://bucket/prefix/
    replica: str | None = None  # s3://bucket/prefix/, or None: no second copy
    endpoint: str | None = None  # the S3 endpoint of whichever place is a bucket (None: AWS)
    env: dict[str, str] = field(default_factory=dict)  # for boto3: where its credentials are

    def args(self) -> list[str]:
        """The places as `python -m careledger_store` takes them."""
        args = [f"--data={self.primary}"]
        if self.endpoint:
            args.append(f"--s3-endpoint={self.endpoint}")
        if self.replica:
            args.append(f"--replica={self.replica}")
        return args


def store_places(state: Path, org: Org) -> StorePlaces:
    local = str(state / "stores" / org.key)
    replica = org.store_replica
    if replica is None:
        return StorePlaces(primary=local)
    primary = f"s3://{replica.primary_bucket}/{replica.prefix}" if replica.primary_bucket else local
    credentials = replica.credentials_file
    env: dict[str, str] = {}
    if replica.served_by_network:  # made by the network beside the bucket, served with the org's TLS (replica_server)
        credentials = str(state / "replicas" / org.key / "credentials")
        env["AWS_CA_BUNDLE"] = str(org_paths(state, org).ca_cert)
    if credentials:
        env["AWS_SHARED_CREDENTIALS_FILE"] = credentials
    return StorePlaces(primary=primary, replica=replica.location, endpoint=replica.endpoint, env=env)
