"""A fork cluster: one primary and N workers serving one port, as Node's cluster module does.

The role is chosen at the entry point: ``python -m servers.cluster`` runs the primary
(primary.py), which forks the workers (worker.py). How connections reach the workers is a
policy (policies/: one module per policy, rr by default); primary and workers talk over Unix
socket pairs (protocol.py).

Lifecycle, as PM2 and gunicorn manage it: workers send heartbeats (pid, rss, uptime, requests
served) and a silent one is killed (``--timeout``); crashed workers come back after PM2's
exponential backoff (backoff.py); a worker that cannot boot stops the cluster with exit code
70; SIGHUP/SIGUSR2 restart the workers one at a time, each drained only once its successor
serves (or all at once with ``--restart naive``); ``--max-memory`` and ``--max-requests``
recycle workers the same graceful way; SIGTTIN/SIGTTOU add or remove one; ``--admin-port``
serves GET /cluster-health on loopback (admin.py).
"""
