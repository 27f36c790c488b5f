"""Methods named into the ``rpc.`` space JSON-RPC reserves for the app."""

from __future__ import annotations

from wsrpc_app import RpcMethods, rpc_method


@rpc_method(name="rpc.x")
def x() -> int:
    return 1


class Extensions(RpcMethods):
    namespace = "rpc"

    def mine(self) -> int:
        return 2
