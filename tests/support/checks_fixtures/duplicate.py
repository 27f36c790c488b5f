"""Declares names demo_project.methods already declares."""

from __future__ import annotations

from wsrpc_app import RpcMethods, rpc_method


@rpc_method
def add(a: int, b: int) -> int:
    return a + b


class OtherCalculator(RpcMethods):
    namespace = "calc"

    def multiply(self, a: int, b: int) -> int:
        return a * b
