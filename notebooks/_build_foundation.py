"""Build notebooks 01 and 02 (without outputs): python notebooks/_build_foundation.py"""

from pathlib import Path

import nbformat as nbf
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def nb(cells):
    n = new_notebook()
    n.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    n.metadata["language_info"] = {"name": "python"}
    n.cells = [new_markdown_cell(c[1]) if c[0] == "md" else new_code_cell(c[1]) for c in cells]
    return n


setup = """from corelab import bench, pick"""

one = nb(
    [
        (
            "md",
            """# 1. One Python process uses one core

**Claim.** A Python web server is one process running one event loop, and the GIL lets one thread
run Python bytecode at a time. CPU-bound requests are therefore served one after another, on one
core, however many cores the machine has and however many users wait. (Node's single JavaScript
thread is the same story.)

**Measurement.** Locust users send `GET /work?ms=10` (10 ms of pure-Python CPU per request, in
`servers/burn.py`) to `python -m servers.single`, as fast as it answers, while corelab samples
every core ten times a second. Locust runs on the same machine, so corelab also records its CPU.""",
        ),
        ("code", """from corelab import bench, pick, plot_cores, plot_throughput"""),
        ("code", """runs = bench(["single"], scenario="cpu", users=8, seconds=pick(15, 5))"""),
        ("md", """Each row is a core, time runs left to right, and the colour is how busy the core was."""),
        ("code", """plot_cores(runs, title="one process, CPU-bound requests");"""),
        ("code", """plot_throughput(runs);"""),
        (
            "code",
            """row = runs.summary.iloc[0]
per_core = runs.cores.groupby("core")["util_pct"].mean().round()
print(f"The server process used {row.server_cpu_pct:.0f}% CPU, that is {row.server_cpu_pct / 100:.2f} of a core, "
      f"on a machine with {len(per_core)} cores (mean per core: {', '.join(f'{v:.0f}%' for v in per_core)}).")
print(f"It served {row.rps:.0f} requests/s: at 10 ms of CPU each, one core allows at most 100.")
print(f"Median latency {row.p50_ms:.0f} ms: {row.users} users queue behind one core, so each waits for the others.")
if row.generator_bound:
    print(f"Locust used {row.generator_cpu_pct:.0f}% of a core: generator-bound, so this run measured Locust.")
else:
    print(f"Locust used {row.generator_cpu_pct:.0f}% of a core, so the server was the bottleneck.")""",
        ),
        (
            "md",
            """**What to notice.** One core is lit and the other is nearly dark (the scheduler may move the
process between cores, but the total never passes one core). More users would only make the queue
longer: the throughput stays at one core's worth. The next notebook adds processes.""",
        ),
    ]
)

every = nb(
    [
        (
            "md",
            """# 2. A fork cluster uses every core

**Claim.** To use N cores, run N processes. A fork cluster (Node's `cluster` module, PM2's cluster
mode, gunicorn) has a primary that forks N workers serving one port; each worker has its own
interpreter, its own GIL and its own event loop, so CPU-bound throughput grows with the cores.

**Measurement.** The same Locust load (`GET /work?ms=10`) against `servers.single` and against
`python -m servers.cluster` with one worker per core. The primary serves nothing: it forks,
watches and respawns.""",
        ),
        (
            "code",
            """from corelab import bench, pick, plot_cores, plot_requests_per_worker, plot_throughput_by_variant
from servers.cluster.config import usable_cores

workers = usable_cores()
print(f"{workers} usable cores, so {workers} workers")""",
        ),
        (
            "code",
            """runs = bench(["single", "cluster"], workers=workers, scenario="cpu", users=8, seconds=pick(15, 5))""",
        ),
        ("code", """plot_cores(runs, title="one process vs a fork cluster");"""),
        ("code", """plot_throughput_by_variant(runs);"""),
        (
            "md",
            """Every response carries the pid of the worker that produced it (`X-Worker-Pid`), so we can see
how the requests were shared out:""",
        ),
        ("code", """plot_requests_per_worker(runs);"""),
        (
            "code",
            """single, cluster = runs.summary.iloc[0], runs.summary.iloc[1]
print(f"One process: {single.rps:.0f} req/s on {single.server_cpu_pct:.0f}% CPU.")
print(f"Cluster of {cluster.workers}: {cluster.rps:.0f} req/s on {cluster.server_cpu_pct:.0f}% CPU: "
      f"{cluster.rps / single.rps:.2f}x the throughput (the limit is {cluster.workers}x).")
shares = runs.workers[runs.workers["run"] == cluster.run]["share"]
print(f"Busiest worker served {shares.max():.0%} of the requests, the least busy {shares.min():.0%}.")
print(f"Locust used {cluster.generator_cpu_pct:.0f}% of a core on the same machine: that, and the sampler, "
      f"is CPU the workers could not have.")""",
        ),
        (
            "md",
            """**What to notice.** With the cluster every core is lit, and throughput grows by nearly the
number of cores. It cannot quite reach it here because Locust shares the machine. Notebook 3 looks
at *how* the connections were shared out, and why Node made round-robin its default.""",
        ),
    ]
)
HERE = Path(__file__).resolve().parent
nbf.write(one, HERE / "01-one-core.ipynb")
nbf.write(every, HERE / "02-every-core.ipynb")
