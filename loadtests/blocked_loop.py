"""Blocked event loop: CPU requests (GET /work?ms=50&offload=MODE) beside a fast probe (GET /health).

What it teaches: with offload=none the 50 ms burn runs on the event loop itself, so the probe,
which needs no work at all, waits behind every burn in the queue. offload=thread moves the burn
to a thread, but pure Python holds the GIL, so the probe still waits its turn for the interpreter.
offload=process moves it to a process pool: the loop stays free and the probe answers at once.

The probe is one user sending 20 requests a second; its latency is reported under its own name,
"probe /health". It starts CORELAB_PROBE_DELAY seconds (default 3) after the others, once every
user is running and the process pool has started: it measures the steady state, not start-up.
The others send CPU requests back to back. Settings, as corelab's
``bench(params=[{"offload": "process"}])`` passes them: CORELAB_OFFLOAD (none, thread, process;
default none) and CORELAB_MS (the burn per request, default 50).
"""

from __future__ import annotations

import os

import _worker_counts  # noqa: F401 - counts X-Worker-Pid for corelab
import gevent
from locust import FastHttpUser, constant_pacing, task

from plumbing import env

OFFLOAD = os.environ.get(env.OFFLOAD, "none")
WORK_MS = os.environ.get(env.MS, "50")
PROBE_NAME = "probe /health"
PROBE_DELAY_S = float(os.environ.get(env.PROBE_DELAY, "3"))


class OffloadedWorkUser(FastHttpUser):
    # No wait: the next CPU request goes as soon as the last is answered.
    @task
    def work(self) -> None:
        self.client.get(f"/work?ms={WORK_MS}&offload={OFFLOAD}", name=f"/work?ms={WORK_MS}&offload={OFFLOAD}")


class HealthProbeUser(FastHttpUser):
    fixed_count = 1  # exactly one probe, started first, whatever the number of users
    wait_time = constant_pacing(0.05)

    def on_start(self) -> None:
        gevent.sleep(PROBE_DELAY_S)

    @task
    def probe(self) -> None:
        self.client.get("/health", name=PROBE_NAME)
