"""Kamailio's JSON-RPC (jsonrpcs) over its unix datagram socket: one request, one reply datagram."""
from __future__ import annotations

import itertools
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

_ids = itertools.count(1)


class RpcUnavailable(Exception):
    """Kamailio does not answer (not running, restarting): the caller retries later."""


class RpcError(Exception):
    """Kamailio answered with a JSON-RPC error."""


class KamailioRpc:
    def __init__(self, socket_path: Path, timeout: float = 2.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout

    def call(self, method: str, *params: Any) -> Any:
        request = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": next(_ids)}
        # a datagram reply needs an address to come back to: our own socket file, removed afterwards
        reply_path = tempfile.mktemp(prefix=".rpc-", dir=self.socket_path.parent)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(reply_path)
            sock.settimeout(self.timeout)
            sock.sendto(json.dumps(request).encode(), str(self.socket_path))
            reply = json.loads(sock.recv(4 * 1024 * 1024))
        except (FileNotFoundError, ConnectionRefusedError, TimeoutError) as exc:
            raise RpcUnavailable(f"Kamailio JSON-RPC at {self.socket_path}: {exc}") from None
        finally:
            sock.close()
            if os.path.exists(reply_path):
                os.unlink(reply_path)
        if "error" in reply:
            raise RpcError(f"{method}: {reply['error'].get('message', reply['error'])}")
        return reply.get("result")
