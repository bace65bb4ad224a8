"""How client connections reach the workers: one module per policy, one registry of their names.

==============  ============================================================================
``rr``          the primary accepts and hands each connection to the next worker (round_robin.py)
``shared``      every worker accepts on one inherited socket; the kernel picks (shared.py)
``shared-one``  the shared socket, each worker accepting one connection per wake-up (shared_one.py)
``reuseport``   one SO_REUSEPORT socket per worker; the kernel hashes (reuseport.py)
``sticky``      rr, but a Socket.IO session's requests reach the worker that holds it (sticky.py)
==============  ============================================================================

Every policy has the interface in base.py; the primary's hand-off (accept, peek, send the
descriptor) is handoff.py, shared by rr and sticky. ``rr`` is the default, as in Node on Linux:
of the policies measured it is the one that gives every worker connections, every time, when
many clients arrive at once (notebook 03, ``python -m corelab lifecycle burst``).

The cluster's command line, its config and corelab all read the names from this table. It
imports no policy module (nor aiohttp) until ``make_policy``, so reading it stays cheap.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from servers.cluster.policies.base import Policy, PolicyConfig


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    # "module:Class" under servers.cluster.policies.
    where: str
    summary: str
    # False for sticky: it is for Socket.IO sessions, what servers.sticky and servers.pubsub run.
    for_plain_http: bool = True


POLICIES: dict[str, PolicyInfo] = {
    p.name: p
    for p in (
        PolicyInfo("rr", "round_robin:RoundRobinPolicy", "the primary accepts and hands connections out in turn"),
        PolicyInfo("shared", "shared:SharedPolicy", "workers accept on one inherited socket (gunicorn, uvicorn)"),
        PolicyInfo("shared-one", "shared_one:SharedOnePolicy", "shared, each worker accepting one per wake-up"),
        PolicyInfo("reuseport", "reuseport:ReusePortPolicy", "one SO_REUSEPORT socket per worker, kernel-hashed"),
        PolicyInfo("sticky", "sticky:StickyPolicy", "rr, but by Socket.IO session id", for_plain_http=False),
    )
}
DEFAULT_POLICY = "rr"
BALANCING_POLICIES: tuple[str, ...] = tuple(name for name, p in POLICIES.items() if p.for_plain_http)


def policy_class(name: str) -> type[Policy]:
    module, _, cls = POLICIES[name].where.partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def make_policy(config: PolicyConfig) -> Policy:
    return policy_class(config.policy)(config)


def describe_policies() -> str:
    """The policies in one paragraph, for --help."""
    return "; ".join(f"{p.name}: {p.summary}" for p in POLICIES.values())
