"""The lessons: one module per notebook, underneath the harness.

A lesson module holds one notebook's measurement (built on the harness: ``corelab.run``,
``corelab.sampler``, ``corelab.loadgen``, ``corelab.results``) and, where the notebook makes a
claim, a small result object that carries the claim's numbers and says its sentence; the notebook
shows that object and the notebook's test asserts on its fields. ``*_bench`` modules are the
benchmark commands behind ``python -m corelab`` that measure a lesson's figures at full length.
"""
