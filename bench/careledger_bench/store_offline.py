"""The record store's uploads per second with replication off (local disk) and on (local disk + an S3 bucket),
and the scrub's blobs checked per second. No network: the store's blob layer only (the part replication
changes), driven by as many threads as the store serves requests with; no HTTPS, signatures or ledger
questions, which are the same with replication on or off. The bucket is S3Proxy on loopback (started here,
careledger_network.s3proxy) unless --s3-endpoint names another S3 server (with AWS_* credentials set).

    python -m careledger_bench store-offline [--uploads 400] [--threads 8] [--size 4096] [--s3-endpoint URL]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from careledger_network.s3proxy import ACCESS_KEY, SECRET_KEY, S3ProxyServer
from careledger_store import BlobStore, PlaceSpec, open_blobs, scrub


def uploads_per_second(blobs: BlobStore, uploads: int, threads: int, size: int) -> float:
    bodies = [os.urandom(size) for _ in range(uploads)]  # ciphertexts: fresh random bytes, no two alike
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(blobs.put, bodies))
    return uploads / (time.perf_counter() - started)


def _measure(root: Path, endpoint: str, bucket: str, args: argparse.Namespace) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    local = open_blobs(PlaceSpec(str(root / "local-only")))
    replicated = open_blobs(PlaceSpec(str(root / "replicated")), PlaceSpec(f"s3://{bucket}/blobs/", endpoint), True)
    print(f"{args.uploads} uploads of {args.size} bytes, {args.threads} threads (the store's blob layer)")
    print(f"{'store':<34} {'uploads/s':>10} {'scrub blobs/s':>14}")
    for name, blobs in (("local disk only", local), ("local disk + S3 replica (S3Proxy)", replicated)):
        rate = uploads_per_second(blobs, args.uploads, args.threads, args.size)
        report = scrub(blobs, repair=False)
        print(f"{name:<34} {rate:>10.0f} {report.per_second:>14.0f}", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="careledger-bench store-offline", description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--size", type=int, default=4096, help="bytes per ciphertext")
    parser.add_argument("--s3-endpoint", help="an S3 server to use instead of starting S3Proxy")
    args = parser.parse_args(argv)
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="careledger-store-bench-") as tmp:
        root = Path(tmp)
        if args.s3_endpoint:
            _measure(root, args.s3_endpoint, bucket, args)
            return 0
        for name, value in (("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)):
            os.environ[name] = value
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        server = S3ProxyServer(root / "s3proxy")
        server.start()
        try:
            _measure(root, server.endpoint, bucket, args)
        finally:
            server.stop()
    return 0
