"""The server variants that corelab measures; each is runnable as ``python -m servers.<name>``."""
