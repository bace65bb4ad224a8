"""How many load generators a run needs: req/s on GET / with 1, 2, 3 Locust processes
(``bench``: ``python -m corelab generators``)."""
