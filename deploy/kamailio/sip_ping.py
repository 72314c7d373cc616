"""Exit 0 when a SIP server answers an OPTIONS over UDP with 200 (deploy/local/up --switch waits for it).

    python3 sip_ping.py 127.0.0.1 5060
"""
from __future__ import annotations

import socket
import sys
import uuid


def ping(host: str, port: int, timeout: float = 1.0) -> bool:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.bind(("127.0.0.1", 0))
        local_port = sock.getsockname()[1]
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        request = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch={branch};rport\r\n"
            f"From: <sip:probe@127.0.0.1>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}@probe\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), (host, port))
        reply = sock.recv(65535)
        return reply.startswith(b"SIP/2.0 200")
    except OSError:
        return False
    finally:
        sock.close()


if __name__ == "__main__":
    ok = ping(sys.argv[1], int(sys.argv[2]))
    print("SIP OPTIONS answered 200" if ok else "no SIP answer")
    sys.exit(0 if ok else 1)
