#!/usr/bin/env python3
"""Readiness probes for deploy/local/up, standard library only (so `up` works before pip install).

    probe.py kafka HOST PORT        exit 0 when the broker answers a Metadata request with >= 1 broker
    probe.py brokers HOST PORT N    exit 0 when that broker's Metadata lists >= N brokers (a cluster
                                    lists only the brokers that are registered and not fenced)
    probe.py clickhouse HOST PORT   exit 0 when HTTP `SELECT 1` on that port returns 1
    probe.py tcp HOST PORT          exit 0 when something accepts a TCP connection
    probe.py cluster-id             print a new KRaft cluster id (base64url of a random UUID)

Exit 1 (with the reason on stderr) when not ready. One attempt only; `up` does the waiting.
"""
import base64
import socket
import struct
import sys
import urllib.request
import uuid

TIMEOUT = 3.0


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return buf


def _metadata_brokers(host: str, port: int) -> list[tuple[int, str, int]]:
    """(node_id, advertised host, port) of every broker the Metadata answer lists."""
    # Metadata v1 request, header v1: api_key=3, api_version=1, correlation_id, client_id;
    # body: topics = empty array (0) -> no topics, only the brokers. Brokers answer it only once
    # they are serving.
    client_id = b"rating-local-up"
    header = struct.pack(">hhih", 3, 1, 42, len(client_id)) + client_id
    body = struct.pack(">i", 0)
    req = header + body
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        s.sendall(struct.pack(">i", len(req)) + req)
        (size,) = struct.unpack(">i", _recv_exact(s, 4))
        resp = _recv_exact(s, size)
    corr, n_brokers = struct.unpack(">ii", resp[:8])
    if corr != 42:
        raise RuntimeError(f"unexpected correlation id {corr}")
    brokers, off = [], 8
    for _ in range(n_brokers):  # node_id int32, host string, port int32, rack nullable string
        node_id, hlen = struct.unpack(">ih", resp[off:off + 6])
        off += 6
        bhost = resp[off:off + hlen].decode()
        off += hlen
        bport, rlen = struct.unpack(">ih", resp[off:off + 6])
        off += 6 + max(rlen, 0)
        brokers.append((node_id, bhost, bport))
    return brokers


def kafka(host: str, port: int) -> None:
    brokers = _metadata_brokers(host, port)
    if not brokers:
        raise RuntimeError("metadata lists no broker yet")
    # the broker on that port, else the first (to print what clients will be told to connect to)
    node_id, bhost, bport = next((b for b in brokers if b[2] == port), brokers[0])
    print(f"broker {node_id} advertised at {bhost}:{bport}")


def brokers(host: str, port: int, wanted: int) -> None:
    found = sorted(_metadata_brokers(host, port))
    listed = ", ".join(f"{node_id}@{bhost}:{bport}" for node_id, bhost, bport in found)
    if len(found) < wanted:
        raise RuntimeError(f"metadata lists {len(found)} of {wanted} brokers ({listed or 'none'})")
    print(f"{len(found)} brokers: {listed}")


def clickhouse(host: str, port: int) -> None:
    url = f"http://{host}:{port}/?query=SELECT%201"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
        out = r.read().decode().strip()
    if out != "1":
        raise RuntimeError(f"SELECT 1 returned {out!r}")
    with urllib.request.urlopen(f"http://{host}:{port}/?query=SELECT%20version()", timeout=TIMEOUT) as r:
        print(f"clickhouse {r.read().decode().strip()}")


def tcp(host: str, port: int) -> None:
    socket.create_connection((host, port), timeout=TIMEOUT).close()


def cluster_id() -> None:
    # Same shape as Kafka's Uuid.randomUuid().toString(): 22 chars base64url, no padding, and
    # (as Kafka does) never starting with '-' so it cannot be mistaken for a CLI option.
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            print(cid)
            return


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["cluster-id"]:
            cluster_id()
            return 0
        if argv[:1] == ["brokers"] and len(argv) == 4:
            brokers(argv[1], int(argv[2]), int(argv[3]))
            return 0
        if len(argv) != 3:
            raise KeyError(argv)
        what, host, port = argv
        {"kafka": kafka, "clickhouse": clickhouse, "tcp": tcp}[what](host, int(port))
        return 0
    except (OSError, RuntimeError, ValueError, struct.error) as e:
        print(f"not ready: {e}", file=sys.stderr)
        return 1
    except (KeyError, TypeError):
        print(__doc__, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
