"""Run one Node variant in the foreground, as ``python -m servers.cluster`` runs the kit's cluster.

The launcher finds Node and the npm packages, checks the port, starts a Redis for the sticky
variant when none is given, then starts the variant's Node primary as its child and relays its
output. The child is tagged as the kit's (plumbing.procs.kit_tag: ``corelab clean`` and the tests'
leak check find it), stays in the launcher's process group (a Ctrl-C, or a harness stopping the
group, reaches every Node process) and is tied to the launcher by PR_SET_PDEATHSIG: a SIGKILLed
launcher takes the Node primary with it, and Node's cluster workers exit when their primary's
IPC channel closes. Signals, like servers.cluster's primary: handlers only record them, the main
loop acts.

- SIGINT / SIGTERM: the primary drains its workers and exits; whatever is left after the grace
  period is killed. Exit code 0.
- SIGHUP / SIGUSR2: the variant's zero-downtime restart (cluster: the signal goes to its primary,
  which restarts one worker at a time; pm2: ``pm2 reload``); the others say they have none.
- The Node primary exiting by itself (a worker that crashed at boot, Redis unreachable): one line
  with its last output, and its exit code (non-zero).
"""

from __future__ import annotations

import errno
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from plumbing import env
from plumbing.lifeline import set_parent_death_signal
from plumbing.node import NodeRuntime
from plumbing.procs import PROJECT_ROOT, kit_tag
from plumbing.redis_server import RedisConfig, RedisServer
from servers.listen import EXIT_ADDRESS_UNAVAILABLE
from servers.node.variants import PM2_APP, PM2_CLI, NodeVariant

EXIT_BOOT_FAILED = 70  # as servers/cluster/worker.py and app.js name it
READY_LINE = "servers.node: ready"  # what the launcher prints once every worker serves
STOP_GRACE_S = 13.0  # a little over the primaries' own 12 s


@dataclass(frozen=True)
class LaunchConfig:
    variant: NodeVariant
    runtime: NodeRuntime
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    policy: str | None = None  # NODE_CLUSTER_SCHED_POLICY, for the variants that take one
    redis_url: str | None = None
    boot_timeout_s: float = 30.0


class LaunchError(Exception):
    """The variant cannot start; the message is one line, ``exit_code`` says which failure."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def check_port_free(host: str, port: int) -> None:
    """Only "already in use" is refused here; Node reports any other listen error itself."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LaunchError(
                    f"{host}:{port} is already in use: stop what is listening there or pick another --port",
                    EXIT_ADDRESS_UNAVAILABLE,
                ) from None


class Relay:
    """Copies the Node process's output to our stderr, line by line, and counts its ready lines."""

    def __init__(self, stream: IO[bytes], ready_line: str) -> None:
        self.ready_line = ready_line
        self.ready_seen = 0
        self.last: list[str] = []
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._copy, args=(stream,), daemon=True, name="node-output")
        self.thread.start()

    def _copy(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            with suppress(OSError, ValueError):
                print(line, file=sys.stderr, flush=True)
            if line.strip():
                self.last = [*self.last[-2:], line.strip()]
            if self.ready_line in line:
                self.ready_seen += 1

    def tail(self) -> str:
        return " | ".join(self.last) or "(no output)"


class Launcher:
    def __init__(self, config: LaunchConfig) -> None:
        self.config = config
        self.signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.node: subprocess.Popen[bytes] | None = None
        self.relay: Relay | None = None
        self.reload: subprocess.Popen[bytes] | None = None

    # -- the main loop: a table of contents ----------------------------------------------------

    def run(self) -> int:
        cfg = self.config
        check_port_free(cfg.host, cfg.port)
        with self._redis() as redis_url, self._pm2_home() as pm2_home:
            self._install_handlers()
            self.node = self._start(redis_url, pm2_home)
            try:
                self._wait_until_serving()
                print(
                    f"{READY_LINE}: node {cfg.variant.name} on http://{cfg.host}:{cfg.port}, "
                    f"{cfg.workers if cfg.variant.multi_worker else 1} worker(s), {cfg.runtime.describe()}, "
                    f"primary pid {self.node.pid}",
                    file=sys.stderr,
                    flush=True,
                )
                return self._serve(pm2_home)
            finally:
                self._stop()

    def _serve(self, pm2_home: Path | None) -> int:
        assert self.node is not None and self.relay is not None
        while True:
            code = self.node.poll()
            if code is not None:
                print(f"error: node {self.config.variant.name} exited ({code}): {self.relay.tail()}", file=sys.stderr)
                return code or 1
            try:
                signum = self.signals.get(timeout=0.2)
            except queue.Empty:
                continue
            if signum in (signal.SIGINT, signal.SIGTERM):
                name = signal.Signals(signum).name
                print(f"servers.node: {name}: stopping node {self.config.variant.name}", file=sys.stderr, flush=True)
                return 0
            self._restart(signum, pm2_home)

    # -- the parts ------------------------------------------------------------------------------

    def _install_handlers(self) -> None:
        # Handlers only record the signal; the loop acts on it (gunicorn's arbiter, servers.cluster).
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR2):
            signal.signal(signum, lambda s, _f: self.signals.put(s))

    @contextmanager
    def _redis(self) -> Iterator[str | None]:
        cfg = self.config
        if not cfg.variant.needs_redis or cfg.redis_url:
            if cfg.redis_url:
                print(f"servers.node: Redis at {cfg.redis_url} (given)", file=sys.stderr, flush=True)
            yield cfg.redis_url
            return
        # Tied to this process: a SIGKILLed launcher must not leave its Redis behind.
        redis = RedisServer(RedisConfig(die_with_parent=True)).start()
        print(f"servers.node: Redis {redis.describe()}", file=sys.stderr, flush=True)
        try:
            yield redis.url
        finally:
            redis.close()

    @contextmanager
    def _pm2_home(self) -> Iterator[Path | None]:
        # PM2 keeps its sockets, pids and logs in PM2_HOME: one of our own per run, so `pm2 reload`
        # reaches this pm2-runtime and nothing lands in the user's ~/.pm2.
        if self.config.variant.restart != "pm2":
            yield None
            return
        home = Path(tempfile.mkdtemp(prefix="corelab-pm2-"))
        try:
            yield home
        finally:
            shutil.rmtree(home, ignore_errors=True)

    def _environment(self, redis_url: str | None, pm2_home: Path | None) -> dict[str, str]:
        cfg = self.config
        extra = {
            # How many workers share the cores: each sizes its worker_threads pool by it (app.py's rule).
            env.WORKERS: str(cfg.workers),
            # PORT and HOST: how the articles, and PM2's ecosystem file, tell an app where to listen.
            "PORT": str(cfg.port),
            "HOST": cfg.host,
        }
        if cfg.policy:
            extra["NODE_CLUSTER_SCHED_POLICY"] = cfg.policy
        if redis_url:
            extra[env.CHAT_REDIS_URL] = redis_url
        if pm2_home is not None:
            extra["PM2_HOME"] = str(pm2_home)
        # The tag last: every Node process is the kit's, started by this launcher.
        return {**os.environ, **extra, **kit_tag()}

    def _start(self, redis_url: str | None, pm2_home: Path | None) -> subprocess.Popen[bytes]:
        cfg = self.config
        argv = cfg.variant.argv(cfg.runtime.path, cfg.host, cfg.port, cfg.workers, redis_url)
        node = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
            env=self._environment(redis_url, pm2_home),
            # Started from the main thread, so the kernel's death signal follows this process.
            preexec_fn=set_parent_death_signal,
        )
        assert node.stdout is not None
        self.relay = Relay(node.stdout, cfg.variant.ready_line)
        return node

    def _wait_until_serving(self) -> None:
        assert self.node is not None and self.relay is not None
        cfg = self.config
        wanted = cfg.variant.ready_lines(cfg.workers)
        deadline = time.monotonic() + cfg.boot_timeout_s
        while self.relay.ready_seen < wanted:
            code = self.node.poll()
            if code is not None:
                self.relay.thread.join(1.0)  # its last words
                raise LaunchError(
                    f"node {cfg.variant.name} exited ({code}) before it served: {self.relay.tail()}",
                    code if code == EXIT_ADDRESS_UNAVAILABLE else EXIT_BOOT_FAILED,
                )
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"node {cfg.variant.name} did not serve within {cfg.boot_timeout_s:g} s: {self.relay.tail()}",
                    EXIT_BOOT_FAILED,
                )
            with suppress(queue.Empty):
                signum = self.signals.get(timeout=0.05)
                if signum in (signal.SIGINT, signal.SIGTERM):
                    raise LaunchError(f"stopped before node {cfg.variant.name} served", 0)

    def _restart(self, signum: int, pm2_home: Path | None) -> None:
        assert self.node is not None
        variant = self.config.variant
        if variant.restart == "signal":
            print(f"servers.node: {signal.Signals(signum).name}: rolling restart", file=sys.stderr, flush=True)
            self.node.send_signal(signum)
        elif variant.restart == "pm2":
            if self.reload is not None and self.reload.poll() is None:
                print("servers.node: pm2 reload already under way", file=sys.stderr, flush=True)
                return
            print(f"servers.node: {signal.Signals(signum).name}: pm2 reload {PM2_APP}", file=sys.stderr, flush=True)
            env_ = {**self._environment(None, pm2_home)}
            self.reload = subprocess.Popen(
                [self.config.runtime.path, str(PM2_CLI), "reload", PM2_APP],
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
                env=env_,
            )
        else:
            print(f"servers.node: node {variant.name} has no zero-downtime restart", file=sys.stderr, flush=True)

    def _stop(self) -> None:
        """SIGTERM to the primary, its grace period, then SIGKILL to whatever of its tree is left."""
        node = self.node
        if node is None:
            return
        try:
            tree = [psutil.Process(node.pid), *psutil.Process(node.pid).children(recursive=True)]
        except psutil.Error:
            tree = []
        if node.poll() is None:
            node.terminate()
            try:
                node.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                print(f"servers.node: node {self.config.variant.name} did not stop in time: killed", file=sys.stderr)
        # Workers forked after the snapshot (a respawn during the stop) are the primary's children too.
        with suppress(psutil.Error):
            tree += psutil.Process(node.pid).children(recursive=True)
        for proc in tree:
            with suppress(psutil.Error):
                proc.kill()
        with suppress(subprocess.TimeoutExpired):
            node.wait(2.0)
        if self.reload is not None and self.reload.poll() is None:
            self.reload.kill()
            self.reload.wait()
        if self.relay is not None:
            self.relay.thread.join(1.0)
        print(f"servers.node: node {self.config.variant.name} stopped", file=sys.stderr, flush=True)
