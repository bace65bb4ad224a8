"""The fleet's life: start Redis, the hosts and the load balancer; watch them; stop them together.

Signal handlers only enqueue; the main loop reads the queue and does the work. Everything the
fleet starts is stopped in ``finally``: on success, on a startup error, on Ctrl-C or SIGTERM.
Only SIGKILL skips ``finally``, and then each child is killed for it: by the kernel on Linux
(PR_SET_PDEATHSIG), by its lifeline pipe's watcher elsewhere (plumbing/lifeline.py).
"""

from __future__ import annotations

import queue
import shutil
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from plumbing.cores import usable_cores
from servers.fleet.caddy import caddy_error, find_caddy, start_caddy
from servers.fleet.children import Child
from servers.fleet.config import READY_LINE, FleetConfig, cores_for_host
from servers.fleet.errors import (
    EXIT_BALANCER_FAILED,
    EXIT_BUSY_PORT,
    EXIT_HOST_BOOT_FAILED,
    EXIT_LOOPBACK_MISSING,
    EXIT_NO_HOST_LEFT,
    EXIT_REDIS_UNAVAILABLE,
    FleetError,
    StopRequested,
)
from servers.fleet.hosts import Host, host_ready, start_host
from servers.fleet.loopback import LoopbackMissing, check_loopback
from servers.listen import ListenError, open_listener, warn_if_exposed

if TYPE_CHECKING:
    from plumbing.redis_server import RedisServer

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
LOOP_TICK_S = 0.25
# A Redis that keeps dying is restarted at most this often.
REDIS_RESTART_GAP_S = 2.0


def say(message: str) -> None:
    print(f"fleet: {message}", file=sys.stderr, flush=True)


def answers(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def exit_description(child: Child) -> str:
    code = child.returncode
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"code {code}: {caddy_error(child)}"


class Fleet:
    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.events: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.redis: RedisServer | None = None
        self.hosts: list[Host] = []
        self.balancer: Child | None = None
        self.run_dir: Path | None = None
        self._own_run_dir = config.log_dir is None
        self._redis_restarted_at = -REDIS_RESTART_GAP_S
        self._redis_gave_up = False

    def run(self) -> int:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._enqueue)
        try:
            self._check_loopback()
            self._check_ports()
            caddy = find_caddy(self.config.caddy)
            self.run_dir = self._make_run_dir()
            redis_url = self._start_redis()
            self._start_hosts(redis_url)
            self._start_balancer(caddy)
            # Unprefixed: corelab's variants wait for this line (READY_LINE) in the fleet's output.
            print(
                f"{READY_LINE}: {len(self.hosts)} hosts behind http://{self._lb_address()} (lb {self.config.lb})",
                file=sys.stderr,
                flush=True,
            )
            return self._watch()
        except StopRequested:
            return 0
        except FleetError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return exc.exit_code
        finally:
            self._stop_all()

    # -- signals ------------------------------------------------------------------------------
    def _enqueue(self, signum: int, _frame: object) -> None:
        self.events.put(signum)

    def _stop_requested(self) -> int | None:
        try:
            return self.events.get_nowait()
        except queue.Empty:
            return None

    # -- starting -----------------------------------------------------------------------------
    def _check_loopback(self) -> None:
        """Fail before starting anything if a host's loopback address is missing (macOS has only 127.0.0.1)."""
        try:
            check_loopback(self.config.host_addresses())
        except LoopbackMissing as exc:
            raise FleetError(str(exc), EXIT_LOOPBACK_MISSING) from None

    def _check_ports(self) -> None:
        """Fail before starting anything if the load balancer's or a host's address is taken."""
        warn_if_exposed(self.config.host)
        wanted = [(self.config.host, self.config.port, "--port")]
        wanted += [(address, self.config.upstream_port, "a host's port") for address in self.config.host_addresses()]
        for address, port, what in wanted:
            try:
                open_listener(address, port).close()
            except ListenError as exc:
                raise FleetError(f"{exc} ({what})", EXIT_BUSY_PORT) from None

    def _make_run_dir(self) -> Path:
        if self.config.log_dir is None:
            return Path(tempfile.mkdtemp(prefix="corelab-fleet-"))
        path = Path(self.config.log_dir)
        path.mkdir(parents=True, exist_ok=True)
        say(f"logs in {path}")
        return path

    def _start_redis(self) -> str:
        # Imported here, as servers.pubsub does: only the fleet's own Redis needs the harness's launcher.
        from plumbing.redis_server import RedisConfig, RedisServer, RedisUnavailable

        # Tied to the fleet: a SIGKILLed fleet must not leave its Redis behind.
        redis = RedisServer(RedisConfig(url=self.config.redis_url, die_with_parent=True, start_timeout=5.0))
        try:
            self.redis = redis.start()
        except RedisUnavailable as exc:
            redis.close()
            first_line = str(exc).splitlines()[0]
            raise FleetError(f"Redis unavailable: {first_line}", EXIT_REDIS_UNAVAILABLE) from None
        say(f"Redis {self.redis.describe()}")
        return self.redis.url

    def _start_hosts(self, redis_url: str) -> None:
        assert self.run_dir is not None
        cores = usable_cores()
        for i, address in enumerate(self.config.host_addresses()):
            pinned = cores_for_host(i, self.config.hosts, cores) if self.config.pin else None
            self.hosts.append(start_host(self.config, i + 1, address, redis_url, self.run_dir, pinned))
        # The hosts boot side by side; each must be serving before the load balancer starts.
        deadline = time.monotonic() + self.config.boot_timeout
        for host in self.hosts:
            self._wait_for(
                lambda h=host: host_ready(h) and answers(f"{h.url}/health"),
                host.child,
                deadline,
                f"{host.describe()} could not boot",
                EXIT_HOST_BOOT_FAILED,
            )
            pinned = f", cores {host.child.cores}" if host.child.cores else ""
            say(f"{host.describe()} serving: {self.config.workers} workers, primary pid {host.child.pid}{pinned}")
        if self.config.pin:
            say("pinned: on this one machine the hosts still share its cores, caches and memory")

    def _start_balancer(self, caddy: str) -> None:
        assert self.run_dir is not None
        self.balancer = start_caddy(caddy, self.config, self.run_dir)
        deadline = time.monotonic() + 15.0
        self._wait_for(
            lambda: answers(f"http://{self._lb_address()}/health"),
            self.balancer,
            deadline,
            f"the load balancer (Caddy, {caddy}) did not start",
            EXIT_BALANCER_FAILED,
        )
        say(f"load balancer: Caddy pid {self.balancer.pid} on http://{self._lb_address()}")

    def _wait_for(self, ready: Callable[[], bool], child: Child, deadline: float, failure: str, code: int) -> None:
        while not ready():
            if self._stop_requested() is not None:
                raise StopRequested
            if not child.alive():
                why = caddy_error(child) if child is self.balancer else child.log_tail(1)
                raise FleetError(f"{failure}: exit code {child.returncode}: {why}", code)
            if time.monotonic() > deadline:
                raise FleetError(f"{failure}: not serving in time: {child.log_tail(1)}", code)
            time.sleep(0.05)

    def _lb_address(self) -> str:
        host = self.config.host
        return f"[{host}]:{self.config.port}" if ":" in host else f"{host}:{self.config.port}"

    # -- running ------------------------------------------------------------------------------
    def _watch(self) -> int:
        """The main loop: stop on a signal, stop if the load balancer dies, say when a host dies."""
        assert self.balancer is not None
        while True:
            try:
                signum = self.events.get(timeout=LOOP_TICK_S)
            except queue.Empty:
                signum = None
            if signum is not None:
                say(f"{signal.Signals(signum).name}: stopping")
                return 0
            if not self.balancer.alive():
                # The fleet's one front door: without it no client reaches any host, so the
                # fleet stops rather than serve nobody (restarting it would hide the fault).
                raise FleetError(
                    f"the load balancer exited ({exit_description(self.balancer)}): "
                    "no client can reach the hosts, stopping the fleet",
                    EXIT_BALANCER_FAILED,
                )
            for host in self.hosts:
                if not host.reported_dead and not host.child.alive():
                    host.reported_dead = True
                    say(
                        f"{host.describe()} exited (code {host.child.returncode}): "
                        "the load balancer's health checks route around it"
                    )
            if self.redis is not None and self.redis.owned and self.redis.pid is None:
                self._bring_redis_back()
            if all(host.reported_dead for host in self.hosts):
                raise FleetError("every host has exited: nothing left to balance", EXIT_NO_HOST_LEFT)

    def _bring_redis_back(self) -> None:
        """The fleet's own Redis exited: say so and start it again on the same port.

        Pub/sub keeps nothing, so a new, empty Redis is as good as the old one; the hosts' Socket.IO
        managers reconnect by themselves. Meanwhile the hosts serve HTTP and deliver chat messages
        to their own clients; what is published across hosts in the gap is lost (at most once).
        """
        assert self.redis is not None
        if self._redis_gave_up or time.monotonic() - self._redis_restarted_at < REDIS_RESTART_GAP_S:
            return
        say("Redis exited: the hosts still serve, but no message crosses from one to another; restarting it")
        from plumbing.redis_server import RedisUnavailable

        self._redis_restarted_at = time.monotonic()
        try:
            self.redis.start()
        except RedisUnavailable as exc:
            self._redis_gave_up = True
            say(f"Redis could not be restarted ({str(exc).splitlines()[0]}): the hosts go on without it")
            return
        say(f"Redis is back at {self.redis.url} after {time.monotonic() - self._redis_restarted_at:.2f} s")

    # -- stopping -----------------------------------------------------------------------------
    def _stop_all(self) -> None:
        """The load balancer first (no new requests), then every host at once, then Redis."""
        children = ([self.balancer] if self.balancer else []) + [host.child for host in self.hosts]
        for child in children:
            child.terminate()
        started = time.monotonic()
        for child in children:
            child.wait_stopped(started + child.grace - time.monotonic())
        if self.redis is not None:
            self.redis.close()
        if self._own_run_dir and self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
