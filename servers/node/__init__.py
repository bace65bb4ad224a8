"""The articles' Node originals, serving the kit's app contract: ``python -m servers.node VARIANT``.

One small JavaScript file per idea, in the shape the articles teach it (each file's header says
which idea): ``single.js`` (one process), ``cluster.js`` (``cluster.fork()`` per core, respawn,
SIGTERM drain, rolling restart, ``NODE_CLUSTER_SCHED_POLICY``), ``work_pool.js`` (worker_threads for
``/work?offload=thread``), ``pm2.config.js`` (PM2's cluster mode under ``pm2-runtime``) and
``sticky.js`` (Socket.IO with ``@socket.io/sticky`` and the Redis adapter). ``app.js``, ``burn.js``
and ``chat.js`` are the kit's app in Node: the endpoints, the CPU burn and the chat protocol of
servers/app.py, servers/burn.py and servers/chat.py.

The Python here only finds and starts them: ``packages`` installs the npm packages from the
committed package-lock.json into ``node_modules/`` beside these files; ``variants`` says how each
starts; ``launcher`` runs one in the foreground and stops everything it started.
"""

from __future__ import annotations

from pathlib import Path

NODE_FOLDER = Path(__file__).resolve().parent
