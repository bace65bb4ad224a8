"""A bounded HTTP load that never retries: the labs' checks measure students' servers with it.

    python corelab/classroom/labs/load.py --port P --path '/work?ms=10' --users 8 --seconds 7 --out load.json
                                [--probe-path /health --probe-every 0.05 --probe-after 2]

Each user sends one GET after another, each on a new connection with ``Connection: close``,
and never sends a request again: a refused connection, a reset, a timeout or a status >= 400
is written down as a failure, as it happened. (Locust's clients and aiohttp's resend an
idempotent request whose connection failed, which hides exactly what a restart costs.) An
optional probe sends one request every ``--probe-every`` seconds beside the users: its latency
is what a health check would see.

Only the standard library: it runs as a plain script, a process of its own, so its CPU is
measured apart from the server's and the checker's. It writes one JSON file: every request
(kind, start and latency in seconds, status, worker pid, error) and its own CPU seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

HOST = "127.0.0.1"
# After a failure a user pauses this long: a refused port must not turn the loop into a spin.
PAUSE_AFTER_FAILURE_S = 0.01


async def get(port: int, path: str, timeout: float) -> tuple[int, int | None, str | None]:
    """One GET on a new connection: (status, X-Worker-Pid, error). Status 0 when none arrived."""
    status, pid, error, _body = await fetch(port, path, timeout)
    return status, pid, error


async def fetch(port: int, path: str, timeout: float) -> tuple[int, int | None, str | None, bytes]:
    """One GET on a new connection: (status, X-Worker-Pid, error, body)."""
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        raw = await asyncio.wait_for(reader.read(), timeout)  # the server closes after its answer
    except ConnectionRefusedError:
        return 0, None, "connection refused", b""
    except ConnectionResetError:
        return 0, None, "connection reset", b""
    except TimeoutError:
        return 0, None, f"no answer within {timeout:g} s", b""
    except OSError as exc:
        return 0, None, f"{type(exc).__name__}: {exc}", b""
    finally:
        if writer is not None:
            writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        return 0, None, "connection closed without an answer", b""
    pid = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-worker-pid" and value.strip().isdigit():
            pid = int(value.strip())
    status = int(parts[1])
    return status, pid, None if status < 400 else f"HTTP {status}", body


async def user(kind: str, port: int, path: str, until: float, every: float, timeout: float, out: list) -> None:
    while time.perf_counter() < until:
        started = time.perf_counter()
        status, pid, error = await get(port, path, timeout)
        out.append([kind, started, time.perf_counter() - started, status, pid, error])
        if every > 0:
            await asyncio.sleep(max(0.0, started + every - time.perf_counter()))
        elif error is not None:
            await asyncio.sleep(PAUSE_AFTER_FAILURE_S)


async def run(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    until = t0 + args.seconds
    records: list = []
    tasks = [user("load", args.port, args.path, until, 0.0, args.timeout, records) for _ in range(args.users)]
    if args.probe_path:

        async def probe() -> None:
            await asyncio.sleep(args.probe_after)
            await user("probe", args.port, args.probe_path, until, args.probe_every, args.timeout, records)

        tasks.append(probe())
    cpu = os.times()
    await asyncio.gather(*tasks)
    used = os.times()
    wall = time.perf_counter() - t0
    for record in records:
        record[1] -= t0
    return {
        "seconds": wall,
        "cpu_s": (used.user - cpu.user) + (used.system - cpu.system),
        "fields": ["kind", "start_s", "latency_s", "status", "pid", "error"],
        "requests": records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/work?ms=10")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=7.0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a request may take")
    parser.add_argument("--probe-path")
    parser.add_argument("--probe-every", type=float, default=0.05)
    parser.add_argument("--probe-after", type=float, default=0.0, help="seconds before the probe starts")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
