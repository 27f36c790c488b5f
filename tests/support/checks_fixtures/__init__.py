"""Modules with bad method definitions, listed in ``WSRPC['METHODS']`` by tests/test_checks.py."""
