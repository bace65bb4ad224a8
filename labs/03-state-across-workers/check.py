"""Lab 3's check: on 3 workers sharing a real Redis, does each client get its limit (and no
more) per window, and does the counter count every visit? Run: make check LAB=03."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter

from corelab.classroom.labs.harness import LabRun
from corelab.classroom.labs.load import fetch

WORKERS = 3
LIMIT, WINDOW_S = 10, 1.0  # what state_app.py is asked to enforce
NEED_AT_MOST = 1.05
# Four clients, each sending about 60 requests a second, spread over the workers: several times the limit.
CLIENTS, SENDERS_PER_CLIENT, PACE_S, SECONDS = 4, 3, 0.05, 4.5
VISITS, VISIT_CONCURRENCY = 600, 12


def run(lab: LabRun) -> None:
    with lab.redis() as redis:
        argv = [sys.executable, "-m", "servers.cluster", "--app", "state_app:create_app"]
        argv += ["--workers", str(WORKERS), "--port", "{port}"]
        server = lab.start(
            "your app on servers.cluster",
            argv,
            env={"REDIS_URL": redis.url, "PYTHONPATH": str(lab.code)},
            ready_line="cluster ready",
            ready_path="/visits?page=ready",
        )
        run_id = uuid.uuid4().hex[:8]  # fresh names: a Redis given by REDIS_URL may hold old counts
        judge_rate_limit(lab, asyncio.run(_hammer(server.port, run_id)))
        judge_counter(lab, *asyncio.run(_visit(server.port, f"lab3-{run_id}")))
        lab.stop(server)


def judge_rate_limit(lab: LabRun, replies: list[tuple[float, str, int, dict]]) -> None:
    errors = Counter(status for _t, _c, status, _b in replies if status not in (200, 429))
    admitted: Counter[tuple[str, int]] = Counter()
    skewed = 0
    for sent, client, status, body in replies:
        if status != 200:
            continue
        window = body.get("window")
        if not isinstance(window, int) or abs(window - int(sent // WINDOW_S)) > 1:
            skewed += 1
            continue
        admitted[client, window] += 1
    if not replies:
        lab.verdict("rate limit", False, "no answer at all", "look at your server's log")
        return
    first, last = int(replies[0][0] // WINDOW_S), int(replies[-1][0] // WINDOW_S)
    # Whole windows only: the first and last are cut by the start and end of the load.
    full = [n for (_client, window), n in admitted.items() if first < window < last]
    worst = max(admitted.values(), default=0)
    fewest = min(full, default=0)
    per_worker = Counter(body.get("pid") for _t, _c, status, body in replies if status in (200, 429))
    lab.verdict(
        "rate limit",
        not errors and not skewed and worst <= LIMIT * NEED_AT_MOST and fewest >= LIMIT,
        f"{len(replies)} requests from {CLIENTS} clients over {len(per_worker)} workers: at most {worst} admitted "
        f"per client per window (limit {LIMIT}, need <= {LIMIT * NEED_AT_MOST:g}), at least {fewest} in full windows"
        + (f"; answers other than 200/429: {dict(errors)}" if errors else "")
        + (f"; {skewed} answers with a wrong 'window'" if skewed else ""),
        "each worker counts in its own memory: count in Redis instead (INCR of one key per client and window, "
        "with an EXPIRE), so all workers see the same count (TODO 1)",
    )


def judge_counter(lab: LabRun, answered: int, totals: list[int | None]) -> None:
    lab.verdict(
        "visit counter",
        answered == VISITS and all(total == VISITS for total in totals),
        f"{answered} of {VISITS} visits answered; /visits then says {totals} on successive connections "
        f"(each one a different worker; need {VISITS} everywhere)",
        "each worker counts only the visits it served: INCR and GET one Redis key instead (TODO 2)",
    )


async def _hammer(port: int, run_id: str) -> list[tuple[float, str, int, dict]]:
    replies: list[tuple[float, str, int, dict]] = []
    until = time.monotonic() + SECONDS

    async def sender(client: str) -> None:
        while time.monotonic() < until:
            sent = time.time()
            status, _pid, _error, body = await fetch(port, f"/limited?client={client}", 5.0)
            replies.append((sent, client, status, _json(body)))
            await asyncio.sleep(PACE_S)

    clients = [f"c{i}-{run_id}" for i in range(CLIENTS)]
    await asyncio.gather(*(sender(c) for c in clients for _ in range(SENDERS_PER_CLIENT)))
    return sorted(replies, key=lambda r: r[0])


async def _visit(port: int, page: str) -> tuple[int, list[int | None]]:
    gate = asyncio.Semaphore(VISIT_CONCURRENCY)

    async def one() -> bool:
        async with gate:
            status, *_ = await fetch(port, f"/visit?page={page}", 5.0)
            return status == 200

    answered = sum(await asyncio.gather(*(one() for _ in range(VISITS))))
    totals = []
    for _ in range(WORKERS):  # the cluster's rr policy hands successive connections to successive workers
        status, _pid, _error, body = await fetch(port, f"/visits?page={page}", 5.0)
        totals.append(_json(body).get("visits") if status == 200 else None)
    return answered, totals


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
