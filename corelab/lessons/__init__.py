"""The lessons: one package per lesson, on top of the harness.

A lesson package holds its notebooks' measurement (built on ``corelab.harness``), the claims it
makes (``corelab.claim.Claim``: a sentence and the numbers behind it; the notebook shows it and the
notebook's test asserts on its fields), its own figures (built on ``corelab.figures``) and its
benchmark command (``bench``, behind ``python -m corelab``). No lesson imports another lesson.

    cores/          01 one core, 02 every core, 08 async is not parallel
    connections/    03 who gets the connection: bursts, balance, the primary's price
    restarts/       04 restarts without downtime, crash and respawn
    one_process/    05-07 the blocked loop, threads/processes/GIL, pools, spawn cost, shared memory
    shared_state/   09 state that breaks per worker
    chat/           10 sticky sessions, 11 the Redis adapter
    fleet/          12 beyond one machine
    generators/     how many load generators a run needs
"""

# Each lesson's public names, in the order corelab offers them (corelab/__init__.py reads their __all__).
PACKAGES = ("cores", "connections", "restarts", "one_process", "shared_state", "chat", "fleet")
