"""Fixtures shared by unit test modules: S3Proxy, a real S3 API server (s3proxy_fixtures.py)."""

from .s3proxy_fixtures import bucket, s3proxy

__all__ = ["bucket", "s3proxy"]
