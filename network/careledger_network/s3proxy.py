"""S3Proxy (github.com/gaul/s3proxy): a real S3 API server, run by the tests and the store benchmark for the
record stores' bucket places and replicas (not a mock of boto3: the same HTTP, signatures and errors an S3
bucket gives).

`python -m careledger_network.s3proxy` (make s3proxy, which make test runs) fetches its shaded jar from Maven Central
with Maven into ~/.cache/careledger/ once, checked against the SHA-256 pinned here. S3ProxyServer runs it
on a free loopback port with the jclouds `filesystem` provider (a restart keeps the buckets: the tests stop
it to play a replica that is down, then bring it back).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from .release_archives import sha256_of

VERSION = "4.1.0"
JAR_SHA256 = "a4d025969aaf796616ed4b1e2491d87d455ce84bb28cb9db086b2e6aaa68b48d"
ARTIFACT = f"org.gaul:s3proxy:{VERSION}:jar:jar-with-dependencies"
CACHE = Path(os.environ.get("CARELEDGER_CACHE", Path.home() / ".cache" / "careledger"))
JAR = CACHE / f"s3proxy-{VERSION}" / f"s3proxy-{VERSION}-jar-with-dependencies.jar"
ACCESS_KEY, SECRET_KEY = "careledger-test", "careledger-test-secret"
START_TIMEOUT = 60.0  # s: the JVM starts in about 2 s here, slower on a loaded machine


class S3ProxyUnavailable(RuntimeError):
    pass


def java() -> str | None:
    return shutil.which("java")


def ensure_jar() -> Path:
    """The jar, fetched once with Maven (dependency:copy) into a staging folder, checked, then moved in place."""
    if JAR.exists() and sha256_of(JAR) == JAR_SHA256:
        return JAR
    mvn = shutil.which("mvn")
    if mvn is None:
        raise S3ProxyUnavailable(
            f"S3Proxy {VERSION} is not in {JAR.parent} and Maven (mvn) is not installed to fetch it"
        )
    staging = JAR.parent.with_name(JAR.parent.name + ".part")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    print(f"fetching S3Proxy {VERSION} from Maven Central (55 MB) into {JAR.parent}", file=sys.stderr)
    command = [mvn, "-B", "-q", "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={staging}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    fetched = staging / JAR.name
    if done.returncode != 0 or not fetched.exists():
        raise S3ProxyUnavailable(f"Maven could not fetch {ARTIFACT}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    if (digest := sha256_of(fetched)) != JAR_SHA256:
        raise S3ProxyUnavailable(f"{ARTIFACT} has SHA-256 {digest}, not the pinned {JAR_SHA256}: refused")
    shutil.rmtree(JAR.parent, ignore_errors=True)
    staging.rename(JAR.parent)
    return JAR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3ProxyServer:
    """One S3Proxy process on loopback, keeping its buckets under `root` (the filesystem provider)."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root, self.port = root, port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        (root / "buckets").mkdir(parents=True, exist_ok=True)
        self.properties = root / "s3proxy.properties"
        self.properties.write_text(
            f"s3proxy.endpoint={self.endpoint}\n"
            "s3proxy.authorization=aws-v2-or-v4\n"
            f"s3proxy.identity={ACCESS_KEY}\ns3proxy.credential={SECRET_KEY}\n"
            "jclouds.provider=filesystem\n"
            f"jclouds.filesystem.basedir={root / 'buckets'}\n"
            f"jclouds.identity={ACCESS_KEY}\njclouds.credential={SECRET_KEY}\n"
        )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        java_bin = java()
        if java_bin is None:
            raise S3ProxyUnavailable("Java is not installed")
        log = (self.root / "s3proxy.log").open("ab")
        self._process = subprocess.Popen(
            [java_bin, "-Xmx256m", "-jar", str(ensure_jar()), "--properties", str(self.properties)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise S3ProxyUnavailable(f"S3Proxy exited at start; see {self.root / 's3proxy.log'}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.2)
        self.stop()
        raise S3ProxyUnavailable(f"S3Proxy did not listen on {self.port} within {START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def create_bucket(self, name: str) -> None:
        (self.root / "buckets" / name).mkdir(exist_ok=True)  # the filesystem provider: a bucket is a folder

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The server down for the duration (a replica that is unreachable), then up again on the same port."""
        self.stop()
        try:
            yield
        finally:
            self.start()


if __name__ == "__main__":
    try:
        print(ensure_jar())
    except S3ProxyUnavailable as exc:
        sys.exit(f"error: {exc}")
