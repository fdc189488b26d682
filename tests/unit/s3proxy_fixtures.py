"""Pytest fixtures around S3Proxy (careledger_network.s3proxy): one real S3 API server per test module, and a
fresh bucket per test. Tests that use them are skipped, saying why, only when Java is not installed."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from careledger_network.s3proxy import ACCESS_KEY, SECRET_KEY, S3ProxyServer, java

_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3ProxyServer]:
    if java() is None:
        pytest.skip("Java is not installed: the replicated-store tests run S3Proxy, a Java S3 server")
    saved = {name: os.environ.get(name) for name in _CREDENTIALS}
    os.environ.update(_CREDENTIALS)  # boto3's usual source, as in production (the store reads its environment)
    server = S3ProxyServer(tmp_path_factory.mktemp("s3proxy"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def bucket(s3proxy: S3ProxyServer) -> str:
    """A new, empty bucket on the running S3Proxy (restarted if a test left it down)."""
    if not s3proxy.running:
        s3proxy.start()
    name = f"records-{uuid.uuid4().hex[:12]}"
    raw_client(s3proxy).create_bucket(Bucket=name)
    return name


def raw_client(s3proxy: S3ProxyServer):  # type: ignore[no-untyped-def]  # boto3 has no type hints
    """A boto3 client of our own, to look at and damage objects behind the store's back."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3proxy.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
