"""How each Node variant starts, and how the launcher knows it serves: one small record each."""

from __future__ import annotations

from dataclasses import dataclass

from servers.node import NODE_FOLDER

PM2_RUNTIME = NODE_FOLDER / "node_modules" / "pm2" / "bin" / "pm2-runtime"
PM2_CLI = NODE_FOLDER / "node_modules" / "pm2" / "bin" / "pm2"
PM2_APP = "corelab"  # the app's name in pm2.config.js: what `pm2 reload` names
# Node's cluster scheduling, as NODE_CLUSTER_SCHED_POLICY spells it: rr (its default outside
# Windows) or none (every worker accepts on the shared socket, the kernel picks).
SCHED_POLICIES = ("rr", "none")


@dataclass(frozen=True)
class NodeVariant:
    name: str
    script: str  # under servers/node/
    # Serving once ``ready_count`` lines of its output contain ``ready_line``.
    ready_line: str
    multi_worker: bool = True
    takes_policy: bool = False
    needs_redis: bool = False
    # What SIGHUP to `python -m servers.node` does: "signal" (passed to the primary), "pm2" (pm2
    # reload) or "" (nothing to restart without downtime).
    restart: str = ""
    summary: str = ""

    def argv(self, node: str, host: str, port: int, workers: int, redis_url: str | None) -> list[str]:
        if self.name == "pm2":
            # pm2-runtime reads its port and instances from the environment the launcher sets.
            return [node, str(PM2_RUNTIME), "start", str(NODE_FOLDER / self.script)]
        args = [node, str(NODE_FOLDER / self.script), "--host", host, "--port", str(port)]
        if self.multi_worker:
            args += ["--workers", str(workers)]
        if self.needs_redis and redis_url:
            args += ["--redis-url", redis_url]
        return args

    def ready_lines(self, workers: int) -> int:
        """How many ready lines mean every worker serves (PM2 says nothing of its own: count the apps')."""
        return workers if self.name == "pm2" else 1


NODE_VARIANTS: dict[str, NodeVariant] = {
    v.name: v
    for v in (
        NodeVariant("single", "single.js", "listening on", multi_worker=False, summary="one Node process"),
        NodeVariant(
            "cluster",
            "cluster.js",
            "node cluster ready",
            takes_policy=True,
            restart="signal",
            summary="Node's cluster module: fork per core, respawn, drain, rolling restart on HUP/USR2",
        ),
        NodeVariant(
            "pm2",
            "pm2.config.js",
            "listening on",
            restart="pm2",
            summary="PM2's cluster mode under pm2-runtime; HUP runs `pm2 reload`",
        ),
        NodeVariant(
            "sticky",
            "sticky.js",
            "node sticky ready",
            needs_redis=True,
            summary="Socket.IO with @socket.io/sticky and the Redis adapter",
        ),
    )
}
