"""The application every variant serves: its endpoints, and what it does with bad input."""

from __future__ import annotations

import os
import time

import pytest

from tests.http import get


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory):
    # One server for the whole module: these tests only read from it.
    from plumbing.procs import ManagedProcess, free_port, python_module, wait_until_serving

    port = free_port()
    log = tmp_path_factory.mktemp("single") / "server.log"
    with ManagedProcess(python_module("servers.single", "--port", str(port)), log_path=log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{url}/health", proc)
        yield url


def test_hello_answers_text_and_names_its_worker(single: str) -> None:
    reply = get(single + "/")
    assert reply.status == 200
    assert reply.body.startswith(b"hello")
    assert reply.worker_pid > 0


def test_work_burns_about_the_cpu_asked_for(single: str) -> None:
    reply = get(single + "/work?ms=50")
    assert reply.status == 200
    body = reply.json()
    assert body["ms"] == 50 and body["offload"] == "none" and body["pid"] == reply.worker_pid
    # CPU time is at least what was asked; wall time can only be longer.
    assert body["elapsed_ms"] >= 49


def test_io_waits_without_cpu(single: str) -> None:
    started = time.perf_counter()
    reply = get(single + "/io?ms=200")
    assert reply.status == 200
    assert (time.perf_counter() - started) >= 0.19
    assert reply.json()["elapsed_ms"] >= 199


def test_health_reports_the_process(single: str) -> None:
    before = get(single + "/health").json()
    get(single + "/")
    after = get(single + "/health")
    body = after.json()
    assert set(body) == {"pid", "uptime_s", "rss_bytes", "requests_served"}
    assert body["pid"] == after.worker_pid
    assert body["rss_bytes"] > 10 * 2**20
    assert body["uptime_s"] >= before["uptime_s"]
    assert body["requests_served"] >= before["requests_served"] + 2


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("/work", "missing"),
        ("/work?ms=", "not a number"),
        ("/work?ms=abc", "not a number"),
        ("/work?ms=-5", "out of range"),
        ("/work?ms=0", "out of range"),
        ("/work?ms=nan", "out of range"),
        ("/work?ms=inf", "out of range"),
        ("/work?ms=1e9", "out of range"),
        ("/work?ms=1000.5", "out of range"),
        ("/io", "missing"),
        ("/io?ms=ten", "not a number"),
        ("/io?ms=-1", "out of range"),
        ("/io?ms=0", "out of range"),
        ("/io?ms=NaN", "out of range"),
        ("/io?ms=10001", "out of range"),
        ("/work?ms=5&offload=gpu", "not allowed"),
    ],
)
def test_bad_input_gets_400_naming_the_problem(single: str, query: str, problem: str) -> None:
    started = time.perf_counter()
    reply = get(single + query)
    assert reply.status == 400
    assert reply.headers["Content-Type"].startswith("application/json")
    error = reply.json()["error"]
    assert problem in error
    name = "offload" if "offload" in query else "ms"
    assert f"'{name}" in error  # names the parameter
    if name == "ms":
        assert ("1000" in error) if query.startswith("/work") else ("10000" in error)  # and the allowed range
    assert "X-Worker-Pid" in reply.headers
    assert time.perf_counter() - started < 1.0  # rejected up front, not after burning CPU


def test_the_caps_themselves_are_allowed(single: str) -> None:
    assert get(single + "/work?ms=0.5").status == 200
    assert get(single + "/io?ms=1").status == 200


def test_unknown_path_is_a_json_404(single: str) -> None:
    reply = get(single + "/nope")
    assert reply.status == 404
    assert reply.json() == {"error": "Not Found"}


def test_server_survives_bad_input(single: str) -> None:
    pid = get(single + "/health").json()["pid"]
    for query in ("/work?ms=-1", "/io?ms=x", "/work?ms=%00", "/work?ms=1e400"):
        assert get(single + query).status == 400
    assert get(single + "/health").json()["pid"] == pid
    assert pid != os.getpid()
