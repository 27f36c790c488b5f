"""The OpenRPC and AsyncAPI documents, and the page that shows them."""

__all__: list[str] = []
