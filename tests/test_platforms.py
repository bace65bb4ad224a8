"""The macOS and WSL paths, run on Linux by monkeypatching what those platforms lack or refuse.

Each test takes away one thing (a loopback address, sched_setaffinity, psutil's system-wide
net_connections, Process.cpu_num) or pretends to be WSL, and checks the kit says so in one line
or carries on without it. The lifeline pipe (no PR_SET_PDEATHSIG) is in tests/test_no_orphans.py;
the loopback check in a real network namespace is in tests/test_fleet.py.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import time
import types
from pathlib import Path

import psutil
import pytest

from corelab.classroom import doctor
from corelab.harness.run import bench
from corelab.harness.sampler import Sampler
from corelab.lessons.fleet.handle import running_fleet
from corelab.live import toptree
from corelab.live.topstate import CpuMeter
from plumbing import cores, platform_check
from plumbing.listeners import tcp_listeners
from plumbing.procs import ManagedProcess, PinningUnsupported, free_port
from servers.cluster.policies.reuseport import reuseport_warning
from servers.fleet import loopback
from servers.fleet.config import FleetConfig
from servers.fleet.errors import EXIT_LOOPBACK_MISSING, FleetError
from servers.fleet.runner import Fleet

# -- the fleet's loopback addresses (macOS's lo0 has only 127.0.0.1) ------------------------------


class _OnlyLocalhost(socket.socket):
    """A socket on a machine whose loopback has 127.0.0.1 alone, as a Mac's lo0 does."""

    def bind(self, address: object) -> None:
        if isinstance(address, tuple) and address[0] != "127.0.0.1":
            raise OSError(errno.EADDRNOTAVAIL, os.strerror(errno.EADDRNOTAVAIL))
        super().bind(address)


@pytest.fixture
def mac_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.SimpleNamespace(
        socket=_OnlyLocalhost, AF_INET=socket.AF_INET, AF_INET6=socket.AF_INET6, SOCK_STREAM=socket.SOCK_STREAM
    )
    monkeypatch.setattr(loopback, "socket", fake)
    # Everything that imports by platform (pandas...) is imported above, before this.
    monkeypatch.setattr(sys, "platform", "darwin")


def test_missing_loopback_addresses_name_the_ifconfig_alias_on_macos(mac_loopback: None) -> None:
    assert loopback.can_bind("127.0.0.1")
    with pytest.raises(loopback.LoopbackMissing) as raised:
        loopback.check_loopback(FleetConfig(hosts=2).host_addresses())
    line = str(raised.value)
    assert "\n" not in line
    assert "`sudo ifconfig lo0 alias 127.0.0.2 up && sudo ifconfig lo0 alias 127.0.0.3 up`" in line
    assert raised.value.missing == ["127.0.0.2", "127.0.0.3"]
    # In a notebook the line is all IPython shows: no traceback.
    assert raised.value._render_traceback_() == [f"LoopbackMissing: {line}"]


def test_the_linux_fix_is_one_ip_addr_line() -> None:
    line = loopback.missing_line(["127.0.0.2", "127.0.0.3"], platform="linux")
    assert "`sudo ip addr add 127.0.0.2/8 dev lo`" in line


def test_other_bind_errors_are_not_taken_for_a_missing_address(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refused(socket.socket):
        def bind(self, address: object) -> None:
            raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(loopback, "socket", types.SimpleNamespace(**{**vars(socket), "socket": Refused}))
    with pytest.raises(PermissionError):
        loopback.can_bind("127.0.0.2")


def test_the_fleet_exits_with_the_line_before_starting_anything(mac_loopback: None, capsys) -> None:
    fleet = Fleet(FleetConfig(hosts=2, workers=1))
    with pytest.raises(FleetError) as raised:
        fleet._check_loopback()
    assert raised.value.exit_code == EXIT_LOOPBACK_MISSING
    assert "sudo ifconfig lo0 alias 127.0.0.2 up" in str(raised.value)
    assert fleet.redis is None and fleet.hosts == [] and fleet.balancer is None


def test_notebook_12_stops_with_the_line_before_starting_a_fleet(mac_loopback: None, tmp_path: Path) -> None:
    with (
        pytest.raises(loopback.LoopbackMissing, match=r"ifconfig lo0 alias 127\.0\.0\.3 up"),
        running_fleet("--hosts", "3", "--workers", "1", log_path=tmp_path / "fleet.log"),
    ):
        pass
    assert not (tmp_path / "fleet.log").exists()
    with pytest.raises(loopback.LoopbackMissing, match=r"ifconfig lo0 alias 127\.0\.0\.2 up"):
        bench(["fleet"], workers=1, scenario="hello", seconds=1, out=tmp_path / "runs", progress=None, live=False)
    assert not (tmp_path / "runs").exists()


# -- CPU affinity (macOS has no sched_setaffinity) ----------------------------------------------


def test_pinning_is_refused_in_one_line_before_any_child_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_setaffinity", raising=False)
    before = {p.pid for p in psutil.Process().children()}
    with pytest.raises(PinningUnsupported) as raised:
        ManagedProcess([sys.executable, "-c", "pass"], cores=[0])
    assert "\n" not in str(raised.value) and "sched_setaffinity" in str(raised.value)
    assert {p.pid for p in psutil.Process().children()} == before


# -- psutil.net_connections: AccessDenied for a normal user on macOS -----------------------------


@pytest.fixture
def no_system_wide_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(kind: str = "inet") -> list:
        raise psutil.AccessDenied(os.getpid())

    monkeypatch.setattr(psutil, "net_connections", refused)


def test_listeners_fall_back_to_this_users_own_processes(no_system_wide_connections: None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        seen = tcp_listeners(port)
        assert not seen.complete
        assert [(listener.pid, listener.port) for listener in seen.found] == [(os.getpid(), port)]
        # corelab top --port: the same tree as with root's view.
        assert toptree.listening_pids(port) == [os.getpid()]
        # doctor's busy-port check names the holder.
        holder = doctor.port_holder(port)
        assert holder is not None and holder.startswith(f"pid {os.getpid()} ")


def test_top_says_pass_pid_where_it_cannot_see_the_port(no_system_wide_connections: None) -> None:
    port = free_port()
    with pytest.raises(toptree.NotFound) as raised:
        toptree.listening_pids(port)
    assert "--pid" in str(raised.value) and "\n" not in str(raised.value)
    assert doctor.port_holder(port) == "another user's process (only root can see whose on this OS)"


# -- Process.cpu_num: not on macOS ---------------------------------------------------------------


def test_the_sampler_and_top_carry_on_without_cpu_num(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(psutil.Process, "cpu_num")
    me = psutil.Process()
    assert cores.last_core(me) is None
    sampler = Sampler({"server": os.getpid()}, interval=0.05).start()
    time.sleep(0.4)
    samples = sampler.stop()
    assert len(samples.procs) > 0 and (samples.procs["core"] == -1).all()
    meter = CpuMeter()
    assert meter.read(me, time.monotonic())[1] is None


def test_a_cpu_num_that_raises_attribute_error_is_no_core(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(self: psutil.Process) -> int:
        raise AttributeError("cpu_num")

    monkeypatch.setattr(psutil.Process, "cpu_num", missing)
    assert cores.last_core(psutil.Process()) is None


# -- SO_REUSEPORT does not balance on macOS and the BSDs -----------------------------------------


def test_reuseport_warns_in_one_line_off_linux() -> None:
    assert reuseport_warning("linux") is None
    line = reuseport_warning("darwin")
    assert line is not None and "\n" not in line and "does not balance" in line


# -- WSL with the checkout on a Windows drive ----------------------------------------------------

WSL_RELEASE = "5.15.153.1-microsoft-standard-WSL2"


def test_wsl_on_a_windows_drive_gets_one_warning() -> None:
    (line,) = platform_check.platform_warnings("/mnt/c/Users/ada/corelab", release=WSL_RELEASE, proc_version="")
    assert "/mnt/c/Users/ada/corelab" in line and "~" in line
    assert platform_check.platform_warnings("/home/ada/corelab", release=WSL_RELEASE, proc_version="") == []
    plain = "6.1.0-18-amd64"
    assert platform_check.platform_warnings("/mnt/c/x", release=plain, proc_version="Linux version 6.1.0") == []
    # WSL 1's release says "Microsoft"; /proc/version says it when the release does not.
    assert platform_check.running_under_wsl("4.4.0-19041-Microsoft", "")
    assert platform_check.running_under_wsl(plain, "Linux version 5.15 (microsoft@microsoft.com)")


def test_platform_check_prints_its_warnings_and_exits_0(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(platform_check.platform, "release", lambda: WSL_RELEASE)
    monkeypatch.setattr(platform_check, "PROJECT_ROOT", Path("/mnt/d/src/corelab"))
    assert platform_check.main() == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("warning: WSL") and "/mnt/d/src/corelab" in line
    check = doctor.check_platform()
    assert check is not None and check.status == "note" and check.name == "platform"


def test_doctor_has_no_platform_line_where_there_is_nothing_to_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "platform_warnings", lambda: [])
    assert doctor.check_platform() is None
