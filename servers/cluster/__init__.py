"""A fork cluster: one primary and N workers serving one port, as Node's cluster module does.

The role is chosen at the entry point: ``python -m servers.cluster`` runs the primary
(primary.py), which forks the workers (worker.py). How connections reach the workers is a
policy (policies.py); primary and workers talk over Unix socket pairs (protocol.py).
"""
