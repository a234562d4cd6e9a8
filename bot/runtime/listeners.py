"""``tcns serve --workers N``: one listening socket per worker, so that the kernel spreads the
channels' connections over the workers.

uvicorn's supervisor binds one socket in the parent and shares it with every worker; the worker
whose event loop wakes first accepts every connection waiting. Telegram keeps its connections
open (up to ``max_connections``, 40 by default) and sends update after update on them, so the
split made when they open holds: measured with two workers and 32 connections, one worker held
24 and the other 8 (bench/webhook.py), the second worker's core half idle. With ``SO_REUSEPORT``
each worker listens on a socket of its own on the same address, and Linux hands each new
connection to one of them by a hash of its addresses: about half each, whichever is awake.

The parent keeps a socket bound to the address but not listening: it holds the port (no other
program takes it between two workers' starts; a second ``tcns serve`` on it is refused, not
joined) and picks it once when the port is 0; a socket that does not listen is given no
connections. A worker that dies takes its own socket with it; the connections waiting on it are
reset (a channel sends those updates again, and none was acknowledged) and new ones go to the
workers alive until uvicorn replaces it.
"""

from __future__ import annotations

import socket
from typing import Any

BACKLOG = 2048  # uvicorn's default


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bound(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class PortTaken(OSError):
    """Something listens on the address already (or it cannot be bound at all)."""


def free_port(host: str, port: int) -> int:
    """``port`` (a free one picked when 0) if no socket is bound to ``host:port``, even one that
    shares its port (another ``tcns serve`` of the same user: its sockets would take half the
    connections); else :class:`PortTaken`. Tried by a socket that shares the port with no one."""
    probe = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is no obstacle
        probe.bind((host, port))
        return int(probe.getsockname()[1])
    except OSError as exc:
        raise PortTaken(exc.errno, exc.strerror) from exc
    finally:
        probe.close()


def reserve(host: str, port: int) -> socket.socket:
    """The parent's socket: bound to ``host:port`` (the port picked when 0) and sharing it,
    never listening. :class:`PortTaken` when the address is in use (:func:`free_port`)."""
    port = free_port(host, port)
    try:
        return _bound(host, port)
    except OSError as exc:  # taken in the instant between the two
        raise PortTaken(exc.errno, exc.strerror) from exc


def listening(host: str, port: int) -> list[socket.socket]:
    """A worker's own socket on ``host:port``, listening (as uvicorn takes its sockets)."""
    sock = _bound(host, port)
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return [sock]


class WorkerSockets(list):  # type: ignore[type-arg]
    """The ``sockets`` uvicorn's supervisor hands to each worker it starts: empty in the parent;
    in a worker (started by multiprocessing's spawn, which pickles it), a list holding that
    worker's own listening socket on ``host:port``."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__()
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, ...]:
        return listening, (self.host, self.port)
