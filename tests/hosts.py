"""Hosts of their own for tests: a network namespace joined to this machine by a veth pair.

A process started with `Host.prefix` sees only its own loopback and the veth: it reaches PostgreSQL, Redis and
the object store at the host side's address, where `socat` forwards each to the service on 127.0.0.1 (the
services keep listening on loopback only). Everything is removed on exit. Needs root, `ip` and `socat`.
"""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from annotate.tests.live import free_port


@dataclass
class Host:
    name: str
    host_ip: str  # this machine's end of the veth: where the forwarded services answer
    own_ip: str
    ports: dict[int, int] = field(default_factory=dict)  # service port on 127.0.0.1 -> port on host_ip

    @property
    def prefix(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.name)

    def address(self, port: int) -> str:
        """`host:port` at which a process in this namespace reaches the service on 127.0.0.1:`port`."""
        return f"{self.host_ip}:{self.ports[port]}"


@lru_cache(maxsize=1)
def can_make_hosts() -> str | None:
    """Why hosts cannot be made here, or None (tried once: a container may lack CAP_NET_ADMIN even as root)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [tool for tool in ("ip", "socat") if shutil.which(tool) is None]
    if missing:
        return f"missing: {', '.join(missing)}"
    probe = f"annotate-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=30)
    if made.returncode != 0:
        return f"cannot make a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=30)
    return None


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@contextmanager
def host(index: int, forward: list[int]) -> Iterator[Host]:
    """Namespace number `index` of this test run, with the services on 127.0.0.1:`forward` reachable."""
    tag = f"{os.getpid() % 10000}x{index}"
    # A /30 per namespace; the third octet keeps concurrent test runs (other pids) apart.
    net = 4 * index
    octet = os.getpid() % 200 + 20
    made = Host(f"annotate-{tag}", f"10.231.{octet}.{net + 1}", f"10.231.{octet}.{net + 2}")
    outside, inside = f"an{tag}h", f"an{tag}w"
    with ExitStack() as cleanup:
        _run("ip", "netns", "add", made.name)
        cleanup.callback(subprocess.run, ["ip", "netns", "del", made.name], capture_output=True)
        _run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        cleanup.callback(subprocess.run, ["ip", "link", "del", outside], capture_output=True)
        _run("ip", "link", "set", inside, "netns", made.name)
        _run("ip", "addr", "add", f"{made.host_ip}/30", "dev", outside)
        _run("ip", "link", "set", outside, "up")
        _run(*made.prefix, "ip", "addr", "add", f"{made.own_ip}/30", "dev", inside)
        _run(*made.prefix, "ip", "link", "set", inside, "up")
        _run(*made.prefix, "ip", "link", "set", "lo", "up")
        for port in forward:
            outer = free_port()
            relay = subprocess.Popen(
                [
                    "socat",
                    f"TCP-LISTEN:{outer},bind={made.host_ip},fork,reuseaddr",
                    f"TCP:127.0.0.1:{port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            cleanup.callback(_stop, relay)
            made.ports[port] = outer
        for outer in made.ports.values():
            _wait_listening(made.host_ip, outer)
        yield made


def _wait_listening(ip: str, port: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((ip, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
