"""``tcns serve --workers N``'s sockets (bot/runtime/listeners.py): each worker listens on a
socket of its own on the one address, the parent's reservation takes no connection, and an
address already in use, even by another server sharing its port, is refused."""

from __future__ import annotations

import pickle
import socket

import pytest

from bot.runtime import listeners

HOST = "127.0.0.1"


def _connects(port: int) -> bool:
    with socket.socket() as client:
        client.settimeout(2)
        return client.connect_ex((HOST, port)) == 0


def test_each_worker_unpickles_its_own_listening_socket_on_the_reserved_port() -> None:
    reserved = listeners.reserve(HOST, 0)
    port = reserved.getsockname()[1]
    try:
        assert port != 0
        assert not _connects(port)  # bound but not listening: the parent is given no connection
        handed = listeners.WorkerSockets(HOST, port)
        assert list(handed) == []  # nothing listens in the parent
        first, second = pickle.loads(pickle.dumps(handed)), pickle.loads(pickle.dumps(handed))  # as spawn does
        try:
            assert len(first) == len(second) == 1
            assert first[0].getsockname() == second[0].getsockname() == (HOST, port)
            assert first[0].fileno() != second[0].fileno()
            accepted = []
            for _ in range(2):
                with socket.socket() as client:
                    client.connect((HOST, port))
            for sock in (first[0], second[0]):
                sock.setblocking(False)
                try:
                    while True:
                        accepted.append(sock.accept()[0])
                except BlockingIOError:
                    pass
            assert len(accepted) == 2  # both connections reached a worker's socket
            for conn in accepted:
                conn.close()
        finally:
            for sock in first + second:
                sock.close()
    finally:
        reserved.close()


def test_an_address_in_use_is_refused_even_by_a_server_that_shares_its_port() -> None:
    with socket.socket() as plain:
        plain.bind((HOST, 0))
        plain.listen()
        with pytest.raises(listeners.PortTaken):
            listeners.reserve(HOST, plain.getsockname()[1])
    reserved = listeners.reserve(HOST, 0)  # another tcns serve, its workers listening
    port = reserved.getsockname()[1]
    workers = pickle.loads(pickle.dumps(listeners.WorkerSockets(HOST, port)))
    try:
        with pytest.raises(listeners.PortTaken):
            listeners.reserve(HOST, port)  # would join its sockets and take half its connections
        with pytest.raises(listeners.PortTaken):
            listeners.free_port(HOST, port)
    finally:
        for sock in workers:
            sock.close()
        reserved.close()
    assert listeners.free_port(HOST, port) == port  # all closed: free again
