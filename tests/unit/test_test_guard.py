import socket

import pytest


@pytest.mark.cpython_only
def test_the_suite_cannot_reach_outside_loopback():
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="loopback"):
        sock.connect(("203.0.113.7", 443))  # a documentation address: never reached
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass  # loopback is allowed
