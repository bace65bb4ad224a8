"""Caddy's JSON configuration for a load balancer in front of a list of hosts.

The same function writes the fleet's own configuration (hosts on 127.0.0.2, 127.0.0.3, ...) and
the one ``--print-config --upstream ADDR ...`` prints for a front machine in front of real hosts.

Two routes, one reverse_proxy each, with the same hosts, policy and health checks:

- ``/socket.io/*`` without keep-alive to the hosts. A host is a cluster whose primary routes each
  *connection* by the sid in its first request (servers/cluster/sticky.py). A pooled upstream
  connection opened by one session (or by plain traffic) would carry the next session's requests
  to the wrong worker, so every Socket.IO request gets a connection of its own, as nginx's default
  HTTP/1.0 proxying gives it. WebSocket upgrades pass through reverse_proxy as they are.
- everything else with keep-alive: plain requests may reach any worker, and reusing connections
  keeps the load balancer's cost per request low.

The admin endpoint is off (nothing listens but the load balancer), automatic HTTPS is off (the
kit serves plain HTTP on loopback) and the configuration is not persisted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from servers.fleet.config import LB_POLICIES, HealthConfig

COOKIE_NAME = "corelab_lb"
SOCKETIO_PATH = "/socket.io/*"
# How long Caddy lets open requests (and WebSockets) finish when it is stopped.
GRACE_PERIOD_S = 2.0


def duration(seconds: float) -> str:
    """A Caddy (Go) duration: whole milliseconds, never an exponent."""
    return f"{round(seconds * 1000)}ms"


def listen_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def selection_policy(lb: str) -> dict[str, Any]:
    if lb not in LB_POLICIES:
        raise ValueError(f"unknown load-balancing policy {lb!r}: choose from {', '.join(LB_POLICIES)}")
    if lb == "cookie":
        # A client without the cookie (its first request) gets the next host in turn, and the
        # cookie naming it; a host that is down is replaced by the next one, with a new cookie.
        return {"policy": "cookie", "name": COOKIE_NAME, "fallback": {"policy": "round_robin"}}
    return {"policy": lb}


def health_checks(health: HealthConfig) -> dict[str, Any]:
    checks: dict[str, Any] = {
        "active": {
            "uri": health.uri,
            "interval": duration(health.interval_s),
            "timeout": duration(health.timeout_s),
            "expect_status": 200,
            # One failed check takes a host out, one good check brings it back.
            "fails": 1,
            "passes": 1,
        }
    }
    if health.fail_duration_s > 0:
        checks["passive"] = {"fail_duration": duration(health.fail_duration_s), "max_fails": 1}
    return checks


def reverse_proxy(upstreams: Sequence[str], lb: str, health: HealthConfig, *, keep_alive: bool) -> dict[str, Any]:
    balancing: dict[str, Any] = {"selection_policy": selection_policy(lb)}
    if health.try_duration_s > 0:
        balancing |= {"try_duration": duration(health.try_duration_s), "try_interval": "100ms"}
    handler: dict[str, Any] = {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": upstream} for upstream in upstreams],
        "load_balancing": balancing,
        "health_checks": health_checks(health),
    }
    if not keep_alive:
        handler["transport"] = {"protocol": "http", "keep_alive": {"enabled": False}}
    return handler


def caddy_config(
    upstreams: Sequence[str],
    *,
    lb: str,
    host: str,
    port: int,
    health: HealthConfig | None = None,
    storage_dir: str | None = None,
) -> dict[str, Any]:
    """The whole configuration: ``caddy run --config this.json`` serves it."""
    if not upstreams:
        raise ValueError("a load balancer needs at least one upstream (host:port)")
    health = health or HealthConfig()
    config: dict[str, Any] = {
        "admin": {"disabled": True, "config": {"persist": False}},
        "apps": {
            "http": {
                "grace_period": duration(GRACE_PERIOD_S),
                "servers": {
                    "fleet": {
                        "listen": [listen_address(host, port)],
                        "automatic_https": {"disable": True},
                        "routes": [
                            {
                                "match": [{"path": [SOCKETIO_PATH]}],
                                "handle": [reverse_proxy(upstreams, lb, health, keep_alive=False)],
                                "terminal": True,
                            },
                            {"handle": [reverse_proxy(upstreams, lb, health, keep_alive=True)]},
                        ],
                    }
                },
            }
        },
    }
    if storage_dir is not None:
        config["storage"] = {"module": "file_system", "root": storage_dir}
    return config


def to_json(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2) + "\n"
