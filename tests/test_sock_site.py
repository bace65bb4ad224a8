"""A worker that stops accepting never drops a connection it accepted in the same loop turn.

The race, made certain: the loop is busy while a client connects and sends its request, and the
stop is scheduled so that it runs one turn after asyncio's accept() and before the accepted
connection has joined the server. aiohttp's own SockSite closes the server at that moment and
the request is never answered (the worker's exit then resets it: a failed request in a rolling
restart); the kit's DrainingSockSite answers it.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from aiohttp import web

from servers.cluster.policies.sock_site import DrainingSockSite


async def _hello(_request: web.Request) -> web.Response:
    return web.Response(text="answered")


def _client(port: int, sent: threading.Event, reply: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sent.set()
        conn.settimeout(3)
        try:
            reply.append(conn.recv(1024))
        except OSError as exc:
            reply.append(repr(exc).encode())


async def _stop_right_after_an_accept() -> bytes:
    app = web.Application()
    app.router.add_get("/", _hello)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    sock = socket.create_server(("127.0.0.1", 0))
    site = DrainingSockSite(runner, sock)
    await site.start()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    sent, reply = threading.Event(), []
    client = threading.Thread(target=_client, args=(sock.getsockname()[1], sent, reply))

    def busy_while_a_client_connects() -> None:
        client.start()
        sent.wait(5)  # the loop is busy: the connection waits, request and all, in the accept queue
        # Runs in the next turn, the same turn as the accept; the stop runs one turn after that.
        loop.call_soon(stopping.set)

    loop.call_soon(busy_while_a_client_connects)
    await stopping.wait()
    await site.stop()
    for _ in range(200):
        if runner.server is not None and not runner.server.connections:
            break
        await asyncio.sleep(0.01)
    await loop.run_in_executor(None, client.join, 5)
    await runner.cleanup()
    sock.close()
    return reply[0] if reply else b""


def test_a_connection_accepted_as_the_worker_stops_is_answered() -> None:
    reply = asyncio.run(_stop_right_after_an_accept())
    assert reply.startswith(b"HTTP/1.1 200"), reply
